/**
 * Row ids over values of user-defined types without a hash function — a composite with a
 * `point` member, a domain over `point`, a range over `money`, a composite of `bit`:
 * - a keyless source's row ids take such a value's binary form, so a table reading it stays
 *   DIFFERENTIAL (and IMMEDIATE) and equal to its query;
 * - where the id must follow the type's equality (DISTINCT, GROUP BY, a primary key of such a
 *   type) DIFFERENTIAL and IMMEDIATE refuse at create with `PGT_UNSUPPORTED` naming the column and
 *   its type, AUTO falls back to FULL, and FULL keeps the table equal to its query (its row ids
 *   take the value's binary form) — not a failure at the first refresh.
 */
import { expect, it } from 'vitest';
import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';
import { useTrickle } from './support/setup.js';

const env = useTrickle();

const TYPES = `CREATE TYPE {s}.pt AS (p point, n int);
  CREATE DOMAIN {s}.dp AS point;
  CREATE TYPE {s}.mr AS RANGE (subtype = money);
  CREATE TYPE {s}.bits AS (b bit(4));
  CREATE TABLE {s}.k (v {s}.pt, d {s}.dp, n int);
  CREATE TABLE {s}.kd (d {s}.dp, n int);
  CREATE TABLE {s}.r (id int PRIMARY KEY, m {s}.mr, b {s}.bits, v {s}.pt);
  CREATE TABLE {s}.pk (b {s}.bits PRIMARY KEY, n int);
  INSERT INTO {s}.k VALUES (ROW('(1,2)', 1), '(0.1,0.2)', 1), (ROW('(1,2)', 1), '(0.1,0.2)', 1), (ROW(NULL, 2), NULL, 2), (NULL, '(3,3)', 3);
  INSERT INTO {s}.kd VALUES ('(0.1,0.2)', 1), ('(0.1,0.2)', 1), (NULL, 2);
  INSERT INTO {s}.r VALUES (1, '[1,5)', ROW(B'1010'), ROW('(1,1)', 1)), (2, '[1.00,5.00)', ROW(B'1010'), NULL),
    (3, 'empty', ROW(B'0001'), ROW('(2,2)', 2)), (4, NULL, NULL, ROW(NULL, NULL));
  INSERT INTO {s}.pk VALUES (ROW(B'0001'), 1), (ROW(B'0010'), 2), (ROW(NULL), 3)`;
const STEPS = [
  `INSERT INTO {s}.k VALUES (ROW('(5,5)', 5), '(5,5)', 5); INSERT INTO {s}.kd VALUES ('(1e-300,-0)', 3); INSERT INTO {s}.r VALUES (5, '[2,3]', ROW(B'1111'), ROW('(5,5)', 5))`,
  `DELETE FROM {s}.k WHERE ctid = (SELECT min(ctid) FROM {s}.k WHERE n = 1); UPDATE {s}.r SET m = '[1,5)', b = ROW(B'0001') WHERE id = 3`,
  `UPDATE {s}.k SET v = ROW('(0,-0.5)', 9) WHERE n = 2; DELETE FROM {s}.r WHERE id = 1; UPDATE {s}.pk SET n = 20 WHERE n = 2`,
  `DELETE FROM {s}.k WHERE n = 1; DELETE FROM {s}.kd WHERE ctid = (SELECT min(ctid) FROM {s}.kd WHERE n = 1); UPDATE {s}.r SET v = ROW('(9,9)', 9) WHERE id = 4`,
];

const REFUSED = [
  { query: 'SELECT DISTINCT m FROM {s}.r', column: 'm', type: 'mr' },
  { query: 'SELECT b, count(*) AS n FROM {s}.r GROUP BY b', column: 'b', type: 'bits' },
  { query: 'SELECT b, n FROM {s}.pk', column: 'b', type: 'bits' },
];

const SCENARIOS: OracleScenario[] = REFUSED.map((r) => ({
  name: `a row id over ${r.type} (${r.query.replaceAll('{s}.', '')})`,
  setup: TYPES,
  query: r.query,
  steps: STEPS,
}));

const MAINTAINED: OracleScenario[] = [
  {
    name: 'a keyless table with a composite over point and a domain over point',
    setup: TYPES,
    query: 'SELECT v, d, n FROM {s}.k',
    steps: STEPS,
  },
  {
    name: 'a keyless table with a domain over point, filtered',
    setup: TYPES,
    query: 'SELECT d FROM {s}.kd WHERE n > 0',
    steps: STEPS,
  },
  {
    name: 'a keyless table joined to a keyed one',
    setup: TYPES,
    query: 'SELECT k.v, k.n, r.m FROM {s}.k JOIN {s}.r ON r.id = k.n',
    steps: STEPS,
  },
  {
    name: 'a keyed table whose other columns have no hash function',
    setup: TYPES,
    query: 'SELECT id, m, b, v FROM {s}.r WHERE id < 5',
    steps: STEPS,
  },
];

for (const mode of ['DIFFERENTIAL', 'IMMEDIATE'] as const) {
  REFUSED.forEach((r, i) => {
    it(`refuses ${r.type} in a row id at create, naming the column (${mode}, ${i})`, async () => {
      const schema = `rid${i}_${mode.toLowerCase()}`;
      const sub = (s: string) => s.replaceAll('{s}', `"${schema}"`);
      await env.db.query(`CREATE SCHEMA "${schema}"`);
      await env.db.query(sub(TYPES));
      const failure = env
        .trickle()
        .createStreamTable({ name: `"${schema}".st`, query: sub(r.query), refreshMode: mode });
      await expect(failure).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED' });
      await expect(failure).rejects.toThrow(
        new RegExp(`column ${r.column} of type .*${r.type}.*no hash function`),
      );
    });
  });
}

it('falls back to FULL in AUTO, saying why', async () => {
  await env.db.query(`CREATE SCHEMA rid_auto`);
  await env.db.query(TYPES.replaceAll('{s}', 'rid_auto'));
  const st = await env
    .trickle()
    .createStreamTable({ name: 'rid_auto.st', query: 'SELECT DISTINCT m FROM rid_auto.r' });
  expect(st.effectiveMode).toBe('FULL');
  expect(st.modeReason).toMatch(/column m of type .*mr.*no hash function/);
});

oracleScenarios('ridf', SCENARIOS, env.db, env.trickle, { modes: ['FULL', 'AUTO'] });
oracleScenarios('ridk', MAINTAINED, env.db, env.trickle, {
  modes: ['FULL', 'DIFFERENTIAL', 'AUTO', 'IMMEDIATE'],
});

// Numerics inside domains, ranges, arrays and composites: PostgreSQL's hash of such a value
// ignores the numbers' signs (−5 and 5, [−3,2) and [−3,−2), NaN and Infinity hash alike), its
// equality does not; the row ids see through the type to the numbers.
const SIGNED = `CREATE DOMAIN {s}.amount AS numeric;
  CREATE DOMAIN {s}.doc AS jsonb;
  CREATE TYPE {s}.pair AS (a numeric, t text);
  CREATE TYPE {s}.outer_pair AS (p {s}.pair, n int);
  CREATE TABLE {s}.s (id int PRIMARY KEY, d {s}.amount, r numrange, c {s}.pair, o {s}.outer_pair,
                      ds {s}.amount[], j {s}.doc, w int);
  CREATE TABLE {s}.dk (k {s}.amount PRIMARY KEY, w int);
  INSERT INTO {s}.dk VALUES (5, 1), (2.5, 2);
  INSERT INTO {s}.s VALUES
    (1, 5, '[-3,2)', ROW(5, 'x'), ROW(ROW(5, 'x'), 1), '{5,-1}', '{"a":[1]}', 1),
    (2, 5.0, '[-3,2.0)', ROW(5.00, 'x'), ROW(ROW(5.0, 'x'), 1), '{5.0,-1}', '{"a":[1.0]}', 2)`;
const SIGNED_STEPS = [
  `INSERT INTO {s}.s VALUES (3, -5, '[-3,-2)', ROW(-5, 'x'), ROW(ROW(-5, 'x'), 1), '{-5,1}', '{"a":1}', 3);
   INSERT INTO {s}.dk VALUES (-5, 3), (-2.5, 4)`,
  `INSERT INTO {s}.s VALUES (4, 'NaN', '[1,NaN)', ROW('NaN', 'x'), NULL, '{NaN}', '[[1]]', 4),
     (5, 'Infinity', '[1,Infinity)', ROW('Infinity', 'x'), ROW(NULL, NULL), '{Infinity}', '[1]', 5)`,
  `UPDATE {s}.s SET d = -d, c = ROW(-(c).a, (c).t), r = '[-3,2)' WHERE id = 1`,
  `DELETE FROM {s}.s WHERE id = 3; UPDATE {s}.s SET d = 5, ds = '{-5,1}', j = '{"a":1.0}' WHERE id = 4;
   DELETE FROM {s}.dk WHERE k = 5; UPDATE {s}.dk SET w = 9 WHERE k = -2.5`,
  `UPDATE {s}.s SET d = -5, o = ROW(ROW(-5.0, 'x'), 1) WHERE id IN (2, 5)`,
];
const SIGNED_QUERIES = [
  ['a primary key of a domain over numeric', 'SELECT k, w FROM {s}.dk'],
  ['a domain over numeric', 'SELECT d, count(*) AS n, sum(w) AS w FROM {s}.s GROUP BY d'],
  ['a numrange', 'SELECT DISTINCT r FROM {s}.s'],
  ['a composite holding a numeric', 'SELECT c, count(*) AS n FROM {s}.s GROUP BY c'],
  ['a composite in a composite', 'SELECT DISTINCT o FROM {s}.s'],
  ['an array of a domain over numeric', 'SELECT ds, count(*) AS n FROM {s}.s GROUP BY ds'],
  ['a domain over jsonb', 'SELECT DISTINCT j FROM {s}.s'],
] as const;

oracleScenarios(
  'ridsg',
  SIGNED_QUERIES.map(([what, query]) => ({
    name: `a row id over ${what} keeps signs apart`,
    setup: SIGNED,
    query,
    steps: SIGNED_STEPS,
  })),
  env.db,
  env.trickle,
  { modes: ['FULL', 'DIFFERENTIAL', 'AUTO', 'IMMEDIATE'] },
);

it('refuses a row id over an array of composites holding numerics (DIFFERENTIAL), AUTO falls back', async () => {
  await env.db.query(`CREATE SCHEMA rid_arr`);
  await env.db.query(`${SIGNED.replaceAll('{s}', 'rid_arr')};
    CREATE TABLE rid_arr.a (id int PRIMARY KEY, cs rid_arr.pair[])`);
  const query = 'SELECT DISTINCT cs FROM rid_arr.a';
  const failure = env.trickle().createStreamTable({ name: 'rid_arr.st', query, refreshMode: 'DIFFERENTIAL' });
  await expect(failure).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED' });
  await expect(failure).rejects.toThrow(/array of .*pair.*sign/);
  const auto = await env.trickle().createStreamTable({ name: 'rid_arr.st', query });
  expect(auto.effectiveMode).toBe('FULL');
});
