/**
 * SELECT DISTINCT and DISTINCT ON (operators in `operators/distinct.ts`). PostgreSQL itself has
 * already checked the query (the DISTINCT ON keys lead the ORDER BY; DISTINCT's ORDER BY keys are
 * in the select list), so the keys here are column ids of the projection.
 */
import type { IrColumn, IrNode } from '../ir/types.js';
import { makeDistinct, makeDistinctOn } from '../operators/distinct.js';
import type { QueryCtx, SortKey } from './context.js';
import type { ScopeColumn } from './scope.js';

/**
 * DISTINCT over the projected `node` (`distinctOn` null) or DISTINCT ON the given column ids,
 * keeping per key the first row by `sortKeys`. `outputs` are the SELECT's output columns. The
 * result's columns include the outputs (same ids); DISTINCT ON keeps the hidden key columns too.
 */
export function buildDistinct(
  node: IrNode,
  outputs: readonly ScopeColumn[],
  distinctOn: readonly string[] | null,
  sortKeys: readonly SortKey[],
  q: QueryCtx,
): IrNode {
  if (distinctOn === null) {
    const columns: IrColumn[] = outputs.map((o) => ({ id: o.id, name: o.name }));
    return makeDistinct(q.env.ids, node, columns);
  }
  return makeDistinctOn(
    q.env.ids,
    node,
    [...new Set(distinctOn)],
    sortKeys.map((k) => ({ id: k.id, descending: k.descending, nullsFirst: k.nullsFirst })),
  );
}
