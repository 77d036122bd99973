/**
 * Outer joins (LEFT, RIGHT, FULL; ON, USING, NATURAL) maintained differentially against the
 * oracle after every refresh, and a FULL refresh agreeing row for row (ids included) with the
 * differential state: inserts, updates (join-key changes on both sides), deletes, NULL keys,
 * duplicates (keyless inputs), rows gaining their first / losing their last match, changes on
 * both sides in one window, chains and nestings with inner joins, WHERE on the nullable side.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';
import { FULL_AGREES_AT_END, immediateScenarios, runSteps, type TransitionStep } from './support/scenario.js';

const db = useTestDatabase();

/** Checks first, runs each batch of statements, refreshing differentially (really) and checking after each; then {@link FULL_AGREES_AT_END}. */
const steps = (st: Maintained, batches: readonly (readonly string[])[]): Promise<void> =>
  runSteps(db, [st], batches, { initialCheck: true, differential: true, ...FULL_AGREES_AT_END });

/** Two keyed tables `<p>_l (id, k, v)` and `<p>_r (id, k, w, flag)` with NULL keys and unmatched rows. */
async function keyedPair(p: string): Promise<void> {
  await db.query(`
    CREATE TABLE ${p}_l (id int PRIMARY KEY, k int, v text, flag boolean);
    CREATE TABLE ${p}_r (id int PRIMARY KEY, k int, w int, flag boolean);
    INSERT INTO ${p}_l VALUES (1, 1, 'a', true), (2, 2, 'b', false), (3, 3, 'c', NULL), (4, NULL, 'd', true), (5, 1, 'e', true);
    INSERT INTO ${p}_r VALUES (10, 1, 100, true), (11, 1, 110, false), (12, 2, 120, NULL), (13, NULL, 130, true), (14, 7, 140, true);
  `);
}

/** DML batches exercising both sides of a keyed pair. */
function keyedBatches(p: string): string[][] {
  return [
    // A left row without matches gains its first one; a new unmatched left row; a new right row
    // matching nothing; NULL keys on both sides.
    [
      `INSERT INTO ${p}_r VALUES (15, 3, 150, true)`,
      `INSERT INTO ${p}_l VALUES (6, 8, 'f', false), (7, NULL, 'g', NULL)`,
      `INSERT INTO ${p}_r VALUES (16, NULL, 160, false), (17, 9, 170, true)`,
    ],
    // Lose the last match (k = 2), lose one of two matches (k = 1).
    [`DELETE FROM ${p}_r WHERE id = 12`, `DELETE FROM ${p}_r WHERE id = 11`],
    // Join-key changes on both sides: a right row moves between left rows, a left row moves
    // between right groups, a key becomes NULL, a NULL key becomes a value.
    [
      `UPDATE ${p}_r SET k = 2 WHERE id = 10`,
      `UPDATE ${p}_l SET k = 7 WHERE id = 3`,
      `UPDATE ${p}_l SET k = NULL WHERE id = 1`,
      `UPDATE ${p}_r SET k = 8 WHERE id = 13`,
    ],
    // Non-key updates on both sides, an insert deleted again in the same window, and a left
    // row and its only match both deleted.
    [
      `UPDATE ${p}_l SET v = v || '!' WHERE id IN (2, 5)`,
      `UPDATE ${p}_r SET w = w + 1, flag = NOT flag WHERE id IN (10, 14, 15)`,
      `INSERT INTO ${p}_l VALUES (8, 2, 'h', true)`,
      `DELETE FROM ${p}_l WHERE id = 8`,
      `INSERT INTO ${p}_r VALUES (18, 2, 180, true)`,
      `DELETE FROM ${p}_r WHERE id = 18`,
      `DELETE FROM ${p}_l WHERE id = 6`,
      `DELETE FROM ${p}_r WHERE id = 13`,
    ],
    // Primary-key changes and changes on both sides of the same key in one window.
    [
      `UPDATE ${p}_l SET id = 50 WHERE id = 2`,
      `UPDATE ${p}_r SET id = 60, k = 1 WHERE id = 10`,
      `INSERT INTO ${p}_l VALUES (9, 9, 'i', true)`,
      `DELETE FROM ${p}_r WHERE id = 17`,
      `INSERT INTO ${p}_r VALUES (19, 9, 190, NULL)`,
    ],
    // Everything on one side goes, then comes back.
    [`DELETE FROM ${p}_r`],
    [`INSERT INTO ${p}_r VALUES (20, 1, 1, true), (21, 1, 2, false), (22, NULL, 3, true), (23, 50, 4, true)`],
    [`DELETE FROM ${p}_l`],
    [`INSERT INTO ${p}_l VALUES (30, 1, 'x', true), (31, NULL, 'y', false), (32, 5, 'z', true)`],
  ];
}

describe('LEFT JOIN', () => {
  it('keyed inputs, ON equality: every kind of change on both sides', async () => {
    await keyedPair('lj');
    const st = await maintain(
      db,
      'st_lj',
      'SELECT l.id, l.v, r.id AS rid, r.w FROM lj_l l LEFT JOIN lj_r r ON r.k = l.k',
    );
    expect(st.plan.uniqueRowIds).toBe(true);
    await steps(st, keyedBatches('lj'));
  });

  it('LEFT OUTER JOIN with l.* and a condition on the nullable side (ON … AND r.flag)', async () => {
    await keyedPair('ljf');
    const st = await maintain(
      db,
      'st_ljf',
      'SELECT l.*, r.id AS rid, r.w FROM ljf_l l LEFT OUTER JOIN ljf_r r ON r.k = l.k AND r.flag',
    );
    await steps(st, keyedBatches('ljf'));
  });

  it('a condition on the preserved side (ON … AND l.flag) pads the rows failing it', async () => {
    await keyedPair('ljp');
    const st = await maintain(
      db,
      'st_ljp',
      'SELECT l.id, l.flag, r.id AS rid FROM ljp_l l LEFT JOIN ljp_r r ON r.k = l.k AND l.flag AND r.w > 105',
    );
    await steps(st, [
      ...keyedBatches('ljp').slice(0, 3),
      [`UPDATE ljp_l SET flag = NOT flag`, `UPDATE ljp_l SET flag = NULL WHERE id = 5`],
      ...keyedBatches('ljp').slice(3),
    ]);
  });

  it('non-equi conditions, ON TRUE and constant conditions', async () => {
    await keyedPair('ljn');
    const lt = await maintain(
      db,
      'st_ljn_lt',
      'SELECT l.id, r.id AS rid FROM ljn_l l LEFT JOIN ljn_r r ON r.k < l.k OR (l.k IS NULL AND r.k IS NULL)',
    );
    const on = await maintain(
      db,
      'st_ljn_true',
      'SELECT l.id, r.id AS rid FROM ljn_l l LEFT JOIN ljn_r r ON true',
    );
    const off = await maintain(
      db,
      'st_ljn_false',
      'SELECT l.id, r.id AS rid FROM ljn_l l LEFT JOIN ljn_r r ON r.k = l.k AND 1 = 2',
    );
    await runSteps(db, [lt, on, off], keyedBatches('ljn'), FULL_AGREES_AT_END);
  });

  it('WHERE on the nullable side stays above the join; WHERE on the preserved side is pushed', async () => {
    await keyedPair('ljw');
    const nullable = await maintain(
      db,
      'st_ljw_n',
      'SELECT l.id, r.id AS rid, r.w FROM ljw_l l LEFT JOIN ljw_r r ON r.k = l.k WHERE r.w > 105 OR r.w IS NULL',
    );
    const anti = await maintain(
      db,
      'st_ljw_anti',
      'SELECT l.id, l.v FROM ljw_l l LEFT JOIN ljw_r r ON r.k = l.k WHERE r.id IS NULL',
    );
    const preserved = await maintain(
      db,
      'st_ljw_p',
      `SELECT l.id, r.id AS rid FROM ljw_l l LEFT JOIN ljw_r r ON r.k = l.k WHERE l.v <> 'b' AND l.flag`,
    );
    await runSteps(db, [nullable, anti, preserved], keyedBatches('ljw'), FULL_AGREES_AT_END);
  });

  it('keyless inputs with duplicates on both sides', async () => {
    await db.query(`
      CREATE TABLE ljd_l (k int, v text);
      CREATE TABLE ljd_r (k int, w text);
      INSERT INTO ljd_l VALUES (1, 'a'), (1, 'a'), (2, 'b'), (NULL, 'n'), (NULL, 'n'), (3, 'c');
      INSERT INTO ljd_r VALUES (1, 'x'), (1, 'x'), (1, 'y'), (2, 'z'), (NULL, 'q');
    `);
    const st = await maintain(
      db,
      'st_ljd',
      'SELECT l.k, l.v, r.w FROM ljd_l l LEFT JOIN ljd_r r ON r.k = l.k',
    );
    expect(st.plan.uniqueRowIds).toBe(false);
    await steps(st, [
      [`INSERT INTO ljd_l VALUES (1, 'a'), (3, 'c')`, `INSERT INTO ljd_r VALUES (3, 'w'), (3, 'w')`],
      [`DELETE FROM ljd_r WHERE ctid = (SELECT min(ctid) FROM ljd_r WHERE k = 3)`],
      [`DELETE FROM ljd_r WHERE k = 3`],
      [
        `UPDATE ljd_r SET k = 2 WHERE w = 'x'`,
        `DELETE FROM ljd_l WHERE ctid = (SELECT min(ctid) FROM ljd_l WHERE k = 1)`,
      ],
      [`UPDATE ljd_l SET k = NULL WHERE k = 2`, `INSERT INTO ljd_r VALUES (NULL, 'q')`],
      [`INSERT INTO ljd_l VALUES (5, 'e')`, `DELETE FROM ljd_l WHERE k = 5`, `DELETE FROM ljd_r`],
      [`INSERT INTO ljd_r VALUES (1, 'x'), (NULL, 'n'), (3, 'c'), (3, 'c')`],
    ]);
  });

  it('USING and NATURAL', async () => {
    await db.query(`
      CREATE TABLE lju_a (id int PRIMARY KEY, k int, x text);
      CREATE TABLE lju_b (bid int PRIMARY KEY, k int, y text);
      INSERT INTO lju_a VALUES (1, 1, 'a'), (2, 2, 'b'), (3, NULL, 'c');
      INSERT INTO lju_b VALUES (1, 1, 'p'), (2, 1, 'q'), (3, NULL, 'r'), (4, 4, 's');
    `);
    const using = await maintain(db, 'st_lju_using', 'SELECT * FROM lju_a LEFT JOIN lju_b USING (k)');
    const natural = await maintain(
      db,
      'st_lju_nat',
      'SELECT * FROM lju_a NATURAL LEFT JOIN (SELECT bid, k, y FROM lju_b) b',
    );
    const batches = [
      [`INSERT INTO lju_b VALUES (5, 2, 't')`, `INSERT INTO lju_a VALUES (4, 4, 'd')`],
      [`UPDATE lju_b SET k = NULL WHERE bid IN (1, 2)`, `UPDATE lju_a SET k = 1 WHERE id = 3`],
      [`DELETE FROM lju_b WHERE bid = 4`, `UPDATE lju_a SET x = 'zz'`],
    ];
    await runSteps(db, [using, natural], batches, FULL_AGREES_AT_END);
  });

  it('a self-join through a LEFT JOIN', async () => {
    await db.query(`
      CREATE TABLE ljs_emp (id int PRIMARY KEY, boss int, name text);
      INSERT INTO ljs_emp VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'c'), (5, 9, 'orphan');
    `);
    const st = await maintain(
      db,
      'st_ljs',
      'SELECT e.id, e.name, b.name AS boss_name FROM ljs_emp e LEFT JOIN ljs_emp b ON b.id = e.boss',
    );
    await steps(st, [
      [`INSERT INTO ljs_emp VALUES (9, 1, 'late boss')`, `UPDATE ljs_emp SET name = 'ROOT' WHERE id = 1`],
      [`UPDATE ljs_emp SET boss = 3 WHERE id = 4`, `DELETE FROM ljs_emp WHERE id = 3`],
      [`UPDATE ljs_emp SET id = 10 WHERE id = 1`],
      [`DELETE FROM ljs_emp WHERE boss IS NULL OR boss = 9`],
    ]);
  });
});

describe('RIGHT JOIN', () => {
  it('keyed inputs: the right side is preserved', async () => {
    await keyedPair('rj');
    const st = await maintain(
      db,
      'st_rj',
      'SELECT l.id, l.v, r.id AS rid, r.w FROM rj_l l RIGHT JOIN rj_r r ON r.k = l.k AND l.flag',
    );
    await steps(st, keyedBatches('rj'));
  });

  it('RIGHT JOIN USING with SELECT * and a WHERE on each side', async () => {
    await keyedPair('rju');
    const st = await maintain(
      db,
      'st_rju',
      "SELECT * FROM (SELECT k, v FROM rju_l) l RIGHT JOIN (SELECT id, k, w FROM rju_r) r USING (k) WHERE r.w > 100 AND (l.v IS NULL OR l.v < 'e')",
    );
    await steps(st, keyedBatches('rju'));
  });
});

describe('FULL JOIN', () => {
  it('keyed inputs, ON equality: both sides padded', async () => {
    await keyedPair('fj');
    const st = await maintain(
      db,
      'st_fj',
      'SELECT l.id, l.v, r.id AS rid, r.w FROM fj_l l FULL JOIN fj_r r ON r.k = l.k',
    );
    expect(st.plan.uniqueRowIds).toBe(true);
    await steps(st, keyedBatches('fj'));
  });

  it('FULL OUTER JOIN USING: the merged COALESCE column, and WHERE over it', async () => {
    await keyedPair('fju');
    const st = await maintain(
      db,
      'st_fju',
      'SELECT k, l.v, r.w FROM (SELECT k, v FROM fju_l) l FULL OUTER JOIN (SELECT k, w FROM fju_r) r USING (k)',
    );
    const where = await maintain(
      db,
      'st_fju_w',
      'SELECT * FROM (SELECT id AS lid, k, v FROM fju_l) l FULL JOIN (SELECT id AS rid, k, w FROM fju_r) r USING (k) WHERE k IS NOT NULL',
    );
    await runSteps(db, [st, where], keyedBatches('fju'), FULL_AGREES_AT_END);
  });

  it('keyless inputs with duplicates and NULL keys', async () => {
    await db.query(`
      CREATE TABLE fjd_l (k int, v text);
      CREATE TABLE fjd_r (k int, w text);
      INSERT INTO fjd_l VALUES (1, 'a'), (1, 'a'), (2, 'b'), (NULL, 'n');
      INSERT INTO fjd_r VALUES (1, 'x'), (3, 'y'), (3, 'y'), (NULL, 'm');
    `);
    const st = await maintain(
      db,
      'st_fjd',
      'SELECT l.k AS lk, l.v, r.k AS rk, r.w FROM fjd_l l FULL JOIN fjd_r r ON l.k = r.k',
    );
    await steps(st, [
      [`INSERT INTO fjd_l VALUES (3, 'c')`, `INSERT INTO fjd_r VALUES (2, 'z'), (2, 'z')`],
      [`DELETE FROM fjd_r WHERE k = 1`, `INSERT INTO fjd_l VALUES (NULL, 'n')`],
      [`UPDATE fjd_l SET k = 4 WHERE k = 3`, `UPDATE fjd_r SET k = 4 WHERE k = 3`],
      [
        `DELETE FROM fjd_l WHERE ctid = (SELECT min(ctid) FROM fjd_l WHERE k = 1)`,
        `DELETE FROM fjd_r WHERE ctid = (SELECT min(ctid) FROM fjd_r WHERE k = 2)`,
      ],
      [`DELETE FROM fjd_l`],
      [`DELETE FROM fjd_r`, `INSERT INTO fjd_l VALUES (1, 'a')`],
    ]);
  });

  it('a condition with a one-sided part (ON l.k = r.k AND r.flag) and WHERE on both sides', async () => {
    await keyedPair('fjc');
    const st = await maintain(
      db,
      'st_fjc',
      'SELECT l.id, r.id AS rid FROM fjc_l l FULL JOIN (SELECT * FROM fjc_r WHERE flag) r ON l.k = r.k WHERE l.id IS NULL OR r.id IS NULL OR l.id < r.id',
    );
    await steps(st, keyedBatches('fjc'));
  });
});

describe('chains and nestings', () => {
  async function three(p: string): Promise<void> {
    await db.query(`
      CREATE TABLE ${p}_a (id int PRIMARY KEY, bk int, x text);
      CREATE TABLE ${p}_b (id int PRIMARY KEY, ck int, y text);
      CREATE TABLE ${p}_c (id int PRIMARY KEY, z text);
      INSERT INTO ${p}_a VALUES (1, 1, 'a1'), (2, 2, 'a2'), (3, NULL, 'a3'), (4, 9, 'a4');
      INSERT INTO ${p}_b VALUES (1, 1, 'b1'), (2, 5, 'b2'), (3, NULL, 'b3');
      INSERT INTO ${p}_c VALUES (1, 'c1'), (2, 'c2');
    `);
  }
  const batches = (p: string): string[][] => [
    [`INSERT INTO ${p}_c VALUES (5, 'c5')`, `INSERT INTO ${p}_b VALUES (9, 2, 'b9')`],
    [`DELETE FROM ${p}_c WHERE id = 1`, `UPDATE ${p}_a SET bk = 3 WHERE id = 1`],
    [
      `UPDATE ${p}_b SET ck = 1 WHERE id = 2`,
      `INSERT INTO ${p}_b VALUES (4, 2, 'b4')`,
      `DELETE FROM ${p}_a WHERE id = 2`,
    ],
    [`INSERT INTO ${p}_a VALUES (5, 4, 'a5'), (6, 1, 'a6')`, `INSERT INTO ${p}_c VALUES (1, 'c1 again')`],
    [`UPDATE ${p}_b SET id = 7 WHERE id = 1`, `UPDATE ${p}_c SET z = upper(z)`],
    [`DELETE FROM ${p}_b`],
    [
      `INSERT INTO ${p}_b VALUES (1, 1, 'b1'), (2, 2, 'b2'), (3, NULL, 'b3')`,
      `DELETE FROM ${p}_c WHERE id = 2`,
    ],
  ];

  it('a LEFT JOIN b LEFT JOIN c', async () => {
    await three('ch1');
    const st = await maintain(
      db,
      'st_ch1',
      'SELECT a.id, a.x, b.y, c.z FROM ch1_a a LEFT JOIN ch1_b b ON b.id = a.bk LEFT JOIN ch1_c c ON c.id = b.ck',
    );
    await steps(st, batches('ch1'));
  });

  it('a LEFT JOIN (b JOIN c) and (a LEFT JOIN b) JOIN c', async () => {
    await three('ch2');
    const nested = await maintain(
      db,
      'st_ch2_n',
      'SELECT a.id, b.y, c.z FROM ch2_a a LEFT JOIN (ch2_b b JOIN ch2_c c ON c.id = b.ck) ON b.id = a.bk',
    );
    const outerInner = await maintain(
      db,
      'st_ch2_oi',
      'SELECT a.id, b.y, c.z FROM ch2_a a LEFT JOIN ch2_b b ON b.id = a.bk JOIN ch2_c c ON c.id = a.bk',
    );
    const innerOuter = await maintain(
      db,
      'st_ch2_io',
      'SELECT a.id, b.y, c.z FROM ch2_a a JOIN ch2_b b ON b.id = a.bk LEFT JOIN ch2_c c ON c.id = b.ck',
    );
    await runSteps(db, [nested, outerInner, innerOuter], batches('ch2'), FULL_AGREES_AT_END);
  });

  it('FULL JOIN chains, RIGHT after LEFT, and comma joins mixed with outer joins', async () => {
    await three('ch3');
    const full = await maintain(
      db,
      'st_ch3_f',
      'SELECT a.id AS aid, b.id AS bid, c.id AS cid FROM ch3_a a FULL JOIN ch3_b b ON b.id = a.bk FULL JOIN ch3_c c ON c.id = COALESCE(b.ck, a.id)',
    );
    const mixed = await maintain(
      db,
      'st_ch3_m',
      'SELECT a.id AS aid, b.id AS bid, c.id AS cid FROM ch3_a a LEFT JOIN ch3_b b ON b.id = a.bk RIGHT JOIN ch3_c c ON c.id = b.ck',
    );
    const comma = await maintain(
      db,
      'st_ch3_c',
      'SELECT a.id AS aid, b.id AS bid, c.id AS cid FROM ch3_c c, ch3_a a LEFT JOIN ch3_b b ON b.id = a.bk WHERE c.id = a.id',
    );
    await runSteps(db, [full, mixed, comma], batches('ch3'), FULL_AGREES_AT_END);
  });

  it('an outer join inside a CTE and a subquery, joined again', async () => {
    await three('ch4');
    const st = await maintain(
      db,
      'st_ch4',
      `WITH ab AS (SELECT a.id, a.bk, b.ck FROM ch4_a a LEFT JOIN ch4_b b ON b.id = a.bk)
       SELECT ab.id, ab.ck, c.z FROM ab LEFT JOIN ch4_c c ON c.id = ab.ck WHERE ab.bk IS NOT NULL`,
    );
    await steps(st, batches('ch4'));
  });
});

describe('transition-table deltas (IMMEDIATE): one source changes, the other is statically unchanged', () => {
  const steps = (p: string): TransitionStep[] => [
    { insert: `${p}_r`, values: `(15, 3, 150, true), (16, NULL, 160, true), (17, 2, 170, false)` },
    { insert: `${p}_l`, values: `(6, 8, 'f', false), (7, 2, 'g', NULL)` },
    { delete: `${p}_r`, where: 'k = 2' },
    { update: `${p}_r`, set: 'k = 8', where: 'id IN (10, 13)' },
    { update: `${p}_l`, set: 'k = 1, v = upper(v)', where: 'id IN (3, 6)' },
    { update: `${p}_l`, set: 'id = id + 100', where: 'k = 1' },
    { delete: `${p}_l`, where: 'k IS NULL OR k = 8' },
    { delete: `${p}_r`, where: 'true' },
    { insert: `${p}_r`, values: `(20, 1, 1, true), (21, NULL, 2, true)` },
  ];

  it('LEFT, RIGHT and FULL joins', async () => {
    await keyedPair('tt');
    await immediateScenarios(
      db,
      [
        ['st_tt_left', 'SELECT l.id, l.v, r.id AS rid FROM tt_l l LEFT JOIN tt_r r ON r.k = l.k AND r.flag'],
        ['st_tt_right', 'SELECT l.id, r.id AS rid, r.w FROM tt_l l RIGHT JOIN tt_r r ON r.k = l.k'],
        ['st_tt_full', 'SELECT l.id, r.id AS rid FROM tt_l l FULL JOIN tt_r r ON r.k = l.k'],
      ],
      steps('tt'),
      { initialCheck: true },
    );
  });
});
