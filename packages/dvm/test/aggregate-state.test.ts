/**
 * The hidden state of algebraic aggregates: what is kept (operators/aggregate-state.ts) and that
 * the results stay exact without what is dropped. A NOT NULL argument keeps no non-NULL count
 * (a scan column's NOT NULL survives filters and inner joins, not the NULL-extended side of an
 * outer join, not a CASE); COUNT(x) / COUNT(*) with the same FILTER stand in for it; a numeric
 * with a type modifier keeps no ±Infinity counters; a table with a rescanned call keeps no state.
 * Each scenario: the oracle after every DIFFERENTIAL refresh (text-exact), then a FULL refresh and
 * DIFFERENTIAL again. A fast-check property runs random batches (NULLs, NaN, ±Infinity, group
 * moves) over tables whose state was trimmed, the oracle after every refresh.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';
import { AGGREGATE_SCENARIO, scenario, scenarios } from './support/scenario.js';

const db = useTestDatabase();

/** The hidden columns of `st` that are aggregate state (not the row count or group keys), sorted. */
function stateColumns(st: Maintained): string[] {
  return st.plan.hiddenColumns.filter((c) => c !== '__pgt_count' && !/^__pgt_(grp|agg)_/.test(c)).sort();
}

function run(name: string, query: string, steps: readonly string[]): Promise<Maintained> {
  return scenario(db, name, query, steps, AGGREGATE_SCENARIO);
}

describe('hidden aggregate state', () => {
  it('keeps only a finite sum and a NaN counter for count/sum/avg of a NOT NULL numeric(12,2)', async () => {
    await db.query(`
      CREATE TABLE o1 (id int PRIMARY KEY, g int NOT NULL, m numeric(12,2) NOT NULL);
      INSERT INTO o1 VALUES (1, 1, 1.50), (2, 1, 2.25), (3, 2, 10), (4, 3, 0.01);
    `);
    const st = await run(
      'st_nn_plain',
      'SELECT g, count(*) AS n, sum(m) AS s, avg(m) AS a FROM o1 GROUP BY g',
      [
        'INSERT INTO o1 VALUES (5, 1, 7), (6, 4, 3.33)',
        'UPDATE o1 SET m = m * 3 WHERE id IN (1, 3)',
        "INSERT INTO o1 VALUES (7, 1, 'NaN')",
        'UPDATE o1 SET g = 2 WHERE id = 7',
        'DELETE FROM o1 WHERE id = 7',
        'DELETE FROM o1 WHERE g = 4',
        'UPDATE o1 SET g = 5 WHERE g = 3',
        "INSERT INTO o1 VALUES (8, 6, 'NaN'); DELETE FROM o1 WHERE id = 8",
      ],
    );
    expect(stateColumns(st)).toEqual(['__pgt_nan_2', '__pgt_sum_2']);
  });

  it('keeps the NOT NULL fact through a filter and an inner join, not on the NULL-extended side of a LEFT JOIN', async () => {
    await db.query(`
      CREATE TABLE c2 (id int PRIMARY KEY, region int NOT NULL, w numeric(10,2) NOT NULL);
      CREATE TABLE o2 (id int PRIMARY KEY, cust int NOT NULL, m numeric(12,2) NOT NULL);
      INSERT INTO c2 VALUES (1, 1, 1), (2, 1, 2), (3, 2, 3), (4, 3, 4);
      INSERT INTO o2 VALUES (1, 1, 5), (2, 1, 6), (3, 3, 7), (4, 2, 8);
    `);
    const steps = [
      'INSERT INTO o2 VALUES (5, 4, 9), (6, 4, 1.25)',
      'DELETE FROM o2 WHERE cust = 3',
      'UPDATE o2 SET cust = 3 WHERE id = 1',
      'INSERT INTO c2 VALUES (5, 3, 0.5)',
      'DELETE FROM o2 WHERE cust = 4',
      'UPDATE c2 SET region = 2 WHERE id = 1',
      'DELETE FROM o2',
      'INSERT INTO o2 VALUES (10, 5, 2.5)',
    ];
    const [inner, left, right] = await scenarios(
      db,
      [
        [
          'st_nn_inner',
          `SELECT c.region, count(*) AS n, sum(o.m) AS s, avg(o.m) AS a, sum(c.w) AS sw
             FROM o2 AS o JOIN c2 AS c ON c.id = o.cust WHERE o.m > 0 GROUP BY c.region`,
        ],
        // c2 LEFT JOIN o2: a customer without orders is one row with o.m NULL (count(*) 1, sum NULL).
        [
          'st_nn_left',
          `SELECT c.region, count(*) AS n, sum(o.m) AS s, avg(o.m) AS a, sum(c.w) AS sw
             FROM c2 AS c LEFT JOIN o2 AS o ON o.cust = c.id GROUP BY c.region`,
        ],
        // The preserved side on the right: o.m stays nullable.
        [
          'st_nn_right',
          `SELECT c.region, count(*) AS n, sum(o.m) AS s, avg(o.m) AS a, count(o.m) AS c
             FROM o2 AS o RIGHT JOIN c2 AS c ON o.cust = c.id GROUP BY c.region`,
        ],
      ],
      steps,
      AGGREGATE_SCENARIO,
    );
    expect(stateColumns(inner as Maintained)).toEqual([
      '__pgt_nan_2',
      '__pgt_nan_4',
      '__pgt_sum_2',
      '__pgt_sum_4',
    ]);
    expect(stateColumns(left as Maintained)).toEqual([
      '__pgt_nan_2',
      '__pgt_nan_4',
      '__pgt_nn_2',
      '__pgt_sum_2',
      '__pgt_sum_4',
    ]);
    // count(o.m) is the non-NULL count sum(o.m) needs.
    expect(stateColumns(right as Maintained)).toEqual(['__pgt_nan_2', '__pgt_sum_2']);
  });

  it('keeps a non-NULL count for a CASE over a NOT NULL column, and none for a FILTER with a matching COUNT(*)', async () => {
    await db.query(`
      CREATE TABLE o3 (id int PRIMARY KEY, g int NOT NULL, m numeric(12,2) NOT NULL, k int NOT NULL);
      INSERT INTO o3 VALUES (1, 1, 1, 1), (2, 1, 6, 2), (3, 2, 10, 3), (4, 2, 2, 4);
    `);
    const steps = [
      'INSERT INTO o3 VALUES (5, 1, 7, 5), (6, 3, 3, 6)',
      'UPDATE o3 SET m = 1 WHERE id = 3',
      'UPDATE o3 SET m = 9 WHERE id = 1',
      'DELETE FROM o3 WHERE id = 6',
      "INSERT INTO o3 VALUES (7, 2, 'NaN', 7)",
      'DELETE FROM o3 WHERE g = 1',
    ];
    const [cased, filtered] = await scenarios(
      db,
      [
        [
          'st_nn_case',
          'SELECT g, sum(CASE WHEN m > 5 THEN m END) AS s, avg(CASE WHEN m > 5 THEN m END) AS a FROM o3 GROUP BY g',
        ],
        [
          'st_nn_filter',
          `SELECT g, sum(m) FILTER (WHERE k > 1) AS s, count(*) FILTER (WHERE k > 1) AS n,
                  avg(k) FILTER (WHERE m < 5) AS a, sum(k) AS sk
             FROM o3 GROUP BY g`,
        ],
      ],
      steps,
      AGGREGATE_SCENARIO,
    );
    // The CASE is unconstrained numeric: ±Infinity counters too, and a scale histogram.
    expect(stateColumns(cased as Maintained)).toEqual([
      '__pgt_nan_1',
      '__pgt_ninf_1',
      '__pgt_nn_1',
      '__pgt_pinf_1',
      '__pgt_scale_1',
      '__pgt_sum_1',
    ]);
    // sum(m) FILTER reads count(*) FILTER; avg(k) FILTER (integer: no NaN) keeps its own count
    // (no COUNT with its FILTER); sum(k) is its own running sum.
    expect(stateColumns(filtered as Maintained)).toEqual([
      '__pgt_nan_1',
      '__pgt_nn_3',
      '__pgt_sum_1',
      '__pgt_sum_3',
    ]);
  });

  it('keeps ±Infinity counters only where the type can hold them (unconstrained numeric, float)', async () => {
    await db.query(`
      CREATE TABLE o4 (id int PRIMARY KEY, g int, n numeric, f float8 NOT NULL, p numeric(6));
      INSERT INTO o4 VALUES (1, 1, 1.5, 1, 1), (2, 1, 'Infinity', 2, 2), (3, 2, '-Infinity', 'Infinity', 'NaN'), (4, 2, NULL, 4, NULL);
    `);
    const st = await run(
      'st_inf',
      'SELECT g, sum(n) AS sn, avg(n) AS an, sum(p) AS sp, avg(p) AS ap, count(*) AS c FROM o4 GROUP BY g',
      [
        "INSERT INTO o4 VALUES (5, 1, '-Infinity', '-Infinity', 3)",
        'DELETE FROM o4 WHERE id = 2',
        "UPDATE o4 SET n = 'NaN' WHERE id = 1",
        'UPDATE o4 SET n = 2.125 WHERE id IN (1, 5)',
        'UPDATE o4 SET p = 4 WHERE id = 3',
        'UPDATE o4 SET g = 1 WHERE g = 2',
      ],
    );
    expect(stateColumns(st)).toEqual([
      '__pgt_nan_1',
      '__pgt_nan_3',
      '__pgt_ninf_1',
      '__pgt_nn_1',
      '__pgt_nn_3',
      '__pgt_pinf_1',
      '__pgt_scale_1',
      '__pgt_sum_1',
      '__pgt_sum_3',
    ]);
    const floats = await maintain(
      db,
      'st_inf_float',
      'SELECT g, sum(f) AS s, avg(f) AS a FROM o4 GROUP BY g',
      {
        floatDigits: 9,
      },
    );
    expect(stateColumns(floats)).toEqual(['__pgt_nan_1', '__pgt_ninf_1', '__pgt_pinf_1', '__pgt_sum_1']);
  });

  it('keeps no state when a call is rescanned (the groups are recomputed)', async () => {
    await db.query(`
      CREATE TABLE o5 (id int PRIMARY KEY, g int, m numeric, s text);
      INSERT INTO o5 VALUES (1, 1, 1.5, 'a'), (2, 1, 2, 'b'), (3, 2, NULL, 'c');
    `);
    const st = await run(
      'st_rescan',
      "SELECT g, sum(m) AS s, avg(m) AS a, string_agg(s, ',' ORDER BY s) AS names FROM o5 GROUP BY g",
      [
        "INSERT INTO o5 VALUES (4, 2, 'NaN', 'd')",
        'UPDATE o5 SET m = 3.125 WHERE id = 1',
        'DELETE FROM o5 WHERE id = 2',
      ],
    );
    expect(stateColumns(st)).toEqual([]);
  });
});

describe('trimmed state under random changes (fast-check)', () => {
  it('a DIFFERENTIAL table with trimmed state equals its query after every batch', async () => {
    await db.query(`
      CREATE TABLE pc (id int PRIMARY KEY, region int NOT NULL);
      CREATE TABLE po (id int PRIMARY KEY, cust int NOT NULL, m numeric(12,2) NOT NULL, v numeric, q int);
      INSERT INTO pc SELECT g, g % 3 FROM generate_series(1, 6) g;
    `);
    const queries = [
      'SELECT cust, count(*) AS n, sum(m) AS s, avg(m) AS a FROM po GROUP BY cust',
      `SELECT c.region, count(*) AS n, sum(o.m) AS s, avg(o.m) AS a, count(o.v) AS cv, sum(o.v) AS sv, avg(o.q) AS aq
         FROM pc AS c LEFT JOIN po AS o ON o.cust = c.id GROUP BY c.region`,
      'SELECT cust, sum(m) FILTER (WHERE q > 2) AS s, count(*) FILTER (WHERE q > 2) AS n, avg(v) AS av FROM po GROUP BY cust',
    ];
    const tables: Maintained[] = [];
    for (const [i, q] of queries.entries()) tables.push(await maintain(db, `st_prop_${i}`, q));
    const special = fc.constantFrom('NULL', "'NaN'", "'Infinity'", "'-Infinity'", '1.5', '-2.25', '0.125');
    const row = fc.record({
      id: fc.integer({ min: 1, max: 30 }),
      cust: fc.integer({ min: 1, max: 7 }),
      m: fc.oneof(
        fc.integer({ min: -500, max: 500 }).map((x) => `${x / 100}`),
        fc.constant("'NaN'"),
      ),
      v: special,
      q: fc.oneof(fc.constant('NULL'), fc.integer({ min: 0, max: 5 }).map(String)),
    });
    const change = fc.oneof(
      row.map(
        (r) =>
          `INSERT INTO po VALUES (${r.id}, ${r.cust}, ${r.m}, ${r.v}, ${r.q}) ON CONFLICT (id) DO UPDATE SET cust = excluded.cust, m = excluded.m, v = excluded.v, q = excluded.q`,
      ),
      fc.integer({ min: 1, max: 30 }).map((id) => `DELETE FROM po WHERE id = ${id}`),
      fc.integer({ min: 1, max: 7 }).map((c) => `UPDATE po SET cust = ${(c % 7) + 1} WHERE cust = ${c}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(change, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
        async (batches) => {
          for (const batch of batches) {
            await db.query(batch.join(';\n'));
            for (const st of tables) {
              await st.refreshAndCheck();
            }
          }
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 8) },
    );
  });
});
