/**
 * UNION, INTERSECT [ALL], EXCEPT [ALL] maintained DIFFERENTIAL against the oracle after every
 * step (and a FULL table, and the storage — row ids, hidden counts — against a fresh population):
 * duplicates inside one input and across inputs, NULLs (equal to each other), rows moving between
 * inputs, counts going to zero and back, three branches, nesting and precedence, type resolution
 * across inputs (int / bigint / numeric), set operations over joins, with CTEs, under a
 * projection and below a join, constant branches.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { maintain } from './support/maintained.js';
import { immediateScenario, multisetScenario, runSteps } from './support/scenario.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE ta (id int PRIMARY KEY, x int, y text);
    CREATE TABLE tb (id int PRIMARY KEY, x int, y text);
    CREATE TABLE tc (id int PRIMARY KEY, x bigint, y text);
    CREATE TABLE tn (id int PRIMARY KEY, x numeric, y text);
    CREATE TABLE ka (x int, y text);
    CREATE TABLE kb (x int, y text);
    INSERT INTO ta VALUES (1, 1, 'a'), (2, 1, 'a'), (3, 2, 'b'), (4, NULL, NULL), (5, 3, NULL);
    INSERT INTO tb VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 2, 'b'), (4, NULL, NULL), (5, 4, 'd');
    INSERT INTO tc VALUES (1, 1, 'a'), (2, 5, 'e'), (3, 5000000000, 'big');
    INSERT INTO tn VALUES (1, 1.0, 'a'), (2, 2.50, 'b'), (3, 4.000, 'd');
    INSERT INTO ka VALUES (1, 'a'), (1, 'a'), (1, 'a'), (2, 'b'), (NULL, NULL), (NULL, NULL), (3, 'c');
    INSERT INTO kb VALUES (1, 'a'), (2, 'b'), (2, 'b'), (NULL, NULL), (4, 'd');
    CREATE TABLE customers (id int PRIMARY KEY, name text, tier text);
    CREATE TABLE orders (id int PRIMARY KEY, customer int, region text);
    INSERT INTO customers VALUES (1, 'ann', 'gold'), (2, 'bob', NULL), (3, 'cy', 'silver');
    INSERT INTO orders VALUES (1, 1, 'eu'), (2, 1, 'us'), (3, 2, 'eu'), (4, 3, NULL);
    CREATE TABLE t1 (id int PRIMARY KEY, ts timestamp);
    CREATE TABLE t2 (id int PRIMARY KEY, ts timestamptz);
    INSERT INTO t1 VALUES (1, '2024-01-01 00:00'), (2, '2024-01-02 00:00');
    INSERT INTO t2 VALUES (1, '2024-01-01 00:00+00'), (2, '2024-01-03 00:00+00');
  `);
});

/** DML on the keyless tables: duplicates in and across inputs, NULLs, moves, zero and back. */
const keylessSteps = [
  `DELETE FROM ka WHERE ctid = (SELECT min(ctid) FROM ka WHERE x = 1)`,
  `INSERT INTO kb VALUES (1, 'a'), (1, 'a'), (1, 'a')`,
  `DELETE FROM kb WHERE x = 2`,
  [`INSERT INTO ka VALUES (2, 'b')`, `INSERT INTO kb VALUES (2, 'b')`],
  `DELETE FROM ka WHERE x IS NULL`,
  `INSERT INTO ka VALUES (NULL, NULL)`,
  `UPDATE ka SET x = 4, y = 'd' WHERE x = 3`,
  [`DELETE FROM ka WHERE x = 1`, `INSERT INTO kb VALUES (5, 'e')`],
  [`INSERT INTO ka VALUES (1, 'a'), (1, 'a'), (5, 'e')`, `DELETE FROM kb WHERE x = 1`],
  [`INSERT INTO ka VALUES (9, 'z')`, `INSERT INTO kb VALUES (9, 'z')`, `DELETE FROM ka WHERE x = 9`],
  `UPDATE kb SET y = NULL WHERE x = 4`,
  `DELETE FROM kb`,
  `INSERT INTO kb SELECT * FROM ka`,
];

describe('UNION', () => {
  it('two keyed tables: duplicates within and across inputs, rows moving between inputs', async () => {
    await multisetScenario(db, 'st_u_keyed', 'SELECT x, y FROM ta UNION SELECT x, y FROM tb', [
      `DELETE FROM ta WHERE id = 1`,
      `DELETE FROM ta WHERE id = 2`,
      `DELETE FROM tb WHERE id = 1`,
      `INSERT INTO tb VALUES (1, 1, 'a')`,
      [`DELETE FROM ta WHERE id = 5`, `INSERT INTO tb VALUES (6, 3, NULL)`],
      `UPDATE tb SET x = 7 WHERE id = 6`,
      `UPDATE ta SET y = 'B' WHERE x = 2`,
      [`INSERT INTO ta VALUES (9, 9, 'z')`, `DELETE FROM ta WHERE id = 9`],
      `DELETE FROM tb WHERE x IS NULL`,
      `DELETE FROM ta WHERE x IS NULL`,
      `INSERT INTO ta VALUES (4, NULL, NULL)`,
      [`INSERT INTO ta VALUES (1, 1, 'a'), (2, 1, 'a'), (5, 3, NULL)`, `UPDATE ta SET y = 'b' WHERE x = 2`],
    ]);
  });

  it('keyless inputs', async () => {
    await multisetScenario(db, 'st_u_keyless', 'SELECT x, y FROM ka UNION SELECT x, y FROM kb', keylessSteps);
  });

  it('three branches with int / bigint / numeric type resolution', async () => {
    await multisetScenario(
      db,
      'st_u_three',
      'SELECT x, y FROM ta UNION SELECT x, y FROM tb UNION SELECT x, y FROM tc',
      [
        `INSERT INTO tc VALUES (4, 1, 'a'), (5, 2, 'b')`,
        `DELETE FROM ta WHERE x = 1`,
        `DELETE FROM tb WHERE x = 1`,
        `DELETE FROM tc WHERE x = 1`,
        `UPDATE tc SET x = 6000000000 WHERE id = 3`,
        `INSERT INTO ta VALUES (1, 1, 'a')`,
      ],
    );
    await multisetScenario(db, 'st_u_numeric', 'SELECT x FROM ta UNION SELECT x FROM tn', [
      `INSERT INTO tn VALUES (4, 1.00, 'q'), (5, 3.0, 'r')`,
      `DELETE FROM ta WHERE x = 1`,
      `DELETE FROM tn WHERE id = 1`,
      `DELETE FROM tn WHERE id = 4`,
      `UPDATE tn SET x = 2.0 WHERE id = 5`,
    ]);
  });

  it('UNION ALL then UNION, UNION of a parenthesised UNION, UNION inside UNION ALL', async () => {
    await multisetScenario(
      db,
      'st_u_all_then',
      'SELECT x FROM ta UNION ALL SELECT x FROM tb UNION SELECT x FROM tc',
      [
        `INSERT INTO ta VALUES (20, 20, 't')`,
        `INSERT INTO tb VALUES (20, 20, 't')`,
        `DELETE FROM ta WHERE id = 20`,
        `DELETE FROM tb WHERE id = 20`,
      ],
    );
    await multisetScenario(
      db,
      'st_u_right',
      'SELECT x FROM ta UNION (SELECT x FROM tb UNION SELECT x FROM tc)',
      [
        `INSERT INTO tc VALUES (21, 21, 't')`,
        `UPDATE tb SET x = 21 WHERE id = 5`,
        `DELETE FROM tc WHERE id = 21`,
      ],
    );
    await multisetScenario(
      db,
      'st_u_in_all',
      '(SELECT x FROM ta UNION SELECT x FROM tb) UNION ALL SELECT x FROM tc',
      [
        `INSERT INTO ta VALUES (22, 5, 'q')`,
        `DELETE FROM tb WHERE x = 2`,
        `INSERT INTO tb VALUES (30, 2, 'b')`,
      ],
    );
  });

  it('over joins, with CTEs and constant branches', async () => {
    await multisetScenario(
      db,
      'st_u_join',
      `SELECT c.name, o.region FROM customers c JOIN orders o ON o.customer = c.id
       UNION SELECT c.name, c.tier FROM customers c`,
      [
        `INSERT INTO orders VALUES (5, 3, 'silver')`,
        `UPDATE customers SET tier = 'eu' WHERE id = 2`,
        `DELETE FROM orders WHERE id = 3`,
        `UPDATE customers SET name = 'ANN' WHERE id = 1`,
        `DELETE FROM orders WHERE id = 5`,
      ],
    );
    await multisetScenario(
      db,
      'st_u_cte',
      `WITH big AS (SELECT x, y FROM ta WHERE x > 1), small AS (SELECT x, y FROM tb WHERE x <= 2)
       SELECT * FROM big UNION SELECT * FROM small UNION SELECT 100, 'const'`,
      [
        `UPDATE ta SET x = 0 WHERE x = 2`,
        `UPDATE tb SET x = 100, y = 'const' WHERE id = 5`,
        `INSERT INTO ta VALUES (40, 100, 'const')`,
        `UPDATE tb SET x = 1 WHERE id = 5`,
      ],
    );
  });

  it('below a join and under a projection', async () => {
    await multisetScenario(
      db,
      'st_u_below',
      `SELECT u.x, c.name FROM (SELECT x FROM ta UNION SELECT x FROM tb) AS u JOIN customers c ON c.id = u.x`,
      [
        `INSERT INTO ta VALUES (50, 3, 'w')`,
        `DELETE FROM ta WHERE x = 3`,
        `DELETE FROM tb WHERE x = 1`,
        `INSERT INTO customers VALUES (4, 'di', NULL)`,
        `UPDATE tb SET x = 4 WHERE id = 5`,
      ],
    );
    await multisetScenario(
      db,
      'st_u_proj',
      `SELECT u.x * 10 AS tens, upper(u.y) AS uy FROM (SELECT x, y FROM ka UNION SELECT x, y FROM kb) AS u`,
      keylessSteps.slice(0, 6),
    );
  });
});

describe('INTERSECT and EXCEPT', () => {
  for (const op of ['INTERSECT', 'INTERSECT ALL', 'EXCEPT', 'EXCEPT ALL']) {
    const tag = op.toLowerCase().replace(' ', '_');
    it(`${op} of keyless inputs with duplicates and NULLs`, async () => {
      await db.query(`TRUNCATE ka, kb`);
      await db.query(`INSERT INTO ka VALUES (1, 'a'), (1, 'a'), (1, 'a'), (2, 'b'), (NULL, NULL), (NULL, NULL), (3, 'c');
                      INSERT INTO kb VALUES (1, 'a'), (2, 'b'), (2, 'b'), (NULL, NULL), (4, 'd')`);
      const st = await multisetScenario(
        db,
        `st_${tag}_keyless`,
        `SELECT x, y FROM ka ${op} SELECT x, y FROM kb`,
        keylessSteps,
      );
      expect(st.plan.uniqueRowIds).toBe(!op.endsWith('ALL'));
    });

    it(`${op} of keyed inputs, rows moving between inputs`, async () => {
      await db.query(`TRUNCATE ta, tb`);
      await db.query(`INSERT INTO ta VALUES (1, 1, 'a'), (2, 1, 'a'), (3, 2, 'b'), (4, NULL, NULL), (5, 3, NULL);
                      INSERT INTO tb VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 2, 'b'), (4, NULL, NULL), (5, 4, 'd')`);
      await multisetScenario(db, `st_${tag}_keyed`, `SELECT x, y FROM ta ${op} SELECT x, y FROM tb`, [
        `INSERT INTO tb VALUES (60, 1, 'a'), (61, 1, 'a')`,
        [`DELETE FROM ta WHERE x = 2`, `INSERT INTO tb VALUES (62, 2, 'b')`],
        [`DELETE FROM tb WHERE id = 62`, `INSERT INTO ta VALUES (62, 2, 'b')`],
        `UPDATE ta SET x = 4, y = 'd'`,
        `UPDATE ta SET x = 1, y = 'a' WHERE id IN (SELECT id FROM ta ORDER BY id LIMIT 2)`,
        `DELETE FROM tb WHERE x = 1`,
        `UPDATE tb SET y = NULL, x = NULL WHERE x = 4`,
        [
          `INSERT INTO ta VALUES (63, 7, 'q')`,
          `INSERT INTO tb VALUES (63, 7, 'q')`,
          `DELETE FROM ta WHERE id = 63`,
        ],
      ]);
    });
  }

  it('type resolution: int INTERSECT bigint, int EXCEPT numeric', async () => {
    await multisetScenario(db, 'st_i_types', 'SELECT x FROM ta INTERSECT SELECT x FROM tc', [
      `INSERT INTO tc VALUES (70, 4, 'x')`,
      `UPDATE tc SET x = 5000000001 WHERE id = 70`,
      `INSERT INTO ta VALUES (70, 5, 'e')`,
    ]);
    await multisetScenario(db, 'st_e_types', 'SELECT x FROM tn EXCEPT ALL SELECT x FROM ta', [
      `INSERT INTO tn VALUES (71, 4.00, 'x'), (72, 4, 'x')`,
      `UPDATE ta SET x = 4 WHERE id = (SELECT min(id) FROM ta)`,
      `DELETE FROM tn WHERE id = 3`,
    ]);
  });

  it('integer with numeric: values of opposite signs (and NaN / ±Infinity) are different rows', async () => {
    // numeric's hash ignores the sign: a row id over the numeric output column must not, or the
    // FULL refresh (one row per id) keeps a left-only -1 as if the right's 1 matched it.
    await db.query(`CREATE TABLE sa (id int PRIMARY KEY, k int, v int); CREATE TABLE sn (k int, n numeric)`);
    const reset = `TRUNCATE sa, sn; INSERT INTO sa VALUES (1, 0, 0); INSERT INTO sn VALUES (0, 1), (0, 1)`;
    const steps = [
      `UPDATE sa SET v = v - 1`,
      `UPDATE sa SET v = NULL`,
      [`INSERT INTO sa VALUES (2, 0, 1), (3, 0, -2)`, `INSERT INTO sn VALUES (0, 2), (0, -1)`],
      `UPDATE sn SET n = -n`,
      `INSERT INTO sn VALUES (1, 'NaN'), (1, 'Infinity'), (1, '-Infinity')`,
      `DELETE FROM sn WHERE n = 'Infinity'`,
      `UPDATE sa SET v = -v`,
    ];
    for (const op of ['INTERSECT', 'EXCEPT', 'UNION']) {
      const tag = op.toLowerCase();
      await db.query(reset);
      await multisetScenario(db, `st_sign_${tag}`, `SELECT k, v FROM sa ${op} SELECT k, n FROM sn`, steps);
      await db.query(reset);
      await multisetScenario(db, `st_sign_${tag}_r`, `SELECT k, n FROM sn ${op} SELECT k, v FROM sa`, steps);
    }
  });

  it('nesting and precedence: a UNION b INTERSECT c, (a UNION b) EXCEPT c, a EXCEPT b EXCEPT ALL c', async () => {
    await multisetScenario(
      db,
      'st_nest_1',
      'SELECT x FROM ta UNION SELECT x FROM tb INTERSECT SELECT x FROM tc',
      [
        `INSERT INTO tc VALUES (80, 2, 'b')`,
        `DELETE FROM tb WHERE x = 2`,
        `INSERT INTO tb VALUES (80, 5, 'e')`,
      ],
    );
    await multisetScenario(
      db,
      'st_nest_2',
      '(SELECT x FROM ta UNION SELECT x FROM tb) EXCEPT SELECT x FROM tc',
      [
        `INSERT INTO tc VALUES (81, 4, 'd')`,
        `DELETE FROM tc WHERE x = 5`,
        `INSERT INTO ta VALUES (81, 5, 'e')`,
      ],
    );
    await multisetScenario(
      db,
      'st_nest_3',
      'SELECT x FROM ka EXCEPT SELECT x FROM kb EXCEPT ALL SELECT x FROM tc',
      [
        `INSERT INTO ka VALUES (5, 'e'), (6, 'f')`,
        `DELETE FROM kb WHERE x = 1`,
        `INSERT INTO tc VALUES (82, 6, 'f')`,
      ],
    );
    await multisetScenario(
      db,
      'st_nest_4',
      'SELECT x FROM ka INTERSECT ALL (SELECT x FROM kb UNION ALL SELECT x FROM tb)',
      [
        `INSERT INTO kb VALUES (1, 'a'), (1, 'a')`,
        `DELETE FROM tb WHERE x = 1`,
        `DELETE FROM ka WHERE x = 1`,
      ],
    );
  });

  it('over joins, with CTEs, under a projection and below a join', async () => {
    await multisetScenario(
      db,
      'st_i_join',
      `SELECT c.id FROM customers c JOIN orders o ON o.customer = c.id WHERE o.region = 'eu'
       INTERSECT SELECT c.id FROM customers c JOIN orders o ON o.customer = c.id WHERE o.region = 'us'`,
      [
        `INSERT INTO orders VALUES (10, 2, 'us')`,
        `UPDATE orders SET region = 'eu' WHERE id = 2`,
        `UPDATE orders SET region = 'us' WHERE id = 1`,
        `DELETE FROM customers WHERE id = 2`,
      ],
    );
    await multisetScenario(
      db,
      'st_e_cte',
      `WITH named AS (SELECT name FROM customers), ordered AS (SELECT c.name FROM customers c JOIN orders o ON o.customer = c.id)
       SELECT name FROM named EXCEPT SELECT name FROM ordered`,
      [
        `INSERT INTO customers VALUES (5, 'ed', NULL)`,
        `INSERT INTO orders VALUES (11, 5, 'eu')`,
        `DELETE FROM orders WHERE customer = 1`,
        `UPDATE customers SET name = 'cy' WHERE id = 5`,
      ],
    );
    await multisetScenario(
      db,
      'st_e_proj',
      `SELECT s.x + 1 AS x1 FROM (SELECT x FROM ka EXCEPT ALL SELECT x FROM kb) AS s`,
      keylessSteps.slice(0, 5),
    );
    await multisetScenario(
      db,
      'st_i_below',
      `SELECT c.name, s.x FROM (SELECT x FROM ta INTERSECT SELECT x FROM tb) AS s JOIN customers c ON c.id = s.x`,
      [
        `INSERT INTO tb VALUES (90, 3, 'c')`,
        `DELETE FROM ta WHERE x = 3`,
        `INSERT INTO ta VALUES (90, 3, 'c')`,
      ],
    );
  });
});

describe('more set-operation shapes', () => {
  it('timestamp UNION timestamptz, SELECT DISTINCT as a UNION input', async () => {
    await multisetScenario(db, 'st_u_ts', 'SELECT ts FROM t1 UNION SELECT ts FROM t2', [
      `DELETE FROM t1 WHERE id = 1`,
      `DELETE FROM t2 WHERE id = 1`,
      `INSERT INTO t2 VALUES (3, '2024-01-02 00:00+00')`,
      `DELETE FROM t1`,
    ]);
    await multisetScenario(db, 'st_u_distinct_input', 'SELECT DISTINCT x FROM ka UNION SELECT x FROM tb', [
      `INSERT INTO ka VALUES (77, 'q'), (77, 'r')`,
      `INSERT INTO tb VALUES (77, 77, 'q')`,
      `DELETE FROM ka WHERE x = 77`,
      `DELETE FROM tb WHERE id = 77`,
    ]);
  });

  it('transition-table deltas (IMMEDIATE style), changes on one input at a time', async () => {
    for (const op of ['UNION', 'INTERSECT', 'INTERSECT ALL', 'EXCEPT', 'EXCEPT ALL']) {
      const tag = op.toLowerCase().replace(' ', '_');
      await immediateScenario(db, `st_imm_${tag}`, `SELECT x, y FROM ka ${op} SELECT x, y FROM kb`, [
        { insert: 'ka', values: `(1, 'a'), (1, 'a'), (8, 'h')` },
        { insert: 'kb', values: `(8, 'h'), (1, 'a')` },
        { delete: 'kb', where: `x = 1` },
        { update: 'ka', set: `y = 'H'`, where: `x = 8` },
        { delete: 'ka', where: `x IS NULL` },
        { insert: 'kb', values: `(NULL, NULL)` },
      ]);
    }
    // A branch that does not read the changed table.
    await immediateScenario(
      db,
      'st_imm_three',
      'SELECT x FROM ka EXCEPT SELECT x FROM kb UNION SELECT x FROM tc',
      [
        { insert: 'tc', values: `(500, 8, 'h')` },
        { delete: 'tc', where: `id = 500` },
        { insert: 'ka', values: `(501, 'z')` },
      ],
    );
  });

  it('a stream table reading an INTERSECT ALL stream table (non-unique ids upstream)', async () => {
    const up = await maintain(db, 'st_up_iall', 'SELECT x, y FROM ka INTERSECT ALL SELECT x, y FROM kb');
    const down = await maintain(db, 'st_down_iall', 'SELECT x FROM st_up_iall WHERE x IS NOT NULL');
    await runSteps(
      db,
      [up, down],
      [
        `INSERT INTO ka VALUES (600, 'p'), (600, 'p'), (600, 'p')`,
        `INSERT INTO kb VALUES (600, 'p'), (600, 'p')`,
        `DELETE FROM ka WHERE x = 600 AND ctid = (SELECT min(ctid) FROM ka WHERE x = 600)`,
        `DELETE FROM kb WHERE x = 600`,
      ],
    );
  });
});

describe('untyped literals in set-operation inputs', () => {
  it('take the type PostgreSQL resolves for the operation (NULL, strings), UNION ALL included', async () => {
    await multisetScenario(db, 'st_lit_all', `SELECT x, y FROM ta UNION ALL SELECT NULL, 'n'`, [
      `INSERT INTO ta VALUES (1000, NULL, 'n')`,
      `DELETE FROM ta WHERE id = 1000`,
    ]);
    await multisetScenario(db, 'st_lit_union', `SELECT x, y FROM ta UNION SELECT NULL, 'n'`, [
      `INSERT INTO ta VALUES (1001, NULL, 'n')`,
      `DELETE FROM ta WHERE id = 1001`,
      `UPDATE ta SET y = 'n', x = NULL WHERE id = (SELECT min(id) FROM ta)`,
    ]);
    await multisetScenario(db, 'st_lit_intersect', `SELECT x FROM ta INTERSECT SELECT '1'`, [
      `DELETE FROM ta WHERE x = 1`,
      `INSERT INTO ta VALUES (1002, 1, 'one')`,
    ]);
    await multisetScenario(db, 'st_lit_left', `SELECT NULL AS x UNION SELECT x FROM tb UNION SELECT '7'`, [
      `INSERT INTO tb VALUES (1003, 7, 'seven'), (1004, NULL, 'none')`,
      `DELETE FROM tb WHERE id IN (1003, 1004)`,
    ]);
    await multisetScenario(db, 'st_lit_except', `SELECT x FROM ka EXCEPT ALL SELECT NULL`, [
      `INSERT INTO ka VALUES (NULL, 'q'), (NULL, 'r')`,
      `DELETE FROM ka WHERE x IS NULL`,
    ]);
    await multisetScenario(db, 'st_lit_ts', `SELECT ts FROM t1 UNION SELECT '2024-01-05'`, [
      `INSERT INTO t1 VALUES (10, '2024-01-05 00:00')`,
      `DELETE FROM t1 WHERE id = 10`,
    ]);
  });
});

describe('set operations with other operators', () => {
  it('UNION of aggregates, EXCEPT over a LEFT JOIN, IN (INTERSECT)', async () => {
    await multisetScenario(
      db,
      'st_u_aggs',
      'SELECT y, count(*) AS n FROM ta GROUP BY y UNION SELECT tier, count(*) FROM customers GROUP BY tier',
      [
        `INSERT INTO ta VALUES (900, 1, 'gold')`,
        `DELETE FROM customers WHERE id = 3`,
        `UPDATE ta SET y = 'silver' WHERE id = 900`,
      ],
    );
    await multisetScenario(
      db,
      'st_e_left',
      `SELECT c.name FROM customers c LEFT JOIN orders o ON o.customer = c.id WHERE o.id IS NULL
         EXCEPT SELECT name FROM customers WHERE tier IS NULL`,
      [
        `INSERT INTO customers VALUES (10, 'solo', NULL)`,
        `UPDATE customers SET tier = 'x' WHERE id = 10`,
        `INSERT INTO orders VALUES (901, 10, 'eu')`,
      ],
    );
    await multisetScenario(
      db,
      'st_i_in',
      'SELECT id, name FROM customers WHERE id IN (SELECT x FROM ta INTERSECT SELECT x FROM tb)',
      [
        `INSERT INTO tb VALUES (902, 3, 'c')`,
        `INSERT INTO ta VALUES (902, 3, 'c')`,
        `DELETE FROM tb WHERE id = 902`,
      ],
    );
  });
});
