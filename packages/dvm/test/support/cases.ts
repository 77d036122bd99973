/**
 * The representative queries of the property tests: one per operator and the usual compositions,
 * over the world of support/world.ts (`{a}`, `{b}`, `{c}` stand for its tables in a test's schema).
 * Run DIFFERENTIAL by dvm's properties.test.ts and IMMEDIATE by client's immediate-property.test.ts.
 */
import type { WorldShape, WorldTable } from './world.js';

/**
 * A representative query: `{a}`, `{b}`, `{c}` stand for the world's tables in the query's schema.
 * `bKeyless`: also run it over a world whose `b` has no primary key.
 */
export interface PropertyCase {
  readonly name: string;
  readonly tables: readonly WorldTable[];
  readonly sql: string;
  readonly bKeyless?: boolean;
}

/** One query per operator (and the usual compositions). */
export const PROPERTY_CASES: readonly PropertyCase[] = [
  { name: 'scan (keyed)', tables: ['a'], sql: 'SELECT * FROM {a} AS a' },
  { name: 'scan (keyless)', tables: ['c'], sql: 'SELECT * FROM {c} AS c' },
  {
    name: 'filter + project (keyed)',
    tables: ['a'],
    sql: `SELECT a.id, a.v * 2 AS v2, upper(a.s) AS us, a.k IS NULL AS nk FROM {a} AS a WHERE a.v > 1 AND a.s <> 'x'`,
  },
  {
    name: 'filter + project (keyless)',
    tables: ['c'],
    sql: `SELECT c.k, c.v + 1 AS v1 FROM {c} AS c WHERE c.t IS NOT NULL OR c.v < 2`,
  },
  {
    name: 'inner join (2 tables)',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: 'SELECT a.id, a.v, b.id AS bid, b.w FROM {a} AS a JOIN {b} AS b ON b.k = a.k',
  },
  {
    name: 'inner join (3 tables, keyless third)',
    tables: ['a', 'b', 'c'],
    bKeyless: true,
    sql: 'SELECT a.id, b.id AS bid, c.t, c.v FROM {a} AS a JOIN {b} AS b ON b.k = a.k JOIN {c} AS c ON c.k = b.w',
  },
  {
    name: 'self join',
    tables: ['a'],
    sql: 'SELECT x.id, y.id AS yid, y.s FROM {a} AS x JOIN {a} AS y ON y.k = x.v AND y.id <> x.id',
  },
  {
    name: 'LEFT JOIN',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: 'SELECT a.id, a.k, b.id AS bid, b.w FROM {a} AS a LEFT JOIN {b} AS b ON b.k = a.k AND b.w > 0',
  },
  {
    name: 'RIGHT JOIN (keyless left)',
    tables: ['b', 'c'],
    bKeyless: true,
    sql: 'SELECT c.v, c.t, b.id AS bid FROM {c} AS c RIGHT JOIN {b} AS b ON c.k = b.w',
  },
  {
    name: 'FULL JOIN',
    tables: ['a', 'c'],
    sql: 'SELECT a.id, a.v, c.k, c.t FROM {a} AS a FULL JOIN {c} AS c ON c.k = a.k AND c.v < a.v',
  },
  {
    name: 'EXISTS',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: 'SELECT a.id, a.v FROM {a} AS a WHERE EXISTS (SELECT 1 FROM {b} AS b WHERE b.k = a.k AND b.w > 1)',
  },
  {
    name: 'NOT EXISTS (keyless outer)',
    tables: ['a', 'c'],
    sql: 'SELECT c.k, c.v FROM {c} AS c WHERE NOT EXISTS (SELECT 1 FROM {a} AS a WHERE a.k = c.k)',
  },
  {
    name: 'IN',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: 'SELECT a.id, a.s FROM {a} AS a WHERE a.v IN (SELECT b.w FROM {b} AS b WHERE b.k <> 3)',
  },
  {
    name: 'NOT IN (NULLs in the subquery)',
    tables: ['a', 'c'],
    sql: `SELECT a.id, a.k FROM {a} AS a WHERE a.k NOT IN (SELECT c.k FROM {c} AS c WHERE c.t = 'p')`,
  },
  {
    name: 'GROUP BY with COUNT/SUM/AVG/MIN/MAX',
    tables: ['a'],
    sql: 'SELECT a.k, count(*) AS n, count(a.v) AS cv, sum(a.v) AS sv, avg(a.v) AS av, min(a.v) AS lo, max(a.s) AS hi FROM {a} AS a GROUP BY a.k',
  },
  {
    name: 'GROUP BY over a keyless table',
    tables: ['c'],
    sql: 'SELECT c.k, c.t, count(*) AS n, sum(c.v) AS sv, min(c.v) AS lo, max(c.n) AS hi, avg(c.n) AS an, sum(c.n) AS sn FROM {c} AS c GROUP BY c.k, c.t',
  },
  {
    name: 'COUNT(DISTINCT), FILTER, HAVING',
    tables: ['a'],
    sql: `SELECT a.k, count(DISTINCT a.v) AS dv, sum(a.v) FILTER (WHERE a.s = 'p') AS sp, count(*) FILTER (WHERE a.v IS NULL) AS nulls FROM {a} AS a GROUP BY a.k HAVING count(*) > 1`,
  },
  {
    name: 'aggregate without GROUP BY',
    tables: ['c'],
    sql: 'SELECT count(*) AS n, count(c.v) AS cv, sum(c.v) AS sv, max(c.v) AS hi, min(c.t) AS lo, avg(c.v) AS av FROM {c} AS c',
  },
  {
    name: 'aggregate over a join',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: 'SELECT b.w, count(*) AS n, sum(a.v) AS sv, max(a.id) AS hi FROM {a} AS a JOIN {b} AS b ON b.k = a.k GROUP BY b.w',
  },
  { name: 'DISTINCT', tables: ['c'], sql: 'SELECT DISTINCT c.k, c.v FROM {c} AS c' },
  {
    name: 'DISTINCT over numerics (1.0 = 1.00)',
    tables: ['c'],
    sql: 'SELECT DISTINCT c.n, c.k IS NULL AS nk FROM {c} AS c',
  },
  {
    name: 'DISTINCT ON',
    tables: ['a'],
    sql: 'SELECT DISTINCT ON (a.k) a.k, a.id, a.v FROM {a} AS a ORDER BY a.k, a.v DESC NULLS LAST, a.id',
  },
  {
    name: 'UNION',
    tables: ['a', 'c'],
    sql: 'SELECT a.k, a.v FROM {a} AS a UNION SELECT c.k, c.v FROM {c} AS c',
  },
  {
    name: 'UNION ALL',
    tables: ['a', 'c'],
    sql: `SELECT a.k, a.v FROM {a} AS a WHERE a.s = 'p' UNION ALL SELECT c.k, c.v FROM {c} AS c`,
  },
  {
    name: 'INTERSECT',
    tables: ['a', 'c'],
    sql: 'SELECT a.k, a.v FROM {a} AS a INTERSECT SELECT c.k, c.v FROM {c} AS c',
  },
  {
    name: 'INTERSECT (integer with numeric)',
    tables: ['a', 'c'],
    sql: 'SELECT a.k, a.v FROM {a} AS a INTERSECT SELECT c.k, c.n FROM {c} AS c',
  },
  {
    name: 'UNION (integer with numeric)',
    tables: ['a', 'c'],
    sql: 'SELECT a.k, a.v FROM {a} AS a UNION SELECT c.k, c.n FROM {c} AS c',
  },
  {
    name: 'EXCEPT ALL (numeric with bigint)',
    tables: ['a', 'c'],
    sql: 'SELECT c.k, c.n FROM {c} AS c EXCEPT ALL SELECT a.k, a.v::bigint FROM {a} AS a',
  },
  {
    name: 'DISTINCT over signed numerics, grouped by a numeric',
    tables: ['a'],
    sql: 'SELECT g.x, count(*) AS n FROM (SELECT DISTINCT a.id, (a.v - 2)::numeric / 2 AS x FROM {a} AS a) AS g GROUP BY g.x',
  },
  {
    name: 'INTERSECT ALL',
    tables: ['a', 'c'],
    sql: 'SELECT a.k, a.v FROM {a} AS a INTERSECT ALL SELECT c.k, c.v FROM {c} AS c',
  },
  {
    name: 'EXCEPT',
    tables: ['a', 'c'],
    sql: 'SELECT c.k, c.v FROM {c} AS c EXCEPT SELECT a.k, a.v FROM {a} AS a',
  },
  {
    name: 'EXCEPT ALL',
    tables: ['a', 'c'],
    sql: 'SELECT c.k, c.v FROM {c} AS c EXCEPT ALL SELECT a.k, a.v FROM {a} AS a',
  },
  {
    name: 'subquery in FROM + CTE',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: `WITH big AS (SELECT a.id, a.k, a.v FROM {a} AS a WHERE a.v >= 1)
          SELECT x.id, x.v, b.w FROM (SELECT big.id, big.k, big.v FROM big WHERE big.k IS NOT NULL) AS x JOIN {b} AS b ON b.k = x.k`,
  },
  {
    name: 'scalar subquery (correlated and not)',
    tables: ['a', 'b', 'c'],
    bKeyless: true,
    sql: `SELECT a.id, a.v, (SELECT max(b.w) FROM {b} AS b WHERE b.k = a.k) AS mw, (SELECT count(*) FROM {c} AS c) AS nc FROM {a} AS a`,
  },
  {
    name: 'window functions',
    tables: ['a'],
    sql: 'SELECT a.id, a.k, a.v, row_number() OVER (PARTITION BY a.k ORDER BY a.v, a.id) AS rn, sum(a.v) OVER (PARTITION BY a.k) AS sk, rank() OVER (ORDER BY a.v) AS r FROM {a} AS a',
  },
  {
    name: 'window over a keyless table (ties)',
    tables: ['c'],
    sql: 'SELECT c.k, c.v, dense_rank() OVER (PARTITION BY c.k ORDER BY c.v) AS dr, count(*) OVER (PARTITION BY c.k) AS n FROM {c} AS c',
  },
  {
    name: 'top-N',
    tables: ['a'],
    sql: 'SELECT a.id, a.v FROM {a} AS a ORDER BY a.v DESC NULLS LAST, a.id LIMIT 3',
  },
  {
    name: 'LATERAL unnest',
    tables: ['a'],
    sql: 'SELECT a.id, x.e, x.n FROM {a} AS a, LATERAL unnest(a.arr) WITH ORDINALITY AS x(e, n) WHERE a.k IS DISTINCT FROM 3',
  },
  {
    name: 'WITH RECURSIVE (UNION: reachability)',
    tables: ['b'],
    bKeyless: true,
    sql: 'WITH RECURSIVE r(n) AS (SELECT 0 UNION SELECT b.w FROM r JOIN {b} AS b ON b.k = r.n) SELECT r.n FROM r',
  },
  {
    name: 'WITH RECURSIVE (UNION ALL: bounded paths)',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: `WITH RECURSIVE p(n, d) AS (SELECT a.v, 0 FROM {a} AS a WHERE a.s = 'p' UNION ALL SELECT b.w, p.d + 1 FROM p JOIN {b} AS b ON b.k = p.n WHERE p.d < 2) SELECT p.n, p.d FROM p`,
  },
  // Compositions: operators over other operators' results.
  {
    name: 'aggregate over a LEFT JOIN (NULL-padded rows)',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: 'SELECT a.k, count(b.id) AS matched, count(*) AS n, sum(b.w) AS sw FROM {a} AS a LEFT JOIN {b} AS b ON b.k = a.v GROUP BY a.k',
  },
  {
    name: 'window over an aggregate',
    tables: ['a'],
    sql: 'SELECT g.k, g.n, rank() OVER (ORDER BY g.n DESC) AS r FROM (SELECT a.k, count(*) AS n FROM {a} AS a GROUP BY a.k) AS g',
  },
  {
    name: 'top-N over an aggregate',
    tables: ['c'],
    sql: 'SELECT c.k, sum(c.v) AS sv FROM {c} AS c GROUP BY c.k ORDER BY sum(c.v) DESC NULLS LAST, c.k NULLS FIRST LIMIT 2',
  },
  {
    name: 'DISTINCT over a FULL JOIN of keyless tables',
    tables: ['c'],
    sql: 'SELECT DISTINCT x.t, y.t AS yt FROM {c} AS x FULL JOIN {c} AS y ON y.k = x.v',
  },
  {
    name: 'NOT IN with NULLs on both sides (keyless outer)',
    tables: ['b', 'c'],
    bKeyless: true,
    sql: 'SELECT c.k, c.t FROM {c} AS c WHERE c.k NOT IN (SELECT b.w FROM {b} AS b WHERE b.k = 1)',
  },
  {
    name: 'correlated IN and EXISTS in the select list',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: 'SELECT a.id, EXISTS (SELECT 1 FROM {b} AS b WHERE b.k = a.k) AS has, a.v IN (SELECT b.w FROM {b} AS b WHERE b.k = a.k) AS hit FROM {a} AS a',
  },
  {
    name: 'scalar subquery in WHERE',
    tables: ['a', 'c'],
    sql: 'SELECT a.id, a.v FROM {a} AS a WHERE a.v > (SELECT avg(c.v) FROM {c} AS c)',
  },
  {
    name: 'LATERAL subquery with ORDER BY … LIMIT',
    tables: ['a', 'b'],
    bKeyless: true,
    sql: 'SELECT a.id, x.w, x.id AS bid FROM {a} AS a CROSS JOIN LATERAL (SELECT b.w, b.id FROM {b} AS b WHERE b.k = a.k ORDER BY b.w DESC NULLS LAST, b.id LIMIT 2) AS x',
  },
  {
    name: 'LEFT JOIN LATERAL unnest',
    tables: ['a'],
    sql: 'SELECT a.id, x.e FROM {a} AS a LEFT JOIN LATERAL unnest(a.arr) AS x(e) ON x.e > 0',
  },
  {
    name: 'MIN / MAX in HAVING, string_agg with ORDER BY',
    tables: ['c'],
    sql: `SELECT c.k, max(c.v) AS hi, string_agg(c.t, ',' ORDER BY c.t) AS ts FROM {c} AS c GROUP BY c.k HAVING min(c.v) < 2 OR max(c.v) IS NULL`,
  },
  {
    name: 'ROLLUP',
    tables: ['a'],
    sql: 'SELECT a.k, a.s, count(*) AS n, sum(a.v) AS sv, GROUPING(a.k, a.s) AS gg FROM {a} AS a GROUP BY ROLLUP (a.k, a.s)',
  },
  {
    name: 'window frames and lag',
    tables: ['a'],
    sql: 'SELECT a.id, sum(a.v) OVER (PARTITION BY a.k ORDER BY a.id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s2, lag(a.v) OVER (PARTITION BY a.k ORDER BY a.id) AS prev FROM {a} AS a',
  },
  {
    name: 'UNION of an aggregate and a scan',
    tables: ['a', 'c'],
    sql: 'SELECT a.k, count(*)::int AS v FROM {a} AS a GROUP BY a.k UNION SELECT c.k, c.v FROM {c} AS c',
  },
  {
    name: 'nested NOT EXISTS / EXISTS',
    tables: ['a', 'b', 'c'],
    bKeyless: true,
    sql: 'SELECT a.id FROM {a} AS a WHERE NOT EXISTS (SELECT 1 FROM {b} AS b WHERE b.k = a.k AND EXISTS (SELECT 1 FROM {c} AS c WHERE c.k = b.w))',
  },
  {
    name: 'join of two aggregates (CTEs)',
    tables: ['a', 'c'],
    sql: `WITH x AS (SELECT a.k, sum(a.v) AS sv FROM {a} AS a GROUP BY a.k), y AS (SELECT c.k, count(*) AS n FROM {c} AS c GROUP BY c.k)
          SELECT x.k, x.sv, y.n FROM x JOIN y ON y.k = x.k`,
  },
];

/** A case over one shape of the world (`b` keyed, and also keyless where the case asks). */
export interface PropertyVariant {
  readonly c: PropertyCase;
  readonly shape: WorldShape;
  readonly name: string;
}

/** Every case over each shape of the world it runs on. */
export function propertyVariants(): PropertyVariant[] {
  return PROPERTY_CASES.flatMap((c) => [
    { c, shape: {}, name: c.name },
    ...(c.bKeyless === true ? [{ c, shape: { bKeyless: true }, name: `${c.name}, keyless b` }] : []),
  ]);
}

/** The case's SQL with `{a}`, `{b}`, `{c}` naming the world's tables in schema `s`. */
export function caseSql(c: PropertyCase, s: string): string {
  return c.sql.replaceAll(/\{([abc])\}/g, (_m, t: string) => `${s}.${t}`);
}

/** A queue running setup steps one at a time (DDL on shared catalog objects must not run concurrently). */
export function serialQueue(): <T>(f: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(f: () => Promise<T>) => {
    const next = tail.then(f, f);
    tail = next.catch(() => undefined);
    return next;
  };
}
