/**
 * Capture scenarios with text buffers: the path for a role that may not create event triggers
 * (here: the event trigger is dropped after install), where capture functions name no column and
 * source DDL is noticed by fingerprints before the next refresh.
 */
import { SOURCE_DDL_EVENT_TRIGGER } from '@pgtrickle/dvm';
import { beforeAll, expect, it } from 'vitest';
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

describeCaptureScenarios('cx', env);
