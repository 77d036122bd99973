/**
 * UNION ALL of n branches (positional columns).
 *
 * Delta rule: Δ(A ⊎ B) = ΔA ⊎ ΔB (linear), each branch's rows re-identified by branch number.
 * Snapshots: A₀ ⊎ B₀ / A₁ ⊎ B₁ — every branch on the same side.
 * Row id: the row id of (<branch number from 1>, <branch row id>); unique iff
 * every branch's ids are.
 */

import { rowIdExpr } from '../diff/rowid.js';
import { InternalError } from '../errors.js';
import type { IdAllocator } from '../ir/ids.js';
import type { IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';

/** The concatenation of its children (same column count, matched by position). */
export interface UnionAllNode extends IrNodeBase {
  readonly kind: 'unionAll';
}

/** Builds a UNION ALL; output columns are named after the first branch's. */
export function makeUnionAll(ids: IdAllocator, branches: readonly IrNode[]): UnionAllNode {
  const first = branches[0];
  if (first === undefined) throw new InternalError('UNION ALL needs branches');
  return {
    kind: 'unionAll',
    nid: ids.node(),
    columns: first.columns.map((c) => ({ id: ids.column(c.name), name: c.name })),
    uniqueIds: branches.every((b) => b.uniqueIds),
    children: branches,
  };
}

/** Row id of branch `n` (1-based) from its row's id (alias `b`). */
export function unionBranchRowId(n: number): string {
  return rowIdExpr([String(n), `b.${ROW_ID_COLUMN}`]);
}

function branchSelect(
  node: UnionAllNode,
  branch: IrNode,
  n: number,
  from: string,
  weighted: boolean,
): string {
  const cols = node.columns
    .map((c, i) => {
      const source = branch.columns[i];
      if (source === undefined) throw new InternalError('UNION ALL branches differ in column count');
      return sql`, b.${sql.id(source.id)} AS ${sql.id(c.id)}`;
    })
    .join('');
  return sql`SELECT ${unionBranchRowId(n)} AS ${ROW_ID_COLUMN}${weighted ? `, b.${WEIGHT_COLUMN}` : ''}${cols}\nFROM ${from} AS b`;
}

/** The rules of `unionAll` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const unionAllRules: OperatorRules<UnionAllNode> = {
  snapshot(node, side, ctx) {
    return node.children
      .map((branch, i) => branchSelect(node, branch, i + 1, `(${ctx.snapshot(branch, side)})`, false))
      .join('\nUNION ALL\n');
  },
  delta(node, ctx) {
    const parts = node.children.map((branch, i) =>
      ctx.isStaticallyEmpty(branch)
        ? `${branchSelect(node, branch, i + 1, `(${ctx.snapshot(branch, 'new')})`, false).replace(
            sql`AS ${ROW_ID_COLUMN}`,
            sql`AS ${ROW_ID_COLUMN}, 0::bigint AS ${WEIGHT_COLUMN}`,
          )}\nWHERE false`
        : branchSelect(node, branch, i + 1, ctx.delta(branch), true),
    );
    return ctx.stmt.add(`d${node.nid}_union_all`, parts.join('\nUNION ALL\n'));
  },
};
