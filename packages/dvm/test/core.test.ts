import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { maintain } from './support/maintained.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE orders (id int PRIMARY KEY, customer int, amount numeric, region text);
    CREATE TABLE customers (id int PRIMARY KEY, name text, tier text);
    CREATE TABLE events (kind text, n int);
    INSERT INTO orders VALUES (1, 1, 10, 'eu'), (2, 1, 20, 'us'), (3, 2, NULL, 'eu'), (4, 3, 5, NULL);
    INSERT INTO customers VALUES (1, 'ann', 'gold'), (2, 'bob', NULL), (3, 'cy', 'silver');
    INSERT INTO events VALUES ('a', 1), ('a', 1), ('b', NULL);
  `);
});

describe('scan, filter, project', () => {
  it('keeps a keyed scan equal to its table', async () => {
    const st = await maintain(db, 'st_scan', 'SELECT * FROM orders');
    await st.check();
    await db.query(`INSERT INTO orders VALUES (5, 2, 7, 'us')`);
    await db.query(`UPDATE orders SET amount = amount + 1 WHERE id = 1`);
    await db.query(`DELETE FROM orders WHERE id = 2`);
    await st.refreshAndCheck();
    await db.query(`UPDATE orders SET id = 20 WHERE id = 5`);
    await db.query(`INSERT INTO orders VALUES (6, 1, 1, 'x')`);
    await db.query(`DELETE FROM orders WHERE id = 6`);
    const r = await st.refreshAndCheck();
    expect(r.action).toBe('DIFFERENTIAL');
    const none = await st.refresh();
    expect(none.action).toBe('NO_DATA');
  });

  it('keeps duplicates of a keyless table as separate rows', async () => {
    const st = await maintain(db, 'st_keyless', 'SELECT kind, n FROM events');
    await db.query(`INSERT INTO events VALUES ('a', 1), ('c', 3)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM events WHERE ctid = (SELECT min(ctid) FROM events WHERE kind = 'a')`);
    await st.refreshAndCheck();
    await db.query(`UPDATE events SET n = 2 WHERE kind = 'a'`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM events WHERE kind = 'a'`);
    await st.refreshAndCheck();
  });

  it('filters with three-valued logic and projects expressions', async () => {
    const st = await maintain(
      db,
      'st_filter',
      `SELECT id, amount * 2 AS double, upper(region) AS r FROM orders WHERE amount > 5 AND region <> 'zz'`,
    );
    await st.check();
    await db.query(`UPDATE orders SET amount = NULL WHERE id = 1`);
    await db.query(`UPDATE orders SET amount = 100 WHERE id = 3`);
    await db.query(`UPDATE orders SET region = NULL WHERE id = 20`);
    await st.refreshAndCheck();
  });
});

describe('inner joins', () => {
  it('joins two tables on a key, through inserts, updates and deletes on both sides', async () => {
    const st = await maintain(
      db,
      'st_join',
      `SELECT o.id, o.amount, c.name FROM orders o JOIN customers c ON c.id = o.customer`,
    );
    await st.check();
    await db.query(`INSERT INTO customers VALUES (4, 'dee', 'gold')`);
    await db.query(`INSERT INTO orders VALUES (7, 4, 70, 'eu')`);
    await db.query(`UPDATE customers SET name = 'ANN' WHERE id = 1`);
    await db.query(`DELETE FROM customers WHERE id = 2`);
    await st.refreshAndCheck();
    await db.query(`UPDATE orders SET customer = 3 WHERE id = 1`);
    await db.query(`DELETE FROM orders WHERE id = 7`);
    await db.query(`DELETE FROM customers WHERE id = 4`);
    await st.refreshAndCheck();
  });

  it('handles comma joins with WHERE, self-joins and USING', async () => {
    const st = await maintain(
      db,
      'st_self',
      `SELECT a.id AS a, b.id AS b FROM orders a, orders b WHERE a.customer = b.customer AND a.id < b.id`,
    );
    await st.check();
    await db.query(`INSERT INTO orders VALUES (8, 1, 3, 'eu'), (9, 3, 4, 'us')`);
    await db.query(`UPDATE orders SET customer = 1 WHERE id = 4`);
    await st.refreshAndCheck();
    const u = await maintain(
      db,
      'st_using',
      `SELECT * FROM orders JOIN (SELECT id AS customer, name FROM customers) c USING (customer)`,
    );
    await db.query(`UPDATE customers SET name = 'zed' WHERE id = 3`);
    await db.query(`DELETE FROM orders WHERE id = 8`);
    await u.refreshAndCheck();
  });
});

describe('union all, values, ctes', () => {
  it('maintains UNION ALL of two branches', async () => {
    const st = await maintain(
      db,
      'st_union',
      `SELECT id, region FROM orders WHERE amount > 5 UNION ALL SELECT id, tier FROM customers`,
    );
    await db.query(`INSERT INTO customers VALUES (10, 'x', 'gold')`);
    await db.query(`UPDATE orders SET amount = 50 WHERE id = 4`);
    await st.refreshAndCheck();
  });

  it('maintains a CTE joined to a VALUES list', async () => {
    const st = await maintain(
      db,
      'st_cte',
      `WITH big AS (SELECT id, amount FROM orders WHERE amount >= 10) SELECT big.id, v.label FROM big JOIN (VALUES (1, 'one'), (3, 'three')) AS v(k, label) ON v.k = big.id`,
    );
    await db.query(`UPDATE orders SET amount = 99 WHERE id = 3`);
    await st.refreshAndCheck();
  });
});
