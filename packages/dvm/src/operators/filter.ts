/**
 * Filter (WHERE, HAVING, pushed-down join predicates): σ_p.
 *
 * Delta rule: Δσ(R) = σ(ΔR) — the same predicate on the −1 and the +1 rows. Three-valued logic:
 * a row passes only when p is TRUE (`WHERE p`), on both paths; never `NOT p` for the other side,
 * so an update whose predicate becomes NULL is a plain deletion.
 * Snapshots: σ(R₀) / σ(R₁) — reads the child's snapshot on the same side.
 * Row id: the child's, passed through.
 */

import { onlyChild } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';

/** Rows of `child` for which `predicate` is TRUE. */
export interface FilterNode extends IrNodeBase {
  readonly kind: 'filter';
  readonly predicate: Expr;
}

/** Builds a filter over `child`; the predicate reads `child`'s column ids. */
export function makeFilter(ids: IdAllocator, child: IrNode, predicate: Expr): FilterNode {
  return {
    kind: 'filter',
    nid: ids.node(),
    columns: child.columns,
    uniqueIds: child.uniqueIds,
    children: [child],
    predicate,
  };
}

function passThrough(node: IrNode, alias: string): string {
  return node.columns.map((c) => sql`, ${alias}.${sql.id(c.id)}`).join('');
}

/** The rules of `filter` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const filterRules: OperatorRules<FilterNode> = {
  snapshot(node, side, ctx) {
    const child = onlyChild(node);
    return sql`SELECT c.${ROW_ID_COLUMN}${passThrough(node, 'c')}
FROM (${ctx.snapshot(child, side)}) AS c
WHERE ${ctx.render(node.predicate, 'c')}`;
  },
  delta(node, ctx) {
    const d = ctx.delta(onlyChild(node));
    return ctx.stmt.add(
      `d${node.nid}_filter`,
      sql`SELECT c.${ROW_ID_COLUMN}, c.${WEIGHT_COLUMN}${passThrough(node, 'c')}\nFROM ${d} AS c\nWHERE ${ctx.render(node.predicate, 'c')}`,
    );
  },
};
