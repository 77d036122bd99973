/**
 * Capture scenarios with text buffers: the path for a role that may not create event triggers
 * (here: the event trigger is dropped after install), where capture functions name no column (or,
 * for a child laid out unlike its root, look the root's names up when they fire) and source DDL is
 * noticed by fingerprints before the next refresh.
 */
import { SOURCE_DDL_EVENT_TRIGGER } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, expect, it } from 'vitest';
import { captureHealth } from '../src/index.js';
import { CAPTURE_SCENARIOS } from './support/capture-scenarios.js';
import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';
import { useTrickle } from './support/setup.js';

const env = useTrickle();

beforeAll(async () => {
  await env.db.query(`DROP EVENT TRIGGER IF EXISTS "${SOURCE_DDL_EVENT_TRIGGER}"`);
});

it('stores captured rows as their text when no event trigger keeps typed buffers in step', async () => {
  await env.db.query('CREATE TABLE text_probe (id int PRIMARY KEY, v numeric(8,3))');
  await env.trickle().createStreamTable({ name: 'text_probe_st', query: 'SELECT id, v FROM text_probe' });
  const fmt = await env.db.query(
    "SELECT format FROM pgtrickle_changes.capture_state WHERE source_oid = 'text_probe'::regclass",
  );
  expect(fmt.rows).toEqual([{ format: 'text' }]);
  // No DDL makes a write fail: the functions name no column.
  await env.db.query('ALTER TABLE text_probe ADD COLUMN w text; ALTER TABLE text_probe DROP COLUMN v');
  await env.db.query("INSERT INTO text_probe VALUES (1, 'x')");
  await env.db.query(
    'ALTER TABLE text_probe ALTER COLUMN w TYPE int USING NULL; UPDATE text_probe SET w = 3',
  );
});

it('notices capture switched off, repairs it and recomputes, saying so', async () => {
  await env.db.query(
    'CREATE TABLE off_probe (id int PRIMARY KEY, v int); INSERT INTO off_probe VALUES (1, 1)',
  );
  await env.trickle().createStreamTable({
    name: 'off_probe_st',
    query: 'SELECT id, v FROM off_probe',
    refreshMode: 'DIFFERENTIAL',
  });
  await env.db.query('ALTER TABLE off_probe DISABLE TRIGGER ALL; INSERT INTO off_probe VALUES (2, 2)');
  const health = await captureHealth(env.db);
  expect(health.eventTrigger).toBe('missing');
  expect(health.gaps).toEqual([{ table: 'off_probe', enabled: 0, expected: 7 }]);
  const r = await env.trickle().refresh('off_probe_st');
  expect(r.action).toBe('REINITIALIZE');
  expect(r.reason).toMatch(/capture of public\.off_probe had been switched off/);
  const states = await env.db.query(
    "SELECT DISTINCT tgenabled FROM pg_trigger WHERE tgrelid = 'off_probe'::regclass AND tgname LIKE 'pgtrickle\\_%'",
  );
  expect(states.rows.map((r) => r.tgenabled).sort()).toEqual(['A', 'O', 'R']);
  expect((await captureHealth(env.db)).gaps).toEqual([]);
  await env.db.query('INSERT INTO off_probe VALUES (3, 3)');
  expect((await env.trickle().refresh('off_probe_st')).action).toBe('DIFFERENTIAL');
  const rows = await env.db.query('SELECT count(*)::int AS n FROM off_probe_st');
  expect(rows.rows[0]?.n).toBe(3);
});

it("captures a child laid out unlike its parent, in the parent's layout, and no DDL makes its writes fail", async () => {
  await env.db.query(
    `CREATE TABLE lay_par (id int, v int); CREATE TABLE lay_ch (extra text, v int, id int); ALTER TABLE lay_ch INHERIT lay_par;
     INSERT INTO lay_ch VALUES ('x', 10, 1)`,
  );
  const st = await env
    .trickle()
    .createStreamTable({ name: 'lay_st', query: 'SELECT id, v FROM lay_par', refreshMode: 'DIFFERENTIAL' });
  expect(st.effectiveMode).toBe('DIFFERENTIAL');
  await env.db.query(`INSERT INTO lay_ch VALUES ('y', 20, 2); UPDATE lay_ch SET v = 11 WHERE id = 1`);
  const data = await env.db.query(
    `SELECT action, data FROM pgtrickle_changes.${'changes_'}${await oidOf('lay_par')} ORDER BY change_id`,
  );
  expect(data.rows).toEqual([
    { action: 'I', data: '(2,20)' },
    { action: 'D', data: '(1,10)' },
    { action: 'I', data: '(1,11)' },
  ]);
  expect((await env.trickle().refresh('lay_st')).action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(env.db, 'lay_st', 'SELECT id, v FROM lay_par');
  // The child's functions look the parent's names up when they fire: DDL never makes a write fail.
  await env.db.query(`ALTER TABLE lay_ch ADD COLUMN more int; INSERT INTO lay_ch VALUES ('z', 30, 3, 7)`);
  await env.db.query(`ALTER TABLE lay_par RENAME COLUMN v TO w; UPDATE lay_ch SET w = 31 WHERE id = 3`);
  await env.db.query(`ALTER TABLE lay_par ADD COLUMN n int; SET session_replication_role = replica;
    INSERT INTO lay_ch (extra, w, id, n) VALUES ('r', 40, 4, 1); RESET session_replication_role`);
});

async function oidOf(table: string): Promise<number> {
  const res = await env.db.query('SELECT $1::regclass::oid::int8 AS oid', [table]);
  return Number(res.rows[0]?.oid);
}

/** Trees whose children lay their columns out unlike the root (text rows are positional). */
const LAYOUT_SCENARIOS: readonly OracleScenario[] = [
  {
    name: 'an attached partition created on its own, its columns in another order, with a dropped column',
    setup: `CREATE TABLE {s}.m (id int, grp text, v numeric, note text, PRIMARY KEY (id, grp)) PARTITION BY LIST (grp);
      CREATE TABLE {s}.m_a PARTITION OF {s}.m FOR VALUES IN ('a');
      CREATE TABLE {s}.m_x (junk int, note text, v numeric, grp text NOT NULL, id int NOT NULL);
      ALTER TABLE {s}.m_x DROP COLUMN junk;
      ALTER TABLE {s}.m ATTACH PARTITION {s}.m_x FOR VALUES IN ('x');
      INSERT INTO {s}.m VALUES (1, 'a', 1.5, 'one'), (2, 'x', 2.50, 'two'), (3, 'x', NULL, 'th,"ree')`,
    query: 'SELECT id, grp, v, note FROM {s}.m',
    steps: [
      `INSERT INTO {s}.m_x VALUES ('four', 4.0, 'x', 4); UPDATE {s}.m_x SET v = v * 2, note = note || '!' WHERE id = 2`,
      `UPDATE {s}.m SET grp = 'x' WHERE id = 1; DELETE FROM {s}.m_x WHERE id = 3`,
      `SET session_replication_role = replica; INSERT INTO {s}.m_x (id, grp, v, note) VALUES (5, 'x', 5, 'r');
       UPDATE {s}.m_x SET note = NULL WHERE id = 4; DELETE FROM {s}.m_x WHERE id = 2; RESET session_replication_role`,
      `CREATE TABLE {s}.m_y (note text, grp text NOT NULL, v numeric, id int NOT NULL);
       ALTER TABLE {s}.m ATTACH PARTITION {s}.m_y FOR VALUES IN ('y'); INSERT INTO {s}.m_y VALUES ('six', 'y', 6, 6)`,
      `INSERT INTO {s}.m_y VALUES ('seven', 'y', 7, 7); UPDATE {s}.m SET v = 0 WHERE grp = 'y' AND id = 6`,
      `ALTER TABLE {s}.m ADD COLUMN w int; INSERT INTO {s}.m_x (id, grp, v, note, w) VALUES (8, 'x', 8, 'eight', 8)`,
      `UPDATE {s}.m_x SET w = 9, note = 'nine' WHERE id = 8`,
    ],
  },
  {
    name: 'inheritance children with their columns in another order and columns of their own',
    setup: `CREATE TABLE {s}.par (id int, v int, t text);
      CREATE TABLE {s}.ch (extra text, t text, id int, v int); ALTER TABLE {s}.ch INHERIT {s}.par;
      CREATE TABLE {s}.ch2 () INHERITS ({s}.par);
      INSERT INTO {s}.par VALUES (1, 1, 'p'); INSERT INTO {s}.ch VALUES ('e', 'c', 2, 2); INSERT INTO {s}.ch2 VALUES (3, 3, 'c2')`,
    query: 'SELECT id, v, t FROM {s}.par',
    steps: [
      `INSERT INTO {s}.ch VALUES ('e', 'new', 4, 4); UPDATE {s}.ch SET v = 20, t = NULL WHERE id = 2`,
      `UPDATE {s}.par SET v = v + 100; DELETE FROM {s}.ch WHERE id = 4`,
      `ALTER TABLE {s}.ch ADD COLUMN more int; INSERT INTO {s}.ch VALUES ('e', 'm', 5, 5, 1); UPDATE {s}.ch2 SET t = 'x'`,
      `SET session_replication_role = replica; INSERT INTO {s}.ch (id, v, t) VALUES (6, 6, 'r'); DELETE FROM {s}.ch WHERE id = 5;
       RESET session_replication_role`,
      `DELETE FROM {s}.par WHERE id = 1; INSERT INTO {s}.ch2 VALUES (7, 7, 'seven')`,
    ],
  },
];

oracleScenarios('cx', CAPTURE_SCENARIOS, env.db, env.trickle);
oracleScenarios('cxl', LAYOUT_SCENARIOS, env.db, env.trickle);
