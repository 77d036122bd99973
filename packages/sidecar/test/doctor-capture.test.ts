/**
 * `pgtrickle doctor` on change capture: the DDL event trigger's state, and a table whose capture
 * triggers someone disabled (writes are being missed) named with what to do.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { captureIo } from './support/io.js';

const db = useTestDatabase();

async function cli(argv: string[]) {
  const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_LOG_LEVEL: 'warn' } });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

beforeAll(async () => {
  await db.query('CREATE TABLE items (id int PRIMARY KEY, qty int); INSERT INTO items VALUES (1, 1)');
  expect((await cli(['migrate'])).code).toBe(0);
  expect((await cli(['create', 'item_totals', '--query', 'SELECT sum(qty) AS total FROM items'])).code).toBe(
    0,
  );
});

it('passes with the event trigger, and warns about capture switched off, naming the table and the fix', async () => {
  const ok = await cli(['doctor']);
  expect(ok.stdout).toMatch(/^pass\s+change capture\s+DDL event trigger enabled; 1 typed, 0 text/m);
  await db.query('ALTER TABLE items DISABLE TRIGGER ALL');
  // The event trigger re-enables capture in the same transaction: nothing to report.
  expect((await cli(['doctor'])).stdout).not.toMatch(/capture triggers enabled/);
  await db.query('ALTER EVENT TRIGGER pgtrickle_source_ddl DISABLE; ALTER TABLE items DISABLE TRIGGER ALL');
  const warned = await cli(['doctor']);
  expect(warned.stdout).toMatch(
    /^warn\s+change capture\s+DDL event trigger disabled: new capture uses the text format/m,
  );
  expect(warned.stdout).toMatch(
    /^warn\s+change capture\s+items: 0 of 7 capture triggers enabled: .*`pgtrickle refresh NAME`/m,
  );
  await db.query('ALTER EVENT TRIGGER pgtrickle_source_ddl ENABLE ALWAYS');
});
