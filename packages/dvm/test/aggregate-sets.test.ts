/**
 * GROUPING SETS / ROLLUP / CUBE: one aggregation per grouping set, GROUPING() values, NULL data
 * keys kept apart from "not grouped" NULLs, repeated sets (and GROUP BY DISTINCT), with the
 * algebraic root rule, the rescan root rule (HAVING, string_agg) and the non-root rule. The oracle
 * runs after every refresh; a FULL refresh must agree.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';
import { AGGREGATE_SCENARIO, scenario as runScenario } from './support/scenario.js';

const db = useTestDatabase();

/** The aggregate scenario ({@link AGGREGATE_SCENARIO}): every step checked by the oracle and text-exact. */
const scenario = (name: string, query: string, steps: readonly string[]): Promise<Maintained> =>
  runScenario(db, name, query, steps, AGGREGATE_SCENARIO);

const steps = (t: string): string[] => [
  `INSERT INTO ${t} VALUES (100, 'eu', 'rome', 5, 1.5), (101, 'asia', 'tokyo', 1, 2)`,
  `UPDATE ${t} SET amount = amount + 1 WHERE id = 1`,
  `UPDATE ${t} SET region = 'us' WHERE id = 2`,
  `INSERT INTO ${t} VALUES (102, NULL, NULL, 3, 3), (103, 'eu', NULL, NULL, NULL)`,
  `DELETE FROM ${t} WHERE id = 101`,
  `INSERT INTO ${t} VALUES (104, 'x', 'y', 1, 1); DELETE FROM ${t} WHERE id = 104`,
  `UPDATE ${t} SET city = NULL WHERE id = 3`,
  `DELETE FROM ${t} WHERE region = 'eu'`,
  `DELETE FROM ${t}`,
  `INSERT INTO ${t} VALUES (200, NULL, 'c', 1, 1)`,
];

async function table(name: string): Promise<void> {
  await db.query(`
    CREATE TABLE ${name} (id int PRIMARY KEY, region text, city text, amount int, w numeric);
    INSERT INTO ${name} VALUES (1, 'eu', 'paris', 10, 1), (2, 'eu', 'berlin', 20, 2.5), (3, 'us', 'nyc', 7, NULL),
                              (4, 'us', 'nyc', 3, 4), (5, NULL, 'lima', 1, 1), (6, 'eu', NULL, 2, 0.5);
  `);
}

beforeAll(async () => {
  await table('s1');
  await table('s2');
  await table('s3');
  await table('s4');
  await table('s5');
  await table('s6');
  await table('s7');
});

describe('grouping sets', () => {
  it('maintains ROLLUP with GROUPING() (algebraic)', async () => {
    await scenario(
      'st_rollup',
      `SELECT region, city, GROUPING(region, city) AS gr, GROUPING(city) AS gc, count(*) AS n, sum(amount) AS s, avg(w) AS a, min(amount) AS lo, max(w) AS hi
       FROM s1 GROUP BY ROLLUP (region, city)`,
      steps('s1'),
    );
  });

  it('maintains CUBE and explicit GROUPING SETS with repeated sets and GROUP BY DISTINCT', async () => {
    await scenario(
      'st_cube',
      `SELECT region, city, GROUPING(region, city) AS g, count(amount) AS n, sum(w) AS s FROM s2 GROUP BY CUBE (region, city)`,
      steps('s2'),
    );
    await scenario(
      'st_sets_dup',
      `SELECT region, city, GROUPING(region) AS g, count(*) AS n FROM s6 GROUP BY GROUPING SETS ((region), (region), (city, region), ())`,
      steps('s6'),
    );
    await scenario(
      'st_sets_distinct',
      `SELECT region, city, count(*) AS n FROM s7 GROUP BY DISTINCT ROLLUP (region), CUBE (region, city)`,
      steps('s7'),
    );
  });

  it('combines plain keys with ROLLUP (cross product) and ordinals / names inside sets', async () => {
    await scenario(
      'st_cross',
      `SELECT upper(region) AS r, city, amount % 2 AS odd, count(*) AS n, sum(amount) AS s
       FROM s3 GROUP BY upper(region), ROLLUP (2, odd)`,
      steps('s3'),
    );
  });

  it('maintains grouping sets with HAVING and with rescanned aggregates', async () => {
    await scenario(
      'st_sets_having',
      `SELECT region, city, GROUPING(region, city) AS g, count(*) AS n, string_agg(city, ',' ORDER BY city) AS cities
       FROM s4 GROUP BY GROUPING SETS ((region, city), (region), ()) HAVING count(*) > 1 OR GROUPING(region) = 1`,
      steps('s4'),
    );
  });

  it('maintains grouping sets below a join (non-root rule)', async () => {
    await scenario(
      'st_sets_sub',
      `SELECT x.region, x.g, x.n, r.label FROM (SELECT region, GROUPING(region) AS g, count(*) AS n, max(amount) AS hi FROM s5 GROUP BY ROLLUP (region)) x
       JOIN (VALUES (0, 'per region'), (1, 'total')) AS r(g, label) ON r.g = x.g WHERE x.n > 0`,
      steps('s5'),
    );
  });

  it('refuses more grouping sets than it maintains (PGT_UNSUPPORTED), AUTO falls back to FULL', async () => {
    const q = `SELECT count(*) AS n FROM s1 GROUP BY CUBE (id, region, city, amount, w), CUBE (id % 2, id % 3, id % 5, id % 7)`;
    await expect(maintain(db, 'st_many_sets', q)).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
      message: expect.stringMatching(/512 grouping sets/),
    });
    const auto = await maintain(db, 'st_many_sets_auto', q, { mode: 'AUTO' });
    expect(auto.plan.mode).toBe('FULL');
    await auto.check();
  });

  it('keeps a data NULL apart from a not-grouped NULL (distinct row ids)', async () => {
    const st = await maintain(
      db,
      'st_nullkeys',
      `SELECT region, GROUPING(region) AS g, count(*) AS n FROM s1 GROUP BY ROLLUP (region)`,
    );
    await db.query(`INSERT INTO s1 VALUES (300, NULL, 'q', 1, 1), (301, 'zz', 'q', 1, 1)`);
    await st.refreshAndCheck();
    const ids = await db.query<{ n: string; d: string }>(
      `SELECT count(*) AS n, count(DISTINCT __pgt_row_id) AS d FROM st_nullkeys`,
    );
    expect(ids.rows[0]?.n).toBe(ids.rows[0]?.d);
    const nulls = await db.query(`SELECT g FROM st_nullkeys WHERE region IS NULL ORDER BY g`);
    expect(nulls.rows).toEqual([{ g: 0 }, { g: 1 }]);
  });
});
