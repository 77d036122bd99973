/**
 * The golden SQL cases: for each operator kind a few representative defining queries over one
 * small schema. `golden.test.ts` compiles each (DIFFERENTIAL, so a refusal fails) against the
 * recorded catalog `catalog.json` and compares everything the plan emits with
 * `<operator>/<case>.sql`.
 */

/** The schema the catalog is recorded from (`PGT_GOLDEN_RECORD=1`, see `golden.test.ts`). */
export const GOLDEN_SCHEMA = `
  CREATE TABLE orders (id int PRIMARY KEY, customer int, amount numeric(12,2), region text, tags text[]);
  CREATE TABLE customers (id int PRIMARY KEY, name text, tier text);
  CREATE TABLE events (kind text, n int);
  CREATE TABLE edges (src int, dst int, PRIMARY KEY (src, dst));
  CREATE TABLE upstream ("__pgt_row_id" bigint, k int, v int);
`;

/** The relation the recorded catalog reports as a stream table (pgtId 7, unique row ids). */
export const GOLDEN_STREAM_TABLE = { name: 'upstream', pgtId: 7, uniqueRowIds: true } as const;

/** One golden case: `<operator>/<name>.sql`. */
export interface GoldenCase {
  readonly operator: string;
  readonly name: string;
  readonly query: string;
}

const c = (operator: string, name: string, query: string): GoldenCase => ({ operator, name, query });

export const GOLDEN_CASES: readonly GoldenCase[] = [
  c('scan', 'keyed', 'SELECT * FROM orders'),
  c('scan', 'keyless', 'SELECT kind, n FROM events'),
  c('scan', 'stream-table-source', 'SELECT k, v FROM upstream'),
  c('filter', 'three-valued', `SELECT id, amount FROM orders WHERE amount > 5 AND region <> 'zz'`),
  c('project', 'expressions', 'SELECT id, amount * 2 AS double, upper(region) AS r FROM orders'),
  c(
    'join',
    'inner',
    'SELECT o.id, o.amount, c.name FROM orders AS o JOIN customers AS c ON c.id = o.customer',
  ),
  c('join', 'keyless-cross', 'SELECT e.kind, c.name FROM events AS e, customers AS c WHERE e.n = c.id'),
  c(
    'join',
    'three-way',
    'SELECT o.id, c.name, p.amount FROM orders AS o JOIN customers AS c ON c.id = o.customer JOIN orders AS p ON p.customer = c.id',
  ),
  c(
    'outer-join',
    'left',
    'SELECT o.id, c.name FROM orders AS o LEFT JOIN customers AS c ON c.id = o.customer',
  ),
  c(
    'outer-join',
    'full',
    'SELECT o.id, c.name FROM orders AS o FULL JOIN customers AS c ON c.id = o.customer',
  ),
  c(
    'semi-join',
    'exists',
    'SELECT c.id, c.name FROM customers AS c WHERE EXISTS (SELECT 1 FROM orders AS o WHERE o.customer = c.id)',
  ),
  c(
    'semi-join',
    'not-exists',
    'SELECT c.id FROM customers AS c WHERE NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.customer = c.id)',
  ),
  c('semi-join', 'in', 'SELECT c.id FROM customers AS c WHERE c.id IN (SELECT o.customer FROM orders AS o)'),
  c(
    'scalar-subquery',
    'correlated',
    'SELECT c.id, (SELECT sum(o.amount) FROM orders AS o WHERE o.customer = c.id) AS total FROM customers AS c',
  ),
  c(
    'scalar-subquery',
    'uncorrelated',
    'SELECT o.id FROM orders AS o WHERE o.amount > (SELECT avg(amount) FROM orders)',
  ),
  c(
    'scalar-subquery',
    'same-subquery-twice',
    `SELECT c.id, t.total FROM customers AS c, (SELECT customer, sum(amount) AS total FROM orders GROUP BY customer) AS t
      WHERE t.customer = c.id AND t.total = (SELECT max(total) FROM (SELECT customer, sum(amount) AS total FROM orders GROUP BY customer) AS u)`,
  ),
  c(
    'aggregate',
    'algebraic',
    'SELECT region, count(*) AS n, sum(amount) AS total, avg(amount) AS mean FROM orders GROUP BY region',
  ),
  c('aggregate', 'global', 'SELECT count(*) AS n, sum(amount) AS total FROM orders'),
  c(
    'aggregate',
    'min-max',
    'SELECT region, min(amount) AS lo, max(amount) AS hi FROM orders GROUP BY region',
  ),
  c(
    'aggregate',
    'rescan',
    "SELECT region, string_agg(id::text, ',' ORDER BY id) AS ids FROM orders GROUP BY region",
  ),
  c(
    'aggregate',
    'filter-having',
    `SELECT region, count(*) FILTER (WHERE amount > 10) AS big FROM orders GROUP BY region HAVING count(*) > 1`,
  ),
  c(
    'aggregate',
    'grouping-sets',
    'SELECT region, customer, count(*) AS n FROM orders GROUP BY ROLLUP (region, customer)',
  ),
  c('distinct', 'distinct', 'SELECT DISTINCT region FROM orders'),
  c(
    'distinct',
    'distinct-on',
    'SELECT DISTINCT ON (region) region, id, amount FROM orders ORDER BY region, amount',
  ),
  c('set-op', 'union', 'SELECT customer AS id FROM orders UNION SELECT id FROM customers'),
  c('set-op', 'intersect', 'SELECT customer AS id FROM orders INTERSECT SELECT id FROM customers'),
  c('set-op', 'except-all', 'SELECT n FROM events EXCEPT ALL SELECT id FROM customers'),
  c('union-all', 'union-all', 'SELECT id, region FROM orders UNION ALL SELECT id, tier FROM customers'),
  c(
    'window',
    'rank',
    'SELECT id, region, rank() OVER (PARTITION BY region ORDER BY amount) AS r FROM orders',
  ),
  c('top-n', 'order-limit', 'SELECT id, amount FROM orders ORDER BY amount DESC, id LIMIT 3'),
  c('lateral', 'unnest', 'SELECT o.id, t.tag FROM orders AS o CROSS JOIN LATERAL unnest(o.tags) AS t(tag)'),
  c('lateral', 'generate-series', 'SELECT e.kind, g FROM events AS e, generate_series(1, e.n) AS g'),
  c(
    'lateral-subquery',
    'top-1',
    `SELECT c.id, x.amount FROM customers AS c
CROSS JOIN LATERAL (SELECT o.amount FROM orders AS o WHERE o.customer = c.id ORDER BY o.amount DESC LIMIT 1) AS x`,
  ),
  c(
    'lateral-subquery',
    'left-aggregate',
    `SELECT c.id, x.n FROM customers AS c
LEFT JOIN LATERAL (SELECT count(*) AS n FROM orders AS o WHERE o.customer = c.id) AS x ON true`,
  ),
  c(
    'recursive',
    'reachability',
    `WITH RECURSIVE reach(n) AS (SELECT 1 UNION SELECT e.dst FROM edges AS e JOIN reach AS r ON e.src = r.n)
SELECT n FROM reach`,
  ),
  c(
    'recursive',
    'paths-union-all',
    `WITH RECURSIVE p(src, dst, depth) AS (
  SELECT src, dst, 1 FROM edges
  UNION ALL
  SELECT p.src, e.dst, p.depth + 1 FROM p JOIN edges AS e ON e.src = p.dst WHERE p.depth < 3)
SELECT src, dst, depth FROM p`,
  ),
  c('constant', 'select-constant', `SELECT 1 AS one, 'x'::text AS two`),
  c('constant', 'values', "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(x, y)"),
  c(
    'constant',
    'values-join',
    "SELECT o.id, v.label FROM orders AS o JOIN (VALUES ('eu', 'Europe')) AS v(region, label) ON v.region = o.region",
  ),
];
