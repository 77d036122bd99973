/**
 * The parallel FULL refresh (dvm `plan/full-parallel.ts`) through the client: in a database whose
 * settings make the planner run the query in parallel, a FULL refresh stays equal to its query,
 * records exact row counts in its history, hands its changes to a downstream stream table, and
 * runs in the owner's sandbox for a stream table another role owns (created through the SQL API).
 */
import { fullParallelDdl } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, processRequests, type Trickle } from '../src/index.js';
import { TestRoles } from './support/roles.js';
import { useTrickle } from './support/setup.js';

// The catalog is installed by the file's first client; the test's own connects after the settings.
const { db } = useTrickle();
const roles = new TestRoles(() => db.url);
const app = roles.name('pgt_fp_app');
const QUERY = 'SELECT g, count(*) AS n, sum(v) AS s, avg(v) AS a FROM fp_src GROUP BY g';
let t: Trickle;
let asApp: pg.Client;

beforeAll(async () => {
  await db.query(`CREATE TABLE fp_src (id int PRIMARY KEY, g int NOT NULL, v numeric(12,2) NOT NULL);
    INSERT INTO fp_src SELECT i, i % 40, i / 3.0 FROM generate_series(1, 20000) AS i;
    ANALYZE fp_src;
    CREATE ROLE ${app} LOGIN PASSWORD '${roles.password}';
    GRANT pgtrickle_user TO ${app};
    GRANT CONNECT, TEMPORARY ON DATABASE ${db.name} TO ${app};
    GRANT SELECT ON fp_src TO ${app};
    CREATE SCHEMA fp_app AUTHORIZATION ${app};
    ALTER DATABASE ${db.name} SET parallel_setup_cost = 0;
    ALTER DATABASE ${db.name} SET parallel_tuple_cost = 0;
    ALTER DATABASE ${db.name} SET min_parallel_table_scan_size = 0;`);
  // Connections opened from here on plan the query in parallel.
  t = await connect({ connectionString: db.url });
  asApp = await roles.client(app);
});

afterAll(async () => {
  await asApp?.end().catch(() => undefined);
  await t?.close();
  await db.query(`DROP OWNED BY ${app} CASCADE; DROP ROLE ${app}`).catch(() => undefined);
});

async function history(name: string): Promise<{ action: string; ins: number; del: number }[]> {
  const r = await db.query(
    `SELECT h.action, h.rows_inserted::int AS ins, h.rows_deleted::int AS del
       FROM pgtrickle.pgt_refresh_history AS h JOIN pgtrickle.pgt_stream_tables AS s USING (pgt_id)
      WHERE s.table_name = $1 ORDER BY h.refresh_id`,
    [name],
  );
  return r.rows as { action: string; ins: number; del: number }[];
}

describe('parallel FULL refresh', () => {
  it('is chosen for the query in this database', async () => {
    const c = await roles.client(app);
    try {
      const r = await c.query('SELECT pgtrickle_changes.full_plan_parallel($1) AS p', [QUERY]);
      expect(r.rows[0]?.p).toBe(true);
      const serial = await c.query(
        "SELECT set_config('max_parallel_workers_per_gather', '0', false), pgtrickle_changes.full_plan_parallel($1) AS p",
        [QUERY],
      );
      expect(serial.rows[0]?.p).toBe(false);
    } finally {
      await c.end();
    }
  });

  it('stays equal to the query, counts exactly and feeds a downstream stream table', async () => {
    await t.createStreamTable({ name: 'fp_full', query: QUERY, refreshMode: 'FULL' });
    await t.createStreamTable({
      name: 'fp_down',
      query: 'SELECT g, n FROM fp_full WHERE n > 499',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query(
      'DELETE FROM fp_src WHERE g = 3; UPDATE fp_src SET g = 41 WHERE id % 40 = 5 AND id < 4000',
    );
    const out = await t.refresh('fp_full');
    expect(out.action).toBe('FULL');
    expect(out.rowsInserted).toBe(40);
    expect(out.rowsDeleted).toBe(40);
    await expectTableEqualsQuery(db, 'fp_full', QUERY);
    expect((await history('fp_full')).at(-1)).toEqual({ action: 'FULL', ins: 40, del: 40 });
    const down = await t.refresh('fp_down');
    expect(down.action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'fp_down', 'SELECT g, n FROM fp_full WHERE n > 499');
    await expectTableEqualsQuery(
      db,
      'fp_down',
      'SELECT g, count(*) AS n FROM fp_src GROUP BY g HAVING count(*) > 499',
    );
  });

  it("runs in the owner's sandbox for a stream table another role owns", async () => {
    const r = await asApp.query(`SELECT pgtrickle.create_stream_table('fp_app.st', $1, '1s', 'FULL') AS id`, [
      QUERY,
    ]);
    await processRequests(t);
    const done = await db.query('SELECT status, error FROM pgtrickle.pgt_requests WHERE request_id = $1', [
      r.rows[0]?.id,
    ]);
    expect(done.rows[0]).toEqual({ status: 'DONE', error: null });
    await db.query('UPDATE fp_src SET v = v + 1 WHERE id % 7 = 0');
    const out = await t.refresh('fp_app.st');
    expect(out.action).toBe('FULL');
    await expectTableEqualsQuery(db, 'fp_app.st', QUERY);
  });

  it('has the functions the catalog migration installed exactly as dvm describes them (fullParallelDdl)', async () => {
    const functions = () =>
      db.query(`SELECT p.proname, p.prosrc, p.provolatile, p.prosecdef, p.proacl::text AS acl
                  FROM pg_catalog.pg_proc AS p
                 WHERE p.pronamespace = 'pgtrickle_changes'::regnamespace
                   AND p.proname IN ('full_rows', 'full_plan_parallel')
                 ORDER BY p.proname`);
    const installed = (await functions()).rows;
    expect(installed).toHaveLength(2);
    for (const statement of fullParallelDdl()) await db.query(statement);
    expect((await functions()).rows).toEqual(installed);
  });
});
