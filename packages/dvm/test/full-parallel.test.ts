/**
 * The parallel FULL refresh (plan/full-parallel.ts), on a real PostgreSQL: when the population
 * query plans in parallel, the FULL statement inserts the rows of `full_rows(<query>)` — and that
 * query does run under a Gather inside the INSERT (auto_explain's nested plans) — otherwise the
 * query's rows directly; the
 * result equals the query either way (FULL plans and an aggregate's hidden state alike), the
 * counts are exact, and a following DIFFERENTIAL refresh from its frontier stays equal. A verdict
 * kept from an earlier refresh is used while its signature holds (no EXPLAIN), and read again
 * when a setting or a source's statistics change.
 */
import {
  FULL_ROWS_FUNCTION,
  type FullParallelVerdict,
  fullParallelDdl,
  runRefresh,
  type SqlExecutor,
} from '@pgtrickle/dvm';
import { useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCaptureMachinery, type Maintained, maintain, withTransaction } from './support/maintained.js';

const db = useTestDatabase();

/** Settings under which the planner runs a scan of a few thousand rows in parallel. */
const PARALLEL = [
  'SET LOCAL parallel_setup_cost = 0',
  'SET LOCAL parallel_tuple_cost = 0',
  'SET LOCAL min_parallel_table_scan_size = 0',
  'SET LOCAL max_parallel_workers_per_gather = 2',
];
/** Settings under which it never does. */
const SERIAL = ['SET LOCAL max_parallel_workers_per_gather = 0'];

beforeAll(async () => {
  await db.query('CREATE TABLE fp_orders (id int PRIMARY KEY, g int NOT NULL, v numeric(12,2) NOT NULL)');
  await db.query('INSERT INTO fp_orders SELECT i, i % 50, i / 7.0 FROM generate_series(1, 20000) AS i');
  await db.query('ANALYZE fp_orders');
  await ensureCaptureMachinery(db);
  for (const s of fullParallelDdl()) await db.query(s);
});

/** Logs the plan of every statement, nested ones included, to the client as a notice. */
const EXPLAIN_NESTED = [
  "LOAD 'auto_explain'",
  'SET LOCAL auto_explain.log_min_duration = 0',
  'SET LOCAL auto_explain.log_nested_statements = on',
  "SET LOCAL auto_explain.log_level = 'notice'",
];

/**
 * A FULL refresh of `st` under `settings`: the statements it ran, its result, and whether a plan
 * run inside `full_rows` had a Gather.
 */
async function fullRefresh(
  st: Maintained,
  settings: readonly string[],
  parallelVerdict: FullParallelVerdict | null = null,
) {
  const statements: string[] = [];
  let gatherInFullRows = false;
  const result = await withTransaction(db, async (client: pg.PoolClient) => {
    for (const s of [...settings, ...EXPLAIN_NESTED]) await client.query(s);
    const onNotice = (n: { message?: string; where?: string }) => {
      if ((n.where ?? '').includes(`${FULL_ROWS_FUNCTION}(text)`) && (n.message ?? '').includes('Gather'))
        gatherInFullRows = true;
    };
    client.on('notice', onNotice);
    const exec: SqlExecutor = {
      query: (text, params) => {
        statements.push(text);
        return client.query(text, params);
      },
    };
    try {
      return await runRefresh(st.plan, exec, {
        action: 'FULL',
        frontier: st.frontier,
        parallelFull: true,
        parallelVerdict,
      });
    } finally {
      client.off('notice', onNotice);
    }
  });
  st.frontier = result.frontier;
  await st.check();
  return { statements, result, gatherInFullRows };
}

const inserts = (statements: readonly string[]) => statements.filter((s) => s.includes('__pgt_insert'));

describe('parallel FULL refresh', () => {
  it('computes a parallel plan through full_rows, a serial one directly, equal either way', async () => {
    for (const mode of ['FULL', 'DIFFERENTIAL'] as const) {
      const st = await maintain(
        db,
        `fp_agg_${mode.toLowerCase()}`,
        'SELECT g, count(*) AS n, sum(v) AS s, avg(v) AS a FROM fp_orders GROUP BY g',
        { mode },
      );
      await db.query('UPDATE fp_orders SET v = v + 1 WHERE id % 9 = 0');
      const parallel = await fullRefresh(st, PARALLEL);
      expect(inserts(parallel.statements)).toHaveLength(1);
      expect(inserts(parallel.statements)[0]).toContain(`"${FULL_ROWS_FUNCTION}"(`);
      expect(parallel.gatherInFullRows).toBe(true);
      expect(parallel.result.rowsInserted).toBe(50);
      expect(parallel.result.rowsDeleted).toBe(50);
      const gone = mode === 'FULL' ? 7 : 8;
      await db.query(
        `DELETE FROM fp_orders WHERE g = ${gone}; INSERT INTO fp_orders VALUES (${30000 + gone}, ${70 + gone}, 1.5)`,
      );
      const serial = await fullRefresh(st, SERIAL);
      expect(inserts(serial.statements)).toHaveLength(1);
      expect(inserts(serial.statements)[0]).not.toContain(FULL_ROWS_FUNCTION);
      expect(serial.gatherInFullRows).toBe(false);
      expect(serial.result.rowsInserted).toBe(50);
      expect(serial.result.rowsDeleted).toBe(50);
      if (mode === 'DIFFERENTIAL') {
        // The parallel FULL's frontier is exact: DIFFERENTIAL continues from it.
        await fullRefresh(st, PARALLEL);
        await db.query('UPDATE fp_orders SET g = (g + 1) % 50 WHERE id % 13 = 0');
        const diff = await withTransaction(db, (client) =>
          runRefresh(st.plan, client as unknown as SqlExecutor, {
            action: 'DIFFERENTIAL',
            frontier: st.frontier,
          }),
        );
        expect(diff.action).toBe('DIFFERENTIAL');
        st.frontier = diff.frontier;
        await st.check();
      }
    }
  });

  it('reuses a kept verdict while its signature holds, and EXPLAINs again when it changes', async () => {
    await db.query('CREATE TABLE fp_kept_src (id int PRIMARY KEY, g int NOT NULL, v int NOT NULL)');
    await db.query('INSERT INTO fp_kept_src SELECT i, i % 40, i FROM generate_series(1, 20000) AS i');
    await db.query('ANALYZE fp_kept_src');
    const st = await maintain(
      db,
      'fp_kept',
      'SELECT g, count(*) AS n, sum(v) AS s FROM fp_kept_src GROUP BY g',
      {
        mode: 'FULL',
      },
    );
    const usesFullRows = (r: { statements: readonly string[] }) =>
      (inserts(r.statements)[0] ?? '').includes(`"${FULL_ROWS_FUNCTION}"(`);
    const first = await fullRefresh(st, PARALLEL);
    expect(usesFullRows(first)).toBe(true);
    const verdict = first.result.parallelVerdict;
    expect(verdict?.parallel).toBe(true);
    if (verdict === undefined) return;
    // The same signature: the kept verdict decides, even one that disagrees with the planner.
    const kept = await fullRefresh(st, PARALLEL, { signature: verdict.signature, parallel: false });
    expect(usesFullRows(kept)).toBe(false);
    expect(kept.result.parallelVerdict).toEqual({ signature: verdict.signature, parallel: false });
    // Another setting: EXPLAINed again.
    const serial = await fullRefresh(st, SERIAL, verdict);
    expect(usesFullRows(serial)).toBe(false);
    expect(serial.result.parallelVerdict?.parallel).toBe(false);
    expect(serial.result.parallelVerdict?.signature).not.toBe(verdict.signature);
    // New statistics of the source: EXPLAINed again.
    await db.query('INSERT INTO fp_kept_src SELECT i, i % 40, i FROM generate_series(20001, 30000) AS i');
    await db.query('ANALYZE fp_kept_src');
    const analyzed = await fullRefresh(st, PARALLEL, { signature: verdict.signature, parallel: false });
    expect(usesFullRows(analyzed)).toBe(true);
    expect(analyzed.result.parallelVerdict?.parallel).toBe(true);
    expect(analyzed.result.parallelVerdict?.signature).not.toBe(verdict.signature);
    expect(analyzed.result.rowsInserted).toBe(40);
  });

  it('without parallelFull the statement is the direct INSERT', async () => {
    const st = await maintain(db, 'fp_plain', 'SELECT g, max(v) AS m FROM fp_orders GROUP BY g', {
      mode: 'FULL',
    });
    const statements: string[] = [];
    const result = await withTransaction(db, async (client) => {
      for (const s of PARALLEL) await client.query(s);
      return runRefresh(
        st.plan,
        {
          query: (text, params) => {
            statements.push(text);
            return client.query(text, params);
          },
        },
        { action: 'FULL', frontier: st.frontier },
      );
    });
    st.frontier = result.frontier;
    await st.check();
    expect(inserts(statements)).toHaveLength(1);
    expect(inserts(statements)[0]).not.toContain(FULL_ROWS_FUNCTION);
  });

  it('counts the rows inserted exactly from the counters, and by a count when they are off', async () => {
    const st = await maintain(db, 'fp_rows', 'SELECT id, g FROM fp_orders WHERE id % 3 = 0', {
      mode: 'FULL',
    });
    const stored = async () => Number((await db.query('SELECT count(*)::int AS n FROM fp_rows')).rows[0]?.n);
    const client = await db.pool.connect();
    try {
      // Back to back on one connection: the counters may still hold earlier transactions' inserts.
      for (const settings of [[], [], ['SET LOCAL track_counts = off'], PARALLEL, []]) {
        await client.query('DELETE FROM fp_orders WHERE id IN (SELECT max(id) FROM fp_orders)');
        await client.query('BEGIN');
        for (const s of settings) await client.query(s);
        const before = await stored();
        const result = await runRefresh(st.plan, client as unknown as SqlExecutor, {
          action: 'FULL',
          frontier: st.frontier,
          parallelFull: true,
        });
        await client.query('COMMIT');
        st.frontier = result.frontier;
        expect(result.rowsDeleted).toBe(before);
        expect(result.rowsInserted).toBe(await stored());
        await st.check();
      }
    } finally {
      client.release();
    }
  });
});
