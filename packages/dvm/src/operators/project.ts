/**
 * Project (the SELECT list): π_e — computes output columns from immutable (or stable)
 * expressions over the child's columns.
 *
 * Delta rule: Δπ(R) = π(ΔR), weights unchanged (a projection of a multiset keeps multiplicities;
 * no deduplication).
 * Snapshots: π(R₀) / π(R₁) — the child's snapshot on the same side.
 * Row id: the child's, passed through (a projection that drops the key keeps the id, so rows
 * stay distinct).
 */

import type { DiffContext } from '../diff/context.js';
import { onlyChild } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrColumn, IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';

/** One output column of a projection. */
export interface Projection {
  readonly column: IrColumn;
  readonly expr: Expr;
}

/** The child's rows, each mapped through `projections`. */
export interface ProjectNode extends IrNodeBase {
  readonly kind: 'project';
  readonly projections: readonly Projection[];
}

/** One item of {@link makeProject}: a named expression, optionally under a given column id. */
export interface ProjectItem {
  readonly name: string;
  readonly expr: Expr;
  /** Reuse this id (e.g. a passed-through input column); default: a new id from `name`. */
  readonly id?: string;
}

/** Builds a projection over `child`; the row id passes through. */
export function makeProject(ids: IdAllocator, child: IrNode, items: readonly ProjectItem[]): ProjectNode {
  const projections = items.map((item) => ({
    column: { id: item.id ?? ids.column(item.name), name: item.name },
    expr: item.expr,
  }));
  return {
    kind: 'project',
    nid: ids.node(),
    columns: projections.map((p) => p.column),
    uniqueIds: child.uniqueIds,
    children: [child],
    projections,
  };
}

/** The projected select list over input alias `alias`. */
export function projectionList(node: ProjectNode, alias: string, ctx: DiffContext): string {
  return node.projections.map((p) => sql`, ${ctx.render(p.expr, alias)} AS ${sql.id(p.column.id)}`).join('');
}

/** The rules of `project` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const projectRules: OperatorRules<ProjectNode> = {
  snapshot(node, side, ctx) {
    return sql`SELECT c.${ROW_ID_COLUMN}${projectionList(node, 'c', ctx)}\nFROM (${ctx.snapshot(onlyChild(node), side)}) AS c`;
  },
  delta(node, ctx) {
    const d = ctx.delta(onlyChild(node));
    return ctx.stmt.add(
      `d${node.nid}_project`,
      sql`SELECT c.${ROW_ID_COLUMN}, c.${WEIGHT_COLUMN}${projectionList(node, 'c', ctx)}\nFROM ${d} AS c`,
    );
  },
};
