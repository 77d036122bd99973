/**
 * Subqueries as values, maintained differentially against the oracle after every refresh, with
 * a FULL refresh agreeing row for row: uncorrelated and correlated aggregate subqueries (COUNT
 * is 0 over no rows, the others NULL), primary-key lookups, subqueries in WHERE and inside
 * expressions, EXISTS / IN as select-list values with SQL's three-valued results; and the
 * refusals of subqueries that could return more than one row.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { refusalOf } from './support/maintained.js';
import {
  FULL_AGREES_AT_END,
  immediateScenarios,
  numbered,
  type Step,
  scenarios,
  type TransitionStep,
} from './support/scenario.js';

const db = useTestDatabase();

const RESET = `
  DELETE FROM cust; DELETE FROM ord; DELETE FROM rate; DELETE FROM pair; DELETE FROM note;
  INSERT INTO cust VALUES (1, 'ann', 'eu'), (2, 'bob', 'us'), (3, 'cy', NULL), (4, 'di', 'eu');
  INSERT INTO ord VALUES (10, 1, 50, 'open'), (11, 1, 70, 'paid'), (12, 2, 20, 'open'),
    (13, NULL, 5, 'open'), (14, 9, 15, 'paid'), (15, 4, NULL, NULL);
  INSERT INTO rate VALUES ('eu', 1.5), ('us', 2), ('asia', NULL);
  INSERT INTO pair VALUES (1, 1, 'a'), (1, 2, 'b'), (2, 1, 'c');
  INSERT INTO note VALUES (1, 'x'), (1, 'x'), (NULL, 'n');
`;

/** Maintains every query over the same batches of changes, checking each after every refresh. */
const scenario = (prefix: string, queries: readonly string[], batches: readonly Step[]) =>
  scenarios(db, numbered(prefix, queries), batches, { setup: RESET, ...FULL_AGREES_AT_END });

beforeAll(async () => {
  await db.query(`
    CREATE TABLE cust (id int PRIMARY KEY, name text, region text);
    CREATE TABLE ord (id int PRIMARY KEY, cust int, amount int, status text);
    CREATE TABLE rate (region text PRIMARY KEY, factor numeric);
    CREATE TABLE pair (a int, b int, label text, PRIMARY KEY (a, b));
    CREATE TABLE note (cust int, body text);
  `);
});

/** Changes on both sides: values, correlation keys, rows gaining / losing their last match. */
const batches = (): string[][] => [
  [
    `INSERT INTO ord VALUES (16, 3, 30, 'open'), (17, 2, 40, 'paid'), (18, 7, 1, 'open')`,
    `INSERT INTO cust VALUES (5, 'ed', 'asia')`,
  ],
  [`DELETE FROM ord WHERE id = 12`, `UPDATE ord SET amount = 75 WHERE id = 11`],
  [
    `UPDATE ord SET cust = 5 WHERE id = 11`,
    `UPDATE ord SET cust = NULL WHERE id = 16`,
    `UPDATE ord SET cust = 3 WHERE id = 13`,
  ],
  [
    `UPDATE cust SET id = 6 WHERE id = 2`,
    `UPDATE cust SET region = 'us' WHERE id = 1`,
    `DELETE FROM cust WHERE id = 4`,
    `INSERT INTO cust VALUES (8, 'gus', 'eu')`,
    `DELETE FROM cust WHERE id = 8`,
  ],
  [
    `INSERT INTO cust VALUES (9, 'hal', 'us')`,
    `UPDATE ord SET amount = NULL WHERE id = 10`,
    `DELETE FROM cust WHERE id = 5`,
  ],
  [`DELETE FROM ord`],
  [
    `INSERT INTO ord VALUES (20, 1, 10, 'open'), (21, 1, 10, 'open'), (22, 9, 99, 'paid'), (23, NULL, 1, NULL)`,
  ],
];

describe('scalar subqueries in the select list', () => {
  it('uncorrelated aggregates: a change of the value changes every row', async () => {
    await scenario(
      'st_unc',
      [
        'SELECT c.id, (SELECT max(o.amount) FROM ord o) AS top FROM cust c',
        `SELECT c.id, c.name, (SELECT count(*) FROM ord WHERE status = 'paid') AS paid, (SELECT sum(amount) FROM ord) - c.id AS rest FROM cust c`,
        'SELECT o.id, o.amount * 100 / NULLIF((SELECT sum(o2.amount) FROM ord o2), 0) AS share FROM ord o',
      ],
      batches(),
    );
  });

  it('correlated aggregates: COUNT 0 and SUM NULL over no rows, FILTER, DISTINCT, expressions of outer columns', async () => {
    await scenario(
      'st_cor',
      [
        'SELECT c.id, (SELECT count(*) FROM ord o WHERE o.cust = c.id) AS n FROM cust c',
        "SELECT c.id, (SELECT sum(o.amount) FROM ord o WHERE o.cust = c.id) AS total, (SELECT max(o.amount) FROM ord o WHERE o.cust = c.id AND o.status = 'open') AS top_open FROM cust c",
        `SELECT c.id, (SELECT count(DISTINCT o.status) FILTER (WHERE o.amount > 10) FROM ord o WHERE o.cust = c.id) AS k FROM cust c`,
        'SELECT c.id, (SELECT sum(o.amount * c.id) + c.id FROM ord o WHERE o.cust = c.id OR o.cust IS NULL) AS mixed FROM cust c',
        `SELECT c.id, COALESCE((SELECT string_agg(o.status, ',' ORDER BY o.id) FROM ord o WHERE o.cust = c.id), '-') AS statuses FROM cust c`,
        'SELECT c.id, (SELECT count(*) FROM ord o WHERE o.cust = c.id HAVING count(*) > 1) AS many FROM cust c',
      ],
      batches(),
    );
  });

  it('primary-key lookups: at most one row by construction', async () => {
    await scenario(
      'st_pk',
      [
        'SELECT o.id, (SELECT c.name FROM cust c WHERE c.id = o.cust) AS name FROM ord o',
        'SELECT o.id, (SELECT r.factor FROM cust c JOIN rate r ON r.region = c.region WHERE c.id = o.cust) AS factor FROM ord o',
        'SELECT o.id, (SELECT c.name || r.factor FROM rate r, cust c WHERE c.id = o.cust AND r.region = c.region) AS both FROM ord o',
        'SELECT c.id, (SELECT p.label FROM pair p WHERE p.a = c.id AND p.b = 1) AS label FROM cust c',
        `SELECT o.id, (SELECT c.name FROM cust c WHERE c.id = 1) AS first, (SELECT 'x' || o.id) AS tagged FROM ord o`,
      ],
      [
        ...batches().slice(0, 4),
        [
          `UPDATE rate SET factor = factor * 2`,
          `INSERT INTO pair VALUES (3, 1, 'd')`,
          `UPDATE pair SET label = 'A' WHERE a = 1 AND b = 1`,
        ],
        [`UPDATE pair SET b = 3 WHERE a = 1 AND b = 2`, `DELETE FROM rate WHERE region = 'eu'`],
        ...batches().slice(4),
      ],
    );
  });

  it('keyless outer input with duplicates; a scalar subquery over a join', async () => {
    await scenario(
      'st_dup',
      [
        'SELECT n.body, (SELECT count(*) FROM ord o WHERE o.cust = n.cust) AS k FROM note n',
        'SELECT n.body, (SELECT sum(o.amount) FROM ord o JOIN cust c ON c.id = o.cust WHERE c.id = n.cust) AS s FROM note n',
      ],
      [
        ...batches().slice(0, 2),
        [`INSERT INTO note VALUES (1, 'x'), (2, 'y'), (NULL, 'n')`],
        [
          `DELETE FROM note WHERE ctid = (SELECT min(ctid) FROM note WHERE cust = 1)`,
          `UPDATE note SET cust = 3 WHERE body = 'y'`,
        ],
        ...batches().slice(2),
      ],
    );
  });

  it('an uncorrelated value over an aggregate or a join (TPC-H Q15 shape), or filtering a NOT EXISTS (Q22 shape)', async () => {
    await scenario(
      'st_q15',
      [
        `SELECT c.id, c.name, t.total FROM cust c,
           (SELECT o.cust, sum(o.amount) AS total FROM ord o GROUP BY o.cust) AS t
          WHERE c.id = t.cust AND t.total = (SELECT max(t2.total) FROM (SELECT o2.cust, sum(o2.amount) AS total FROM ord o2 GROUP BY o2.cust) AS t2)`,
        'SELECT o.id, (SELECT count(*) FROM ord o2 JOIN cust c ON c.id = o2.cust) AS matched FROM ord o',
        // TPC-H Q22 shape: the value's rows feed a NOT EXISTS (whose part B reads them new).
        `SELECT o.id, o.amount FROM ord o
          WHERE o.amount > (SELECT avg(o2.amount) FROM ord o2 WHERE o2.amount > 10)
            AND NOT EXISTS (SELECT 1 FROM cust c WHERE c.id = o.cust)`,
        `SELECT c.id, (SELECT string_agg(DISTINCT x.status, ',' ORDER BY x.status) FROM (SELECT o.status FROM ord o GROUP BY o.status HAVING count(*) > 1) AS x) AS busy FROM cust c`,
      ],
      [
        // The value and the NOT EXISTS change together: orders lose and gain their customer.
        [
          `UPDATE ord SET amount = 12 WHERE id = 10`,
          `UPDATE ord SET amount = 35 WHERE id = 12`,
          `DELETE FROM cust WHERE id = 2`,
          `INSERT INTO cust VALUES (40, 'zed', 'eu')`,
          `UPDATE ord SET cust = 40 WHERE id = 13`,
        ],
        ...batches(),
        [`UPDATE ord SET amount = 500 WHERE id = 14`],
        [`INSERT INTO ord VALUES (30, 2, 500, 'open'), (31, NULL, 1, 'open')`],
        [`DELETE FROM ord WHERE amount >= 500`],
        [`DELETE FROM ord`],
      ],
    );
  });

  it('EXISTS and IN as select-list values: three-valued, NULLs included', async () => {
    await scenario(
      'st_mark',
      [
        'SELECT c.id, EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id) AS has_orders, EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id HAVING count(*) >= 2) AS repeat FROM cust c',
        'SELECT c.id, c.id IN (SELECT o.cust FROM ord o) AS ordered, c.id NOT IN (SELECT o.cust FROM ord o) AS not_ordered FROM cust c',
        `SELECT o.id, o.amount > ALL (SELECT o2.amount FROM ord o2 WHERE o2.id <> o.id) AS biggest, CASE WHEN o.status IN (SELECT status FROM ord WHERE amount > 60) THEN 'hot' ELSE 'cold' END AS temp FROM ord o`,
        'SELECT c.id, (c.region, 2) = ANY (SELECT r.region, r.factor FROM rate r) AS two FROM cust c',
      ],
      [
        ...batches().slice(0, 3),
        [`UPDATE rate SET factor = 2 WHERE region = 'eu'`, `INSERT INTO rate VALUES ('zz', 2)`],
        ...batches().slice(3),
        [`UPDATE rate SET factor = NULL`],
      ],
    );
  });

  it('scalar subqueries in WHERE and with other clauses of the query', async () => {
    await scenario(
      'st_where',
      [
        'SELECT o.id, o.amount FROM ord o WHERE o.amount > (SELECT avg(o2.amount) FROM ord o2)',
        'SELECT c.id FROM cust c WHERE (SELECT count(*) FROM ord o WHERE o.cust = c.id) = 0',
        'SELECT c.id, (SELECT count(*) FROM ord o WHERE o.cust = c.id) AS n FROM cust c WHERE c.region IS NOT NULL UNION ALL SELECT 0, (SELECT count(*) FROM ord) FROM rate r WHERE r.factor > 1',
        'SELECT x.id, x.n FROM (SELECT c.id, (SELECT count(*) FROM ord o WHERE o.cust = c.id) AS n FROM cust c) x WHERE x.n > 0',
      ],
      batches(),
    );
  });
});

describe('ORDER BY … LIMIT 1 with a total order', () => {
  it('the largest / latest correlated row, OFFSET, and an aggregate with LIMIT', async () => {
    await scenario(
      'st_top1',
      [
        'SELECT c.id, (SELECT o.amount FROM ord o WHERE o.cust = c.id ORDER BY o.amount DESC NULLS LAST, o.id LIMIT 1) AS top FROM cust c',
        'SELECT c.id, (SELECT o.status FROM ord o WHERE o.cust = c.id ORDER BY o.id DESC LIMIT 1 OFFSET 1) AS second_last FROM cust c',
        'SELECT c.id, (SELECT o.id FROM ord o WHERE o.amount > c.id * 10 ORDER BY 1 LIMIT 1) AS first_big FROM cust c',
        'SELECT c.id, (SELECT o.amount FROM ord o ORDER BY o.id LIMIT 1) AS first_amount FROM cust c',
        'SELECT c.id, (SELECT count(*) AS n FROM ord o WHERE o.cust = c.id ORDER BY n LIMIT 1) AS n FROM cust c',
      ],
      batches(),
    );
  });
});

describe('subqueries correlated to the group keys of a grouped query', () => {
  it('GROUP BY a column the subquery reads', async () => {
    await scenario(
      'st_grp',
      [
        'SELECT c.region, count(*) AS n, (SELECT count(*) FROM ord o JOIN cust c2 ON c2.id = o.cust WHERE c2.region = c.region) AS orders FROM cust c GROUP BY c.region',
        `SELECT c.region, EXISTS (SELECT 1 FROM rate r WHERE r.region = c.region AND r.factor > 1) AS priced, c.region IN (SELECT r.region FROM rate r) AS known FROM cust c GROUP BY c.region`,
      ],
      [
        ...batches(),
        [`UPDATE rate SET factor = 3 WHERE region = 'us'`, `INSERT INTO cust VALUES (30, 'zed', 'asia')`],
        [`DELETE FROM rate WHERE region = 'eu'`, `UPDATE cust SET region = NULL WHERE id = 1`],
      ],
    );
  });
});

describe('transition-table deltas (IMMEDIATE)', () => {
  it('uncorrelated and correlated values, one source changing at a time', async () => {
    const steps: TransitionStep[] = [
      { insert: 'ord', values: `(30, 3, 400, 'open'), (31, 5, 1, 'paid')` },
      { insert: 'cust', values: `(5, 'ed', 'eu'), (21, 'nul', NULL)` },
      { insert: 'ord', values: `(32, NULL, 1, 'open')` },
      { update: 'ord', set: 'cust = 21, amount = amount + 1', where: 'id IN (30, 32)' },
      { update: 'cust', set: 'id = id + 100, name = upper(name)', where: 'id IN (1, 3)' },
      { delete: 'ord', where: 'cust IS NULL OR cust = 21' },
      { delete: 'cust', where: 'id > 100' },
      { delete: 'ord', where: 'true' },
    ];
    await immediateScenarios(
      db,
      numbered('st_tt', [
        'SELECT c.id, (SELECT max(o.amount) FROM ord o) AS top FROM cust c',
        'SELECT c.id, (SELECT count(*) FROM ord o WHERE o.cust = c.id) AS n, (SELECT sum(o.amount) FROM ord o WHERE o.cust = c.id) AS s FROM cust c',
        'SELECT o.id, (SELECT c.name FROM cust c WHERE c.id = o.cust) AS name FROM ord o',
        'SELECT c.id, EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id) AS e, c.id NOT IN (SELECT o.cust FROM ord o) AS ni FROM cust c',
      ]),
      steps,
      { setup: RESET, initialCheck: true },
    );
  });
});

describe('refusals', () => {
  it('subqueries that could return more than one row, and forms without a rule', async () => {
    const cases: [string, RegExp][] = [
      [
        'SELECT c.id, (SELECT o.amount FROM ord o WHERE o.cust = c.id) FROM cust c',
        /may return more than one row/,
      ],
      [
        'SELECT c.id, (SELECT p.label FROM pair p WHERE p.a = c.id) FROM cust c',
        /may return more than one row/,
      ],
      [
        'SELECT c.id, (SELECT o.id FROM ord o WHERE o.id + 0 = c.id) FROM cust c',
        /may return more than one row/,
      ],
      [
        'SELECT c.id, (SELECT max(o.amount) FROM ord o WHERE o.cust = c.id GROUP BY o.status) FROM cust c',
        /scalar subquery with GROUP BY/,
      ],
      [
        'SELECT c.id, (SELECT o.amount FROM ord o WHERE o.cust = c.id ORDER BY o.status LIMIT 1) FROM cust c',
        /may return more than one row/,
      ],
      [
        'SELECT c.id, (SELECT o.amount FROM ord o ORDER BY o.id LIMIT 2) FROM cust c',
        /may return more than one row/,
      ],
      [
        'SELECT c.id, (SELECT o.amount FROM ord o ORDER BY o.id LIMIT c.id) FROM cust c',
        /scalar subquery with LIMIT/,
      ],
      [
        'SELECT c.id, ARRAY(SELECT o.id FROM ord o WHERE o.cust = c.id) FROM cust c',
        /ARRAY\(subquery\) in the select list/,
      ],
      [
        'SELECT c.id, (SELECT count(c.id) FROM ord o) FROM cust c',
        /aggregate over the enclosing query's columns/,
      ],
      [
        'SELECT o.id, (SELECT r.factor FROM rate r, cust c WHERE r.region = c.region) FROM ord o',
        /may return more than one row/,
      ],
      [
        'SELECT o.id, (SELECT r.factor FROM rate r WHERE r.region = (SELECT c.region FROM cust c WHERE c.id = o.cust)) FROM ord o',
        /nested subqueries refer to the enclosing query/,
      ],
      [
        'SELECT c.id, (SELECT sum(x.amount) FROM (SELECT o.amount FROM ord o WHERE o.cust = c.id) x) FROM cust c',
        /refer to the enclosing query/,
      ],
    ];
    for (const [query, message] of cases) {
      const error = await refusalOf(db, query);
      expect(error.code, query).toBe('PGT_UNSUPPORTED');
      expect(error.message, query).toMatch(message);
    }
  });
});
