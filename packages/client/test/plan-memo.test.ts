/**
 * A cached plan's statement texts are built once (plan-memo.ts): the memoized plan answers what
 * the plan answers, for every argument, and builds each text once.
 */
import type { CompiledPlan } from '@pgtrickle/dvm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoizedPlan } from '../src/plan-memo.js';

/** A plan whose texts name their argument, counting how often each is built. */
function countingPlan(): { plan: CompiledPlan; built: Map<string, number> } {
  const built = new Map<string, number>();
  const count = (k: string) => built.set(k, (built.get(k) ?? 0) + 1);
  const plan = {
    mode: 'DIFFERENTIAL',
    inspectSql: () => {
      count('inspect');
      return 'SELECT 1';
    },
    populationSelect: () => {
      count('population');
      return 'SELECT 2';
    },
    fullFrontierSelect: () => {
      count('frontier');
      return 'SELECT 3';
    },
    refreshSql: (capture: number | null = null) => {
      count(`refresh ${capture}`);
      return capture === 0 ? null : `WITH x AS (SELECT ${capture})`;
    },
  } as unknown as CompiledPlan;
  return { plan, built };
}

describe('memoizedPlan', () => {
  it('answers as the plan, building each text once per argument', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 5 })), { maxLength: 30 }),
        (calls) => {
          const { plan, built } = countingPlan();
          const memo = memoizedPlan(plan);
          for (const c of calls) {
            expect(memo.refreshSql(c)).toBe(plan.refreshSql(c));
            expect(memo.inspectSql()).toBe('SELECT 1');
            expect(memo.populationSelect()).toBe('SELECT 2');
            expect(memo.fullFrontierSelect()).toBe('SELECT 3');
          }
          // Each distinct argument: built once by the memo, once per call by the comparison above.
          for (const c of new Set(calls)) {
            const direct = calls.filter((x) => x === c).length;
            expect(built.get(`refresh ${c}`)).toBe(direct + 1);
          }
          if (calls.length > 0) {
            expect(built.get('inspect')).toBe(1);
            expect(built.get('population')).toBe(1);
            expect(built.get('frontier')).toBe(1);
          }
        },
      ),
    );
  });
});
