/**
 * The oracle suite: our own scenarios, each run through the public API in FULL, DIFFERENTIAL and
 * AUTO — create the stream table, then after every step (a batch of DML, then a refresh) the
 * stream table must equal its query as a multiset (EXCEPT ALL both ways), with no negative hidden
 * counts. Every scenario × mode has its own schema, so steps never interfere. `{s}` in the SQL is
 * that schema.
 */
import { describe, expect, it } from 'vitest';
import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

type Scenario = OracleScenario;

const SHOP = `
  CREATE TABLE {s}.customers (id int PRIMARY KEY, name text, tier text, country text);
  CREATE TABLE {s}.orders (id int PRIMARY KEY, customer_id int, amount numeric(10,2), status text, placed date);
  CREATE TABLE {s}.items (order_id int, sku text, qty int, PRIMARY KEY (order_id, sku));
  INSERT INTO {s}.customers VALUES (1, 'ann', 'gold', 'fr'), (2, 'bob', NULL, 'de'), (3, 'cy', 'silver', 'fr'), (4, 'dee', 'gold', NULL);
  INSERT INTO {s}.orders VALUES
    (10, 1, 100.50, 'paid', '2026-01-01'), (11, 1, 20, 'open', '2026-01-02'), (12, 2, NULL, 'paid', '2026-01-02'),
    (13, 3, 75, 'paid', '2026-01-03'), (14, 9, 5, 'open', '2026-01-04'), (15, 3, 75, 'refunded', '2026-01-05');
  INSERT INTO {s}.items VALUES (10, 'a', 1), (10, 'b', 2), (11, 'a', 5), (13, 'c', 1), (14, 'a', NULL);
`;

const SHOP_STEPS = [
  `INSERT INTO {s}.orders VALUES (16, 4, 300, 'paid', '2026-01-06'), (17, 2, 1, 'open', NULL);
   INSERT INTO {s}.items VALUES (16, 'a', 3), (16, 'z', 1)`,
  `UPDATE {s}.orders SET amount = amount * 2 WHERE status = 'paid'; UPDATE {s}.customers SET tier = 'gold' WHERE id = 2`,
  `DELETE FROM {s}.orders WHERE id IN (10, 14); DELETE FROM {s}.items WHERE order_id = 10`,
  `UPDATE {s}.orders SET customer_id = 3 WHERE id = 11; UPDATE {s}.customers SET id = 5 WHERE id = 4`,
  `INSERT INTO {s}.orders VALUES (18, 1, NULL, NULL, NULL); DELETE FROM {s}.orders WHERE id = 18;
   INSERT INTO {s}.customers VALUES (6, 'eve', NULL, 'fr'); UPDATE {s}.orders SET status = 'paid', amount = 10 WHERE id = 17`,
  `DELETE FROM {s}.customers WHERE id = 1; UPDATE {s}.items SET qty = qty + 1 WHERE sku = 'a'`,
];

const shop = (name: string, query: string, steps: readonly string[] = SHOP_STEPS): Scenario => ({
  name,
  setup: SHOP,
  query,
  steps,
});

const SCENARIOS: Scenario[] = [
  // scans, filters, projections
  shop('keyed scan', 'SELECT * FROM {s}.orders'),
  shop(
    'filter with NULLs (three-valued)',
    `SELECT id, amount FROM {s}.orders WHERE amount > 50 OR status = 'open'`,
  ),
  shop(
    'projection of expressions',
    `SELECT id, COALESCE(amount, 0) * 2 AS twice, upper(status) AS s, CASE WHEN amount IS NULL THEN 'none' WHEN amount > 50 THEN 'big' ELSE 'small' END AS size, placed + 1 AS next_day FROM {s}.orders`,
  ),
  {
    name: 'keyless table with duplicates',
    setup: `CREATE TABLE {s}.events (kind text, n int); INSERT INTO {s}.events VALUES ('a', 1), ('a', 1), ('b', NULL), (NULL, NULL), (NULL, NULL)`,
    query: 'SELECT kind, n FROM {s}.events',
    steps: [
      `INSERT INTO {s}.events VALUES ('a', 1), ('c', 3)`,
      `DELETE FROM {s}.events WHERE ctid = (SELECT min(ctid) FROM {s}.events WHERE kind = 'a')`,
      `UPDATE {s}.events SET n = 9 WHERE kind IS NULL`,
      `INSERT INTO {s}.events VALUES ('z', 0); DELETE FROM {s}.events WHERE kind = 'z'`,
      `DELETE FROM {s}.events WHERE kind = 'a'`,
    ],
  },
  // inner joins
  shop(
    'inner join',
    'SELECT o.id, o.amount, c.name FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id',
  ),
  shop(
    'three-way join',
    'SELECT o.id, c.name, i.sku, i.qty FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id JOIN {s}.items i ON i.order_id = o.id',
  ),
  shop(
    'comma join with WHERE',
    `SELECT o.id, c.country FROM {s}.orders o, {s}.customers c WHERE o.customer_id = c.id AND c.country = 'fr'`,
  ),
  shop(
    'self join',
    'SELECT a.id AS a, b.id AS b FROM {s}.orders a JOIN {s}.orders b ON a.customer_id = b.customer_id AND a.id < b.id',
  ),
  shop(
    'join on an expression',
    'SELECT o.id, c.name FROM {s}.orders o JOIN {s}.customers c ON o.customer_id + 0 = c.id AND lower(c.name) <> $$zed$$',
  ),
  shop(
    'join USING',
    'SELECT * FROM {s}.orders JOIN (SELECT id AS customer_id, name FROM {s}.customers) c USING (customer_id)',
  ),
  shop(
    'NATURAL join',
    'SELECT * FROM {s}.items NATURAL JOIN (SELECT id AS order_id, status FROM {s}.orders) o',
  ),
  // outer joins
  shop(
    'LEFT JOIN, rows gaining and losing their last match',
    'SELECT c.id, c.name, o.id AS order_id, o.amount FROM {s}.customers c LEFT JOIN {s}.orders o ON o.customer_id = c.id',
  ),
  shop(
    'RIGHT JOIN',
    'SELECT c.name, o.id FROM {s}.customers c RIGHT JOIN {s}.orders o ON o.customer_id = c.id',
  ),
  shop(
    'FULL JOIN',
    'SELECT c.id AS cid, o.id AS oid FROM {s}.customers c FULL JOIN {s}.orders o ON o.customer_id = c.id',
  ),
  shop(
    'LEFT JOIN … IS NULL (customers without orders)',
    'SELECT c.id, c.name FROM {s}.customers c LEFT JOIN {s}.orders o ON o.customer_id = c.id WHERE o.id IS NULL',
  ),
  shop(
    'FULL JOIN USING',
    'SELECT * FROM (SELECT customer_id AS k, id FROM {s}.orders) a FULL JOIN (SELECT id AS k, tier FROM {s}.customers) b USING (k)',
  ),
  // semi / anti joins
  shop(
    'EXISTS',
    'SELECT c.id, c.name FROM {s}.customers c WHERE EXISTS (SELECT 1 FROM {s}.orders o WHERE o.customer_id = c.id AND o.status = $$paid$$)',
  ),
  shop(
    'NOT EXISTS',
    'SELECT c.id FROM {s}.customers c WHERE NOT EXISTS (SELECT 1 FROM {s}.orders o WHERE o.customer_id = c.id)',
  ),
  shop(
    'IN (subquery)',
    'SELECT id, amount FROM {s}.orders WHERE customer_id IN (SELECT id FROM {s}.customers WHERE tier = $$gold$$)',
  ),
  shop(
    'NOT IN with NULLs',
    'SELECT id FROM {s}.orders WHERE customer_id NOT IN (SELECT id FROM {s}.customers WHERE country IS NOT NULL)',
  ),
  // aggregates
  shop(
    'COUNT and SUM by group',
    'SELECT status, count(*) AS n, sum(amount) AS total FROM {s}.orders GROUP BY status',
  ),
  shop(
    'AVG and SUM of only NULLs',
    'SELECT customer_id, avg(amount) AS mean, sum(amount) AS total, count(amount) AS counted FROM {s}.orders GROUP BY customer_id',
  ),
  shop(
    'MIN and MAX when the extremum leaves',
    'SELECT status, min(amount) AS lo, max(amount) AS hi, max(placed) AS last FROM {s}.orders GROUP BY status',
  ),
  shop(
    'COUNT(DISTINCT)',
    'SELECT customer_id, count(DISTINCT status) AS statuses FROM {s}.orders GROUP BY customer_id',
  ),
  shop(
    'FILTER (WHERE)',
    `SELECT customer_id, count(*) FILTER (WHERE status = 'paid') AS paid, sum(amount) FILTER (WHERE status <> 'paid') AS unpaid FROM {s}.orders GROUP BY customer_id`,
  ),
  shop(
    'HAVING crossing its threshold both ways',
    'SELECT customer_id, sum(amount) AS total FROM {s}.orders GROUP BY customer_id HAVING sum(amount) > 90',
  ),
  shop(
    'aggregate without GROUP BY',
    'SELECT count(*) AS n, sum(amount) AS total, max(id) AS top FROM {s}.orders WHERE status = $$paid$$',
    [...SHOP_STEPS, `DELETE FROM {s}.orders`],
  ),
  shop(
    'string_agg and array_agg with ORDER BY',
    `SELECT customer_id, string_agg(status, ',' ORDER BY id) AS statuses, array_agg(id ORDER BY id DESC) AS ids FROM {s}.orders GROUP BY customer_id`,
  ),
  shop(
    'bool_and and bool_or',
    'SELECT customer_id, bool_and(amount > 10) AS all_big, bool_or(status = $$open$$) AS any_open FROM {s}.orders GROUP BY customer_id',
  ),
  shop(
    'aggregate over a join',
    'SELECT c.country, count(*) AS orders, sum(o.amount) AS total FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id GROUP BY c.country',
  ),
  shop(
    'GROUP BY an expression',
    `SELECT date_trunc('month', placed) AS month, count(*) AS n FROM {s}.orders GROUP BY 1`,
  ),
  shop(
    'ROLLUP with GROUPING()',
    'SELECT status, customer_id, count(*) AS n, GROUPING(status, customer_id) AS g FROM {s}.orders GROUP BY ROLLUP (status, customer_id)',
  ),
  // distinct and set operations
  shop('DISTINCT', 'SELECT DISTINCT status, customer_id FROM {s}.orders'),
  shop(
    'DISTINCT ON',
    'SELECT DISTINCT ON (customer_id) customer_id, id, amount FROM {s}.orders ORDER BY customer_id, id DESC',
  ),
  shop('UNION', 'SELECT customer_id AS id FROM {s}.orders UNION SELECT id FROM {s}.customers'),
  shop(
    'UNION ALL',
    'SELECT id, $$order$$ AS kind FROM {s}.orders UNION ALL SELECT id, $$customer$$ FROM {s}.customers',
  ),
  shop('INTERSECT', 'SELECT customer_id FROM {s}.orders INTERSECT SELECT id FROM {s}.customers'),
  shop('EXCEPT', 'SELECT id FROM {s}.customers EXCEPT SELECT customer_id FROM {s}.orders'),
  shop(
    'INTERSECT ALL and EXCEPT ALL',
    '(SELECT customer_id FROM {s}.orders INTERSECT ALL SELECT customer_id FROM {s}.orders WHERE status = $$paid$$) EXCEPT ALL SELECT 3',
  ),
  // subqueries, CTEs
  shop(
    'subquery in FROM and a CTE',
    'WITH big AS (SELECT * FROM {s}.orders WHERE amount >= 20) SELECT b.id, t.name FROM big b JOIN (SELECT id, name FROM {s}.customers WHERE tier IS NOT NULL) t ON t.id = b.customer_id',
  ),
  shop(
    'scalar subquery in the select list',
    'SELECT c.id, (SELECT count(*) FROM {s}.orders o WHERE o.customer_id = c.id) AS orders FROM {s}.customers c',
  ),
  // windows, top-N, lateral, recursion
  shop(
    'window function',
    'SELECT id, customer_id, rank() OVER (PARTITION BY customer_id ORDER BY amount DESC NULLS LAST, id) AS r FROM {s}.orders',
  ),
  shop('top-N', 'SELECT id, amount FROM {s}.orders ORDER BY amount DESC NULLS LAST, id LIMIT 3'),
  {
    name: 'LATERAL unnest',
    setup: `CREATE TABLE {s}.posts (id int PRIMARY KEY, tags text[]); INSERT INTO {s}.posts VALUES (1, '{a,b}'), (2, '{}'), (3, NULL), (4, '{a,a,c}')`,
    query:
      'SELECT p.id, t.tag, t.n FROM {s}.posts p CROSS JOIN LATERAL unnest(p.tags) WITH ORDINALITY AS t(tag, n)',
    steps: [
      `UPDATE {s}.posts SET tags = tags || '{z}' WHERE id = 1`,
      `INSERT INTO {s}.posts VALUES (5, '{x,y}')`,
      `DELETE FROM {s}.posts WHERE id = 4`,
      `UPDATE {s}.posts SET tags = '{q}' WHERE tags IS NULL`,
    ],
  },
  {
    name: 'recursive CTE (reachability)',
    setup: `CREATE TABLE {s}.edges (src int, dst int, PRIMARY KEY (src, dst)); INSERT INTO {s}.edges VALUES (1, 2), (2, 3), (3, 4), (5, 6)`,
    query:
      'WITH RECURSIVE reach(a, b) AS (SELECT src, dst FROM {s}.edges UNION SELECT r.a, e.dst FROM reach r JOIN {s}.edges e ON e.src = r.b) SELECT a, b FROM reach',
    steps: [
      `INSERT INTO {s}.edges VALUES (4, 5)`,
      `DELETE FROM {s}.edges WHERE src = 2`,
      `INSERT INTO {s}.edges VALUES (6, 1)`,
      `DELETE FROM {s}.edges WHERE src = 5`,
    ],
  },
  // names, bulk, truncate
  {
    name: 'unicode and quoted names',
    setup: `CREATE TABLE {s}."Ünïcode Tàble" ("Clé" int PRIMARY KEY, "valeur €" text, "MixedCase" int);
            INSERT INTO {s}."Ünïcode Tàble" VALUES (1, 'crème', 1), (2, '日本語', 2), (3, 'emoji 🎉', NULL)`,
    query:
      'SELECT "Clé", "valeur €" || \'!\' AS "Résultat ✓", "MixedCase" FROM {s}."Ünïcode Tàble" WHERE "Clé" > 0',
    steps: [
      `UPDATE {s}."Ünïcode Tàble" SET "valeur €" = 'naïve' WHERE "Clé" = 1`,
      `INSERT INTO {s}."Ünïcode Tàble" VALUES (4, 'Ω', 4)`,
      `DELETE FROM {s}."Ünïcode Tàble" WHERE "Clé" = 2`,
    ],
  },
  {
    name: 'bulk changes of 10,000+ rows',
    setup: `CREATE TABLE {s}.big (id int PRIMARY KEY, grp int, v int); INSERT INTO {s}.big SELECT g, g % 50, g FROM generate_series(1, 20000) g`,
    query: 'SELECT grp, count(*) AS n, sum(v) AS total FROM {s}.big GROUP BY grp',
    steps: [
      'UPDATE {s}.big SET v = v + 1 WHERE id <= 12000',
      'DELETE FROM {s}.big WHERE id % 3 = 0',
      'INSERT INTO {s}.big SELECT g, g % 70, 1 FROM generate_series(20001, 31000) g',
    ],
  },
  {
    name: 'bulk changes through a join',
    setup: `CREATE TABLE {s}.facts (id int PRIMARY KEY, dim_id int, v int); CREATE TABLE {s}.dims (id int PRIMARY KEY, label text);
            INSERT INTO {s}.dims SELECT g, 'd' || g FROM generate_series(1, 100) g;
            INSERT INTO {s}.facts SELECT g, g % 100 + 1, g FROM generate_series(1, 15000) g`,
    query: 'SELECT f.id, f.v, d.label FROM {s}.facts f JOIN {s}.dims d ON d.id = f.dim_id',
    steps: [
      'UPDATE {s}.facts SET v = -v WHERE id <= 11000',
      `UPDATE {s}.dims SET label = label || '!' WHERE id % 2 = 0`,
      'DELETE FROM {s}.facts WHERE id > 5000',
    ],
  },
  shop(
    'TRUNCATE of a source',
    'SELECT o.id, c.name FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id',
    [
      `TRUNCATE {s}.orders`,
      `INSERT INTO {s}.orders VALUES (40, 1, 1, 'paid', NULL), (41, 3, 2, 'open', NULL)`,
      `UPDATE {s}.customers SET name = 'CY' WHERE id = 3`,
    ],
  ),
];

describe('oracle suite', () => {
  it('has at least 40 scenarios of its own', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(40);
  });

  oracleScenarios('s', SCENARIOS, db, trickle);
});

describe('oracle suite in IMMEDIATE (checked after every statement)', () => {
  oracleScenarios('i', SCENARIOS, db, trickle, { modes: ['IMMEDIATE'] });
});
