/**
 * Top-N (ORDER BY … LIMIT / OFFSET, FETCH FIRST … ONLY / WITH TIES) against the oracle after every
 * refresh (DIFFERENTIAL), each step also checked against a FULL refresh (same rows, same row ids,
 * same hidden columns). Plain LIMIT / OFFSET tests use total orders (the last sort key is unique):
 * with ties at the boundary PostgreSQL keeps an arbitrary subset, and no table could equal "the"
 * result. WITH TIES is deterministic and is tested with ties at the boundary.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';
import { FULL_AGREES_EACH_STEP, immediateScenario, runSteps, verifiedRefresh } from './support/scenario.js';

const db = useTestDatabase();

/** DIFFERENTIAL refresh + oracle, then a FULL refresh must give the same state. */
const step = (st: Maintained) => verifiedRefresh(st, FULL_AGREES_EACH_STEP);

/** Whether the compiled tree has a top-N node. */
function hasTopN(st: Maintained): boolean {
  return JSON.stringify(st.plan.tree).includes('"kind":"topN"');
}

const SCORES = `
  DROP TABLE IF EXISTS scores;
  CREATE TABLE scores (id int PRIMARY KEY, player text, score int, team text);
  INSERT INTO scores SELECT i, 'p' || i, (i * 37) % 101,
      CASE WHEN i % 3 = 0 THEN 'red' WHEN i % 3 = 1 THEN 'blue' ELSE NULL END
    FROM generate_series(1, 30) AS i;
  UPDATE scores SET score = NULL WHERE id IN (7, 8);
`;

/** Every kind of change on `scores`: rows entering, leaving and moving inside the top. */
async function churn(...sts: Maintained[]): Promise<void> {
  await runSteps(
    db,
    sts,
    [
      // A row enters at the top, one enters in the middle, one far below.
      `INSERT INTO scores VALUES (100, 'top', 1000, 'red'), (101, 'mid', 90, 'blue'), (102, 'low', -5, NULL)`,
      // The top row drops out, a low row jumps up, a row in the top changes only a non-key column.
      [
        `UPDATE scores SET score = -1 WHERE id = 100`,
        `UPDATE scores SET score = 95 WHERE id = 102`,
        `UPDATE scores SET player = 'renamed' WHERE id = (SELECT id FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 1)`,
      ],
      // Deletes inside the top (others move up), a NULL score, a key change.
      [
        `DELETE FROM scores WHERE score = (SELECT max(score) FROM scores)`,
        `UPDATE scores SET score = NULL WHERE id = 101`,
        `UPDATE scores SET id = 200 WHERE id = (SELECT id FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 1 OFFSET 1)`,
      ],
      // Changes only far below the top, and a row inserted and deleted before the refresh.
      [
        `UPDATE scores SET player = 'x' WHERE score < 5`,
        `INSERT INTO scores VALUES (300, 'ghost', 5000, 'red')`,
        `DELETE FROM scores WHERE id = 300`,
      ],
      // Ties on the score (broken by id) at the boundary.
      `UPDATE scores SET score = 80 WHERE id IN (SELECT id FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 6)`,
      `UPDATE scores SET score = 80 WHERE id IN (1, 2, 3)`,
    ],
    { initialCheck: true, ...FULL_AGREES_EACH_STEP },
  );
  for (const st of sts) expect((await st.refresh()).action).toBe('NO_DATA');
}

beforeAll(async () => {
  await db.query(SCORES);
  await db.query(`
    CREATE TABLE teams (name text PRIMARY KEY, city text);
    INSERT INTO teams VALUES ('red', 'oslo'), ('blue', 'rome'), ('green', 'lima');
  `);
});

describe('ORDER BY … LIMIT / OFFSET', () => {
  it('keeps the top 5 by a descending key', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_top5',
      'SELECT id, player, score FROM scores ORDER BY score DESC, id LIMIT 5',
    );
    expect(hasTopN(st)).toBe(true);
    await churn(st);
  });

  it('places NULLs as asked (ASC NULLS FIRST, DESC NULLS LAST)', async () => {
    await db.query(SCORES);
    const a = await maintain(
      db,
      't_nulls_first',
      'SELECT id, score FROM scores ORDER BY score NULLS FIRST, id LIMIT 4',
    );
    const b = await maintain(
      db,
      't_nulls_last',
      'SELECT id, score FROM scores ORDER BY score DESC NULLS LAST, id DESC LIMIT 4',
    );
    await churn(a);
    await b.refreshAndCheck();
    await db.query(
      `UPDATE scores SET score = NULL WHERE id IN (SELECT id FROM scores ORDER BY score DESC NULLS LAST LIMIT 2)`,
    );
    await step(a);
    await step(b);
  });

  it('LIMIT with OFFSET, OFFSET alone, FETCH FIRST … ROWS ONLY', async () => {
    await db.query(SCORES);
    const sts = [
      await maintain(db, 't_offset', 'SELECT id, score FROM scores ORDER BY score, id LIMIT 4 OFFSET 3'),
      await maintain(
        db,
        't_offset_only',
        'SELECT id, score FROM scores WHERE team IS NOT NULL ORDER BY score DESC, id OFFSET 12',
      ),
      await maintain(
        db,
        't_fetch',
        'SELECT id, score FROM scores ORDER BY score DESC NULLS LAST, id FETCH FIRST 3 ROWS ONLY',
      ),
      await maintain(
        db,
        't_fetch_offset',
        'SELECT id FROM scores ORDER BY score DESC NULLS LAST, id OFFSET 2 ROWS FETCH NEXT 3 ROWS ONLY',
      ),
      await maintain(
        db,
        't_fetch_one',
        'SELECT id, player FROM scores ORDER BY score DESC NULLS LAST, id FETCH FIRST ROW ONLY',
      ),
    ];
    for (const st of sts) expect(hasTopN(st)).toBe(true);
    await runSteps(
      db,
      sts,
      [
        `INSERT INTO scores VALUES (100, 'a', 50, 'red'), (101, 'b', 2, 'blue')`,
        [
          `DELETE FROM scores WHERE id IN (SELECT id FROM scores ORDER BY score, id LIMIT 2)`,
          `UPDATE scores SET score = 99 WHERE id = 101`,
        ],
        [
          `UPDATE scores SET team = NULL WHERE id IN (SELECT id FROM scores WHERE team IS NOT NULL ORDER BY score, id LIMIT 3)`,
          `UPDATE scores SET score = score + 1`,
        ],
      ],
      FULL_AGREES_EACH_STEP,
    );
  });

  it('orders by expressions not in the select list (hidden sort keys)', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_hidden',
      'SELECT id, player FROM scores ORDER BY coalesce(score, 0) % 10 DESC, lower(player), id LIMIT 6',
    );
    expect(st.plan.hiddenColumns.some((c) => c.startsWith('__pgt_key_'))).toBe(true);
    await churn(st);
  });

  it('keeps the top N rows of a keyless source with duplicates', async () => {
    await db.query(`
      DROP TABLE IF EXISTS ev;
      CREATE TABLE ev (k text, v int);
      INSERT INTO ev VALUES ('a', 1), ('a', 1), ('a', 1), ('b', 2), ('c', NULL);
    `);
    const st = await maintain(db, 't_keyless', 'SELECT k, v FROM ev ORDER BY v, k LIMIT 2');
    expect(st.plan.uniqueRowIds).toBe(false);
    await st.check();
    await db.query(`DELETE FROM ev WHERE ctid = (SELECT min(ctid) FROM ev WHERE k = 'a')`);
    await step(st);
    await db.query(`DELETE FROM ev WHERE ctid = (SELECT min(ctid) FROM ev WHERE k = 'a')`);
    await step(st);
    await db.query(`INSERT INTO ev VALUES ('a', 0), ('a', 0), ('a', 0)`);
    await step(st);
    await db.query(`UPDATE ev SET v = 5 WHERE v = 0`);
    await step(st);
    await db.query(`DELETE FROM ev`);
    await step(st);
  });

  it('refills from an empty input', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_empty',
      'SELECT id, score FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 3',
    );
    await db.query(`DELETE FROM scores`);
    await step(st);
    await db.query(`INSERT INTO scores VALUES (1, 'a', 1, NULL)`);
    await step(st);
    await db.query(`INSERT INTO scores VALUES (2, 'b', 2, NULL), (3, 'c', 3, NULL), (4, 'd', 4, NULL)`);
    await step(st);
  });
});

describe('sort keys and bounds', () => {
  it('orders by output names and ordinals, under a WHERE whose membership changes', async () => {
    await db.query(SCORES);
    const a = await maintain(
      db,
      't_alias',
      `SELECT id, coalesce(score, -1) AS s FROM scores WHERE team IS NOT NULL ORDER BY s DESC, id LIMIT 4`,
    );
    const b = await maintain(
      db,
      't_ordinal',
      `SELECT player, id, score FROM scores WHERE score > 20 ORDER BY 3, 2 DESC LIMIT 4`,
    );
    await churn(a, b);
    await db.query(
      `UPDATE scores SET team = NULL WHERE id IN (SELECT id FROM scores WHERE team IS NOT NULL ORDER BY score DESC NULLS LAST LIMIT 2)`,
    );
    await db.query(`UPDATE scores SET score = 21 WHERE score <= 20 AND id % 2 = 0`);
    await step(a);
    await step(b);
  });

  it('a LIMIT larger than the input and an OFFSET beyond it', async () => {
    await db.query(SCORES);
    const big = await maintain(db, 't_big', 'SELECT id, score FROM scores ORDER BY score, id LIMIT 1000');
    const past = await maintain(db, 't_past', 'SELECT id FROM scores ORDER BY score, id LIMIT 5 OFFSET 31');
    await db.query(`INSERT INTO scores VALUES (100, 'a', 1, 'red'), (101, 'b', 2, 'red')`);
    await step(big);
    await step(past);
    await db.query(`DELETE FROM scores WHERE id IN (100, 101, 5)`);
    await step(big);
    await step(past);
  });

  it('orders text by a collation', async () => {
    await db.query(SCORES);
    await db.query(`UPDATE scores SET player = CASE WHEN id % 2 = 0 THEN upper(player) ELSE player END`);
    const st = await maintain(
      db,
      't_collate',
      `SELECT id, player FROM scores ORDER BY player COLLATE "C" DESC, id LIMIT 5`,
    );
    await churn(st);
    await db.query(
      `INSERT INTO scores VALUES (400, 'zz', 1, NULL), (401, 'ZZ', 1, NULL), (402, 'a', 1, NULL)`,
    );
    await step(st);
  });
});

describe('FETCH FIRST … WITH TIES', () => {
  it('includes the ties of the last row, as they enter and leave', async () => {
    await db.query(`
      DROP TABLE IF EXISTS tie;
      CREATE TABLE tie (id int PRIMARY KEY, g int, s int);
      INSERT INTO tie VALUES (1, 1, 10), (2, 1, 9), (3, 1, 9), (4, 2, 8), (5, 2, 8), (6, 2, 7), (7, 3, NULL);
    `);
    const sts = [
      await maintain(
        db,
        't_ties',
        'SELECT id, s FROM tie ORDER BY s DESC NULLS LAST FETCH FIRST 2 ROWS WITH TIES',
      ),
      await maintain(
        db,
        't_ties_offset',
        'SELECT id, s FROM tie ORDER BY s DESC NULLS LAST OFFSET 1 ROWS FETCH FIRST 3 ROWS WITH TIES',
      ),
      await maintain(
        db,
        't_ties_two_keys',
        'SELECT id FROM tie ORDER BY g, s DESC FETCH FIRST 3 ROWS WITH TIES',
      ),
      await maintain(
        db,
        't_ties_nulls',
        'SELECT id, s FROM tie ORDER BY s NULLS FIRST FETCH FIRST 1 ROW WITH TIES',
      ),
    ];
    await runSteps(
      db,
      sts,
      [
        // A new tie at the boundary, then the boundary value changes.
        `INSERT INTO tie VALUES (8, 1, 9)`,
        `UPDATE tie SET s = 11 WHERE id = 2`,
        // Ties leave, the row above the boundary goes, NULLs tie.
        [`DELETE FROM tie WHERE id IN (1, 3)`, `INSERT INTO tie VALUES (9, 3, NULL), (10, 2, 8)`],
        `UPDATE tie SET s = 8 WHERE s IS NOT NULL`,
        [`UPDATE tie SET s = NULL WHERE id = 10`, `UPDATE tie SET g = 1 WHERE id = 6`],
      ],
      { initialCheck: true, ...FULL_AGREES_EACH_STEP },
    );
  });
});

describe('WITH TIES over duplicates', () => {
  it('keeps every duplicate tied with the last row of a keyless source', async () => {
    await db.query(`
      DROP TABLE IF EXISTS ev;
      CREATE TABLE ev (k text, v int);
      INSERT INTO ev VALUES ('a', 1), ('a', 1), ('b', 1), ('c', 2), ('d', NULL);
    `);
    const st = await maintain(
      db,
      't_ties_keyless',
      'SELECT k, v FROM ev ORDER BY v FETCH FIRST 1 ROW WITH TIES',
    );
    await st.check();
    await db.query(`INSERT INTO ev VALUES ('e', 1), ('a', 1)`);
    await step(st);
    await db.query(`DELETE FROM ev WHERE ctid = (SELECT min(ctid) FROM ev WHERE k = 'a')`);
    await db.query(`UPDATE ev SET v = 0 WHERE k = 'c'`);
    await step(st);
    await db.query(`UPDATE ev SET v = 1 WHERE k = 'c'`);
    await step(st);
  });
});

describe('constant LIMIT / OFFSET', () => {
  it('accepts literals, casts and constant expressions', async () => {
    await db.query(SCORES);
    const sts = [
      await maintain(
        db,
        't_c_expr',
        'SELECT id FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 1 + 2 OFFSET 2 * 1',
      ),
      await maintain(
        db,
        't_c_cast',
        `SELECT id FROM scores ORDER BY score, id LIMIT '3'::int OFFSET CAST(1 AS bigint)`,
      ),
      await maintain(
        db,
        't_c_func',
        'SELECT id FROM scores ORDER BY score, id LIMIT abs(-2) + length($$ab$$)',
      ),
      await maintain(db, 't_c_zero', 'SELECT id FROM scores ORDER BY score, id LIMIT 0'),
      await maintain(
        db,
        't_c_nullcast',
        'SELECT id FROM scores ORDER BY score, id LIMIT NULL::int OFFSET 28',
      ),
    ];
    for (const st of sts) expect(hasTopN(st)).toBe(true);
    await runSteps(
      db,
      sts,
      [
        `INSERT INTO scores VALUES (100, 'a', 1000, 'red'), (101, 'b', -1000, 'blue')`,
        `DELETE FROM scores WHERE id IN (100, 101, 1, 2)`,
      ],
      FULL_AGREES_EACH_STEP,
    );
  });

  it('LIMIT ALL, LIMIT NULL and OFFSET 0 keep every row (no top-N node)', async () => {
    await db.query(SCORES);
    const sts = [
      await maintain(db, 't_all', 'SELECT id, score FROM scores ORDER BY score LIMIT ALL'),
      await maintain(db, 't_null', 'SELECT id, score FROM scores ORDER BY score LIMIT NULL OFFSET 0'),
      await maintain(db, 't_off0', 'SELECT id FROM (SELECT id, score FROM scores OFFSET 0) AS s'),
    ];
    for (const st of sts) expect(hasTopN(st)).toBe(false);
    await runSteps(
      db,
      sts,
      [[`INSERT INTO scores VALUES (100, 'a', 1000, 'red')`, `DELETE FROM scores WHERE id = 3`]],
      FULL_AGREES_EACH_STEP,
    );
  });
});

describe('top-N in larger queries', () => {
  it('a LIMIT subquery joined to a table, changes on both sides', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_sub_join',
      `SELECT s.id, s.score, t.city FROM (SELECT id, score, team FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 4) AS s
       JOIN teams AS t ON t.name = s.team`,
    );
    await churn(st);
    await db.query(`UPDATE teams SET city = 'bern' WHERE name = 'red'`);
    await db.query(`INSERT INTO teams VALUES ('x', 'nowhere')`);
    await step(st);
    await db.query(`DELETE FROM teams WHERE name = 'blue'`);
    await db.query(
      `UPDATE scores SET team = 'green' WHERE id = (SELECT id FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 1)`,
    );
    await step(st);
  });

  it('LIMIT subqueries below the root: OFFSET, OFFSET alone, WITH TIES', async () => {
    await db.query(SCORES);
    const sts = [
      await maintain(
        db,
        't_sub_offset',
        `SELECT s.id, t.city FROM (SELECT id, team FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 3 OFFSET 2) AS s
         JOIN teams AS t ON t.name = s.team`,
      ),
      await maintain(
        db,
        't_sub_offset_only',
        `SELECT s.id, t.city FROM (SELECT id, team FROM scores ORDER BY score NULLS FIRST, id OFFSET 25) AS s
         JOIN teams AS t ON t.name = s.team`,
      ),
      await maintain(
        db,
        't_sub_ties',
        `SELECT s.id, s.sc, t.city FROM (SELECT id, team, score AS sc FROM scores ORDER BY score DESC NULLS LAST FETCH FIRST 3 ROWS WITH TIES) AS s
         JOIN teams AS t ON t.name = s.team`,
      ),
    ];
    await churn(...sts);
    await db.query(`UPDATE teams SET city = upper(city)`);
    for (const st of sts) await step(st);
  });

  it('a LIMIT subquery over a keyless source with duplicates, joined', async () => {
    await db.query(`
      DROP TABLE IF EXISTS ev;
      CREATE TABLE ev (k text, v int);
      INSERT INTO ev VALUES ('a', 1), ('a', 1), ('a', 1), ('b', 2), ('b', 0), ('c', NULL);
    `);
    const st = await maintain(
      db,
      't_sub_keyless',
      `SELECT e.k, e.v, x.n FROM (SELECT k, v FROM ev ORDER BY v, k LIMIT 3) AS e
       JOIN (VALUES ('a', 10), ('b', 20)) AS x(k, n) ON x.k = e.k`,
    );
    await st.check();
    await db.query(`INSERT INTO ev VALUES ('b', -1), ('a', 1)`);
    await step(st);
    await db.query(`DELETE FROM ev WHERE ctid = (SELECT min(ctid) FROM ev WHERE k = 'b' AND v = -1)`);
    await db.query(`DELETE FROM ev WHERE ctid = (SELECT min(ctid) FROM ev WHERE k = 'a')`);
    await step(st);
    await db.query(`UPDATE ev SET v = -5 WHERE k = 'c'`);
    await db.query(`INSERT INTO ev VALUES ('a', -9), ('a', -9)`);
    await step(st);
    await db.query(`DELETE FROM ev WHERE v < 0`);
    await step(st);
  });

  it('a top-N over a join', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_join',
      `SELECT s.id, t.city, s.score FROM scores AS s JOIN teams AS t ON t.name = s.team
       ORDER BY t.city DESC, s.score DESC NULLS LAST, s.id LIMIT 5`,
    );
    await churn(st);
    await db.query(`UPDATE teams SET city = 'zagreb' WHERE name = 'blue'`);
    await step(st);
    await db.query(`DELETE FROM teams WHERE name = 'blue'`);
    await step(st);
  });

  it('a top-N below a projection at the root keeps its state in hidden columns', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_projected',
      `SELECT upper(player) AS who FROM (SELECT id, player, score FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 3) AS s`,
    );
    expect(st.plan.hiddenColumns.some((c) => c.startsWith('__pgt_topn_'))).toBe(true);
    await churn(st);
  });

  it('a top-N of a UNION ALL and of a CTE', async () => {
    await db.query(SCORES);
    const u = await maintain(
      db,
      't_union',
      `SELECT id, score FROM scores WHERE team = 'red' UNION ALL SELECT id, -score FROM scores WHERE team = 'blue'
       ORDER BY score DESC NULLS LAST, id LIMIT 5`,
    );
    const c = await maintain(
      db,
      't_cte',
      `WITH top AS (SELECT id, team FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 5)
       SELECT a.id AS a, b.id AS b FROM top AS a JOIN top AS b ON a.team = b.team AND a.id < b.id`,
    );
    await churn(u);
    await c.refreshAndCheck();
    await db.query(`UPDATE scores SET team = 'red' WHERE team IS NULL`);
    await step(c);
    await db.query(
      `UPDATE scores SET score = 0 WHERE id IN (SELECT id FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 2)`,
    );
    await step(c);
  });

  it('a top-N of the groups of an aggregate', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_agg',
      `SELECT team, sum(score) AS total, count(*) AS n FROM scores GROUP BY team
       ORDER BY sum(score) DESC NULLS LAST, team NULLS LAST LIMIT 2`,
    );
    await churn(st);
    await db.query(`UPDATE scores SET team = 'green' WHERE id < 10`);
    await step(st);
  });
});

describe('top-N with other operators', () => {
  it('DISTINCT … ORDER BY … LIMIT', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_distinct',
      `SELECT DISTINCT team, score / 10 AS band FROM scores ORDER BY band DESC NULLS LAST, team NULLS LAST LIMIT 4`,
    );
    await churn(st);
  });

  it('a top-N over a LEFT JOIN', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_left',
      `SELECT s.id, t.city FROM scores AS s LEFT JOIN teams AS t ON t.name = s.team
       ORDER BY t.city NULLS FIRST, s.id LIMIT 6`,
    );
    await churn(st);
    await db.query(`INSERT INTO teams VALUES ('zz', 'a-town')`);
    await db.query(
      `UPDATE scores SET team = 'zz' WHERE id IN (SELECT id FROM scores WHERE team IS NULL ORDER BY id LIMIT 2)`,
    );
    await step(st);
  });
});

describe('stream tables around top-N', () => {
  it('a top-N over another stream table, and a stream table over a top-N', async () => {
    await db.query(SCORES);
    const up = await maintain(db, 't_up', `SELECT id, team, score FROM scores WHERE team IS NOT NULL`);
    const mid = await maintain(
      db,
      't_mid',
      `SELECT id, team, score FROM t_up ORDER BY score DESC NULLS LAST, id LIMIT 4`,
    );
    const down = await maintain(db, 't_down', `SELECT team, id FROM t_mid WHERE score > 50`);
    await runSteps(
      db,
      [up, mid, down],
      [
        `INSERT INTO scores VALUES (100, 'a', 1000, 'red'), (101, 'b', 999, NULL)`,
        [`UPDATE scores SET team = NULL WHERE id = 100`, `UPDATE scores SET team = 'blue' WHERE id = 101`],
        `DELETE FROM scores WHERE id IN (SELECT id FROM scores ORDER BY score DESC NULLS LAST LIMIT 3)`,
      ],
    );
    await mid.refresh('FULL');
    await mid.check();
    await down.refreshAndCheck();
  });
});

describe('transition-table deltas (IMMEDIATE style)', () => {
  it('a top-N at the root and below a join, one input changing at a time', async () => {
    await db.query(SCORES);
    await immediateScenario(
      db,
      't_imm',
      'SELECT id, score FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 4',
      [
        { insert: 'scores', values: `(100, 'a', 1000, 'red'), (101, 'b', 50, NULL)` },
        { update: 'scores', set: `score = 0`, where: `id = 100` },
        { delete: 'scores', where: `score > 80` },
        { update: 'scores', set: `score = 99`, where: `id IN (1, 2)` },
      ],
    );
    await immediateScenario(
      db,
      't_imm_ties',
      'SELECT id, score FROM scores ORDER BY score DESC NULLS LAST FETCH FIRST 2 ROWS WITH TIES',
      [
        { update: 'scores', set: `score = 99`, where: `id = 3` },
        { delete: 'scores', where: `id = 1` },
      ],
    );
    await immediateScenario(
      db,
      't_imm_join',
      `SELECT s.id, t.city FROM (SELECT id, team FROM scores ORDER BY score DESC NULLS LAST, id LIMIT 5) AS s
       JOIN teams AS t ON t.name = s.team`,
      [
        { update: 'teams', set: `city = 'paris'`, where: `name = 'red'` },
        { insert: 'scores', values: `(200, 'z', 2000, 'blue')` },
        { delete: 'teams', where: `name = 'blue'` },
        { update: 'scores', set: `score = -1`, where: `id = 200` },
        { insert: 'teams', values: `('blue', 'kyiv')` },
      ],
    );
  });
});

describe('refusals', () => {
  it('refuses a LIMIT that is not a constant', async () => {
    await expect(
      maintain(db, 't_r_sub', 'SELECT id FROM scores ORDER BY id LIMIT (SELECT 2)'),
    ).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
      message: expect.stringContaining('non-constant LIMIT'),
    });
    await expect(
      maintain(db, 't_r_sub_count', 'SELECT id FROM scores ORDER BY id LIMIT (SELECT count(*) FROM teams)'),
    ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED', construct: 'a non-constant LIMIT (a subquery)' });
    await expect(
      maintain(db, 't_r_off', 'SELECT id FROM scores ORDER BY id OFFSET (SELECT 1)'),
    ).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
      message: expect.stringContaining('non-constant OFFSET'),
    });
    await expect(
      maintain(db, 't_r_random', 'SELECT id FROM scores ORDER BY id LIMIT (random() * 3)::int'),
    ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED', message: expect.stringContaining('random') });
  });

  it('refuses LIMIT / OFFSET without ORDER BY', async () => {
    await expect(maintain(db, 't_r_unordered', 'SELECT id FROM scores LIMIT 3')).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
      message: expect.stringContaining('LIMIT without ORDER BY'),
    });
    await expect(maintain(db, 't_r_unordered_off', 'SELECT id FROM scores OFFSET 3')).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
      message: expect.stringContaining('OFFSET without ORDER BY'),
    });
  });

  it('AUTO falls back to FULL for a non-constant LIMIT, and FULL maintains it', async () => {
    await db.query(SCORES);
    const st = await maintain(
      db,
      't_r_auto',
      'SELECT id FROM scores ORDER BY score, id LIMIT (SELECT count(*) FROM teams)',
      {
        mode: 'AUTO',
      },
    );
    expect(st.plan.mode).toBe('FULL');
    expect(st.plan.fallbackReason).toContain('non-constant LIMIT');
    await db.query(`INSERT INTO teams VALUES ('y', 'york')`);
    await db.query(
      `DELETE FROM scores WHERE id = (SELECT id FROM scores ORDER BY score NULLS LAST, id LIMIT 1)`,
    );
    await st.refresh('FULL');
    await st.check();
  });
});
