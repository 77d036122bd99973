/**
 * Window functions against the oracle after every refresh (DIFFERENTIAL), each step also checked
 * against a FULL refresh (same rows, same row ids). Functions that depend on the row order within
 * a peer group (row_number, ntile, lag/lead, first/last/nth_value, ROWS frames) are only used with
 * a total window order (ending with the primary key): with ties PostgreSQL picks an arbitrary
 * order, and no table could equal "the" result. Peer-based functions (rank, dense_rank,
 * percent_rank, cume_dist, RANGE/GROUPS frames) are also tested with ties.
 */
import type { IrNode } from '@pgtrickle/dvm';
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';
import { FULL_AGREES_EACH_STEP, immediateScenario, runSteps, verifiedRefresh } from './support/scenario.js';

const db = useTestDatabase();

/** DIFFERENTIAL refresh + oracle, then a FULL refresh must give the same state. */
const step = (st: Maintained) => verifiedRefresh(st, FULL_AGREES_EACH_STEP);

/** The number of common PARTITION BY expressions of the plan's window node. */
function partitionKeyLength(st: Maintained): number | undefined {
  const find = (n: IrNode | null): IrNode | undefined =>
    n === null ? undefined : n.kind === 'window' ? n : n.children.map(find).find((x) => x !== undefined);
  return (find(st.plan.tree) as (IrNode & { partitionKey: unknown[] }) | undefined)?.partitionKey.length;
}

/** A standard sequence of changes on `emp`: every kind of change, on several partitions. */
async function churn(st: Maintained): Promise<void> {
  await runSteps(
    db,
    [st],
    [
      // Insert into an existing partition, a new one and the NULL partition.
      `INSERT INTO emp VALUES (20, 'eng', 150, '2021-03-01', 5), (21, 'ops', 90, '2020-01-01', NULL), (22, NULL, 70, '2019-05-05', 1)`,
      // Rank changes inside a partition.
      [`UPDATE emp SET salary = salary + 200 WHERE id = 2`, `UPDATE emp SET salary = NULL WHERE id = 3`],
      // Rows move between partitions (also into and out of NULL).
      [
        `UPDATE emp SET dept = 'ops' WHERE id = 1`,
        `UPDATE emp SET dept = NULL WHERE id = 4`,
        `UPDATE emp SET dept = 'eng' WHERE id = 22`,
      ],
      // Deletes, a key change, and a row inserted and deleted before the refresh.
      [
        `DELETE FROM emp WHERE id IN (5, 21)`,
        `UPDATE emp SET id = 40 WHERE id = 6`,
        `INSERT INTO emp VALUES (30, 'eng', 1, '2000-01-01', 0)`,
        `DELETE FROM emp WHERE id = 30`,
      ],
      // A whole partition disappears, another appears; ties.
      [
        `DELETE FROM emp WHERE dept = 'ops'`,
        `INSERT INTO emp VALUES (31, 'hr', 100, '2022-01-01', 2), (32, 'hr', 100, '2022-01-01', 2), (33, 'hr', 50, '2022-02-01', NULL)`,
        `UPDATE emp SET salary = 100 WHERE id = 7`,
      ],
    ],
    { initialCheck: true, ...FULL_AGREES_EACH_STEP },
  );
  // Nothing changes: no work.
  const none = await st.refresh();
  expect(none.action).toBe('NO_DATA');
}

const EMP = `
  DROP TABLE IF EXISTS emp;
  CREATE TABLE emp (id int PRIMARY KEY, dept text, salary int, hired date, bonus numeric);
  INSERT INTO emp VALUES
    (1, 'eng', 100, '2020-01-01', 10), (2, 'eng', 120, '2020-02-01', NULL), (3, 'eng', 120, '2020-03-01', 3),
    (4, 'ops', 80, '2020-01-15', 1), (5, 'ops', NULL, '2020-04-01', 2), (6, 'ops', 95, '2021-01-01', 4),
    (7, NULL, 60, '2019-01-01', 5), (8, 'sales', 110, '2020-06-01', 6), (9, 'sales', 105, '2020-06-01', 7);
`;

beforeAll(async () => {
  await db.query(EMP);
});

describe('ranking functions', () => {
  it('row_number, rank, dense_rank, ntile, percent_rank, cume_dist per partition (total order)', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_rank',
      `SELECT id, dept, salary,
              row_number() OVER w AS rn, rank() OVER w AS rk, dense_rank() OVER w AS drk,
              ntile(2) OVER w AS tile, percent_rank() OVER w AS pr, cume_dist() OVER w AS cd
       FROM emp WINDOW w AS (PARTITION BY dept ORDER BY salary DESC NULLS LAST, id)`,
    );
    await churn(st);
  });

  it('peer-based ranking with ties in the window order', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_peers',
      `SELECT id, rank() OVER (PARTITION BY dept ORDER BY salary) AS rk,
              dense_rank() OVER (PARTITION BY dept ORDER BY salary) AS drk,
              percent_rank() OVER (PARTITION BY dept ORDER BY salary) AS pr,
              cume_dist() OVER (PARTITION BY dept ORDER BY salary) AS cd,
              count(*) OVER (PARTITION BY dept ORDER BY salary) AS peers_so_far
       FROM emp`,
    );
    await churn(st);
  });

  it('ranks over the whole input (no PARTITION BY)', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_global',
      `SELECT id, row_number() OVER (ORDER BY salary DESC NULLS FIRST, id) AS rn,
              rank() OVER (ORDER BY dept NULLS FIRST) AS by_dept, sum(salary) OVER () AS total
       FROM emp`,
    );
    await churn(st);
    await db.query(`DELETE FROM emp`);
    await step(st);
    await db.query(`INSERT INTO emp VALUES (1, 'x', 5, '2020-01-01', 1)`);
    await step(st);
  });
});

describe('offset functions and frames', () => {
  it('lag, lead, first_value, last_value, nth_value', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_offsets',
      `SELECT id, lag(salary) OVER o AS prev, lead(salary, 2, -1) OVER o AS next2,
              lag(dept, 1, 'none') OVER (ORDER BY id) AS prev_dept,
              first_value(id) OVER o AS first_id, last_value(id) OVER (o ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_id,
              nth_value(salary, 2) OVER (o ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS second,
              last_value(salary) OVER o AS last_so_far
       FROM emp WINDOW o AS (PARTITION BY dept ORDER BY hired, id)`,
    );
    await churn(st);
  });

  it('aggregates over ROWS, RANGE and GROUPS frames with EXCLUDE', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_frames',
      `SELECT id,
              sum(salary) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS s_rows,
              avg(salary) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) AS a_excl,
              count(*) OVER (PARTITION BY dept ORDER BY salary RANGE BETWEEN 20 PRECEDING AND 10 FOLLOWING) AS c_range,
              max(salary) OVER (PARTITION BY dept ORDER BY salary GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE TIES) AS m_groups,
              sum(salary) OVER (PARTITION BY dept ORDER BY salary RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE GROUP) AS s_group,
              min(bonus) OVER (PARTITION BY dept ORDER BY hired RANGE BETWEEN INTERVAL '60 days' PRECEDING AND CURRENT ROW) AS b_60d,
              sum(salary) FILTER (WHERE salary > 90) OVER (PARTITION BY dept) AS s_big,
              count(bonus) OVER (PARTITION BY dept) AS n_bonus, string_agg(id::text, ',') OVER (PARTITION BY dept ORDER BY id) AS ids
       FROM emp`,
    );
    await churn(st);
  });
});

describe('window definitions', () => {
  it('named windows, OVER w, OVER (w ORDER BY …), chains of named windows', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_named',
      `SELECT id, count(*) OVER p AS n, rank() OVER o AS rk, sum(salary) OVER f AS s2,
              row_number() OVER (p ORDER BY id DESC) AS rn_desc, sum(salary) OVER (o) AS running
       FROM emp
       WINDOW p AS (PARTITION BY dept), o AS (p ORDER BY salary NULLS FIRST, id), f AS (o ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)`,
    );
    await churn(st);
  });

  it('several windows sharing part of their partitioning', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_shared',
      `SELECT id, rank() OVER (PARTITION BY dept ORDER BY salary) AS r1,
              count(*) OVER (PARTITION BY dept, extract(year FROM hired)) AS per_year,
              sum(bonus) OVER (PARTITION BY extract(year FROM hired), dept ORDER BY id) AS b
       FROM emp`,
    );
    expect(partitionKeyLength(st)).toBe(1);
    await churn(st);
  });

  it('windows with different partitionings (the whole input is one partition)', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_mixed',
      `SELECT id, rank() OVER (PARTITION BY dept ORDER BY salary) AS r_dept,
              rank() OVER (PARTITION BY hired ORDER BY salary) AS r_hired
       FROM emp`,
    );
    expect(partitionKeyLength(st)).toBe(0);
    await churn(st);
  });

  it('partitions by an expression, window results inside expressions, one call used twice', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_exprs',
      `SELECT id, coalesce(lag(salary) OVER (PARTITION BY upper(dept) ORDER BY id), 0) + 1 AS prev_plus,
              round(100.0 * salary / sum(salary) OVER (PARTITION BY upper(dept)), 2) AS pct,
              sum(salary) OVER (PARTITION BY upper(dept)) AS total,
              salary > avg(salary) OVER (PARTITION BY upper(dept)) AS above_avg
       FROM emp WHERE id <> 9`,
    );
    await churn(st);
  });

  it('orders by a window function with LIMIT', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_limit',
      `SELECT id, dept, rank() OVER (ORDER BY salary DESC NULLS LAST, id) AS r
       FROM emp ORDER BY rank() OVER (ORDER BY salary DESC NULLS LAST, id) LIMIT 4`,
    );
    await churn(st);
  });

  it('keeps the top 2 per partition (window in a filtered subquery)', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_top_per_dept',
      `SELECT dept, id, salary FROM (
         SELECT dept, id, salary, row_number() OVER (PARTITION BY dept ORDER BY salary DESC NULLS LAST, id) AS rn FROM emp
       ) AS x WHERE rn <= 2`,
    );
    await churn(st);
  });
});

describe('window inputs', () => {
  it('a window over a join, with changes on both sides', async () => {
    await db.query(EMP);
    await db.query(`
      DROP TABLE IF EXISTS depts;
      CREATE TABLE depts (name text PRIMARY KEY, region text);
      INSERT INTO depts VALUES ('eng', 'eu'), ('ops', 'us'), ('sales', 'eu'), ('hr', NULL);
    `);
    const st = await maintain(
      db,
      'w_join',
      `SELECT e.id, d.region, rank() OVER (PARTITION BY d.region ORDER BY e.salary DESC NULLS LAST, e.id) AS r,
              count(*) OVER (PARTITION BY d.region) AS n
       FROM emp e JOIN depts d ON d.name = e.dept`,
    );
    await churn(st);
    await db.query(`UPDATE depts SET region = 'us' WHERE name = 'eng'`);
    await step(st);
    await db.query(`DELETE FROM depts WHERE name = 'sales'`);
    await db.query(`INSERT INTO depts VALUES ('fin', 'apac')`);
    await db.query(
      `INSERT INTO emp VALUES (51, 'fin', 75, '2024-01-01', 0), (52, 'fin', 76, '2024-01-02', 0)`,
    );
    await db.query(`UPDATE emp SET salary = 1 WHERE dept = 'hr'`);
    await step(st);
    await db.query(`UPDATE depts SET region = NULL WHERE name = 'eng'`);
    await db.query(`INSERT INTO emp VALUES (50, 'ops', 10, '2024-01-01', 0)`);
    await step(st);
  });

  it('a window over a keyless source with duplicate rows', async () => {
    await db.query(`
      DROP TABLE IF EXISTS ev;
      CREATE TABLE ev (k text, v int);
      INSERT INTO ev VALUES ('a', 1), ('a', 1), ('a', 2), ('b', NULL), ('b', NULL), ('b', 3);
    `);
    const st = await maintain(
      db,
      'w_keyless',
      `SELECT k, v, row_number() OVER (PARTITION BY k ORDER BY v) AS rn, count(*) OVER (PARTITION BY k) AS n,
              rank() OVER (PARTITION BY k ORDER BY v) AS rk FROM ev`,
    );
    expect(st.plan.uniqueRowIds).toBe(false);
    await st.check();
    await db.query(`INSERT INTO ev VALUES ('a', 1), ('c', 5)`);
    await step(st);
    await db.query(`DELETE FROM ev WHERE ctid = (SELECT min(ctid) FROM ev WHERE k = 'a' AND v = 1)`);
    await step(st);
    await db.query(`UPDATE ev SET k = 'b' WHERE k = 'a' AND v = 2`);
    await db.query(`UPDATE ev SET v = 0 WHERE k = 'b' AND v IS NULL`);
    await step(st);
    await db.query(`INSERT INTO ev VALUES ('a', 1)`);
    await db.query(`DELETE FROM ev WHERE k = 'c'`);
    await db.query(`INSERT INTO ev VALUES ('d', 1)`);
    await db.query(`DELETE FROM ev WHERE k = 'd'`);
    await step(st);
    await db.query(`DELETE FROM ev`);
    await step(st);
    await db.query(`INSERT INTO ev VALUES ('z', 1), ('z', 1)`);
    await step(st);
  });

  it('a window over UNION ALL and over a CTE', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_union',
      `WITH e AS (SELECT id, dept, salary FROM emp WHERE salary IS NOT NULL)
       SELECT src, id, rank() OVER (PARTITION BY src ORDER BY salary, id) AS r, sum(salary) OVER (PARTITION BY dept) AS s
       FROM (SELECT 'e' AS src, id, dept, salary FROM e UNION ALL SELECT 'x' AS src, id, dept, salary * 2 FROM e WHERE dept <> 'eng') AS u`,
    );
    await churn(st);
  });

  it('a window over a subquery with LIMIT', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_over_topn',
      `SELECT id, rank() OVER (ORDER BY salary, id) AS r, lead(id) OVER (ORDER BY salary, id) AS nxt
       FROM (SELECT id, salary FROM emp WHERE salary IS NOT NULL ORDER BY salary DESC, id LIMIT 5) AS t`,
    );
    await churn(st);
  });
});

describe('more window shapes', () => {
  it('a window only in ORDER BY … LIMIT, and windows over a filtered input', async () => {
    await db.query(EMP);
    const a = await maintain(
      db,
      'w_order_only',
      `SELECT id, dept FROM emp ORDER BY rank() OVER (PARTITION BY dept ORDER BY salary DESC NULLS LAST, id), id LIMIT 5`,
    );
    const b = await maintain(
      db,
      'w_filtered',
      `SELECT id, dense_rank() OVER (PARTITION BY dept ORDER BY salary) AS r FROM emp WHERE salary >= 90 AND bonus IS NOT NULL`,
    );
    await churn(a);
    await b.refreshAndCheck();
    await db.query(`UPDATE emp SET salary = 89 WHERE id = 8`);
    await db.query(`UPDATE emp SET bonus = NULL WHERE id = 9`);
    await db.query(`UPDATE emp SET bonus = 1 WHERE bonus IS NULL AND id <> 9`);
    await step(b);
  });

  it('several PARTITION BY columns shared by every window (multi-column keys, NULLs)', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_multikey',
      `SELECT id, row_number() OVER (PARTITION BY dept, bonus IS NULL ORDER BY id) AS rn,
              sum(salary) OVER (PARTITION BY bonus IS NULL, dept) AS s,
              ntile(1 + 1) OVER (PARTITION BY dept, bonus IS NULL ORDER BY hired, id ROWS BETWEEN 1 + 1 PRECEDING AND CURRENT ROW) AS t
       FROM emp`,
    );
    expect(partitionKeyLength(st)).toBe(2);
    await churn(st);
    await db.query(`UPDATE emp SET bonus = NULL WHERE id IN (1, 8)`);
    await step(st);
  });

  it('empties and refills the input', async () => {
    await db.query(EMP);
    const a = await maintain(
      db,
      'w_refill_all',
      `SELECT id, count(*) OVER () AS n, row_number() OVER (ORDER BY id) AS rn FROM emp`,
    );
    const b = await maintain(
      db,
      'w_refill_part',
      `SELECT id, count(*) OVER (PARTITION BY dept) AS n FROM emp`,
    );
    await db.query(`DELETE FROM emp`);
    await step(a);
    await step(b);
    await db.query(`INSERT INTO emp VALUES (1, 'eng', 1, '2020-01-01', 1), (2, NULL, 2, '2020-01-01', 1)`);
    await step(a);
    await step(b);
  });
});

describe('windows over aggregates', () => {
  it('sum(sum(x)) OVER () and rank() OVER (ORDER BY count(*))', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_agg',
      `SELECT dept, sum(salary) AS s, sum(sum(salary)) OVER () AS total,
              rank() OVER (ORDER BY count(*) DESC) AS by_count,
              row_number() OVER (ORDER BY sum(salary) DESC NULLS LAST, dept NULLS LAST) AS rn
       FROM emp GROUP BY dept`,
    );
    await churn(st);
  });

  it('a window partitioned by a group key over a grouped join', async () => {
    await db.query(EMP);
    await db.query(`
      DROP TABLE IF EXISTS depts;
      CREATE TABLE depts (name text PRIMARY KEY, region text);
      INSERT INTO depts VALUES ('eng', 'eu'), ('ops', 'us'), ('sales', 'eu'), ('hr', NULL);
    `);
    const st = await maintain(
      db,
      'w_agg_part',
      `SELECT d.region, extract(year FROM e.hired) AS y, count(*) AS n,
              sum(count(*)) OVER (PARTITION BY d.region ORDER BY extract(year FROM e.hired)) AS running,
              rank() OVER (PARTITION BY d.region ORDER BY sum(e.salary) DESC NULLS LAST) AS rk
       FROM emp e JOIN depts d ON d.name = e.dept
       GROUP BY d.region, extract(year FROM e.hired) HAVING count(*) > 0`,
    );
    await churn(st);
    await db.query(`UPDATE depts SET region = 'us' WHERE name = 'eng'`);
    await step(st);
  });
});

describe('windows with other operators', () => {
  it('DISTINCT over window results', async () => {
    await db.query(EMP);
    const st = await maintain(
      db,
      'w_distinct',
      `SELECT DISTINCT dept, count(*) OVER (PARTITION BY dept) AS n, max(salary) OVER (PARTITION BY dept) AS top FROM emp`,
    );
    await churn(st);
  });

  it('a window over a LEFT JOIN (NULL-extended rows in the partitions)', async () => {
    await db.query(EMP);
    await db.query(`
      DROP TABLE IF EXISTS depts;
      CREATE TABLE depts (name text PRIMARY KEY, region text);
      INSERT INTO depts VALUES ('eng', 'eu'), ('ops', 'us'), ('hr', NULL);
    `);
    const st = await maintain(
      db,
      'w_left',
      `SELECT e.id, d.region, rank() OVER (PARTITION BY d.region ORDER BY e.salary DESC NULLS LAST, e.id) AS r,
              count(d.name) OVER (PARTITION BY d.region) AS matched
       FROM emp e LEFT JOIN depts d ON d.name = e.dept`,
    );
    await churn(st);
    await db.query(`INSERT INTO depts VALUES ('sales', 'eu')`);
    await step(st);
    await db.query(`DELETE FROM depts WHERE name = 'eng'`);
    await step(st);
  });
});

describe('stream tables around windows', () => {
  it('a window over another stream table, and a stream table over a window', async () => {
    await db.query(EMP);
    const up = await maintain(db, 'w_up', `SELECT id, dept, salary FROM emp WHERE salary IS NOT NULL`);
    const mid = await maintain(
      db,
      'w_mid',
      `SELECT id, dept, rank() OVER (PARTITION BY dept ORDER BY salary DESC, id) AS r FROM w_up`,
    );
    const down = await maintain(db, 'w_top', `SELECT dept, id FROM w_mid WHERE r = 1`);
    await runSteps(
      db,
      [up, mid, down],
      [
        `INSERT INTO emp VALUES (20, 'eng', 500, '2021-01-01', 0)`,
        [`UPDATE emp SET dept = 'ops' WHERE id = 20`, `UPDATE emp SET salary = NULL WHERE id = 2`],
        [`DELETE FROM emp WHERE dept = 'ops'`, `UPDATE emp SET salary = 1000 WHERE id = 9`],
      ],
    );
    await mid.refresh('FULL');
    await mid.check();
    await down.refreshAndCheck();
  });
});

describe('transition-table deltas (IMMEDIATE style)', () => {
  it('windows over a table and over a join, one input changing at a time', async () => {
    await db.query(EMP);
    await db.query(`
      DROP TABLE IF EXISTS depts;
      CREATE TABLE depts (name text PRIMARY KEY, region text);
      INSERT INTO depts VALUES ('eng', 'eu'), ('ops', 'us'), ('sales', 'eu'), ('hr', NULL);
    `);
    await immediateScenario(
      db,
      'w_imm',
      `SELECT id, rank() OVER (PARTITION BY dept ORDER BY salary DESC NULLS LAST, id) AS r,
              sum(salary) OVER (PARTITION BY dept) AS s, row_number() OVER (ORDER BY id) AS rn FROM emp`,
      [
        { insert: 'emp', values: `(20, 'eng', 150, '2021-03-01', 5), (21, NULL, 1, '2021-03-01', 5)` },
        { update: 'emp', set: `dept = 'ops'`, where: `id = 1` },
        { update: 'emp', set: `salary = NULL`, where: `dept = 'eng'` },
        { delete: 'emp', where: `dept = 'ops'` },
      ],
    );
    await immediateScenario(
      db,
      'w_imm_join',
      `SELECT e.id, d.region, rank() OVER (PARTITION BY d.region ORDER BY e.salary DESC NULLS LAST, e.id) AS r
       FROM emp e JOIN depts d ON d.name = e.dept`,
      [
        { update: 'depts', set: `region = 'us'`, where: `name = 'eng'` },
        { insert: 'emp', values: `(30, 'sales', 999, '2022-01-01', 1)` },
        { delete: 'depts', where: `name = 'sales'` },
        { update: 'emp', set: `dept = 'hr'`, where: `id IN (2, 3)` },
        { insert: 'depts', values: `('sales', NULL)` },
      ],
    );
  });
});

describe('refusals', () => {
  it('refuses a volatile function in a window', async () => {
    await expect(
      maintain(db, 'w_volatile', 'SELECT id, rank() OVER (ORDER BY random()) FROM emp'),
    ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED', message: expect.stringContaining('random') });
  });

  it('refuses a subquery inside a window function call', async () => {
    await expect(
      maintain(db, 'w_sub', 'SELECT id, sum((SELECT 1)) OVER (ORDER BY id) FROM emp'),
    ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED', message: expect.stringContaining('window function') });
  });

  it('falls back to FULL in AUTO for a refused window, and FULL maintains it', async () => {
    await db.query(EMP);
    const st = await maintain(db, 'w_auto', 'SELECT id, sum((SELECT 1)) OVER (ORDER BY id) AS s FROM emp', {
      mode: 'AUTO',
    });
    expect(st.plan.mode).toBe('FULL');
    await db.query(`INSERT INTO emp VALUES (60, 'eng', 1, '2020-01-01', 0)`);
    await st.refresh('FULL');
    await st.check();
  });
});
