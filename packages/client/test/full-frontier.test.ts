/**
 * A FULL refresh's statement inserts through an unreferenced data-modifying CTE and returns the
 * frontier of that same statement (dvm `fullFrontierSelectSql`), the rows counted after it; a FULL
 * plan's row ids are one constant (dvm `FULL_ROW_ID_SQL`). A query PostgreSQL proves empty
 * from its text refreshes, FULL and then DIFFERENTIAL; the frontier a FULL refresh records is its
 * statement's (a DIFFERENTIAL refresh after it applies each later write once); and a FULL-mode table gives the same row the same id at
 * every refresh (equal-valued rows with different representations apart), so refreshing unchanged
 * data changes no (id, row) pair.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

async function idsAndImages(table: string): Promise<string[]> {
  const res = await db.query(
    `SELECT __pgt_row_id::text || ' ' || encode(record_send(ROW(k, v)), 'hex') AS x FROM ${table} ORDER BY 1`,
  );
  return res.rows.map((r) => String(r.x));
}

describe('the frontier and row ids of a FULL refresh', () => {
  it('refreshes a query PostgreSQL proves empty, FULL and then DIFFERENTIAL', async () => {
    await db.query(`CREATE TABLE ff_src (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO ff_src SELECT g, g FROM generate_series(1, 50) g`);
    const t = trickle();
    const query = 'SELECT id, v FROM ff_src WHERE 1 = 0';
    await t.createStreamTable({ name: 'ff_full', query, refreshMode: 'FULL' });
    await t.createStreamTable({ name: 'ff_diff', query, refreshMode: 'DIFFERENTIAL' });
    await db.query('INSERT INTO ff_src VALUES (100, 100)');
    expect((await t.refresh('ff_full')).action).toBe('FULL');
    expect((await t.refresh('ff_diff', { action: 'FULL' })).action).toBe('FULL');
    await db.query('INSERT INTO ff_src VALUES (101, 101); UPDATE ff_src SET v = v + 1');
    expect((await t.refresh('ff_diff')).action).toBe('DIFFERENTIAL');
    for (const name of ['ff_full', 'ff_diff']) await expectTableEqualsQuery(db, name, query);
  });

  it('records the frontier of the FULL statement: a DIFFERENTIAL refresh after it applies each later write once', async () => {
    await db.query(`CREATE TABLE ff_orders (id int PRIMARY KEY, g int NOT NULL, amount numeric(12,2) NOT NULL);
      INSERT INTO ff_orders SELECT g, g % 13, g * 1.5 FROM generate_series(1, 20000) g`);
    const t = trickle();
    const agg = 'SELECT g, count(*) AS n, sum(amount) AS total FROM ff_orders GROUP BY g';
    const rows = 'SELECT id, amount FROM ff_orders WHERE amount > 100';
    await t.createStreamTable({ name: 'ff_agg', query: agg, refreshMode: 'DIFFERENTIAL' });
    await t.createStreamTable({ name: 'ff_rows', query: rows, refreshMode: 'DIFFERENTIAL' });
    for (let step = 0; step < 3; step++) {
      await db.query(`UPDATE ff_orders SET amount = amount + 1 WHERE id % 7 = ${step};
        DELETE FROM ff_orders WHERE id % 101 = ${step};
        INSERT INTO ff_orders SELECT 100000 + ${step} * 1000 + g, g % 13, g FROM generate_series(1, 300) g`);
      for (const name of ['ff_agg', 'ff_rows'])
        expect((await t.refresh(name, { action: 'FULL' })).action).toBe('FULL');
      await db.query(`UPDATE ff_orders SET g = g + 1 WHERE id % 11 = ${step};
        INSERT INTO ff_orders SELECT 200000 + ${step} * 1000 + g, g % 5, g FROM generate_series(1, 50) g`);
      for (const name of ['ff_agg', 'ff_rows']) expect((await t.refresh(name)).action).toBe('DIFFERENTIAL');
      await expectTableEqualsQuery(db, 'ff_agg', agg);
      await expectTableEqualsQuery(db, 'ff_rows', rows);
    }
  });

  it('gives the same row the same id at every FULL refresh of a FULL-mode table', async () => {
    await db.query(`CREATE TABLE ff_dup (k text, v numeric);
      INSERT INTO ff_dup VALUES ('a', 1.0), ('a', 1.00), ('a', 1.0), ('b', NULL), (NULL, -1), (NULL, 1)`);
    const t = trickle();
    await t.createStreamTable({ name: 'ff_dup_st', query: 'SELECT k, v FROM ff_dup', refreshMode: 'FULL' });
    const first = await idsAndImages('ff_dup_st__pgt_storage');
    expect((await t.refresh('ff_dup_st')).action).toBe('FULL');
    expect(await idsAndImages('ff_dup_st__pgt_storage')).toEqual(first);
    // The two copies of ('a', 1.0) share an id: six rows, five distinct (id, image) pairs.
    expect(first).toHaveLength(6);
    expect(new Set(first).size).toBe(5);
    const copies = await db.query(
      `SELECT count(DISTINCT __pgt_row_id)::int AS n FROM ff_dup_st__pgt_storage WHERE k = 'a' AND v::text = '1.0'`,
    );
    expect(copies.rows[0]?.n).toBe(1);
    await expectTableEqualsQuery(db, 'ff_dup_st', 'SELECT k, v FROM ff_dup');
  });
});
