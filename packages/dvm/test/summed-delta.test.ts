/**
 * The summed delta (operators/shared/summed-delta.ts): an aggregate of counts and sums over scans,
 * filters, projections and inner joins reads the change buffers unnetted — its refresh statement
 * has no netting per row id (no sort of a window by row id, no row id hashed per joined row) — and
 * stays exact for windows where one row changes several times, is inserted and deleted, is
 * deleted and inserted again, and both sides of a join change at once. MIN / MAX keep the netted
 * delta.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE cust (id int PRIMARY KEY, region int NOT NULL, name text);
    CREATE TABLE ord (id int PRIMARY KEY, cust_id int, amount numeric(12,2), qty int NOT NULL);
    CREATE TABLE tag (cust_id int, label text);
    INSERT INTO cust SELECT g, g % 5, 'c' || g FROM generate_series(1, 40) g;
    INSERT INTO ord SELECT g, 1 + g % 45, CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 97) * 1.25 END, g % 7
      FROM generate_series(1, 400) g;
    INSERT INTO tag SELECT 1 + g % 40, 'l' || (g % 3) FROM generate_series(1, 60) g;
    ANALYZE cust; ANALYZE ord; ANALYZE tag;
  `);
}, 120_000);

/** Windows that change the same rows several times, on both sides of the joins. */
const WINDOWS: readonly string[] = [
  `UPDATE ord SET amount = amount + 1 WHERE id <= 50;
   UPDATE ord SET amount = amount * 2, cust_id = cust_id % 40 + 1 WHERE id <= 30;
   UPDATE ord SET qty = qty + 1 WHERE id BETWEEN 20 AND 60`,
  `INSERT INTO ord SELECT g, 1 + g % 40, g * 0.5, 1 FROM generate_series(1001, 1050) g;
   DELETE FROM ord WHERE id BETWEEN 1001 AND 1020;
   UPDATE ord SET amount = NULL WHERE id BETWEEN 1021 AND 1030`,
  `DELETE FROM ord WHERE id BETWEEN 100 AND 140;
   INSERT INTO ord SELECT g, 2, 7.5, 3 FROM generate_series(100, 120) g;
   UPDATE cust SET region = region + 1 WHERE id % 4 = 0`,
  `UPDATE cust SET region = 9 WHERE id BETWEEN 1 AND 5;
   UPDATE ord SET cust_id = 3 WHERE cust_id BETWEEN 1 AND 5;
   DELETE FROM cust WHERE id = 6;
   INSERT INTO cust VALUES (41, 2, 'new'), (42, 3, 'newer');
   UPDATE ord SET cust_id = 41 WHERE id % 13 = 0;
   INSERT INTO tag VALUES (41, 'l9'), (3, 'l1'); DELETE FROM tag WHERE cust_id = 7`,
  `UPDATE ord SET amount = amount + 0.01; UPDATE cust SET name = name || 'x'`,
  `DELETE FROM ord WHERE id % 3 = 0; DELETE FROM cust WHERE id BETWEEN 30 AND 35`,
];

const SUMMED: readonly [string, string][] = [
  [
    'join + aggregate',
    'SELECT c.region, count(*) AS n, sum(o.amount) AS total, avg(o.amount) AS mean, count(o.amount) AS na FROM ord o JOIN cust c ON c.id = o.cust_id GROUP BY c.region',
  ],
  [
    'filters and projections over a join',
    `SELECT r, odd, sum(q) AS q, count(*) AS n FROM (
        SELECT c.region AS r, coalesce(o.qty, 0) IN (1, 3) AS odd, o.qty AS q
        FROM ord o JOIN cust c ON c.id = o.cust_id
        WHERE o.amount > 10 AND c.name <> 'c7' AND coalesce(o.qty, 0) BETWEEN 1 AND 5) s
      GROUP BY r, odd`,
  ],
  [
    'three-way join with a keyless table',
    'SELECT t.label, count(*) AS n, sum(o.qty) AS q FROM ord o JOIN cust c ON c.id = o.cust_id JOIN tag t ON t.cust_id = c.id GROUP BY t.label',
  ],
  [
    'self-join',
    'SELECT a.cust_id, count(*) AS n, sum(b.qty) AS q FROM ord a JOIN ord b ON a.cust_id = b.cust_id AND a.id < b.id AND b.qty IS NOT NULL GROUP BY a.cust_id',
  ],
  [
    'global aggregate over a join',
    'SELECT count(*) AS n, sum(o.amount) AS s FROM ord o JOIN cust c ON c.id = o.cust_id',
  ],
];

async function refreshStatement(st: Maintained): Promise<string> {
  const s = st.plan.refreshSql();
  if (s === null) throw new Error('no refresh statement');
  return s;
}

describe('summed delta of a linear subtree under a summing aggregate', () => {
  it('reads the windows unnetted and stays exact', async () => {
    const tables: Maintained[] = [];
    for (const [i, [, query]] of SUMMED.entries()) tables.push(await maintain(db, `st_summed_${i}`, query));
    for (const st of tables) {
      const statement = await refreshStatement(st);
      expect(statement).not.toMatch(/__pgt_first|DISTINCT ON \(__pgt_row_id\)/);
      expect(statement).toMatch(/_sjoin\b/);
      expect(statement).toMatch(/_changes_/);
    }
    for (const w of WINDOWS) {
      await db.query(w);
      for (const st of tables) await st.refreshAndCheck();
    }
  }, 300_000);

  it('keeps the netted delta where a key, argument, filter or join condition may fail on a row', async () => {
    const queries = [
      'SELECT c.region % 2 AS parity, count(*) AS n FROM ord o JOIN cust c ON c.id = o.cust_id GROUP BY c.region % 2',
      'SELECT c.region, sum(o.qty * 2) AS q FROM ord o JOIN cust c ON c.id = o.cust_id GROUP BY c.region',
      'SELECT c.region, count(*) AS n FROM ord o JOIN cust c ON c.id = o.cust_id WHERE o.qty + 1 > 2 GROUP BY c.region',
      'SELECT a.cust_id, count(*) AS n FROM ord a JOIN ord b ON a.cust_id = b.cust_id AND b.id < a.id + 40 GROUP BY a.cust_id',
    ];
    const tables: Maintained[] = [];
    for (const [i, query] of queries.entries()) tables.push(await maintain(db, `st_netted_${i}`, query));
    for (const st of tables) expect(await refreshStatement(st)).toMatch(/DISTINCT ON \(__pgt_row_id\)/);
    await db.query(`UPDATE ord SET qty = qty + 1 WHERE id % 5 = 0; UPDATE cust SET region = region + 1 WHERE id % 4 = 0;
      DELETE FROM ord WHERE id % 13 = 0; UPDATE ord SET qty = qty - 1 WHERE id % 10 = 0`);
    for (const st of tables) await st.refreshAndCheck();
  }, 300_000);

  it('keeps the netted delta for MIN / MAX', async () => {
    const st = await maintain(
      db,
      'st_summed_minmax',
      'SELECT c.region, min(o.amount) AS lo, count(*) AS n FROM ord o JOIN cust c ON c.id = o.cust_id GROUP BY c.region',
    );
    expect(await refreshStatement(st)).toMatch(/DISTINCT ON \(__pgt_row_id\)/);
    expect(await refreshStatement(st)).not.toMatch(/_sjoin\b/);
    await db.query(`UPDATE ord SET amount = amount - 3 WHERE id % 5 = 1; DELETE FROM ord WHERE id % 17 = 2`);
    await st.refreshAndCheck();
  }, 300_000);
});
