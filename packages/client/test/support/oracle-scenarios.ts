/**
 * Test support: the oracle suite's scenario runner, shared by every oracle file (the main suite,
 * capture, views, coverage, equality, time zones). Each scenario × mode (FULL, DIFFERENTIAL, AUTO) gets its own
 * schema (`{s}` in the SQL); after creation and after every step (a batch of DML, then a
 * refresh) the stream table must equal its query as a multiset, with no negative hidden counts,
 * and a forced FULL refresh at the end must change nothing. With `{ modes: ['IMMEDIATE'] }` the
 * table is maintained by its triggers: no refresh, and the check runs after EVERY statement of
 * every step (each committed on its own).
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
  /** Round float columns in the oracle (summation order). */
  readonly floatDigits?: number;
}

const MODES = ['FULL', 'DIFFERENTIAL', 'AUTO'] as const;

/** A refresh mode a scenario runs in. */
export type OracleMode = (typeof MODES)[number] | 'IMMEDIATE';

/** Options of {@link oracleScenarios}. */
export interface OracleOptions {
  /** The modes to run (default FULL, DIFFERENTIAL, AUTO). */
  readonly modes?: readonly OracleMode[];
}

/**
 * The statements of a batch, split at top-level semicolons (outside quotes, dollar quotes and
 * comments).
 */
export function splitStatements(batch: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  while (i < batch.length) {
    const ch = batch[i] as string;
    if (ch === "'" || ch === '"') {
      const end = batch.indexOf(ch, i + 1);
      i = end < 0 ? batch.length : end + 1;
    } else if (ch === '-' && batch[i + 1] === '-') {
      const end = batch.indexOf('\n', i);
      i = end < 0 ? batch.length : end + 1;
    } else if (ch === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(batch.slice(i))?.[0];
      if (tag === undefined) i++;
      else {
        const end = batch.indexOf(tag, i + tag.length);
        i = end < 0 ? batch.length : end + tag.length;
      }
    } else if (ch === ';') {
      out.push(batch.slice(start, i));
      start = ++i;
    } else i++;
  }
  out.push(batch.slice(start));
  return out.map((x) => x.trim()).filter((x) => x.length > 0);
}

/** Registers one vitest case per scenario and mode (schema names start with `prefix`). */
export function oracleScenarios(
  prefix: string,
  scenarios: readonly OracleScenario[],
  db: TestDatabase,
  trickle: () => Trickle,
  runOptions: OracleOptions = {},
): void {
  scenarios.forEach((scenario, index) => {
    describe(scenario.name, () => {
      for (const mode of runOptions.modes ?? MODES) {
        it(`stays equal to its query in ${mode}`, async () => {
          const schema = `${prefix}${index}_${mode.toLowerCase()}`;
          const sub = (sql: string) => sql.replaceAll('{s}', `"${schema}"`);
          await db.query(`CREATE SCHEMA "${schema}"`);
          await db.query(sub(scenario.setup));
          const query = sub(scenario.query);
          const st = `"${schema}".st`;
          const created = await trickle().createStreamTable({ name: st, query, refreshMode: mode });
          if (mode !== 'AUTO') expect(created.effectiveMode).toBe(mode);
          const options = scenario.floatDigits === undefined ? {} : { floatDigits: scenario.floatDigits };
          await expectTableEqualsQuery(db, st, query, options);
          for (const step of scenario.steps) {
            if (mode === 'IMMEDIATE') {
              // One session (SET and BEGIN … COMMIT carry over); checked after every statement
              // outside a transaction block, i.e. once it committed.
              const session = await db.client();
              try {
                let inBlock = false;
                for (const statement of splitStatements(sub(step))) {
                  await session.query(statement);
                  const word = /^\w+/.exec(statement)?.[0]?.toUpperCase() ?? '';
                  if (word === 'BEGIN' || word === 'START') inBlock = true;
                  else if (['COMMIT', 'ROLLBACK', 'END', 'ABORT'].includes(word)) inBlock = false;
                  if (inBlock) continue;
                  await expectTableEqualsQuery(db, st, query, options);
                  await expectNoNegativeCounts(db, st);
                }
              } finally {
                await session.end();
              }
              continue;
            }
            await db.query(sub(step));
            await trickle().refresh(st);
            await expectTableEqualsQuery(db, st, query, options);
            await expectNoNegativeCounts(db, st);
          }
          // FULL and DIFFERENTIAL agree: a forced FULL refresh changes nothing.
          const full = await trickle().refresh(st, { action: 'FULL' });
          expect(full.action).toBe('FULL');
          await expectTableEqualsQuery(db, st, query, options);
          await trickle().dropStreamTable(st);
        }, 120_000);
      }
    });
  });
}
