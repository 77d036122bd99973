/**
 * Write → visible latency through a running `TrickleService` (what `pgtrickle run` runs): a
 * DIFFERENTIAL stream table over a small source, with a '1s' schedule and then a '0s' (as soon as
 * possible) one. Each sample inserts one row (autocommit), then polls the stream table every 2 ms
 * on its own connection until the row is there; the latency runs from the INSERT's return to the
 * first poll that sees the row. Writes are spaced by a seeded random pause (0–1 s), so they land
 * at every phase of the schedule.
 */
import { TrickleService } from '../../packages/client/src/index.js';
import { type BenchOptions, type BenchServer, progress } from './common.js';

export interface LatencyResult {
  readonly schedule: string;
  readonly samples: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLatencyWorkload(server: BenchServer, o: BenchOptions): Promise<LatencyResult[]> {
  const n = o.quick ? 10 : 25;
  const { url, trickle: t } = await server.database('bench_latency');
  const pool = t.db.pool;
  const out: LatencyResult[] = [];
  try {
    await pool.query(`CREATE TABLE lat_src (id int PRIMARY KEY, v int NOT NULL);
       INSERT INTO lat_src SELECT g, g FROM generate_series(1, 1000) g`);
    await t.createStreamTable({
      name: 'lat_st',
      query: 'SELECT id, v FROM lat_src WHERE v >= 0',
      refreshMode: 'DIFFERENTIAL',
      schedule: '1s',
    });
    let next = 100_000;
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (const schedule of ['1s', '0s']) {
      await t.alterStreamTable('lat_st', { schedule });
      progress(`latency through TrickleService, schedule ${schedule}: ${n} writes`);
      const service = await TrickleService.start({ connectionString: url, holder: 'bench' });
      const poll = await pool.connect();
      const samples: number[] = [];
      try {
        await sleep(1500);
        for (let i = 0; i < n; i++) {
          await sleep(rand() * 1000);
          const id = next++;
          await pool.query('INSERT INTO lat_src VALUES ($1, 1)', [id]);
          const t0 = performance.now();
          for (;;) {
            const r = await poll.query('SELECT 1 FROM lat_st WHERE id = $1', [id]);
            if (r.rows.length > 0) break;
            if (performance.now() - t0 > 30_000) throw new Error(`row ${id} not visible after 30 s`);
            await sleep(2);
          }
          samples.push(performance.now() - t0);
        }
      } finally {
        poll.release();
        await service.stop();
      }
      out.push({ schedule, samples });
    }
    return out;
  } finally {
    await t.close();
  }
}
