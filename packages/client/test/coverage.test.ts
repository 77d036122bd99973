/**
 * DIFFERENTIAL coverage beyond the core operators, each scenario in FULL, DIFFERENTIAL and AUTO:
 * a scalar subquery over a table without a key whose value is fixed by its ORDER BY … LIMIT 1.
 */
import { expect, it } from 'vitest';
import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';
import { useTrickle } from './support/setup.js';

const env = useTrickle();

const PARTS = `CREATE TABLE {s}.supp (id int PRIMARY KEY, nation text);
  CREATE TABLE {s}.ps (part int, supp int, cost numeric, qty int, PRIMARY KEY (part, supp));
  INSERT INTO {s}.supp VALUES (1, 'de'), (2, 'de'), (3, 'fr');
  INSERT INTO {s}.ps VALUES (1, 1, 10, 5), (1, 3, 1, 1), (2, 1, 3, 3), (2, 2, 4, 1), (3, 2, 100, 2), (4, 1, 1, 1)`;
const PARTS_STEPS = [
  `INSERT INTO {s}.ps VALUES (5, 2, 50, 1), (4, 2, 1, 1)`,
  `UPDATE {s}.ps SET qty = qty * 10 WHERE part = 1`,
  `UPDATE {s}.supp SET nation = 'fr' WHERE id = 2`,
  `DELETE FROM {s}.ps WHERE part = 1; INSERT INTO {s}.supp VALUES (4, 'de'); INSERT INTO {s}.ps VALUES (6, 4, 7, 7)`,
  `DELETE FROM {s}.ps`,
  `INSERT INTO {s}.ps VALUES (7, 1, 1, 1)`,
];

const SCENARIOS: OracleScenario[] = [
  {
    name: 'a scalar subquery in HAVING (TPC-H Q11 shape)',
    setup: PARTS,
    query: `SELECT ps.part, sum(ps.cost * ps.qty) AS value FROM {s}.ps JOIN {s}.supp s ON s.id = ps.supp WHERE s.nation = 'de'
      GROUP BY ps.part
      HAVING sum(ps.cost * ps.qty) > (SELECT sum(p2.cost * p2.qty) * 0.2 FROM {s}.ps p2 JOIN {s}.supp s2 ON s2.id = p2.supp WHERE s2.nation = 'de')`,
    steps: PARTS_STEPS,
  },
  {
    name: 'a correlated subquery in HAVING over a grouped column',
    setup: PARTS,
    query: `SELECT ps.supp, count(*) AS n FROM {s}.ps GROUP BY ps.supp
      HAVING count(*) >= (SELECT count(*) FROM {s}.ps p2 WHERE p2.supp <> ps.supp) / 2`,
    steps: PARTS_STEPS,
  },
  {
    name: 'a scalar subquery over a keyless table, fixed by ORDER BY … LIMIT 1',
    setup: `CREATE TABLE {s}.a (id int PRIMARY KEY, v int); CREATE TABLE {s}.b (k int, note text);
      INSERT INTO {s}.a VALUES (1, 10), (2, 20); INSERT INTO {s}.b VALUES (5, 'x'), (5, 'y'), (7, 'z'), (NULL, 'n')`,
    query:
      'SELECT id, v, (SELECT b.k FROM {s}.b WHERE b.k = a.id + 4 ORDER BY b.k LIMIT 1) AS same_k, (SELECT k FROM {s}.b ORDER BY k LIMIT 1) AS least, (SELECT b.k FROM {s}.b ORDER BY b.k DESC NULLS LAST LIMIT 1) AS most FROM {s}.a',
    steps: [
      `INSERT INTO {s}.b VALUES (3, 'w'), (3, 'v')`,
      `DELETE FROM {s}.b WHERE k = 3 AND note = 'w'`,
      `DELETE FROM {s}.b WHERE k = 3; INSERT INTO {s}.a VALUES (3, 30)`,
      `UPDATE {s}.b SET k = 9 WHERE note = 'z'; DELETE FROM {s}.b WHERE k = 5 AND note = 'x'`,
      `DELETE FROM {s}.b`,
      `INSERT INTO {s}.b VALUES (1, 'one')`,
    ],
  },
];

it('compiles the keyless ORDER BY … LIMIT 1 scalar subquery differentially', async () => {
  await env.db.query('CREATE TABLE kl_a (id int PRIMARY KEY); CREATE TABLE kl_b (k int)');
  const st = await env.trickle().createStreamTable({
    name: 'kl_st',
    query: 'SELECT id, (SELECT k FROM kl_b ORDER BY k LIMIT 1) AS least FROM kl_a',
    refreshMode: 'DIFFERENTIAL',
  });
  expect(st.effectiveMode).toBe('DIFFERENTIAL');
  await expect(
    env.trickle().createStreamTable({
      name: 'kl_st2',
      query: 'SELECT id, (SELECT k FROM kl_b LIMIT 1) AS any_k FROM kl_a',
      refreshMode: 'DIFFERENTIAL',
    }),
  ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED' });
});

oracleScenarios('cov', SCENARIOS, env.db, env.trickle);
oracleScenarios('covi', SCENARIOS, env.db, env.trickle, { modes: ['IMMEDIATE'] });
