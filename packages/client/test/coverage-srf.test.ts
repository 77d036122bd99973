/**
 * DIFFERENTIAL coverage: subqueries in the arguments of a set-returning function in FROM — the
 * first FROM item over an uncorrelated subquery, a later item whose subquery is uncorrelated, and
 * correlated (LATERAL, inner and LEFT) subqueries reading the items before it. Each scenario runs
 * in FULL, DIFFERENTIAL, AUTO and IMMEDIATE (also WITH ORDINALITY over a keyless input holding
 * duplicates, and a function over a subquery reading two earlier items); a volatile function stays
 * refused, as does a function nested in a correlated subquery whose FROM items read the enclosing query.
 */
import { expect, it } from 'vitest';
import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';
import { useTrickle } from './support/setup.js';

const env = useTrickle();

const NUMBERS = `CREATE TABLE {s}.t (id int PRIMARY KEY, n int);
  INSERT INTO {s}.t VALUES (1, 2), (2, 4), (3, NULL)`;
const NUMBERS_STEPS = [
  `INSERT INTO {s}.t VALUES (4, 6)`,
  `UPDATE {s}.t SET n = 1 WHERE id = 4`,
  `DELETE FROM {s}.t WHERE id IN (1, 2)`,
  `UPDATE {s}.t SET n = 3 WHERE id = 3; INSERT INTO {s}.t VALUES (5, 0)`,
  `DELETE FROM {s}.t`,
  `INSERT INTO {s}.t VALUES (6, 2), (7, 5)`,
];

const CFG = `CREATE TABLE {s}.cfg (id int PRIMARY KEY, doc jsonb);
  INSERT INTO {s}.cfg VALUES (1, '[1, "a", {"b": 2}]'), (2, '[9]')`;
const CFG_STEPS = [
  `UPDATE {s}.cfg SET doc = '[1, 2.0, 2.00]' WHERE id = 1`,
  `UPDATE {s}.cfg SET doc = '[7]' WHERE id = 2`,
  `DELETE FROM {s}.cfg WHERE id = 1`,
  `INSERT INTO {s}.cfg VALUES (1, '[]')`,
  `UPDATE {s}.cfg SET doc = '[null, [1], "x"]' WHERE id = 1`,
  `UPDATE {s}.cfg SET doc = NULL WHERE id = 1`,
];

const GROUPS = `CREATE TABLE {s}.g (k int PRIMARY KEY, label text);
  CREATE TABLE {s}.u (id int PRIMARY KEY, k int, x int);
  INSERT INTO {s}.g VALUES (1, 'one'), (2, 'two'), (3, 'three');
  INSERT INTO {s}.u VALUES (1, 1, 10), (2, 1, 11), (3, 2, 20), (4, 9, 90)`;
const GROUPS_STEPS = [
  `INSERT INTO {s}.u VALUES (5, 3, 30), (6, 1, 12)`,
  `UPDATE {s}.u SET k = 2 WHERE id = 1`,
  `DELETE FROM {s}.u WHERE id = 3`,
  `INSERT INTO {s}.g VALUES (9, 'nine'); DELETE FROM {s}.g WHERE k = 3`,
  `UPDATE {s}.u SET x = x + 100; UPDATE {s}.g SET label = 'uno' WHERE k = 1`,
  `DELETE FROM {s}.u WHERE k = 1`,
];

const KEYLESS = `CREATE TABLE {s}.bag (tag text, xs int[]);
  INSERT INTO {s}.bag VALUES ('a', '{1,2}'), ('a', '{1,2}'), ('b', '{3}'), ('c', NULL), ('d', '{}')`;
const KEYLESS_STEPS = [
  `INSERT INTO {s}.bag VALUES ('a', '{1,2}'), ('e', '{5,5,5}')`,
  `DELETE FROM {s}.bag WHERE ctid = (SELECT min(ctid) FROM {s}.bag WHERE tag = 'a')`,
  `UPDATE {s}.bag SET xs = xs || 9 WHERE tag = 'b'`,
  `UPDATE {s}.bag SET xs = '{7}' WHERE ctid = (SELECT max(ctid) FROM {s}.bag WHERE tag = 'a')`,
  `DELETE FROM {s}.bag WHERE tag IN ('a', 'e')`,
  `INSERT INTO {s}.bag SELECT 'f', ARRAY[g, g] FROM generate_series(1, 3) AS g; INSERT INTO {s}.bag VALUES ('f', '{1,1}')`,
];

const SCENARIOS: OracleScenario[] = [
  {
    name: 'generate_series over a scalar subquery, the first FROM item',
    setup: NUMBERS,
    query: 'SELECT g FROM generate_series(1, (SELECT max(n) FROM {s}.t)) g',
    steps: NUMBERS_STEPS,
  },
  {
    name: 'generate_series WITH ORDINALITY over two subqueries',
    setup: NUMBERS,
    query: `SELECT g, o FROM generate_series((SELECT min(n) FROM {s}.t), (SELECT count(*) FROM {s}.t)::int)
      WITH ORDINALITY AS s(g, o)`,
    steps: NUMBERS_STEPS,
  },
  {
    name: 'jsonb_array_elements over a subquery by primary key',
    setup: CFG,
    query: 'SELECT e.value AS v FROM jsonb_array_elements((SELECT doc FROM {s}.cfg WHERE id = 1)) AS e',
    steps: CFG_STEPS,
  },
  {
    name: 'a later function item over an uncorrelated subquery and the items before it',
    setup: NUMBERS,
    query: 'SELECT t.id, g FROM {s}.t, generate_series(t.n, (SELECT max(n) FROM {s}.t)) AS g',
    steps: NUMBERS_STEPS,
  },
  {
    name: 'LATERAL unnest over a correlated aggregate subquery',
    setup: GROUPS,
    query: `SELECT g.k, g.label, x FROM {s}.g,
      LATERAL unnest((SELECT array_agg(u.x ORDER BY u.x) FROM {s}.u WHERE u.k = g.k)) AS x`,
    steps: GROUPS_STEPS,
  },
  {
    name: 'LEFT JOIN LATERAL unnest over a correlated subquery',
    setup: GROUPS,
    query: `SELECT g.k, x FROM {s}.g
      LEFT JOIN LATERAL unnest((SELECT array_agg(u.x) FROM {s}.u WHERE u.k = g.k AND u.x > 10)) AS x ON x <> 12`,
    steps: GROUPS_STEPS,
  },
  {
    name: 'unaliased: jsonb_array_elements, and LATERAL unnest over an array_agg without ORDER BY, SELECT *',
    setup: `${CFG};
      ${GROUPS}`,
    query: `SELECT * FROM jsonb_array_elements((SELECT doc FROM {s}.cfg WHERE id = 2)), {s}.g,
      LATERAL unnest((SELECT array_agg(u.x) FROM {s}.u WHERE u.k = g.k))`,
    steps: [...CFG_STEPS.slice(0, 2), ...GROUPS_STEPS],
  },
  {
    name: 'ROWS FROM two functions, one over a subquery',
    setup: NUMBERS,
    query: `SELECT a, b FROM ROWS FROM (generate_series(1, (SELECT count(n) FROM {s}.t)::int), unnest(ARRAY['x', 'y'])) AS r(a, b)`,
    steps: NUMBERS_STEPS,
  },
  {
    name: 'unnest WITH ORDINALITY over a keyless input holding duplicate rows',
    setup: KEYLESS,
    query: `SELECT b.tag, e.v, e.o FROM {s}.bag AS b CROSS JOIN LATERAL unnest(b.xs) WITH ORDINALITY AS e(v, o)`,
    steps: KEYLESS_STEPS,
  },
  {
    name: 'LEFT JOIN LATERAL unnest WITH ORDINALITY over a keyless input, aggregated',
    setup: KEYLESS,
    query: `SELECT e.o, count(*) AS n, sum(e.v) AS s FROM {s}.bag AS b
      LEFT JOIN LATERAL unnest(b.xs) WITH ORDINALITY AS e(v, o) ON true GROUP BY e.o`,
    steps: KEYLESS_STEPS,
  },
  {
    name: 'nested LATERAL: a function over a subquery reading two earlier items',
    setup: GROUPS,
    query: `SELECT g.k, u.id, e.v FROM {s}.g JOIN {s}.u ON u.k = g.k,
      LATERAL unnest((SELECT array_agg(w.x) FROM {s}.u AS w WHERE w.k = g.k AND w.x <> u.x)) AS e(v)`,
    steps: GROUPS_STEPS,
  },
  {
    name: 'a function over a subquery inside EXISTS',
    setup: GROUPS,
    query: `SELECT g.k, g.label FROM {s}.g
      WHERE EXISTS (SELECT 1 FROM unnest((SELECT array_agg(u.x) FROM {s}.u WHERE u.k = 1)) AS x WHERE x > g.k * 10)`,
    steps: GROUPS_STEPS,
  },
];

// A function inside a correlated scalar subquery whose own FROM items refer to the enclosing
// query: maintained in FULL and AUTO; DIFFERENTIAL and IMMEDIATE refuse it at create.
const NESTED: OracleScenario = {
  name: 'nested correlation: a function over a subquery correlated to an outer item, inside a correlated subquery',
  setup: GROUPS,
  query: `SELECT g.k, (SELECT count(*) FROM {s}.u AS u2,
      LATERAL unnest((SELECT array_agg(u.x) FROM {s}.u WHERE u.k = g.k AND u.x >= u2.x)) AS x
      WHERE u2.k = g.k) AS n
    FROM {s}.g`,
  steps: GROUPS_STEPS,
};
oracleScenarios('srfn', [NESTED], env.db, env.trickle, { modes: ['FULL', 'AUTO'] });

for (const mode of ['DIFFERENTIAL', 'IMMEDIATE'] as const) {
  it(`refuses the nested correlation at create with PGT_UNSUPPORTED (${mode}), leaving nothing`, async () => {
    const schema = `srfn_refused_${mode.toLowerCase()}`;
    await env.db.query(`CREATE SCHEMA ${schema}; ${GROUPS.replaceAll('{s}', schema)}`);
    const failure = env.trickle().createStreamTable({
      name: `${schema}.st`,
      query: NESTED.query.replaceAll('{s}', schema),
      refreshMode: mode,
    });
    await expect(failure).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED' });
    await expect(failure).rejects.toThrow(/refer to the enclosing query/);
    const left = await env.db.query(`SELECT to_regclass('${schema}.st') AS t`);
    expect(left.rows[0]?.t).toBeNull();
  });
}

it('maintains subquery arguments of a set-returning function differentially', async () => {
  await env.db.query('CREATE TABLE srf_t (id int PRIMARY KEY, n int)');
  const st = await env.trickle().createStreamTable({
    name: 'srf_st',
    query: 'SELECT g FROM generate_series(1, (SELECT max(n) FROM srf_t)) g',
    refreshMode: 'AUTO',
  });
  expect(st.effectiveMode).toBe('DIFFERENTIAL');
  await env.trickle().dropStreamTable('srf_st');
});

it('still refuses a volatile set-returning function with a subquery argument, naming it', async () => {
  await env.db.query(`CREATE TABLE srf_v (id int PRIMARY KEY, n int);
    CREATE FUNCTION srf_rows(m int) RETURNS SETOF int VOLATILE LANGUAGE sql AS 'SELECT generate_series(1, m)'`);
  await expect(
    env.trickle().createStreamTable({
      name: 'srf_vst',
      query: 'SELECT g FROM srf_rows((SELECT max(n) FROM srf_v)) g',
      refreshMode: 'DIFFERENTIAL',
    }),
  ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED', message: expect.stringMatching(/volatile.*srf_rows/) });
});

it('refuses a subquery argument that calls a volatile function, naming it', async () => {
  await env.db.query('CREATE TABLE srf_r (id int PRIMARY KEY, n int)');
  await expect(
    env.trickle().createStreamTable({
      name: 'srf_rst',
      query: 'SELECT g FROM generate_series(1, (SELECT max(n) + (random() * 0)::int FROM srf_r)) g',
      refreshMode: 'DIFFERENTIAL',
    }),
  ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED', message: expect.stringMatching(/random/) });
});

oracleScenarios('srf', SCENARIOS, env.db, env.trickle);
oracleScenarios('srfi', SCENARIOS, env.db, env.trickle, { modes: ['IMMEDIATE'] });
