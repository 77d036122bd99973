/**
 * Windows over a query of scans, filters, projections and inner joins (each key netted to its
 * row before and after the window, then the consolidation at the root): exact where one key
 * changes several times, is inserted and deleted, deleted and inserted again, both sides of a
 * join change at once, a keyless source has duplicates, a DEFERRABLE key swaps its rows, and a
 * table with consumers writes what it applied into its own buffer; a key's states between its
 * first and last change in the window are never evaluated (an expression failing on one, a
 * division by a value set to zero and back, fails no refresh — a rule any cheaper netting of
 * these windows must keep: records read unnetted, or a filter pushed below the netting, break it).
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE cust (id int PRIMARY KEY, region int NOT NULL, name text);
    CREATE TABLE ord (id int PRIMARY KEY, cust_id int, amount numeric(12,2), qty int NOT NULL, doc json);
    CREATE TABLE tag (cust_id int, label text);
    CREATE TABLE dk (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v int NOT NULL);
    INSERT INTO cust SELECT g, g % 5, 'c' || g FROM generate_series(1, 40) g;
    INSERT INTO ord SELECT g, 1 + g % 45, CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 97) * 1.25 END, g % 7,
      ('{"a": ' || g || '}')::json
      FROM generate_series(1, 400) g;
    INSERT INTO tag SELECT 1 + g % 40, 'l' || (g % 3) FROM generate_series(1, 60) g;
    INSERT INTO tag SELECT 1 + g % 40, 'l' || (g % 3) FROM generate_series(1, 20) g;
    INSERT INTO dk SELECT g, g * 10 FROM generate_series(1, 30) g;
    ANALYZE cust; ANALYZE ord; ANALYZE tag; ANALYZE dk;
  `);
}, 120_000);

/** Windows that change the same rows several times, on both sides of the joins. */
const WINDOWS: readonly string[] = [
  `UPDATE ord SET amount = amount + 1 WHERE id <= 50;
   UPDATE ord SET amount = amount * 2, cust_id = cust_id % 40 + 1 WHERE id <= 30;
   UPDATE ord SET qty = qty + 1 WHERE id BETWEEN 20 AND 60;
   UPDATE ord SET amount = amount / 2 WHERE id <= 10`,
  `INSERT INTO ord SELECT g, 1 + g % 40, g * 0.5, 1, '{"b": 1}' FROM generate_series(1001, 1050) g;
   DELETE FROM ord WHERE id BETWEEN 1001 AND 1020;
   UPDATE ord SET amount = NULL WHERE id BETWEEN 1021 AND 1030`,
  `DELETE FROM ord WHERE id BETWEEN 100 AND 140;
   INSERT INTO ord SELECT g, 2, 7.5, 3, '{"a":  1}' FROM generate_series(100, 120) g;
   UPDATE cust SET region = region + 1 WHERE id % 4 = 0`,
  `UPDATE cust SET region = 9 WHERE id BETWEEN 1 AND 5;
   UPDATE ord SET cust_id = 3 WHERE cust_id BETWEEN 1 AND 5;
   DELETE FROM cust WHERE id = 6;
   INSERT INTO cust VALUES (41, 2, 'new'), (42, 3, 'newer');
   UPDATE ord SET cust_id = 41 WHERE id % 13 = 0;
   INSERT INTO tag VALUES (41, 'l9'), (3, 'l1'), (3, 'l1'); DELETE FROM tag WHERE cust_id = 7`,
  `UPDATE ord SET amount = amount + 0.01; UPDATE cust SET name = name || 'x';
   UPDATE ord SET amount = amount - 0.01 WHERE id % 2 = 0; UPDATE cust SET name = 'c' || id WHERE id % 3 = 0`,
  // A value changed to another representation of itself and back again; json re-spaced.
  `UPDATE ord SET amount = 2.5 WHERE id = 2; UPDATE ord SET amount = 2.50 WHERE id = 2;
   UPDATE ord SET doc = '{"a":4}' WHERE id = 4; UPDATE ord SET doc = '{"a": 4}' WHERE id = 4`,
  `BEGIN; UPDATE dk SET id = 15 - id WHERE id BETWEEN 5 AND 10; UPDATE dk SET v = v + 1 WHERE id = 5;
   UPDATE dk SET v = v + 1 WHERE id = 10; COMMIT;
   DELETE FROM dk WHERE id = 1; INSERT INTO dk VALUES (1, 10); DELETE FROM tag WHERE label = 'l2'`,
  `DELETE FROM ord WHERE id % 3 = 0; DELETE FROM cust WHERE id BETWEEN 30 AND 35;
   INSERT INTO ord VALUES (3, 31, 1, 1, null); DELETE FROM ord WHERE id = 3; INSERT INTO ord VALUES (3, 32, 2, 2, null)`,
];

const LINEAR: readonly [string, string][] = [
  [
    'join with a filter',
    `SELECT o.id, o.amount, c.name FROM ord o JOIN cust c ON c.id = o.cust_id WHERE o.amount < 60 AND c.region < 4`,
  ],
  ['filtered scan with expressions', 'SELECT id, amount * 2 AS twice, doc FROM ord WHERE qty > 1'],
  [
    'three-way join with a keyless table (duplicates)',
    'SELECT o.id, c.name, t.label FROM ord o JOIN cust c ON c.id = o.cust_id JOIN tag t ON t.cust_id = c.id',
  ],
  ['keyless scan', 'SELECT cust_id, label FROM tag'],
  [
    'self-join',
    'SELECT a.id AS a, b.id AS b, b.qty FROM ord a JOIN ord b ON a.cust_id = b.cust_id AND a.id < b.id AND b.id < a.id + 20',
  ],
  ['DEFERRABLE key joined', 'SELECT d.id, d.v, c.name FROM dk d JOIN cust c ON c.id = d.id'],
];

describe('windows over a linear tree', () => {
  it('stays exact where keys change several times, on both sides', async () => {
    const tables: Maintained[] = [];
    for (const [i, [, query]] of LINEAR.entries()) tables.push(await maintain(db, `st_lin_${i}`, query));
    // A table read by another stream table: its refresh also writes its own buffer.
    const downstream = await maintain(
      db,
      'st_lin_down',
      'SELECT name, count(*) AS n, sum(amount) AS s FROM st_lin_0 GROUP BY name',
    );
    for (const w of WINDOWS) {
      await db.query(w);
      for (const st of tables) await st.refreshAndCheck();
      await downstream.refreshAndCheck();
    }
  }, 300_000);

  it("reads no state between a key's first and last change (an expression failing on it fails no refresh)", async () => {
    await db.query('CREATE TABLE rz (id int PRIMARY KEY, v int NOT NULL, w int NOT NULL)');
    await db.query('INSERT INTO rz SELECT g, g, g FROM generate_series(1, 20) g');
    const ratio = await maintain(db, 'st_lin_ratio', 'SELECT id, 1000 / v AS q FROM rz WHERE 100 / w > 1');
    await db.query('UPDATE rz SET v = 0 WHERE id = 5; UPDATE rz SET v = 5 WHERE id = 5');
    await db.query('UPDATE rz SET w = 0 WHERE id = 6; UPDATE rz SET w = 7, v = 3 WHERE id = 6');
    await db.query('INSERT INTO rz VALUES (30, 0, 0); DELETE FROM rz WHERE id = 30');
    await ratio.refreshAndCheck();
  }, 120_000);

  it('sums below an aggregate read no such state either, where an expression may fail on it', async () => {
    await db.query('CREATE TABLE rs (id int PRIMARY KEY, g int NOT NULL, v int NOT NULL, w int NOT NULL)');
    await db.query('INSERT INTO rs SELECT g, g % 3, g, g FROM generate_series(1, 30) g');
    await db.query('CREATE TABLE rg (g int PRIMARY KEY, d int NOT NULL)');
    await db.query('INSERT INTO rg SELECT g, g + 1 FROM generate_series(0, 2) g');
    const tables = [
      await maintain(db, 'st_sum_arg', 'SELECT g, count(*) AS n, sum(1000 / v) AS s FROM rs GROUP BY g'),
      await maintain(
        db,
        'st_sum_filter',
        'SELECT g, count(*) AS n, sum(v) AS s FROM rs WHERE 100 / w > 1 GROUP BY g',
      ),
      await maintain(db, 'st_sum_key', 'SELECT 60 / w AS k, count(*) AS n FROM rs GROUP BY 60 / w'),
      await maintain(
        db,
        'st_sum_join',
        'SELECT rg.g, count(*) AS n, sum(rs.v) AS s FROM rs JOIN rg ON rg.g = rs.g AND 10 / rg.d > 0 GROUP BY rg.g',
      ),
    ];
    await db.query('UPDATE rs SET v = 0 WHERE id = 5; UPDATE rs SET v = 5 WHERE id = 5');
    await db.query('UPDATE rs SET w = 0 WHERE id = 6; UPDATE rs SET w = 7, v = 3 WHERE id = 6');
    await db.query('INSERT INTO rs VALUES (40, 1, 0, 0); DELETE FROM rs WHERE id = 40');
    await db.query('UPDATE rg SET d = 0 WHERE g = 1; UPDATE rg SET d = 4 WHERE g = 1');
    for (const st of tables) await st.refreshAndCheck();
  }, 120_000);
});
