/**
 * Trimming a shared change buffer after a refresh: rows every consumer has read are deleted, rows
 * a slower consumer has not read stay (and are deleted once it has read them), and a cleanup that
 * finds another session cleaning the same buffer deletes nothing and waits for nothing.
 */
import { baseBuffer } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupBuffers } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
let buffer = '';

async function bufferRows(): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${buffer}`);
  return r.rows[0]?.n ?? -1;
}

beforeAll(async () => {
  await db.query('CREATE TABLE src (id int PRIMARY KEY, g int NOT NULL, v int NOT NULL)');
  await db.query('INSERT INTO src SELECT i, i % 5, i FROM generate_series(1, 50) AS i');
  const t = trickle();
  await t.createStreamTable({
    name: 'fast',
    query: 'SELECT g, count(*) AS n, sum(v) AS s FROM src GROUP BY g',
    refreshMode: 'DIFFERENTIAL',
  });
  await t.createStreamTable({
    name: 'slow',
    query: 'SELECT id, v FROM src WHERE v > 10',
    refreshMode: 'DIFFERENTIAL',
  });
  const oid = await db.query<{ oid: number }>(`SELECT 'src'::regclass::oid::int AS oid`);
  buffer = baseBuffer(Number(oid.rows[0]?.oid));
});

describe('change buffer cleanup', () => {
  it('keeps the rows a slower consumer has not read, and deletes them once it has', async () => {
    await db.query('UPDATE src SET v = v + 1 WHERE id <= 10');
    await db.query('INSERT INTO src VALUES (100, 1, 100)');
    const pending = await bufferRows();
    expect(pending).toBe(21);
    await trickle().refresh('fast');
    expect(await bufferRows()).toBe(pending);
    await trickle().refresh('slow');
    expect(await bufferRows()).toBe(0);
    await expectTableEqualsQuery(db, 'fast', 'SELECT g, count(*) AS n, sum(v) AS s FROM src GROUP BY g');
    await expectTableEqualsQuery(db, 'slow', 'SELECT id, v FROM src WHERE v > 10');
  });

  it('deletes nothing while another session cleans the same buffer, and everything after', async () => {
    await db.query('DELETE FROM src WHERE id = 100');
    const blocker = await db.client();
    try {
      await blocker.query('BEGIN');
      const lock = await blocker.query<{ ok: boolean }>(
        `SELECT pg_try_advisory_xact_lock(((x'50475400'::bigint) << 32) + 'src'::regclass::oid::bigint) AS ok`,
      );
      expect(lock.rows[0]?.ok).toBe(true);
      await trickle().refresh('fast');
      await trickle().refresh('slow');
      expect(await bufferRows()).toBe(1);
      await blocker.query('COMMIT');
    } finally {
      await blocker.end();
    }
    const oid = await db.query<{ oid: number }>(`SELECT 'src'::regclass::oid::int AS oid`);
    expect(
      await cleanupBuffers(trickle().db, [{ kind: 'table', oid: Number(oid.rows[0]?.oid), pgtId: null }]),
    ).toBe(1);
    expect(await bufferRows()).toBe(0);
  });
});
