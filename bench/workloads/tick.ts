/**
 * A scheduler tick with 1,000 idle stream tables (the approach of the sidecar's tick bench):
 * 1,000 tiny sources with one DIFFERENTIAL stream table each (schedule 1s, so every table is due
 * and the tick asks whether anything is pending), then zero-change ticks through the real ports
 * (`PgSchedulerStore`, `PgUnitExecutor`), each checked to have refreshed nothing.
 */
import { PgSchedulerStore, PgUnitExecutor, systemClock } from '../../packages/client/src/index.js';
import { Scheduler } from '../../packages/scheduler/src/index.js';
import { type BenchOptions, type BenchServer, progress, timed } from './common.js';

export async function runTickWorkload(
  server: BenchServer,
  o: BenchOptions,
): Promise<{ tables: number; samples: number[] }> {
  const tables = Number(process.env.PGTRICKLE_BENCH_TABLES ?? 1000);
  const ticks = o.quick ? 15 : 40;
  const { trickle: t } = await server.database('bench_tick');
  try {
    const t0 = performance.now();
    await t.db.query(`DO $$ BEGIN
      FOR i IN 1..${tables} LOOP
        EXECUTE format('CREATE TABLE src_%s (id int PRIMARY KEY, v int NOT NULL)', i);
        EXECUTE format('INSERT INTO src_%s SELECT g, g FROM generate_series(1, 3) g', i);
      END LOOP;
    END $$`);
    for (let i = 1; i <= tables; i++) {
      await t.createStreamTable({
        name: `st_${i}`,
        query: `SELECT id, v FROM src_${i}`,
        refreshMode: 'DIFFERENTIAL',
        schedule: '1s',
      });
      if (i % 250 === 0)
        progress(
          `tick: created ${i}/${tables} stream tables (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
    }
    await t.db.query('ANALYZE');
    const store = new PgSchedulerStore(t.db);
    const executor = new PgUnitExecutor(t.db, t.engineState, store);
    const scheduler = new Scheduler({ store, executor, clock: systemClock });
    const samples: number[] = [];
    for (let i = 0; i < ticks + 2; i++) {
      const r = await timed(() => scheduler.tick());
      if (r.value.units.some((u) => u.outcome === 'refreshed' || u.outcome === 'failed')) {
        throw new Error('a zero-change tick refreshed or failed something');
      }
      if (i >= 2) samples.push(r.ms);
    }
    return { tables, samples };
  } finally {
    await t.close();
  }
}
