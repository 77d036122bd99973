/**
 * Aggregates composed with other parts of the system: window functions, top-N and DISTINCT over
 * aggregates (the post-grouping hooks), aggregates over outer joins, EXISTS and UNION ALL, LATERAL
 * and correlated aggregate subqueries, a stream table reading an aggregate stream table, and the
 * transition-table (IMMEDIATE) delta source. The oracle runs after every refresh.
 */
import { compileStreamTable } from '@pgtrickle/dvm';
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { maintain, portFor } from './support/maintained.js';
import { applyTransition, runSteps, scenario, type TransitionStep } from './support/scenario.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE t (id int PRIMARY KEY, g text, x int);
    CREATE TABLE u (g text PRIMARY KEY, label text);
    INSERT INTO t VALUES (1, 'a', 1), (2, 'a', 2), (3, 'b', 5), (4, NULL, 7), (5, 'c', 1);
    INSERT INTO u VALUES ('a', 'A'), ('b', 'B');
  `);
});

const queries: [string, string][] = [
  ['win_rank', `SELECT g, sum(x) AS s, rank() OVER (ORDER BY sum(x) DESC) AS r FROM t GROUP BY g`],
  ['win_total', `SELECT g, sum(sum(x)) OVER () AS tot, count(*) AS n FROM t GROUP BY g`],
  ['top_n', `SELECT g, count(*) AS n FROM t GROUP BY g ORDER BY count(*) DESC, g LIMIT 2`],
  ['top_hidden', `SELECT g FROM t GROUP BY g ORDER BY sum(x) DESC, g LIMIT 2`],
  ['top_named', `SELECT g AS grp, count(*) AS n FROM t GROUP BY grp ORDER BY n DESC, grp LIMIT 1`],
  ['distinct', `SELECT DISTINCT count(*) AS n FROM t GROUP BY g`],
  ['distinct_on', `SELECT DISTINCT ON (count(*)) g, count(*) AS n FROM t GROUP BY g ORDER BY count(*), g`],
  [
    'left_join',
    `SELECT t.g, u.label, count(*) AS n, sum(t.x) AS s FROM t LEFT JOIN u ON u.g = t.g GROUP BY t.g, u.label`,
  ],
  ['exists', `SELECT g, count(*) AS n FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.g = t.g) GROUP BY g`],
  ['union_all', `SELECT g, count(*) AS n FROM t GROUP BY g UNION ALL SELECT 'total', count(*) FROM t`],
  [
    'lateral',
    `SELECT u.g, s.n, s.m FROM u CROSS JOIN LATERAL (SELECT count(*) AS n, max(x) AS m FROM t WHERE t.g = u.g) s`,
  ],
  ['scalar', `SELECT u.g, (SELECT count(*) FROM t WHERE t.g = u.g) AS n FROM u`],
];

describe('aggregates with other operators', () => {
  queries.forEach(([name, query], i) => {
    it(`maintains ${name}`, async () => {
      await scenario(
        db,
        `st_${name}`,
        query,
        [
          [
            `INSERT INTO t VALUES (${100 + i}, 'b', 3), (${200 + i}, 'd', 1)`,
            `UPDATE t SET x = x + 1 WHERE id = 1`,
          ],
          [
            `UPDATE u SET label = label || '!' WHERE g = 'a'; INSERT INTO u VALUES ('q${i}', 'Q')`,
            `DELETE FROM t WHERE id = ${200 + i}`,
          ],
        ],
        { expectDifferential: true, end: {} },
      );
    });
  });

  it('feeds a stream table that aggregates an aggregate stream table', async () => {
    await db.query(`
      CREATE TABLE src (id int PRIMARY KEY, g text, v int);
      INSERT INTO src VALUES (1, 'a', 1), (2, 'a', 2), (3, 'b', 3);
    `);
    const up = await maintain(db, 'st_up', `SELECT g, count(*) AS n, sum(v) AS s FROM src GROUP BY g`);
    const down = await maintain(
      db,
      'st_down',
      `SELECT n, count(*) AS groups, sum(s) AS total FROM st_up GROUP BY n`,
    );
    expect(down.plan.mode).toBe('DIFFERENTIAL');
    await runSteps(
      db,
      [up, down],
      [
        `INSERT INTO src VALUES (4, 'b', 4), (5, 'c', 5)`,
        `UPDATE src SET g = 'c' WHERE id = 1`,
        `DELETE FROM src WHERE g = 'b'`,
      ],
    );
  });
});

describe('transition-table deltas (IMMEDIATE)', () => {
  it('applies one statement’s transition tables to root and inner aggregates', async () => {
    await db.query(`
      CREATE TABLE im_o (id int PRIMARY KEY, c int, amount numeric);
      CREATE TABLE im_c (id int PRIMARY KEY, tier text);
      INSERT INTO im_c VALUES (1, 'gold'), (2, 'silver'), (3, 'gold');
      INSERT INTO im_o VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7);
    `);
    const queries = [
      `SELECT c.tier, count(*) AS n, sum(o.amount) AS s, max(o.amount) AS hi, string_agg(o.id::text, ',' ORDER BY o.id) AS ids FROM im_o o JOIN im_c c ON c.id = o.c GROUP BY c.tier`,
      `SELECT o.id, t.n FROM im_o o JOIN im_c c ON c.id = o.c JOIN (SELECT tier, count(*) AS n FROM im_c GROUP BY tier) t ON t.tier = c.tier`,
    ];
    const tables = [];
    for (const [i, query] of queries.entries()) {
      const st = await maintain(db, `st_im${i}`, query, { mode: 'IMMEDIATE' });
      expect(st.plan.mode).toBe('IMMEDIATE');
      tables.push(st);
    }
    const steps: TransitionStep[] = [
      { update: 'im_o', set: 'amount = amount * 3', where: 'id IN (1, 3)' },
      { delete: 'im_o', where: 'id = 1' },
      { insert: 'im_o', values: '(4, 2, 1), (5, 3, 100)' },
    ];
    for (const step of steps) await applyTransition(db, tables, step);
    // The plan compiles against the catalog again the same way.
    const again = await compileStreamTable(queries[0] as string, portFor(db), {
      name: { schema: 'public', name: 'st_im_again' },
      refreshMode: 'IMMEDIATE',
    });
    expect(again.hiddenColumns).toEqual(tables[0]?.plan.hiddenColumns);
  });
});
