/**
 * Zero-change ticks with 1,000 idle stream tables: what one scheduler tick costs when nothing
 * changed, through the real ports (`PgSchedulerStore`, `PgUnitExecutor`) on an embedded
 * PostgreSQL 18 started in the set-up (throw-away data directory, stopped in the tear-down).
 *
 * 1,000 tiny sources with one stream table each (`SELECT id, v FROM src_n`, DIFFERENTIAL, schedule
 * 1s, so every table is due every tick and the tick has to ask whether anything is pending). The
 * other cases split the tick into its parts — the catalog snapshot, the pending check
 * (`pgtrickle.pending_sources()`, migration 3), the frontiers the LSN-tick gate reads (one query
 * per tick), the pure planning — and measure a set-based
 * alternative to the pending check (one statement with an EXISTS per dependency, as the client
 * could generate it; plain and prepared), to show where the time goes and what a fix would save.
 * `PGTRICKLE_BENCH_TABLES` sets another size.
 */
import { connect, PgSchedulerStore, PgUnitExecutor, systemClock, type Trickle } from '@pgtrickle/client';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@pgtrickle/embedded';
import { type CatalogSnapshot, planTick, Scheduler } from '@pgtrickle/scheduler';
import { type BenchCase, defineSuite } from '../../../bench/harness.js';

const TABLES = Number(process.env.PGTRICKLE_BENCH_TABLES ?? 1000);

let server: EmbeddedPostgres | undefined;
let trickle: Trickle | undefined;
let conn: import('pg').PoolClient | undefined;

/** The pending check as one statement: an EXISTS per dependency (base-table sources only here). */
async function setBasedPendingSql(t: Trickle): Promise<string> {
  const deps = await t.db.query(
    `SELECT d.pgt_id, d.source_oid FROM pgtrickle.pgt_dependencies d WHERE d.source_kind = 'table' ORDER BY d.pgt_id`,
  );
  const branches = deps.rows.map(
    (d) =>
      `SELECT st.pgt_id, st.frontier_snapshot IS NULL OR EXISTS (SELECT 1 FROM pgtrickle_changes.changes_${Number(d.source_oid)} b
         WHERE b.xid >= pg_catalog.pg_snapshot_xmin(st.frontier_snapshot) AND NOT pg_catalog.pg_visible_in_snapshot(b.xid, st.frontier_snapshot)) AS pending
       FROM pgtrickle.pgt_stream_tables st WHERE st.pgt_id = ${Number(d.pgt_id)} AND st.status IN ('ACTIVE', 'INITIALIZING')`,
  );
  return branches.join('\nUNION ALL\n');
}

export default defineSuite({
  name: `sidecar tick, ${TABLES} idle stream tables`,
  timeMs: 2000,
  iterations: 10,
  async setup() {
    const t0 = performance.now();
    server = await startEmbeddedPostgres();
    trickle = await connect({ connectionString: server.url });
    await trickle.install();
    await trickle.db.query(`DO $$ BEGIN
      FOR i IN 1..${TABLES} LOOP
        EXECUTE format('CREATE TABLE src_%s (id int PRIMARY KEY, v int NOT NULL)', i);
        EXECUTE format('INSERT INTO src_%s SELECT g, g FROM generate_series(1, 3) g', i);
      END LOOP;
    END $$`);
    for (let i = 1; i <= TABLES; i++) {
      await trickle.createStreamTable({
        name: `st_${i}`,
        query: `SELECT id, v FROM src_${i}`,
        refreshMode: 'DIFFERENTIAL',
        schedule: '1s',
      });
      if (i % 250 === 0 || i === TABLES) {
        process.stderr.write(
          `  created ${i}/${TABLES} stream tables (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
        );
      }
    }
    await trickle.db.query('ANALYZE');
  },
  async teardown() {
    conn?.release();
    await trickle?.close();
    await server?.stop();
  },
  async cases(): Promise<BenchCase[]> {
    const t = trickle as Trickle;
    const store = new PgSchedulerStore(t.db);
    const executor = new PgUnitExecutor(t.db, t.engineState, store);
    const scheduler = new Scheduler({ store, executor, clock: systemClock });
    const snapshot: CatalogSnapshot = await store.load();
    const setBased = await setBasedPendingSql(t);
    // The same answer as pending_sources() (nothing pending), checked once.
    const check = await t.db.query(
      `SELECT count(*) FILTER (WHERE pending)::int AS n, count(*)::int AS total FROM (${setBased}) x`,
    );
    if (Number(check.rows[0]?.n) !== 0 || Number(check.rows[0]?.total) !== TABLES) {
      throw new Error(`set-based pending check disagrees: ${JSON.stringify(check.rows[0])}`);
    }
    const session = await t.db.pool.connect();
    conn = session;
    return [
      {
        name: 'zero-change tick (load, plan, gates, pending check)',
        unit: 'ticks',
        fn: async () => {
          const report = await scheduler.tick();
          if (report.units.some((u) => u.outcome === 'refreshed' || u.outcome === 'failed')) {
            throw new Error('a zero-change tick refreshed or failed something');
          }
        },
      },
      { name: 'part: store.load() (catalog snapshot)', unit: 'loads', fn: () => store.load() },
      { name: 'part: planTick (pure, in memory)', unit: 'plans', fn: () => planTick(snapshot) },
      {
        name: 'part: pgtrickle.pending_sources() (one EXECUTE per dependency)',
        unit: 'calls',
        fn: () =>
          t.db.query(
            'SELECT pgt_id, bool_or(pending) AS pending FROM pgtrickle.pending_sources() GROUP BY pgt_id',
          ),
      },
      {
        name: 'part: every frontier LSN in one query (the lsn-tick gate, once per tick)',
        unit: 'ticks',
        fn: () => t.db.query('SELECT pgt_id, frontier_lsn::text AS l FROM pgtrickle.pgt_stream_tables'),
      },
      {
        name: 'alternative: pending check as one statement (planned per call)',
        unit: 'calls',
        fn: () => t.db.query(setBased),
      },
      {
        name: 'alternative: pending check as one prepared statement',
        unit: 'calls',
        fn: async () => {
          // A named statement is parsed and planned once per connection, then only executed.
          await session.query({ name: 'pgt_pending_all', text: setBased, values: [] });
        },
      },
    ];
  },
});
