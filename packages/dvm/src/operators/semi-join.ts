/**
 * Semi-join and anti-join (WHERE EXISTS / IN / = ANY / NOT EXISTS / NOT IN / op ALL, decorrelated
 * by the builder): L ⋉ R keeps the rows of L that have a match in R, L ▷ R those that have none.
 * A match is a row r of R satisfying one of the node's alternatives (see `existence.ts`); e.g.
 * `x NOT IN (SELECT y …)` is L ▷ R with alternatives `x = y`, `y IS NULL`, `x IS NULL` — SQL's
 * NULL rule (TRUE iff the subquery is empty, or x is not NULL and no y is NULL or equal to x).
 * A row's multiplicity is its multiplicity in L, never multiplied by the number of matches.
 *
 * Delta rule, with m_R(l) ∈ {0,1} = "l has a match in R" (for the anti-join read 1 − m):
 *   L₁·m₁ − L₀·m₀ = ΔL·m₀ + L₁·(m₁ − m₀)
 * - Part A: every ΔL row (its weight) whose membership holds against R₀;
 * - Part B: the rows of L₁ that match some row of |ΔR| (found from ΔR, index-friendly) — only
 *   their membership can differ between R₀ and R₁; for those, +1 if it holds in R₁ and not in
 *   R₀, −1 if the reverse (a row gaining its first match / losing its last one).
 * Rows of L₁ that match no changed row of R keep their membership, so the rule is exact.
 * Snapshots: L₁ (new) in part B; R₀ for parts A and B, R₁ for part B — each probed per row (a
 * fenced EXISTS, index-driven; R₀ of a non-scan input as R₁|c − Δ⁺ + Δ⁻, see `existence.ts`);
 * snapshot(side) = L_side filtered by a match in R_side (a plain semi/anti-join).
 * Row id: the left row's id, passed through; unique iff the left input's ids are.
 */

import type { DiffContext } from '../diff/context.js';
import { twoChildren } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';
import {
  type Alternative,
  affectedRowsSql,
  columnList,
  noMatchSql,
  oldProbe,
  type ProbeRelation,
  perRowValuesCte,
  probeAliases,
  sideAliases,
  someMatchSql,
} from './shared/existence.js';

/** Rows of the left input with (semi) or without (anti) a matching row of the right input. */
export interface SemiJoinNode extends IrNodeBase {
  readonly kind: 'semiJoin';
  /** True for the anti-join (NOT EXISTS, NOT IN, op ALL). */
  readonly anti: boolean;
  /** A right row matches a left row when it satisfies one of these (over both inputs' ids). */
  readonly alternatives: readonly Alternative[];
  /** WHERE conjuncts over the left input may be pushed into it. */
  readonly preservedInputs: readonly number[];
}

/** Builds a semi-join (anti: an anti-join) of `left` and `right`; the output is the left's columns. */
export function makeSemiJoin(
  ids: IdAllocator,
  left: IrNode,
  right: IrNode,
  anti: boolean,
  alternatives: readonly Alternative[],
): SemiJoinNode {
  return {
    kind: 'semiJoin',
    nid: ids.node(),
    columns: left.columns,
    uniqueIds: left.uniqueIds,
    children: [left, right],
    anti,
    alternatives,
    preservedInputs: [0],
  };
}

/** The membership test of left alias `la` against relation `rel` (anti: no match). */
function member(
  ctx: DiffContext,
  node: SemiJoinNode,
  rel: ProbeRelation,
  la: string,
  perRow = false,
): string {
  const { ra, aliasOf } = probeAliases(node, la);
  return node.anti
    ? noMatchSql(ctx, rel, ra, node.alternatives, aliasOf, perRow)
    : someMatchSql(ctx, rel, ra, node.alternatives, aliasOf, perRow);
}

/** The rules of `semiJoin` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const semiJoinRules: OperatorRules<SemiJoinNode> = {
  snapshot(node, side, ctx) {
    const [left, right] = twoChildren(node);
    const la = `l${node.nid}`;
    return sql`SELECT ${la}.${ROW_ID_COLUMN}${columnList(left, la)}
FROM (${ctx.snapshot(left, side)}) AS ${la}
WHERE ${member(ctx, node, `(${ctx.snapshot(right, side)})`, la)}`;
  },
  delta(node, ctx) {
    const [left, right] = twoChildren(node);
    const parts: string[] = [];
    const leftEmpty = ctx.isStaticallyEmpty(left);
    const rightEmpty = ctx.isStaticallyEmpty(right);
    const r0 = oldProbe(ctx, node, right);
    if (!leftEmpty) {
      // Part A: ΔL rows whose membership holds against R₀.
      // The test is computed in the select list of a materialised CTE: a per-row (indexable)
      // subplan driven by the small delta, never a semi-join hashing all of R₀.
      const dl = ctx.delta(left);
      const da = `d${node.nid}`;
      const flags = perRowValuesCte(ctx, `n${node.nid}_semi_delta`, dl, da, [
        [member(ctx, node, r0, da, true), '__pgt_m'],
      ]);
      parts.push(
        sql`SELECT f.${ROW_ID_COLUMN}, f.${WEIGHT_COLUMN}${columnList(left, 'f')}\nFROM ${flags} AS f\nWHERE f.__pgt_m`,
      );
    }
    if (!rightEmpty) {
      // Part B: L₁ rows matching a changed right row; membership R₁ vs R₀.
      const dr = ctx.delta(right);
      const la = `l${node.nid}`;
      const ra = `r${node.nid}`;
      const affected = affectedRowsSql(
        ctx,
        `(${ctx.snapshot(left, 'new')})`,
        la,
        dr,
        ra,
        node.alternatives,
        sideAliases(left, la, ra),
      );
      const a = `a${node.nid}`;
      const r1 = `(${ctx.snapshot(right, 'new')})`;
      const flags = perRowValuesCte(ctx, `n${node.nid}_semi_affected`, `(${affected})`, a, [
        [someMatchSql(ctx, r1, ra, node.alternatives, sideAliases(left, a, ra), true), '__pgt_m1'],
        [someMatchSql(ctx, r0, ra, node.alternatives, sideAliases(left, a, ra), true), '__pgt_m0'],
      ]);
      const gain = node.anti ? '-1' : '1';
      const lose = node.anti ? '1' : '-1';
      parts.push(
        sql`SELECT f.${ROW_ID_COLUMN}, (CASE WHEN f.__pgt_m1 THEN ${gain} ELSE ${lose} END)::bigint AS ${WEIGHT_COLUMN}${columnList(left, 'f')}
FROM ${flags} AS f
WHERE f.__pgt_m1 <> f.__pgt_m0`,
      );
    }
    return ctx.stmt.add(`d${node.nid}_${node.anti ? 'anti' : 'semi'}`, parts.join('\nUNION ALL\n'));
  },
};
