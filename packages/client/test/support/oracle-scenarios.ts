/**
 * Test support: the oracle suite's scenario runner, shared by the oracle files that need their own
 * database (settings, collations). Each scenario × mode (FULL, DIFFERENTIAL, AUTO) gets its own
 * schema (`{s}` in the SQL); after creation and after every step (a batch of DML, then a
 * refresh) the stream table must equal its query as a multiset, with no negative hidden counts,
 * and a forced FULL refresh at the end must change nothing.
 */
import { expectNoNegativeCounts, expectTableEqualsQuery, type TestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import type { Trickle } from '../../src/index.js';

/** One oracle scenario. */
export interface OracleScenario {
  readonly name: string;
  readonly setup: string;
  readonly query: string;
  readonly steps: readonly string[];
}

const MODES = ['FULL', 'DIFFERENTIAL', 'AUTO'] as const;

/** Registers one vitest case per scenario and mode (schema names start with `prefix`). */
export function oracleScenarios(
  prefix: string,
  scenarios: readonly OracleScenario[],
  db: TestDatabase,
  trickle: () => Trickle,
): void {
  scenarios.forEach((scenario, index) => {
    describe(scenario.name, () => {
      for (const mode of MODES) {
        it(`stays equal to its query in ${mode}`, async () => {
          const schema = `${prefix}${index}_${mode.toLowerCase()}`;
          const sub = (sql: string) => sql.replaceAll('{s}', `"${schema}"`);
          await db.query(`CREATE SCHEMA "${schema}"`);
          await db.query(sub(scenario.setup));
          const query = sub(scenario.query);
          const st = `"${schema}".st`;
          const created = await trickle().createStreamTable({ name: st, query, refreshMode: mode });
          if (mode !== 'AUTO') expect(created.effectiveMode).toBe(mode);
          await expectTableEqualsQuery(db, st, query);
          for (const step of scenario.steps) {
            await db.query(sub(step));
            await trickle().refresh(st);
            await expectTableEqualsQuery(db, st, query);
            await expectNoNegativeCounts(db, st);
          }
          const full = await trickle().refresh(st, { action: 'FULL' });
          expect(full.action).toBe('FULL');
          await expectTableEqualsQuery(db, st, query);
          await trickle().dropStreamTable(st);
        }, 120_000);
      }
    });
  });
}
