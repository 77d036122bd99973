/**
 * DIFFERENTIAL coverage beyond the core operators, each scenario in FULL, DIFFERENTIAL and AUTO:
 * a scalar subquery over a table without a key whose value is fixed by its ORDER BY … LIMIT 1.
 */
import { expect, it } from 'vitest';
import { type CaptureScenario, describeCaptureScenarios } from './support/capture-scenarios.js';
import { useTrickle } from './support/setup.js';

const env = useTrickle();

const SCENARIOS: CaptureScenario[] = [
  {
    name: 'a scalar subquery over a keyless table, fixed by ORDER BY … LIMIT 1',
    setup: `CREATE TABLE {s}.a (id int PRIMARY KEY, v int); CREATE TABLE {s}.b (k int, note text);
      INSERT INTO {s}.a VALUES (1, 10), (2, 20); INSERT INTO {s}.b VALUES (5, 'x'), (5, 'y'), (7, 'z'), (NULL, 'n')`,
    query:
      'SELECT id, v, (SELECT k FROM {s}.b ORDER BY k LIMIT 1) AS least, (SELECT b.k FROM {s}.b ORDER BY b.k DESC NULLS LAST LIMIT 1) AS most FROM {s}.a',
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

describeCaptureScenarios('cov', env, SCENARIOS);
