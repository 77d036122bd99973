/**
 * `refresh()`'s opening read (refresh-look.ts): a zero-change refresh is answered by one read-only
 * statement with no transaction; what the read remembers per name (the sources whose buffers it
 * probes) never answers for another table or other sources; anything it cannot answer falls back
 * on the ordinary path and its errors.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Trickle } from '../src/index.js';
import { useTrickle } from './support/setup.js';
import { recorded } from './support/statements.js';

const { db, trickle } = useTrickle();

/** Runs `f`, counting the statements the client's connections ran, and how many of them were BEGIN. */
async function counted<T>(
  t: Trickle,
  f: () => Promise<T>,
): Promise<{ value: T; statements: number; begins: number }> {
  const { value, texts } = await recorded(t, f);
  return { value, statements: texts.length, begins: texts.filter((x) => /^\s*BEGIN\b/i.test(x)).length };
}

beforeAll(async () => {
  await db.query('CREATE TABLE l_a (id int PRIMARY KEY, k int, v int)');
  await db.query('CREATE TABLE l_b (id int PRIMARY KEY, k int, v int)');
  await db.query('INSERT INTO l_a SELECT g, g % 3, g FROM generate_series(1, 30) g');
  await db.query('INSERT INTO l_b SELECT g, g % 4, 10 * g FROM generate_series(1, 30) g');
  await trickle().createStreamTable({
    name: 'l_st',
    query: 'SELECT k, sum(v) AS s FROM l_a GROUP BY k',
    refreshMode: 'DIFFERENTIAL',
  });
});

describe("refresh()'s opening read", () => {
  it('answers a zero-change refresh with one read (and at most the freshness mark), no transaction', async () => {
    const t = trickle();
    await t.refresh('l_st');
    const history = await db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_history');
    const { value, statements, begins } = await counted(t, () => t.refresh('l_st'));
    expect(value.action).toBe('NO_DATA');
    expect(begins).toBe(0);
    expect(statements).toBeGreaterThanOrEqual(1);
    expect(statements).toBeLessThanOrEqual(2);
    const after = await db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_history');
    expect(after.rows[0]?.n).toBe(history.rows[0]?.n);
  });

  it('a committed change after a quiet answer is applied', async () => {
    const t = trickle();
    expect((await t.refresh('l_st')).action).toBe('NO_DATA');
    await db.query('UPDATE l_a SET v = v + 1 WHERE id <= 5');
    expect((await t.refresh('l_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'l_st', 'SELECT k, sum(v) AS s FROM l_a GROUP BY k');
  });

  it('remembered sources never answer for a new query: a change of the new source is applied', async () => {
    const t = trickle();
    expect((await t.refresh('l_st')).action).toBe('NO_DATA');
    await t.alterStreamTable('l_st', { query: 'SELECT k, sum(v) AS s FROM l_b GROUP BY k' });
    await db.query('UPDATE l_b SET v = v + 1 WHERE id <= 5');
    expect((await t.refresh('l_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'l_st', 'SELECT k, sum(v) AS s FROM l_b GROUP BY k');
    expect((await t.refresh('l_st')).action).toBe('NO_DATA');
  });

  it('remembered sources never answer for another table of the same name', async () => {
    const t = trickle();
    expect((await t.refresh('l_st')).action).toBe('NO_DATA');
    await t.dropStreamTable('l_st');
    await t.createStreamTable({
      name: 'l_st',
      query: 'SELECT k, count(*) AS n FROM l_a GROUP BY k',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query('DELETE FROM l_a WHERE id <= 3');
    expect((await t.refresh('l_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'l_st', 'SELECT k, count(*) AS n FROM l_a GROUP BY k');
  });

  it('a source dropped since the last read fails as before (PGT_SOURCE_CHANGED), and the name stays usable', async () => {
    const t = trickle();
    await db.query('CREATE TABLE l_c (id int PRIMARY KEY, v int)');
    await db.query('INSERT INTO l_c VALUES (1, 1), (2, 2)');
    await t.createStreamTable({
      name: 'l_drop',
      query: 'SELECT id, v FROM l_c',
      refreshMode: 'DIFFERENTIAL',
    });
    expect((await t.refresh('l_drop')).action).toBe('NO_DATA');
    await db.query('DROP TABLE l_c');
    await expect(t.refresh('l_drop')).rejects.toMatchObject({ code: 'PGT_SOURCE_CHANGED' });
  });

  it('an unknown name is refused as before, qualified or not', async () => {
    const t = trickle();
    await expect(t.refresh('public.l_missing')).rejects.toMatchObject({ code: 'PGT_NOT_FOUND' });
    await expect(t.refresh('l_missing')).rejects.toMatchObject({ code: 'PGT_NOT_FOUND' });
  });
});
