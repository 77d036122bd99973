/**
 * Capture scenarios with text buffers: the path for a role that may not create event triggers
 * (here: the event trigger is dropped after install), where capture functions name no column and
 * source DDL is noticed by fingerprints before the next refresh.
 */
import { SOURCE_DDL_EVENT_TRIGGER } from '@pgtrickle/dvm';
import { beforeAll, expect, it } from 'vitest';
import { captureHealth } from '../src/index.js';
import { describeCaptureScenarios } from './support/capture-scenarios.js';
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

it('refuses, creating nothing, a child laid out unlike its parent', async () => {
  await env.db.query(
    'CREATE TABLE lay_par (id int, v int); CREATE TABLE lay_ch (extra text, id int, v int); ALTER TABLE lay_ch INHERIT lay_par',
  );
  await expect(
    env
      .trickle()
      .createStreamTable({ name: 'lay_st', query: 'SELECT id, v FROM lay_par', refreshMode: 'DIFFERENTIAL' }),
  ).rejects.toMatchObject({
    code: 'PGT_UNSUPPORTED',
    message: expect.stringMatching(/lays out its columns differently.*event trigger/),
  });
  const left = await env.db.query("SELECT to_regclass('lay_st') AS t");
  expect(left.rows[0]?.t).toBeNull();
});

describeCaptureScenarios('cx', env);
