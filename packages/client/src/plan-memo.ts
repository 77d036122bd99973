/**
 * A cached plan's statement texts, built once. Rule: the statements a refresh runs from a compiled
 * plan (its window inspection, its DIFFERENTIAL statement per capture target, its population query and FULL frontier)
 * depend only on the plan and those arguments, so the plan the engine caches builds each text on
 * first use and hands the same text back afterwards (building a delta statement takes milliseconds
 * of JavaScript; the same text is also what keeps its prepared statement in use).
 */
import type { CompiledPlan } from '@pgtrickle/dvm';

/**
 * `plan` with `inspectSql`, `refreshSql`, `populationSelect` and `fullFrontierSelect` answering
 * from a per-plan memo.
 */
export function memoizedPlan(plan: CompiledPlan): CompiledPlan {
  const inspect = new Map<string, string>();
  let population: string | undefined;
  let frontier: string | undefined;
  const refresh = new Map<number | null, string | null>();
  return {
    ...plan,
    inspectSql(firstParam = 1, capped = false) {
      const key = `${firstParam}:${capped}`;
      let text = inspect.get(key);
      if (text === undefined) {
        text = plan.inspectSql(firstParam, capped);
        inspect.set(key, text);
      }
      return text;
    },
    populationSelect() {
      population ??= plan.populationSelect();
      return population;
    },
    fullFrontierSelect() {
      frontier ??= plan.fullFrontierSelect();
      return frontier;
    },
    refreshSql(capturePgtId: number | null = null) {
      if (!refresh.has(capturePgtId)) refresh.set(capturePgtId, plan.refreshSql(capturePgtId));
      return refresh.get(capturePgtId) ?? null;
    },
  };
}
