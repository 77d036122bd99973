/**
 * Capture scenarios with typed buffers: the catalog installed by a role that may create the DDL
 * event trigger (the test server's superuser), so capture follows source DDL in its transaction.
 */
import { SOURCE_DDL_EVENT_TRIGGER } from '@pgtrickle/dvm';
import { beforeAll, expect, it } from 'vitest';
import { describeCaptureScenarios } from './support/capture-scenarios.js';
import { useTrickle } from './support/setup.js';

const env = useTrickle();

beforeAll(async () => {
  const et = await env.db.query('SELECT evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = $1', [
    SOURCE_DDL_EVENT_TRIGGER,
  ]);
  expect(et.rows).toEqual([{ evtenabled: 'A' }]);
});

it('stores captured rows in typed columns', async () => {
  await env.db.query('CREATE TABLE typed_probe (id int PRIMARY KEY, v numeric(8,3))');
  await env.trickle().createStreamTable({ name: 'typed_probe_st', query: 'SELECT id, v FROM typed_probe' });
  const fmt = await env.db.query(
    "SELECT format FROM pgtrickle_changes.capture_state WHERE source_oid = 'typed_probe'::regclass",
  );
  expect(fmt.rows).toEqual([{ format: 'typed' }]);
  await env.db.query('INSERT INTO typed_probe VALUES (1, 2.5)');
  const cols = await env.db.query(
    `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = format('pgtrickle_changes.changes_%s', 'typed_probe'::regclass::oid)::regclass AND attnum > 0 ORDER BY attnum`,
  );
  expect(cols.rows.slice(3)).toEqual([
    { attname: 'c1', type: 'integer' },
    { attname: 'c2', type: 'numeric(8,3)' },
  ]);
});

it('refuses, creating nothing, a second level of a captured partition tree', async () => {
  await env.db.query(`CREATE TABLE lvl (id int, g int) PARTITION BY LIST (g);
    CREATE TABLE lvl_1 PARTITION OF lvl FOR VALUES IN (1)`);
  await env
    .trickle()
    .createStreamTable({ name: 'lvl_top', query: 'SELECT id FROM lvl', refreshMode: 'DIFFERENTIAL' });
  await expect(
    env
      .trickle()
      .createStreamTable({ name: 'lvl_part', query: 'SELECT id FROM lvl_1', refreshMode: 'DIFFERENTIAL' }),
  ).rejects.toMatchObject({
    code: 'PGT_UNSUPPORTED',
    message: expect.stringMatching(/shares a partition or inheritance tree/),
  });
  const left = await env.db.query("SELECT to_regclass('lvl_part') AS t");
  expect(left.rows[0]?.t).toBeNull();
});

it('keeps typed capture in step with DDL inside the DDL transaction: no write fails', async () => {
  await env.db.query('CREATE TABLE ddl_probe (id int PRIMARY KEY, a int, b text)');
  await env.trickle().createStreamTable({
    name: 'ddl_probe_st',
    query: 'SELECT id, b FROM ddl_probe',
    refreshMode: 'DIFFERENTIAL',
  });
  await env.db.query(`BEGIN; ALTER TABLE ddl_probe DROP COLUMN a; INSERT INTO ddl_probe VALUES (1, 'x');
    ALTER TABLE ddl_probe RENAME COLUMN b TO bb; UPDATE ddl_probe SET bb = 'y'; ALTER TABLE ddl_probe RENAME COLUMN bb TO b;
    ALTER TABLE ddl_probe ALTER COLUMN b TYPE varchar(5); INSERT INTO ddl_probe VALUES (2, 'z'); COMMIT`);
  await env.trickle().refresh('ddl_probe_st');
  const rows = await env.db.query('SELECT id, b FROM ddl_probe_st ORDER BY id');
  expect(rows.rows).toEqual([
    { id: 1, b: 'y' },
    { id: 2, b: 'z' },
  ]);
});

it('tells the scheduler a FULL table over a partitioned source has changes written to a partition', async () => {
  await env.db.query(`CREATE TABLE fp (id int, g int) PARTITION BY LIST (g);
    CREATE TABLE fp_1 PARTITION OF fp FOR VALUES IN (1)`);
  await env.trickle().createStreamTable({
    name: 'fp_st',
    query: 'SELECT g, count(*) AS n FROM fp GROUP BY g',
    refreshMode: 'FULL',
  });
  const pending = async () =>
    (
      await env.db.query(
        `SELECT p.pending FROM pgtrickle.pending_sources() p JOIN pgtrickle.pgt_stream_tables s USING (pgt_id) WHERE s.table_name = 'fp_st'`,
      )
    ).rows.map((r) => r.pending);
  expect(await pending()).toEqual([false]);
  await env.db.query('INSERT INTO fp_1 VALUES (1, 1)');
  expect(await pending()).toEqual([true]);
});

describeCaptureScenarios('ct', env);
