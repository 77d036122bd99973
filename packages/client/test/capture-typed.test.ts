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
  expect(et.rows).toEqual([{ evtenabled: 'O' }]);
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

describeCaptureScenarios('ct', env);
