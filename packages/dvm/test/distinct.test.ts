/**
 * SELECT DISTINCT and DISTINCT ON, maintained DIFFERENTIAL against the oracle after every step
 * (and against a FULL table, and their storage — row ids, hidden counts — against a fresh
 * population): duplicates, NULLs, counts going to zero and back, updates that change a row's
 * distinct value, rows inserted and deleted before a refresh, DISTINCT over joins, expressions,
 * keyless tables and subqueries, equal values with different text (numeric scale, −0, interval),
 * DISTINCT ON with total ORDER BYs (PostgreSQL breaks remaining ties arbitrarily, so a table can
 * only match its query under a total order), hidden sort columns, NULL keys.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { maintain } from './support/maintained.js';
import { immediateScenario, multisetScenario, runSteps, verifiedRefresh } from './support/scenario.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE items (id int PRIMARY KEY, cat text, color text, price numeric, qty int);
    INSERT INTO items VALUES (1, 'a', 'red', 10, 1), (2, 'a', 'red', 10, 2), (3, 'b', NULL, 5, 3),
      (4, NULL, NULL, NULL, 4), (5, NULL, NULL, 7, 5);
    CREATE TABLE bag (a int, b text);
    INSERT INTO bag VALUES (1, 'x'), (1, 'x'), (1, 'x'), (2, NULL), (2, NULL), (NULL, NULL), (3, 'y');
    CREATE TABLE orders (id int PRIMARY KEY, customer int, amount numeric, region text);
    CREATE TABLE customers (id int PRIMARY KEY, name text, tier text);
    INSERT INTO customers VALUES (1, 'ann', 'gold'), (2, 'bob', NULL), (3, 'cy', 'silver'), (4, 'di', 'gold');
    INSERT INTO orders VALUES (1, 1, 10, 'eu'), (2, 1, 20, 'us'), (3, 2, NULL, 'eu'), (4, 3, 5, NULL),
      (5, 4, 8, 'eu'), (6, 4, 9, 'eu');
    CREATE TABLE nums (id int PRIMARY KEY, v numeric, f float8, iv interval);
    INSERT INTO nums VALUES (1, 1.0, 0, '1 day'), (2, 1.00, -0.0, '24 hours'), (3, 2, 1.5, '1 mon'),
      (4, NULL, NULL, NULL);
    CREATE TABLE scores (id int PRIMARY KEY, grp text, score int, player text);
    INSERT INTO scores VALUES (1, 'g1', 10, 'ann'), (2, 'g1', 20, 'bob'), (3, 'g2', 5, 'cy'),
      (4, NULL, 7, 'di'), (5, NULL, 9, 'ed'), (6, 'g2', NULL, 'fy'), (7, 'G1', 15, 'gus');
  `);
});

describe('SELECT DISTINCT', () => {
  it('keeps one row per distinct value through counts going to zero and back', async () => {
    await multisetScenario(db, 'st_d_basic', 'SELECT DISTINCT cat, color FROM items', [
      `INSERT INTO items VALUES (6, 'a', 'red', 1, 6)`,
      `DELETE FROM items WHERE id IN (1, 2)`,
      `DELETE FROM items WHERE id = 6`,
      `INSERT INTO items VALUES (1, 'a', 'red', 10, 1)`,
      `UPDATE items SET cat = 'c' WHERE id = 3`,
      `UPDATE items SET color = 'blue' WHERE id = 1`,
      [`INSERT INTO items VALUES (7, 'zz', 'zz', 0, 0)`, `DELETE FROM items WHERE id = 7`],
      [`INSERT INTO items VALUES (8, 'a', 'blue', 0, 0)`, `UPDATE items SET color = 'red' WHERE id = 1`],
    ]);
  });

  it('treats NULLs as one value', async () => {
    await multisetScenario(db, 'st_d_nulls', 'SELECT DISTINCT color FROM items', [
      `UPDATE items SET color = NULL WHERE id = 1`,
      `DELETE FROM items WHERE color IS NULL`,
      `INSERT INTO items VALUES (10, NULL, NULL, NULL, NULL), (11, 'q', NULL, 1, 1)`,
      `UPDATE items SET color = 'red' WHERE color IS NULL`,
      `UPDATE items SET color = NULL WHERE id = 10`,
    ]);
  });

  it('counts duplicates of a keyless table', async () => {
    await multisetScenario(db, 'st_d_bag', 'SELECT DISTINCT a, b FROM bag', [
      `DELETE FROM bag WHERE ctid = (SELECT min(ctid) FROM bag WHERE a = 1)`,
      `DELETE FROM bag WHERE a = 1`,
      `INSERT INTO bag VALUES (1, 'x'), (1, 'x')`,
      `UPDATE bag SET b = 'z' WHERE a = 2`,
      `DELETE FROM bag WHERE a IS NULL`,
      `INSERT INTO bag VALUES (NULL, NULL), (NULL, NULL), (NULL, '')`,
      [`INSERT INTO bag VALUES (9, 'n')`, `DELETE FROM bag WHERE a = 9`],
    ]);
  });

  it('DISTINCT * over a keyless table, and a single-column DISTINCT of it', async () => {
    await multisetScenario(db, 'st_d_star', 'SELECT DISTINCT * FROM bag', [
      `INSERT INTO bag VALUES (3, 'y'), (4, 'w')`,
      `DELETE FROM bag WHERE a = 3`,
      `UPDATE bag SET a = a + 10 WHERE a = 4`,
    ]);
    await multisetScenario(db, 'st_d_bag_a', 'SELECT DISTINCT a FROM bag', [
      `INSERT INTO bag VALUES (14, 'other')`,
      `DELETE FROM bag WHERE a = 14 AND b = 'w'`,
      `DELETE FROM bag WHERE a = 14`,
    ]);
  });

  it('DISTINCT over expressions and a filter', async () => {
    await multisetScenario(
      db,
      'st_d_expr',
      `SELECT DISTINCT upper(cat) AS ucat, qty % 2 AS parity FROM items WHERE price > 1 OR price IS NULL`,
      [
        `UPDATE items SET price = 0 WHERE id = 1`,
        `UPDATE items SET qty = qty + 1`,
        `INSERT INTO items VALUES (20, 'A', 'x', 100, 3), (21, 'a', 'y', 100, 5)`,
        `DELETE FROM items WHERE id = 20`,
        `UPDATE items SET price = NULL WHERE id = 21`,
      ],
    );
  });

  it('DISTINCT over a join, with changes on both sides and rows moving between groups', async () => {
    await multisetScenario(
      db,
      'st_d_join',
      `SELECT DISTINCT c.tier, o.region FROM orders o JOIN customers c ON c.id = o.customer`,
      [
        `UPDATE customers SET tier = 'silver' WHERE id = 4`,
        `DELETE FROM orders WHERE id = 1`,
        `INSERT INTO orders VALUES (7, 2, 1, 'eu'), (8, 2, 1, 'ap')`,
        `UPDATE orders SET customer = 3 WHERE id = 8`,
        [`DELETE FROM customers WHERE id = 2`, `INSERT INTO customers VALUES (5, 'ed', NULL)`],
        `UPDATE orders SET customer = 5 WHERE customer IS NOT NULL AND id IN (3, 7)`,
        [`UPDATE customers SET tier = 'gold'`, `UPDATE orders SET region = 'eu'`],
      ],
    );
  });

  it('groups equal values whose text differs (numeric scale, -0, interval)', async () => {
    await multisetScenario(db, 'st_d_num', 'SELECT DISTINCT v FROM nums', [
      `DELETE FROM nums WHERE id = 1`,
      `INSERT INTO nums VALUES (5, 1.000, 2, '1 day')`,
      `DELETE FROM nums WHERE id IN (2, 5)`,
      `INSERT INTO nums VALUES (1, 1.0, 0, '1 day'), (2, 1.00, -0.0, '24 hours')`,
    ]);
    await multisetScenario(db, 'st_d_float', 'SELECT DISTINCT f FROM nums', [
      `DELETE FROM nums WHERE id = 1`,
      `INSERT INTO nums VALUES (6, 3, 0, '1 day')`,
      `UPDATE nums SET f = -0.0 WHERE id = 6`,
    ]);
    await multisetScenario(db, 'st_d_interval', 'SELECT DISTINCT iv FROM nums', [
      `UPDATE nums SET iv = '30 days' WHERE id = 6`,
      `DELETE FROM nums WHERE id = 3`,
      `DELETE FROM nums WHERE iv = '1 day'`,
    ]);
    await multisetScenario(db, 'st_d_num_pair', 'SELECT DISTINCT v, iv FROM nums', [
      `INSERT INTO nums VALUES (7, 2.0, 1, '30 days'), (8, 2.00, 1, '720 hours')`,
      `DELETE FROM nums WHERE id = 7`,
    ]);
  });

  it('keeps its count in storage at the root (hidden __pgt_count)', async () => {
    const st = await maintain(db, 'st_d_state', 'SELECT DISTINCT a FROM bag');
    expect(st.plan.hiddenColumns).toEqual(['__pgt_count']);
    expect(st.plan.uniqueRowIds).toBe(true);
    const counts = await db.query<{ a: number | null; c: string }>(
      `SELECT a, __pgt_count::text AS c FROM st_d_state ORDER BY a NULLS FIRST`,
    );
    const expected = await db.query<{ a: number | null; c: string }>(
      `SELECT a, count(*)::text AS c FROM bag GROUP BY a ORDER BY a NULLS FIRST`,
    );
    expect(counts.rows).toEqual(expected.rows);
    await db.query(`INSERT INTO bag VALUES (1, 'x'), (1, 'x')`);
    await verifiedRefresh(st, { population: true });
    const one = await db.query<{ c: string }>(`SELECT __pgt_count::text AS c FROM st_d_state WHERE a = 1`);
    const real = await db.query<{ c: string }>(`SELECT count(*)::text AS c FROM bag WHERE a = 1`);
    expect(one.rows).toEqual(real.rows);
  });

  it('a projection above DISTINCT (state stored through it) and DISTINCT of DISTINCT', async () => {
    await multisetScenario(
      db,
      'st_d_proj',
      'SELECT s.x AS y FROM (SELECT DISTINCT cat AS x FROM items) AS s',
      [
        `INSERT INTO items VALUES (30, 'new', NULL, 1, 1)`,
        `DELETE FROM items WHERE cat = 'a'`,
        `UPDATE items SET cat = 'new' WHERE cat IS NULL`,
      ],
    );
    await multisetScenario(db, 'st_d_nested', 'SELECT DISTINCT a FROM (SELECT DISTINCT a, b FROM bag) AS s', [
      `INSERT INTO bag VALUES (1, 'q'), (1, 'r')`,
      `DELETE FROM bag WHERE a = 1 AND b = 'x'`,
      `DELETE FROM bag WHERE a = 1`,
      `INSERT INTO bag VALUES (1, 'x')`,
    ]);
  });

  it('DISTINCT below a join and inside a CTE (not the root)', async () => {
    await multisetScenario(
      db,
      'st_d_below_join',
      `SELECT d.region, c.name FROM (SELECT DISTINCT customer, region FROM orders) AS d JOIN customers c ON c.id = d.customer`,
      [
        `INSERT INTO orders VALUES (40, 1, 1, 'eu'), (41, 1, 2, 'eu')`,
        `DELETE FROM orders WHERE id = 40`,
        `DELETE FROM orders WHERE id = 41`,
        `UPDATE customers SET name = upper(name)`,
        `UPDATE orders SET region = NULL WHERE customer = 4`,
      ],
    );
    await multisetScenario(
      db,
      'st_d_cte',
      `WITH t AS (SELECT DISTINCT tier FROM customers) SELECT t.tier, o.id FROM t JOIN customers c ON c.tier = t.tier JOIN orders o ON o.customer = c.id`,
      [
        `UPDATE customers SET tier = 'gold' WHERE id = 3`,
        `INSERT INTO customers VALUES (6, 'fi', 'bronze')`,
        `INSERT INTO orders VALUES (42, 6, 1, 'eu')`,
        `DELETE FROM customers WHERE id = 6`,
      ],
    );
  });

  it('DISTINCT inside a UNION ALL branch', async () => {
    await multisetScenario(
      db,
      'st_d_in_union_all',
      'SELECT DISTINCT a FROM bag UNION ALL SELECT qty FROM items',
      [
        `INSERT INTO bag VALUES (50, 'u'), (50, 'v')`,
        `INSERT INTO items VALUES (50, 'u', 'u', 1, 50)`,
        `DELETE FROM bag WHERE a = 50`,
      ],
    );
  });

  it('falls back to nothing in AUTO mode (DISTINCT is differential)', async () => {
    const st = await maintain(db, 'st_d_auto', 'SELECT DISTINCT cat FROM items', { mode: 'AUTO' });
    expect(st.plan.mode).toBe('DIFFERENTIAL');
    expect(st.plan.fallbackReason).toBeNull();
  });
});

describe('SELECT DISTINCT ON', () => {
  it('keeps the first row per key by a total ORDER BY, with a sort column not in the select list', async () => {
    await multisetScenario(
      db,
      'st_on_hidden',
      `SELECT DISTINCT ON (grp) grp, player FROM scores ORDER BY grp, score DESC NULLS LAST, id`,
      [
        `UPDATE scores SET score = 30 WHERE id = 1`,
        `INSERT INTO scores VALUES (8, 'g2', 50, 'hal'), (9, 'g3', 1, 'ivy')`,
        `DELETE FROM scores WHERE id = 8`,
        `UPDATE scores SET grp = 'g3' WHERE id = 1`,
        `UPDATE scores SET score = NULL WHERE grp = 'g2'`,
        `DELETE FROM scores WHERE grp IS NULL AND score = 9`,
        [`INSERT INTO scores VALUES (10, NULL, 100, 'jo')`, `DELETE FROM scores WHERE id = 10`],
        `UPDATE scores SET player = 'ANN' WHERE id = 1`,
      ],
    );
  });

  it('with the ORDER BY keys in the select list, NULLS FIRST, and several keys', async () => {
    await multisetScenario(
      db,
      'st_on_multi',
      `SELECT DISTINCT ON (grp, score > 10) grp, score > 10 AS big, score, player FROM scores ORDER BY grp, score > 10, score NULLS FIRST, id DESC`,
      [
        `INSERT INTO scores VALUES (11, 'g1', 11, 'kim'), (12, 'g1', NULL, 'lee')`,
        `UPDATE scores SET score = 12 WHERE id = 12`,
        `DELETE FROM scores WHERE grp = 'g1' AND score > 10`,
        `UPDATE scores SET grp = NULL WHERE id = 3`,
      ],
    );
  });

  it('with an expression key and without ORDER BY ties (one row per key)', async () => {
    await multisetScenario(
      db,
      'st_on_expr',
      `SELECT DISTINCT ON (lower(grp)) lower(grp) AS g, id FROM scores ORDER BY lower(grp), id`,
      [
        `INSERT INTO scores VALUES (0, 'G2', 1, 'zed')`,
        `DELETE FROM scores WHERE id = 0`,
        `UPDATE scores SET grp = upper(grp)`,
        `UPDATE scores SET id = id + 100 WHERE id = 7`,
      ],
    );
  });

  it('over a join and below a join', async () => {
    await multisetScenario(
      db,
      'st_on_join',
      `SELECT DISTINCT ON (c.id) c.name, o.amount FROM customers c JOIN orders o ON o.customer = c.id ORDER BY c.id, o.amount DESC NULLS LAST, o.id`,
      [
        `INSERT INTO orders VALUES (60, 1, 1000, 'eu')`,
        `UPDATE orders SET amount = NULL WHERE id = 60`,
        `DELETE FROM orders WHERE customer = 4`,
        `UPDATE customers SET name = 'x' || name WHERE id = 1`,
        `UPDATE orders SET customer = 3 WHERE id = 60`,
      ],
    );
    await multisetScenario(
      db,
      'st_on_below',
      `SELECT f.grp, f.player, c.name FROM (SELECT DISTINCT ON (grp) grp, player, score FROM scores ORDER BY grp, score, id) AS f JOIN customers c ON c.name = f.player`,
      [
        `INSERT INTO customers VALUES (7, 'gus', 'gold'), (8, 'kim', NULL)`,
        `UPDATE scores SET score = -1 WHERE player = 'gus'`,
        `UPDATE scores SET score = 99 WHERE player = 'gus'`,
        `DELETE FROM customers WHERE id = 7`,
      ],
    );
  });

  it('DISTINCT ON numeric keys groups equal values of different scale', async () => {
    await multisetScenario(
      db,
      'st_on_num',
      `SELECT DISTINCT ON (v) v IS NULL AS missing, id FROM nums ORDER BY v, id`,
      [`INSERT INTO nums VALUES (90, 2.000, 0, '1 day')`, `DELETE FROM nums WHERE v = 2`],
    );
  });
});

describe('transition-table deltas (IMMEDIATE style), downstream stream tables, refusals', () => {
  it('DISTINCT, DISTINCT over a join and DISTINCT ON from statement transition tables', async () => {
    await immediateScenario(db, 'st_imm_d', 'SELECT DISTINCT cat, color FROM items', [
      {
        insert: 'items',
        values: `(100, 'a', 'red', 1, 1), (101, 'imm', NULL, 1, 1), (102, 'imm', NULL, 2, 2)`,
      },
      { delete: 'items', where: `id = 101` },
      { update: 'items', set: `cat = 'imm2'`, where: `cat = 'imm'` },
      { delete: 'items', where: `cat = 'a'` },
      { insert: 'items', values: `(103, 'a', 'red', 1, 1)` },
    ]);
    await immediateScenario(
      db,
      'st_imm_join',
      'SELECT DISTINCT c.tier, o.region FROM orders o JOIN customers c ON c.id = o.customer',
      [
        { insert: 'orders', values: `(200, 1, 1, 'zz'), (201, 1, 1, 'zz')` },
        { update: 'customers', set: `tier = 'platinum'`, where: `id = 1` },
        { delete: 'orders', where: `id = 200` },
        { delete: 'orders', where: `id = 201` },
      ],
    );
    await immediateScenario(
      db,
      'st_imm_on',
      'SELECT DISTINCT ON (grp) grp, player FROM scores ORDER BY grp, score DESC NULLS LAST, id',
      [
        { insert: 'scores', values: `(300, 'g1', 1000, 'top'), (301, 'g9', 1, 'new')` },
        { update: 'scores', set: `score = -5`, where: `id = 300` },
        { delete: 'scores', where: `grp = 'g9'` },
      ],
    );
  });

  it('a stream table reading a DISTINCT stream table sees exact deletes and inserts', async () => {
    const up = await maintain(db, 'st_up_distinct', 'SELECT DISTINCT cat, color FROM items');
    const down = await maintain(
      db,
      'st_down_distinct',
      `SELECT cat, color FROM st_up_distinct WHERE cat IS NOT NULL`,
    );
    expect(down.plan.mode).toBe('DIFFERENTIAL');
    await runSteps(
      db,
      [up, down],
      [
        `INSERT INTO items VALUES (400, 'up', 'x', 1, 1), (401, 'up', 'x', 1, 1)`,
        `DELETE FROM items WHERE id = 400`,
        `DELETE FROM items WHERE id = 401`,
        `UPDATE items SET color = 'recolored' WHERE cat = 'a'`,
      ],
    );
  });

  it('refuses what has no delta rule, naming the construct', async () => {
    await expect(
      maintain(db, 'st_refuse_volatile', 'SELECT DISTINCT cat, random() > 2 AS r FROM items'),
    ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED', message: expect.stringContaining('random') });
    const auto = await maintain(db, 'st_refuse_auto', 'SELECT DISTINCT cat, random() > 2 AS r FROM items', {
      mode: 'AUTO',
    });
    expect(auto.plan.mode).toBe('FULL');
  });
});

describe('DISTINCT with other operators', () => {
  it('an aggregate over DISTINCT, DISTINCT over an aggregate', async () => {
    await multisetScenario(
      db,
      'st_d_agg_over',
      'SELECT a, count(*) AS n FROM (SELECT DISTINCT a, b FROM bag) AS s GROUP BY a',
      [
        `INSERT INTO bag VALUES (1, 'new'), (1, 'new')`,
        `DELETE FROM bag WHERE a = 1 AND b = 'new'`,
        `UPDATE bag SET b = 'x' WHERE a = 2`,
      ],
    );
    await multisetScenario(db, 'st_d_over_agg', 'SELECT DISTINCT count(*) AS n FROM items GROUP BY cat', [
      `INSERT INTO items VALUES (700, 'solo', NULL, 1, 1)`,
      `DELETE FROM items WHERE cat = 'b'`,
      `UPDATE items SET cat = 'solo' WHERE id = 700`,
    ]);
  });

  it('DISTINCT over a LEFT JOIN, DISTINCT with an IN subquery', async () => {
    await multisetScenario(
      db,
      'st_d_left',
      'SELECT DISTINCT c.tier, o.region FROM customers c LEFT JOIN orders o ON o.customer = c.id',
      [
        `INSERT INTO customers VALUES (9, 'lonely', 'gold')`,
        `DELETE FROM orders WHERE customer = 1`,
        `INSERT INTO orders VALUES (800, 9, 1, 'eu')`,
      ],
    );
    await multisetScenario(
      db,
      'st_d_in',
      'SELECT DISTINCT region FROM orders WHERE customer IN (SELECT id FROM customers WHERE tier IS NOT NULL)',
      [`UPDATE customers SET tier = NULL WHERE id = 1`, `INSERT INTO orders VALUES (801, 3, 1, 'ap')`],
    );
  });
});
