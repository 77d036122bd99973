/**
 * Subqueries in WHERE, maintained differentially against the oracle after every refresh, with a
 * FULL refresh agreeing row for row: EXISTS / NOT EXISTS (correlated or not), IN, = ANY, row IN,
 * NOT IN with SQL's NULL rules, op ALL, under NOT; left rows with several matches (never
 * multiplied), duplicates, NULLs on both sides, rows gaining their first / losing their last
 * match, subqueries over joins, nested subqueries, subqueries inside OR; and the refusals.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Maintained, maintain, refusalOf } from './support/maintained.js';
import {
  FULL_AGREES_AT_END,
  immediateScenarios,
  numbered,
  runSteps,
  type Step,
  scenarios,
  type TransitionStep,
} from './support/scenario.js';

const db = useTestDatabase();

/** Maintains every query over the same batches of changes, checking each after every refresh. */
const scenario = (prefix: string, queries: readonly string[], batches: readonly Step[]) =>
  scenarios(db, numbered(prefix, queries), batches, { setup: RESET, ...FULL_AGREES_AT_END });

/** The initial contents of the shared tables (each scenario starts from them). */
const RESET = `
    DELETE FROM cust; DELETE FROM ord; DELETE FROM region; DELETE FROM tag; DELETE FROM item;
    INSERT INTO cust VALUES (1, 'ann', 'eu', true), (2, 'bob', 'us', false), (3, 'cy', NULL, NULL),
      (4, 'di', 'eu', false), (5, 'ed', 'asia', true);
    INSERT INTO ord VALUES (10, 1, 50, 'open'), (11, 1, 70, 'paid'), (12, 2, 20, 'open'),
      (13, NULL, 5, 'open'), (14, 9, 15, 'paid'), (15, 4, NULL, NULL);
    INSERT INTO region VALUES ('eu', true), ('us', false), ('asia', NULL);
    INSERT INTO tag VALUES (1, 'a'), (1, 'a'), (2, 'b'), (NULL, 'n'), (5, 'e');
    INSERT INTO item VALUES (1, 1), (2, 1), (3, 2), (4, NULL);
`;

beforeAll(async () => {
  await db.query(`
    CREATE TABLE cust (id int PRIMARY KEY, name text, region text, vip boolean);
    CREATE TABLE ord (id int PRIMARY KEY, cust int, amount int, status text);
    CREATE TABLE region (code text PRIMARY KEY, active boolean);
    CREATE TABLE tag (val int, note text);
    CREATE TABLE item (val int, grp int);
  `);
});

/** Changes on the customer side, the order side and both. */
const custOrd = (): string[][] => [
  // A customer gains its first order, another its second; an order for nobody; a new customer.
  [
    `INSERT INTO ord VALUES (16, 3, 30, 'open'), (17, 2, 40, 'paid'), (18, 7, 1, 'open')`,
    `INSERT INTO cust VALUES (6, 'fi', 'us', true)`,
  ],
  // A customer loses its only order; another loses one of two.
  [`DELETE FROM ord WHERE id = 16`, `DELETE FROM ord WHERE id = 10`],
  // Orders move between customers (correlation-key changes), a key becomes NULL, a NULL key a value.
  [
    `UPDATE ord SET cust = 5 WHERE id = 11`,
    `UPDATE ord SET cust = NULL WHERE id = 12`,
    `UPDATE ord SET cust = 6 WHERE id = 13`,
  ],
  // Customer-side changes: key change, value changes, a delete, an insert deleted again.
  [
    `UPDATE cust SET id = 7 WHERE id = 2`,
    `UPDATE cust SET region = 'us', vip = NOT vip WHERE id IN (1, 3)`,
    `DELETE FROM cust WHERE id = 4`,
    `INSERT INTO cust VALUES (8, 'gus', 'eu', true)`,
    `DELETE FROM cust WHERE id = 8`,
  ],
  // Both sides in one window, the same key on both.
  [
    `INSERT INTO cust VALUES (9, 'hal', 'eu', false)`,
    `UPDATE ord SET amount = amount + 100, status = 'paid' WHERE cust IN (5, 6)`,
    `DELETE FROM cust WHERE id = 6`,
    `UPDATE ord SET cust = 1 WHERE id = 17`,
  ],
  [`DELETE FROM ord`],
  [
    `INSERT INTO ord VALUES (20, 1, 10, 'open'), (21, 1, 10, 'open'), (22, 9, 99, 'paid'), (23, NULL, 1, NULL)`,
  ],
];

describe('EXISTS and NOT EXISTS', () => {
  it('correlated EXISTS / NOT EXISTS, with and without extra conditions', async () => {
    await scenario(
      'st_ex',
      [
        'SELECT c.id, c.name FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id)',
        'SELECT c.id, c.name FROM cust c WHERE NOT EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id)',
        `SELECT c.* FROM cust c WHERE EXISTS (SELECT * FROM ord o WHERE o.cust = c.id AND o.status = 'paid' AND o.amount > 30) AND c.region IS NOT NULL`,
        'SELECT c.id FROM cust c WHERE NOT NOT EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id AND c.vip)',
        'SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id AND o.amount > c.id * 10)',
        'SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id ORDER BY o.amount LIMIT 1)',
      ],
      custOrd(),
    );
  });

  it('uncorrelated EXISTS: all rows or none', async () => {
    await scenario(
      'st_exu',
      [
        `SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord WHERE status = 'paid' AND amount > 100)`,
        `SELECT c.id FROM cust c WHERE NOT EXISTS (SELECT 1 FROM ord WHERE amount > 100)`,
        `SELECT c.id FROM cust c WHERE EXISTS (SELECT DISTINCT status FROM ord ORDER BY status)`,
      ],
      custOrd(),
    );
  });

  it('keyless left input with duplicates and several matches per row (never multiplied)', async () => {
    await scenario(
      'st_exd',
      [
        'SELECT t.val, t.note FROM tag t WHERE EXISTS (SELECT 1 FROM item i WHERE i.val = t.val)',
        'SELECT t.val, t.note FROM tag t WHERE NOT EXISTS (SELECT 1 FROM item i WHERE i.val = t.val)',
        'SELECT t.val FROM tag t WHERE EXISTS (SELECT 1 FROM item i WHERE i.grp = t.val)',
        'SELECT t.val, t.note FROM tag t WHERE NOT EXISTS (SELECT 1 FROM item i JOIN tag t2 ON t2.val = i.grp WHERE i.val = t.val)',
        'SELECT t.val, i.grp FROM tag t LEFT JOIN (item i JOIN tag t2 ON t2.val = i.grp) ON i.val = t.val',
      ],
      [
        [`INSERT INTO item VALUES (1, 2), (1, 3), (5, 1)`, `INSERT INTO tag VALUES (1, 'a'), (3, 'c')`],
        [`DELETE FROM item WHERE val = 1 AND grp = 1`],
        [`DELETE FROM item WHERE val = 1`, `UPDATE tag SET val = 4 WHERE note = 'c'`],
        [`UPDATE item SET val = NULL WHERE val = 4`, `INSERT INTO tag VALUES (NULL, 'n')`],
        [
          `DELETE FROM tag WHERE ctid = (SELECT min(ctid) FROM tag WHERE note = 'a')`,
          `INSERT INTO item VALUES (2, NULL)`,
        ],
        [`DELETE FROM item`],
        [`INSERT INTO item VALUES (1, 1), (2, 2), (NULL, NULL)`],
      ],
    );
  });

  it('a subquery over a join, a nested EXISTS, and EXISTS combined with joins of the outer query', async () => {
    await scenario(
      'st_exj',
      [
        `SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o JOIN region r ON r.code = c.region WHERE o.cust = c.id AND r.active)`,
        `SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id AND NOT EXISTS (SELECT 1 FROM region r WHERE r.code = o.status))`,
        `SELECT c.id, r.code FROM cust c JOIN region r ON r.code = c.region WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id) AND r.active IS NOT FALSE`,
        `SELECT c.id, o.id AS oid FROM cust c LEFT JOIN ord o ON o.cust = c.id WHERE NOT EXISTS (SELECT 1 FROM region r WHERE r.code = c.region AND r.active)`,
        `SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o LEFT JOIN region r ON r.code = o.status WHERE o.cust = c.id AND r.code IS NULL)`,
      ],
      [
        ...custOrd().slice(0, 3),
        [`UPDATE region SET active = NOT active`, `INSERT INTO region VALUES ('paid', true)`],
        ...custOrd().slice(3),
        [`DELETE FROM region WHERE code = 'eu'`, `UPDATE region SET code = 'open' WHERE code = 'us'`],
      ],
    );
  });
});

describe('several subqueries, general subqueries', () => {
  it('stacked semi/anti joins, a UNION ALL subquery, a subquery without FROM, correlation through a USING column', async () => {
    await scenario(
      'st_stack',
      [
        `SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id) AND NOT EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id AND o.status = 'paid') AND c.region IN (SELECT code FROM region)`,
        'SELECT c.id FROM cust c WHERE c.id IN (SELECT o.cust FROM ord o WHERE o.amount > 40 UNION ALL SELECT 5)',
        'SELECT c.id FROM cust c WHERE NOT EXISTS (SELECT 1 WHERE c.vip) AND EXISTS (SELECT WHERE c.id > 1)',
        'SELECT id, amount FROM ord JOIN (SELECT id AS cust, region FROM cust) c USING (cust) WHERE EXISTS (SELECT 1 FROM region r WHERE r.code = region AND cust > 1)',
      ],
      [
        ...custOrd().slice(0, 3),
        [`DELETE FROM region WHERE code = 'asia'`, `INSERT INTO region VALUES ('open', false)`],
        ...custOrd().slice(3),
      ],
    );
  });
});

describe('IN, = ANY, NOT IN, ALL', () => {
  it('IN and = ANY, uncorrelated and correlated, with NULLs on both sides', async () => {
    await scenario(
      'st_in',
      [
        'SELECT c.id FROM cust c WHERE c.id IN (SELECT o.cust FROM ord o)',
        `SELECT c.id FROM cust c WHERE c.id = ANY (SELECT o.cust FROM ord o WHERE o.status = 'open')`,
        `SELECT c.id FROM cust c WHERE c.region IN (SELECT r.code FROM region r WHERE r.active)`,
        'SELECT c.id FROM cust c WHERE c.id * 10 IN (SELECT o.amount - 100 * c.id FROM ord o WHERE o.cust = c.id)',
        'SELECT c.id FROM cust c WHERE c.id IN (SELECT DISTINCT o.cust FROM ord o ORDER BY o.cust)',
      ],
      custOrd(),
    );
  });

  it('NOT IN: TRUE iff the subquery is empty, or x is not NULL and no value is NULL or equal', async () => {
    await db.query(`
      CREATE TABLE ni_x (id int PRIMARY KEY, x int);
      CREATE TABLE ni_y (id int PRIMARY KEY, y int, g int);
      INSERT INTO ni_x VALUES (1, 1), (2, 2), (3, NULL), (4, 4);
      INSERT INTO ni_y VALUES (1, 1, 1), (2, 3, 1), (3, 5, 2);
    `);
    await scenario(
      'st_ni',
      [
        'SELECT id, x FROM ni_x WHERE x NOT IN (SELECT y FROM ni_y)',
        'SELECT id, x FROM ni_x WHERE NOT (x IN (SELECT y FROM ni_y WHERE g = 1))',
        'SELECT id, x FROM ni_x WHERE x NOT IN (SELECT y FROM ni_y WHERE ni_y.g = ni_x.id)',
        'SELECT id, x FROM ni_x WHERE NOT (x NOT IN (SELECT y FROM ni_y))',
        'SELECT id, x FROM ni_x WHERE x + 0 <> ALL (SELECT y + 0 FROM ni_y)',
      ],
      [
        // A NULL appears in the subquery: every row not matched by equality becomes NULL.
        [`INSERT INTO ni_y VALUES (4, NULL, 1)`],
        [`INSERT INTO ni_x VALUES (5, 5), (6, NULL)`],
        // The NULL goes again.
        [`DELETE FROM ni_y WHERE id = 4`],
        [`UPDATE ni_y SET y = 2 WHERE id = 1`, `UPDATE ni_x SET x = NULL WHERE id = 2`],
        // The subquery becomes empty: NOT IN is TRUE even for x NULL.
        [`DELETE FROM ni_y`],
        [`INSERT INTO ni_y VALUES (7, NULL, 2)`],
        [`UPDATE ni_y SET y = 4, g = 4 WHERE id = 7`, `UPDATE ni_x SET x = 7 WHERE id = 3`],
        [`INSERT INTO ni_y VALUES (8, 1, 1), (9, NULL, 3)`, `DELETE FROM ni_x WHERE id = 1`],
      ],
    );
  });

  it('row IN and row NOT IN with NULLs in any position', async () => {
    await db.query(`
      CREATE TABLE ri_a (id int PRIMARY KEY, p int, q int);
      CREATE TABLE ri_b (id int PRIMARY KEY, p int, q int);
      INSERT INTO ri_a VALUES (1, 1, 1), (2, 1, 2), (3, NULL, 1), (4, 2, NULL), (5, 3, 3);
      INSERT INTO ri_b VALUES (1, 1, 1), (2, 2, 5), (3, 3, NULL);
    `);
    await scenario(
      'st_ri',
      [
        'SELECT id FROM ri_a a WHERE (a.p, a.q) IN (SELECT b.p, b.q FROM ri_b b)',
        'SELECT id FROM ri_a a WHERE (a.p, a.q) NOT IN (SELECT b.p, b.q FROM ri_b b)',
        'SELECT id FROM ri_a a WHERE (a.p, a.q) = ANY (SELECT b.p, b.q FROM ri_b b WHERE b.id <> a.id)',
        'SELECT id FROM ri_a a WHERE (a.p, a.q, a.id) NOT IN (SELECT b.p, b.q, b.id FROM ri_b b)',
        'SELECT id FROM ri_a a WHERE (a.p, a.q) < ALL (SELECT b.p, b.q FROM ri_b b)',
      ],
      [
        [`INSERT INTO ri_b VALUES (4, NULL, 2)`],
        [`UPDATE ri_b SET q = 3 WHERE id = 3`, `INSERT INTO ri_a VALUES (6, NULL, NULL)`],
        [`DELETE FROM ri_b WHERE id = 4`, `UPDATE ri_a SET q = 5 WHERE id = 4`],
        [`INSERT INTO ri_b VALUES (5, NULL, NULL)`],
        [`DELETE FROM ri_b`],
        [`INSERT INTO ri_b VALUES (6, 1, 2), (7, 5, 5)`],
      ],
    );
  });

  it('EXISTS / NOT EXISTS correlated by an equality and a non-equality (TPC-H Q21 shape), over a join', async () => {
    // The affected rows of such a subquery are found through the equality's keys in the delta
    // (an IN over them next to the EXISTS): NULL keys, a row moving to another key, several
    // matches of one row, matches only by the equality (excluded by the non-equality).
    await db.query(`
      CREATE TABLE q21_line (id serial PRIMARY KEY, ok int, ln int, supp int, late boolean);
      CREATE TABLE q21_supp (id int PRIMARY KEY, name text);
      INSERT INTO q21_supp VALUES (1, 's1'), (2, 's2'), (3, 's3');
      INSERT INTO q21_line (ok, ln, supp, late) VALUES (1, 1, 1, true), (1, 2, 2, false), (2, 1, 1, true), (2, 2, 1, true),
        (3, 1, 2, true), (3, 2, 3, true), (4, 1, NULL, true), (4, 2, 3, false), (NULL, 1, 1, true);
    `);
    await scenario(
      'st_q21',
      [
        `SELECT s.name, count(*) AS n FROM q21_supp s, q21_line l1
          WHERE s.id = l1.supp AND l1.late
            AND EXISTS (SELECT * FROM q21_line l2 WHERE l2.ok = l1.ok AND l2.supp <> l1.supp)
            AND NOT EXISTS (SELECT * FROM q21_line l3 WHERE l3.ok = l1.ok AND l3.supp <> l1.supp AND l3.late)
          GROUP BY s.name`,
        `SELECT l1.ok, l1.ln FROM q21_line l1
          WHERE EXISTS (SELECT 1 FROM q21_line l2 WHERE l2.ok = l1.ok AND l2.ln <> l1.ln AND l2.supp IS DISTINCT FROM l1.supp)`,
      ],
      [
        [`INSERT INTO q21_line (ok, ln, supp, late) VALUES (5, 1, 1, true), (5, 2, 2, false)`],
        [
          `UPDATE q21_line SET late = false WHERE ok = 3 AND ln = 2`,
          `UPDATE q21_line SET supp = 1 WHERE ok = 1 AND ln = 2`,
        ],
        [
          `UPDATE q21_line SET ok = 2 WHERE ok = 4 AND ln = 2`,
          `UPDATE q21_line SET supp = 2 WHERE ok = 4 AND ln = 1`,
        ],
        [
          `DELETE FROM q21_line WHERE ok = 2 AND ln = 2`,
          `INSERT INTO q21_line (ok, ln, supp, late) VALUES (NULL, 2, 2, true)`,
        ],
        [`UPDATE q21_line SET supp = NULL WHERE ok = 3 AND ln = 1`, `DELETE FROM q21_supp WHERE id = 3`],
        [`DELETE FROM q21_line WHERE ok IN (1, 5)`, `INSERT INTO q21_supp VALUES (4, 's4')`],
      ],
    );
  });

  it('op ALL and NOT (op ALL / ANY)', async () => {
    await scenario(
      'st_all',
      [
        'SELECT c.id FROM cust c WHERE c.id * 20 > ALL (SELECT o.amount FROM ord o)',
        'SELECT c.id FROM cust c WHERE c.id * 20 >= ALL (SELECT o.amount FROM ord o WHERE o.cust = c.id)',
        'SELECT c.id FROM cust c WHERE NOT (c.id * 20 < ALL (SELECT o.amount FROM ord o WHERE o.cust = c.id))',
        'SELECT c.id FROM cust c WHERE NOT (c.id * 20 < ANY (SELECT o.amount FROM ord o WHERE o.cust = c.id))',
        `SELECT c.id FROM cust c WHERE c.name LIKE ANY (SELECT o.status || '%' FROM ord o WHERE o.cust <> c.id)`,
      ],
      custOrd(),
    );
  });

  it('IN and ALL over an aggregate subquery (one row) and over a VALUES list', async () => {
    await scenario(
      'st_ina',
      [
        'SELECT o.id FROM ord o WHERE o.amount IN (SELECT max(o2.amount) FROM ord o2 WHERE o2.cust = o.cust)',
        'SELECT o.id FROM ord o WHERE o.amount NOT IN (SELECT min(o2.amount) FROM ord o2)',
        'SELECT o.id FROM ord o WHERE o.amount >= ALL (SELECT avg(o2.amount) FROM ord o2 WHERE o2.status = o.status)',
        'SELECT c.id FROM cust c WHERE c.id IN (VALUES (1), (3), (7))',
        'SELECT c.id FROM cust c WHERE EXISTS (SELECT count(*) FROM ord o WHERE o.cust = c.id)',
        'SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id HAVING count(*) > 1)',
        'SELECT c.id FROM cust c WHERE NOT EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id HAVING sum(o.amount) > 60)',
      ],
      custOrd(),
    );
  });
});

describe('subqueries inside expressions in WHERE', () => {
  it('EXISTS and IN under OR, in CASE, compared with a scalar subquery', async () => {
    await scenario(
      'st_or',
      [
        'SELECT c.id FROM cust c WHERE c.vip OR EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id)',
        `SELECT c.id FROM cust c WHERE c.region = 'eu' OR c.id NOT IN (SELECT o.cust FROM ord o WHERE o.status = 'open')`,
        `SELECT c.id FROM cust c WHERE CASE WHEN c.vip THEN EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id) ELSE c.id IN (SELECT o.cust FROM ord o WHERE o.amount > 30) END`,
        'SELECT c.id FROM cust c WHERE (c.id IN (SELECT o.cust FROM ord o)) IS NOT TRUE',
        'SELECT c.id FROM cust c WHERE (SELECT count(*) FROM ord o WHERE o.cust = c.id) >= 2 OR c.id > 5',
      ],
      custOrd(),
    );
  });
});

describe('transition-table deltas (IMMEDIATE)', () => {
  it('EXISTS, NOT EXISTS, IN, NOT IN and a subquery inside OR, one source changing at a time', async () => {
    const steps: TransitionStep[] = [
      { insert: 'ord', values: `(30, 3, 40, 'open'), (31, 5, 1, 'paid')` },
      { insert: 'cust', values: `(20, 'new', 'eu', false), (21, 'nul', NULL, NULL)` },
      { insert: 'ord', values: `(32, NULL, 1, 'open')` },
      { update: 'ord', set: 'cust = 20', where: 'id IN (30, 32)' },
      { update: 'cust', set: 'id = id + 100, vip = NOT vip', where: 'id IN (1, 3)' },
      { delete: 'ord', where: 'cust IS NULL OR cust = 20' },
      { delete: 'cust', where: 'id > 100' },
      { delete: 'ord', where: 'true' },
    ];
    await immediateScenarios(
      db,
      numbered('st_tt', [
        'SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id)',
        `SELECT c.id FROM cust c WHERE NOT EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id AND o.status = 'open')`,
        'SELECT c.id FROM cust c WHERE c.id IN (SELECT o.cust FROM ord o)',
        'SELECT c.id FROM cust c WHERE c.id NOT IN (SELECT o.cust FROM ord o)',
        'SELECT c.id FROM cust c WHERE c.vip OR c.id IN (SELECT o.cust FROM ord o WHERE o.amount > 30)',
      ]),
      steps,
      { setup: RESET, initialCheck: true },
    );
  });
});

describe('refusals', () => {
  it('correlated subqueries that cannot be decorrelated, and other subquery forms', async () => {
    const cases: [string, RegExp][] = [
      [
        'SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id ORDER BY o.id OFFSET 1)',
        /correlated EXISTS \(subquery\) with LIMIT \/ OFFSET/,
      ],
      [
        'SELECT c.id FROM cust c WHERE c.id IN (SELECT o.cust FROM ord o WHERE o.amount > c.id ORDER BY o.id LIMIT 1)',
        /correlated IN \(subquery\) with LIMIT \/ OFFSET/,
      ],
      [
        'SELECT c.id FROM cust c WHERE c.id IN (SELECT o.cust FROM ord o WHERE o.amount > c.id GROUP BY o.cust)',
        /correlated IN \(subquery\) with GROUP BY/,
      ],
      [
        'SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM (SELECT * FROM ord o WHERE o.cust = c.id) s)',
        /EXISTS \(subquery\) whose FROM items or nested subqueries refer to the enclosing query/,
      ],
      [
        'SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE EXISTS (SELECT 1 FROM region r WHERE r.code = c.region AND o.cust = c.id))',
        /EXISTS \(subquery\) whose FROM items or nested subqueries refer to the enclosing query/,
      ],
      [
        'SELECT c.id FROM cust c WHERE c.id = ANY (ARRAY(SELECT o.cust FROM ord o))',
        /ARRAY\(subquery\) in WHERE/,
      ],
      [
        'SELECT c.id FROM cust c WHERE 1 IN (SELECT count(c.id) FROM ord o)',
        /aggregate over the enclosing query's columns/,
      ],
      [
        'SELECT c.id FROM cust c WHERE c.id IN (SELECT max(o.cust) FROM ord o WHERE o.cust = c.id HAVING count(*) > 1)',
        /correlated IN \(subquery\) with HAVING/,
      ],
    ];
    for (const [query, message] of cases) {
      const error = await refusalOf(db, query);
      expect(error.code, query).toBe('PGT_UNSUPPORTED');
      expect(error.message, query).toMatch(message);
    }
  });

  it('AUTO falls back to FULL for a refused subquery', async () => {
    const st = await maintain(
      db,
      'st_auto_sub',
      'SELECT c.id FROM cust c WHERE EXISTS (SELECT 1 FROM ord o WHERE o.cust = c.id ORDER BY o.amount, o.id OFFSET 1)',
      { mode: 'AUTO' },
    );
    expect(st.plan.mode).toBe('FULL');
    expect(st.plan.fallbackReason).toMatch(/OFFSET/);
  });
});

describe('random histories (fast-check)', () => {
  const runs = Number(process.env.FC_RUNS ?? 4);
  const nul = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(arb, { nil: null, freq: 4 });
  const lit = (v: number | null): string => (v === null ? 'NULL' : String(v));
  const id = fc.integer({ min: 1, max: 8 });
  const key = nul(fc.integer({ min: 1, max: 4 }));
  const val = nul(fc.integer({ min: 0, max: 6 }));
  const change: fc.Arbitrary<string> = fc.oneof(
    fc
      .tuple(id, key, val)
      .map(
        ([i, k, v]) =>
          `INSERT INTO px VALUES (${i}, ${lit(k)}, ${lit(v)}) ON CONFLICT (id) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v`,
      ),
    id.map((i) => `DELETE FROM px WHERE id = ${i}`),
    fc
      .tuple(id, id)
      .map(
        ([a, b]) =>
          `UPDATE px SET id = ${b} WHERE id = ${a} AND NOT EXISTS (SELECT 1 FROM px WHERE id = ${b})`,
      ),
    fc.tuple(key, val).map(([k, w]) => `INSERT INTO py VALUES (${lit(k)}, ${lit(w)})`),
    key.map(
      (k) => `DELETE FROM py WHERE ctid = (SELECT min(ctid) FROM py WHERE k IS NOT DISTINCT FROM ${lit(k)})`,
    ),
    fc.tuple(key, key).map(([a, b]) => `UPDATE py SET k = ${lit(b)} WHERE k IS NOT DISTINCT FROM ${lit(a)}`),
    fc
      .tuple(id, val)
      .map(
        ([i, n]) => `INSERT INTO pz VALUES (${i}, ${lit(n)}) ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n`,
      ),
    id.map((i) => `DELETE FROM pz WHERE id = ${i}`),
  );
  const history = fc.array(fc.array(change, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 });

  it('every form over random rows and changes: the oracle after each refresh, FULL agreeing', async () => {
    await db.query(`
      CREATE TABLE px (id int PRIMARY KEY, k int, v int);
      CREATE TABLE py (k int, w int);
      CREATE TABLE pz (id int PRIMARY KEY, n int);
      INSERT INTO px VALUES (1, 1, 1), (2, 2, NULL), (3, NULL, 3);
      INSERT INTO py VALUES (1, 1), (1, 1), (NULL, 2), (3, NULL);
      INSERT INTO pz VALUES (1, 10), (3, NULL);
    `);
    const queries = [
      'SELECT x.id, x.v, y.w FROM px x LEFT JOIN py y ON y.k = x.k AND y.w > 0',
      'SELECT x.id, y.k, y.w FROM px x RIGHT JOIN py y ON y.k = x.k',
      'SELECT x.id, y.k, y.w, z.n FROM px x FULL JOIN py y ON y.k = x.k AND y.w <= x.v LEFT JOIN pz z ON z.id = x.id',
      'SELECT x.id FROM px x WHERE EXISTS (SELECT 1 FROM py y WHERE y.k = x.k)',
      'SELECT y.k, y.w FROM py y WHERE NOT EXISTS (SELECT 1 FROM px x WHERE x.k = y.k AND x.v > y.w)',
      'SELECT x.id FROM px x WHERE x.v IN (SELECT y.w FROM py y WHERE y.k <> 2)',
      'SELECT x.id FROM px x WHERE x.v NOT IN (SELECT y.w FROM py y)',
      'SELECT x.id FROM px x WHERE (x.k, x.v) NOT IN (SELECT y.k, y.w FROM py y)',
      'SELECT x.id FROM px x WHERE x.v >= ALL (SELECT y.w FROM py y WHERE y.k = x.k)',
      'SELECT x.id, x.k IN (SELECT y.k FROM py y) AS i, x.v NOT IN (SELECT y.w FROM py y) AS ni FROM px x',
      'SELECT x.id FROM px x WHERE x.v = 0 OR EXISTS (SELECT 1 FROM py y WHERE y.w = x.v)',
      'SELECT x.id, (SELECT count(*) FROM py y WHERE y.k = x.k) AS c, (SELECT sum(y.w) FROM py y WHERE y.k = x.k) AS s FROM px x',
      'SELECT y.k, (SELECT max(x.v) FROM px x) AS m, (SELECT z.n FROM pz z WHERE z.id = y.k) AS n FROM py y',
    ];
    const sts: Maintained[] = [];
    for (const [i, q] of queries.entries()) sts.push(await maintain(db, `st_fc_${i}`, q));
    await fc.assert(
      fc.asyncProperty(history, async (batches) => {
        await runSteps(db, sts, batches, FULL_AGREES_AT_END);
      }),
      { numRuns: runs, ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }) },
    );
  }, 600_000);
});
