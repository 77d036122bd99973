/**
 * Inner join (JOIN … ON, CROSS JOIN, comma joins): L ⋈_p R, binary; n tables form a left-deep
 * tree. WHERE conjuncts that read both sides are pushed into `p` by the builder.
 *
 * Delta rule (Z-sets, weights multiply):
 *   Δ(L⋈R) = ΔL⋈R₁ + L₀⋈ΔR,  computed as  ΔL⋈R₁ + L₁⋈ΔR − ΔL⋈ΔR   (since L₀ = L₁ − ΔL).
 * The second form reads only the new snapshots (live tables, indexable on the join keys) and the
 * deltas, so each term is driven by a small delta. A self-join is two scans of one source
 * sharing one buffer read; the rule is unchanged.
 * Snapshots: L₀⋈R₀ / L₁⋈R₁ — both children's snapshots on the same side. In a delta, the L₁ of a
 * join whose left input is itself a join is that input's new snapshot written once as a shared
 * `NOT MATERIALIZED` CTE (`DiffContext.sharedSnapshot`), which this join's own new snapshot reads
 * again when the next join up asks for it: one copy of each level instead of one per level above.
 * Row id: the row id of (<left id>, <right id>); unique iff both sides' are.
 */

import type { DiffContext } from '../diff/context.js';
import { rowIdExpr } from '../diff/rowid.js';
import { twoChildren } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';
import { innerJoinDeltaTerms } from './shared/join-terms.js';

/** An inner join of two inputs on `condition` (null: a cross join). */
export interface JoinNode extends IrNodeBase {
  readonly kind: 'join';
  readonly condition: Expr | null;
}

/** Builds an inner join; the condition reads column ids of both inputs. */
export function makeJoin(ids: IdAllocator, left: IrNode, right: IrNode, condition: Expr | null): JoinNode {
  return {
    kind: 'join',
    nid: ids.node(),
    columns: [...left.columns, ...right.columns],
    uniqueIds: left.uniqueIds && right.uniqueIds,
    children: [left, right],
    condition,
  };
}

/** Returns a copy of `join` whose condition also requires `extra` (AND). */
export function withJoinCondition(join: JoinNode, extra: Expr, and: (a: Expr, b: Expr) => Expr): JoinNode {
  return { ...join, condition: join.condition === null ? extra : and(join.condition, extra) };
}

/** The join's row id from its inputs' ids (aliases `l` and `r`). */
export const JOIN_ROW_ID = rowIdExpr([`l.${ROW_ID_COLUMN}`, `r.${ROW_ID_COLUMN}`]);

/**
 * One term of the join over relations `left` (alias `l`) and `right` (alias `r`), with weight
 * expression `weight` ('' for none) and row id `rowId` (default: the join's, from both inputs' ids).
 */
export function joinTerm(
  ctx: DiffContext,
  node: JoinNode,
  left: string,
  right: string,
  weight: string,
  rowId: string = JOIN_ROW_ID,
): string {
  const [l] = twoChildren(node);
  const leftIds = new Set(l.columns.map((c) => c.id));
  const on =
    node.condition === null ? 'true' : ctx.render(node.condition, (id) => (leftIds.has(id) ? 'l' : 'r'));
  const cols = node.columns.map((c) => sql`, ${leftIds.has(c.id) ? 'l' : 'r'}.${sql.id(c.id)}`).join('');
  return sql`SELECT ${rowId} AS ${ROW_ID_COLUMN}${weight === '' ? '' : sql`, ${weight} AS ${WEIGHT_COLUMN}`}${cols}
FROM ${left} AS l
JOIN ${right} AS r ON ${on}`;
}

/** The rules of `join` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const joinRules: OperatorRules<JoinNode> = {
  snapshot(node, side, ctx) {
    const [l, r] = twoChildren(node);
    return joinTerm(ctx, node, `(${ctx.snapshot(l, side)})`, `(${ctx.snapshot(r, side)})`, '');
  },
  delta(node, ctx) {
    const [l, r] = twoChildren(node);
    const terms = innerJoinDeltaTerms(ctx, l, r, (left, right, weight) =>
      joinTerm(ctx, node, left, right, weight),
    );
    return ctx.stmt.add(`d${node.nid}_join`, terms.join('\nUNION ALL\n'));
  },
};
