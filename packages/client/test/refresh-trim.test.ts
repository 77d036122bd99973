/**
 * The trim a DIFFERENTIAL refresh does in its own record statement (`refresh-trim.ts`): the rows
 * every consumer has read leave the buffer in the refresh's transaction (no cleanup statement after
 * commit), the rows a slower consumer has not read stay, a refresh that fails deletes nothing, and
 * a buffer that grows past the index threshold still gets its window index (the cleanup after
 * commit runs for it) and loses it once it is small again.
 */
import { baseBuffer, baseBufferIndex } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUFFER_INDEX_ROWS } from '../src/index.js';
import { useTrickle } from './support/setup.js';
import { recorded } from './support/statements.js';

const { db, trickle } = useTrickle();
let oid = 0;

const AGG = 'SELECT g, count(*) AS n, sum(v) AS s FROM tr_src GROUP BY g';
const RATIO = 'SELECT id, 1000 / v AS q FROM tr_src';

async function bufferRows(): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${baseBuffer(oid)}`);
  return r.rows[0]?.n ?? -1;
}

async function indexed(): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
    baseBufferIndex(oid),
  ]);
  return r.rows[0]?.ok === true;
}

beforeAll(async () => {
  await db.query('CREATE TABLE tr_src (id int PRIMARY KEY, g int NOT NULL, v int NOT NULL)');
  await db.query('INSERT INTO tr_src SELECT i, i % 5, i FROM generate_series(1, 50) AS i');
  const t = trickle();
  await t.createStreamTable({ name: 'tr_agg', query: AGG, refreshMode: 'DIFFERENTIAL' });
  await t.createStreamTable({ name: 'tr_ratio', query: RATIO, refreshMode: 'DIFFERENTIAL' });
  const r = await db.query<{ oid: number }>(`SELECT 'tr_src'::regclass::oid::int AS oid`);
  oid = Number(r.rows[0]?.oid);
});

describe('the trim in a DIFFERENTIAL refresh', () => {
  it('deletes what every consumer has read in the refresh itself, and keeps what a slower one has not', async () => {
    const t = trickle();
    await db.query('UPDATE tr_src SET v = v + 1 WHERE id <= 10');
    await db.query('INSERT INTO tr_src VALUES (100, 1, 100)');
    expect(await bufferRows()).toBe(21);
    const first = await recorded(t, () => t.refresh('tr_agg'));
    expect(first.value.action).toBe('DIFFERENTIAL');
    expect(await bufferRows()).toBe(21);
    const last = await recorded(t, () => t.refresh('tr_ratio'));
    expect(last.value.action).toBe('DIFFERENTIAL');
    expect(await bufferRows()).toBe(0);
    // No trim statement of its own after commit: the record statement did it.
    for (const texts of [first.texts, last.texts]) {
      expect(
        texts.filter((x) =>
          /^WITH locked AS MATERIALIZED \(SELECT pg_catalog\.pg_try_advisory_xact_lock/.test(x),
        ),
      ).toEqual([]);
      // The record with its trims: its text, or (kept prepared in the session) its EXECUTE with COMMIT.
      expect(
        texts.filter(
          (x) => x.includes('__pgt_trim_') || /^EXECUTE "pgt_p_[0-9a-f]{40}"\(.*\); COMMIT$/s.test(x),
        ),
      ).toHaveLength(1);
    }
    await expectTableEqualsQuery(db, 'tr_agg', AGG);
    await expectTableEqualsQuery(db, 'tr_ratio', RATIO);
  });

  it('deletes nothing when the refresh fails, and the next successful one trims', async () => {
    const t = trickle();
    await t.refresh('tr_agg');
    await db.query('UPDATE tr_src SET v = 0 WHERE id = 5');
    await t.refresh('tr_agg');
    const pending = await bufferRows();
    expect(pending).toBe(2);
    await expect(t.refresh('tr_ratio')).rejects.toThrow();
    expect(await bufferRows()).toBe(pending);
    const failed = await db.query<{ status: string }>(
      `SELECT h.status FROM pgtrickle.pgt_refresh_history AS h JOIN pgtrickle.pgt_stream_tables AS s USING (pgt_id)
        WHERE s.table_name = 'tr_ratio' ORDER BY h.refresh_id DESC LIMIT 1`,
    );
    expect(failed.rows[0]?.status).toBe('FAILED');
    await db.query('UPDATE tr_src SET v = 5 WHERE id = 5');
    await t.refresh('tr_agg');
    expect((await t.refresh('tr_ratio')).action).toBe('DIFFERENTIAL');
    expect(await bufferRows()).toBe(0);
    await expectTableEqualsQuery(db, 'tr_agg', AGG);
    await expectTableEqualsQuery(db, 'tr_ratio', RATIO);
  });

  it('gives a buffer a slower consumer keeps large its window index, and drops it once it is read', async () => {
    const t = trickle();
    const n = BUFFER_INDEX_ROWS.create + 10;
    await db.query(`INSERT INTO tr_src SELECT i, i % 5, i FROM generate_series(1001, ${1000 + n}) AS i`);
    expect(await indexed()).toBe(false);
    expect((await t.refresh('tr_agg')).action).toBe('DIFFERENTIAL');
    expect(await bufferRows()).toBe(n);
    expect(await indexed()).toBe(true);
    expect((await t.refresh('tr_ratio')).action).toBe('DIFFERENTIAL');
    expect(await bufferRows()).toBe(0);
    expect(await indexed()).toBe(false);
    await expectTableEqualsQuery(db, 'tr_agg', AGG);
    await expectTableEqualsQuery(db, 'tr_ratio', RATIO);
  });
});
