/**
 * The FULL refresh of an AUTO or DIFFERENTIAL stream table (dvm `plan/full-bulk.ts`, row ids of
 * `diff/rowid.ts`), on a real PostgreSQL: a large storage's FULL leaves the row ids the next
 * DIFFERENTIAL refreshes look rows up by, under their unique index (rebuilt after the load); a
 * scan of a source keyed by one integer column takes the key as its row id; and a FULL that fails
 * part-way leaves the contents and the index as they were.
 */
import { BULK_FULL_MIN_ROWS } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

/** The row-id index of `storage`: its oid, whether it is unique and valid (null: none). */
async function rowIdIndex(storage: string): Promise<{ oid: number; unique: boolean; valid: boolean } | null> {
  const res = await db.query(
    `SELECT i.indexrelid::int8 AS oid, i.indisunique AS unique, i.indisvalid AS valid
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = $1::regclass AND i.indnatts = 1 AND a.attname = '__pgt_row_id'`,
    [storage],
  );
  const r = res.rows[0];
  return r === undefined ? null : { oid: Number(r.oid), unique: r.unique === true, valid: r.valid === true };
}

const JOIN = `SELECT o.id, o.amount, c.name FROM fa.orders o JOIN fa.customers c ON c.id = o.customer_id
  WHERE o.amount < 600 AND c.region < 7`;

describe('FULL refresh of an AUTO or DIFFERENTIAL stream table', () => {
  it('leaves unique row ids under their index, from which DIFFERENTIAL refreshes go on exactly', async () => {
    const orders = 4 * BULK_FULL_MIN_ROWS;
    await db.query(`CREATE SCHEMA fa;
      CREATE TABLE fa.customers (id int PRIMARY KEY, name text NOT NULL, region int NOT NULL);
      CREATE TABLE fa.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, amount numeric(12,2) NOT NULL);
      INSERT INTO fa.customers SELECT g, 'c' || g, g % 10 FROM generate_series(1, 2000) g;
      INSERT INTO fa.orders SELECT g, 1 + (g * 7) % 2000, (g * 13) % 1000 FROM generate_series(1, ${orders}) g;
      ANALYZE fa.customers; ANALYZE fa.orders`);
    const t = trickle();
    for (const mode of ['AUTO', 'DIFFERENTIAL'] as const) {
      const name = `fa.join_${mode.toLowerCase()}`;
      await t.createStreamTable({ name, query: JOIN, refreshMode: mode });
    }
    for (const [k, name] of ['fa.join_auto', 'fa.join_differential'].entries()) {
      const storage = `${name}__pgt_storage`;
      const before = await rowIdIndex(storage);
      expect(before).toMatchObject({ unique: true, valid: true });
      await db.query(`UPDATE fa.orders SET amount = amount + 1 WHERE id % 5 = 0;
        DELETE FROM fa.orders WHERE id % 17 = 0;
        UPDATE fa.orders SET customer_id = customer_id % 1999 + 1 WHERE id % 23 = 0`);
      const full = await t.refresh(name, { action: 'FULL' });
      expect(full.action).toBe('FULL');
      await expectTableEqualsQuery(db, name, JOIN);
      // Rebuilt in bulk after the load (a new index: the storage held ≥ BULK_FULL_MIN_ROWS), unique and valid.
      const after = await rowIdIndex(storage);
      expect(after).toMatchObject({ unique: true, valid: true });
      expect(after?.oid).not.toBe(before?.oid);
      for (let step = 1; step <= 2; step++) {
        await db.query(`UPDATE fa.orders SET amount = amount + ${step} WHERE id % ${100 + step} = 0;
          DELETE FROM fa.orders WHERE id % ${129 + step} = 1;
          INSERT INTO fa.orders SELECT ${orders} + ${10 * k + step} * 1000 + g, 1 + g % 2000, g % 900 FROM generate_series(1, 300) g;
          UPDATE fa.customers SET region = (region + 1) % 10 WHERE id % ${40 + step} = 0`);
        const next = await t.refresh(name, { action: 'DIFFERENTIAL' });
        expect(next.action, next.reason ?? '').toBe('DIFFERENTIAL');
        await expectTableEqualsQuery(db, name, JOIN);
      }
    }
  });

  it('takes a key of one integer column as the row id of a scan of its source', async () => {
    await db.query(`CREATE TABLE fa.keyed (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO fa.keyed SELECT g, g % 10 FROM generate_series(1, 50) g`);
    const t = trickle();
    await t.createStreamTable({
      name: 'fa.keyed_st',
      query: 'SELECT id, v FROM fa.keyed WHERE v < 8',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query('UPDATE fa.keyed SET v = v + 1 WHERE id % 3 = 0; INSERT INTO fa.keyed VALUES (100, 1)');
    expect((await t.refresh('fa.keyed_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'fa.keyed_st', 'SELECT id, v FROM fa.keyed WHERE v < 8');
    const ids = await db.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE __pgt_row_id = id)::int AS own FROM fa.keyed_st__pgt_storage`,
    );
    expect(ids.rows[0]?.n).toBeGreaterThan(0);
    expect(ids.rows[0]?.own).toBe(ids.rows[0]?.n);
  });

  it('leaves the contents and the row-id index as they were when it fails part-way', async () => {
    const n = BULK_FULL_MIN_ROWS + 1_000;
    const query = 'SELECT id, 1000 / d AS q FROM fa.div';
    await db.query(`CREATE TABLE fa.div (id int PRIMARY KEY, d int NOT NULL);
      INSERT INTO fa.div SELECT g, 1 + g % 7 FROM generate_series(1, ${n}) g`);
    const t = trickle();
    await t.createStreamTable({ name: 'fa.div_st', query, refreshMode: 'AUTO' });
    const storage = 'fa.div_st__pgt_storage';
    const index = await rowIdIndex(storage);
    const snapshot = async () =>
      (await db.query(`SELECT __pgt_row_id, id, q FROM ${storage} ORDER BY __pgt_row_id`)).rows;
    const kept = await snapshot();
    expect(kept.length).toBe(n);
    // A row in the middle fails the division: the FULL statement errors after the TRUNCATE and
    // the DROP INDEX of the bulk load.
    await db.query(`UPDATE fa.div SET d = 0 WHERE id = ${Math.floor(n / 2)}`);
    await expect(t.refresh('fa.div_st', { action: 'FULL' })).rejects.toThrow(/division by zero/);
    expect(await snapshot()).toEqual(kept);
    expect(await rowIdIndex(storage)).toEqual(index);
    await db.query(`UPDATE fa.div SET d = 3 WHERE id = ${Math.floor(n / 2)}`);
    expect((await t.refresh('fa.div_st', { action: 'DIFFERENTIAL' })).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'fa.div_st', query);
  });
});
