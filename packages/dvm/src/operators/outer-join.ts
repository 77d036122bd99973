/**
 * Outer joins: LEFT (RIGHT is a LEFT join with its inputs swapped by the builder) and FULL, on a
 * condition p (ON, USING, NATURAL; null = ON TRUE). Input 0 is the preserved input of a LEFT join.
 *
 *   L ⟕ R = (L ⋈ R) ⊎ (L ▷ R)×NULL          L ⟗ R = (L ⋈ R) ⊎ (L ▷ R)×NULL ⊎ NULL×(R ▷ L)
 *
 * where L ▷ R are the rows of L with no row of R satisfying p (p must be TRUE: NULL keys never
 * match). Delta rule, term by term:
 * - inner part, as the inner join: Δ(L⋈R) = ΔL⋈R₁ + L₁⋈ΔR − ΔL⋈ΔR;
 * - left-padded part, with nm_R(l) ∈ {0,1} = "no row of R matches l":
 *     L₁·nm₁ − L₀·nm₀ = ΔL·nm₀ + L₁·(nm₁ − nm₀)
 *   i.e. (A) every ΔL row (its weight) that has no match in R₀, padded; (B) the rows of L₁ that
 *   match some row of |ΔR| (found from ΔR through p, index-friendly) — the only rows whose
 *   padded row can appear or disappear: −1 if it had no match in R₀ and has one in R₁ (it gained
 *   its first match), +1 if the reverse (it lost its last match);
 * - FULL adds the symmetric right-padded part: ΔR·nm_L₀ + R₁·(nm_L₁ − nm_L₀), with the rows of R₁
 *   that match some row of |ΔL|.
 * Snapshots read: L₁, R₁ (inner part, part B), L₀ / R₀ (the "no match before" tests, probed per
 * row; R₀ of a non-scan input as R₁|c − Δ⁺ + Δ⁻, see `existence.ts`);
 * snapshot(side) = `L_side LEFT|FULL JOIN R_side ON p`.
 * Row id: the row id of (<input 0 id>, <input 1 id>) with NULL for the missing
 * side — the same formula in every part (a padded row's id differs from every matched row's);
 * unique iff both inputs' ids are.
 */

import type { DiffContext } from '../diff/context.js';
import { rowIdExpr } from '../diff/rowid.js';
import { twoChildren } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrColumn, IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';
import {
  type Alternative,
  affectedRowsSql,
  oldProbe,
  perRowValuesCte,
  someMatchSql,
} from './shared/existence.js';
import { innerJoinDeltaTerms } from './shared/join-terms.js';

/** A LEFT (input 0 preserved) or FULL outer join of two inputs on `condition` (null: ON TRUE). */
export interface OuterJoinNode extends IrNodeBase {
  readonly kind: 'outerJoin';
  readonly full: boolean;
  readonly condition: Expr | null;
  /** Inputs whose rows the join preserves (WHERE conjuncts over them may be pushed into them). */
  readonly preservedInputs: readonly number[];
}

/**
 * Builds an outer join; `columns` (default: input 0's then input 1's) lets a RIGHT join keep the
 * user's column order while its preserved input comes first.
 */
export function makeOuterJoin(
  ids: IdAllocator,
  full: boolean,
  preserved: IrNode,
  other: IrNode,
  condition: Expr | null,
  columns?: readonly IrColumn[],
): OuterJoinNode {
  return {
    kind: 'outerJoin',
    nid: ids.node(),
    columns: columns ?? [...preserved.columns, ...other.columns],
    uniqueIds: preserved.uniqueIds && other.uniqueIds,
    children: [preserved, other],
    full,
    condition,
    preservedInputs: full ? [] : [0],
  };
}

/** The join condition as one alternative (`true` for none). */
function matchAlternatives(node: OuterJoinNode): Alternative[] {
  return [node.condition === null ? [] : [{ expr: node.condition, test: 'true' }]];
}

/**
 * The output select list: the row id from the two id expressions, an optional weight, then every
 * output column from alias `la` (input 0's), `ra` (input 1's) or NULL when that side is missing.
 */
function outputList(
  node: OuterJoinNode,
  la: string | null,
  ra: string | null,
  weight: string | null,
): string {
  const [left] = twoChildren(node);
  const leftIds = new Set(left.columns.map((c) => c.id));
  const id = rowIdExpr([
    la === null ? 'NULL::bigint' : `${la}.${ROW_ID_COLUMN}`,
    ra === null ? 'NULL::bigint' : `${ra}.${ROW_ID_COLUMN}`,
  ]);
  const cols = node.columns
    .map((c) => {
      const alias = leftIds.has(c.id) ? la : ra;
      return sql`, ${alias === null ? 'NULL' : sql`${alias}.${sql.id(c.id)}`} AS ${sql.id(c.id)}`;
    })
    .join('');
  return sql`${id} AS ${ROW_ID_COLUMN}${weight === null ? '' : sql`, ${weight} AS ${WEIGHT_COLUMN}`}${cols}`;
}

function aliasesFor(node: OuterJoinNode, la: string, ra: string): (id: string) => string {
  const [left] = twoChildren(node);
  const leftIds = new Set(left.columns.map((c) => c.id));
  return (id) => (leftIds.has(id) ? la : ra);
}

/** One inner-join term: `left` ⋈ `right` with the given weight expression. */
function innerTerm(
  ctx: DiffContext,
  node: OuterJoinNode,
  left: string,
  right: string,
  weight: string,
): string {
  const on = node.condition === null ? 'true' : ctx.render(node.condition, aliasesFor(node, 'l', 'r'));
  return sql`SELECT ${outputList(node, 'l', 'r', weight)}\nFROM ${left} AS l\nJOIN ${right} AS r ON ${on}`;
}

/**
 * The padded part of one side (`side` 0: rows of input 0 without a match in input 1; 1: the
 * reverse, FULL only): parts A and B of the header.
 */
function paddedParts(ctx: DiffContext, node: OuterJoinNode, side: 0 | 1): string[] {
  const [left, right] = twoChildren(node);
  const own = side === 0 ? left : right;
  const other = side === 0 ? right : left;
  const alts = matchAlternatives(node);
  const parts: string[] = [];
  const o = `o${node.nid}`;
  const p = `p${node.nid}`;
  // Column aliases: the padded side's row alias is `p`, the other side's `o`.
  const aliasOf = (pa: string, oa: string) =>
    side === 0 ? aliasesFor(node, pa, oa) : aliasesFor(node, oa, pa);
  const padded = (alias: string, weight: string) =>
    side === 0 ? outputList(node, alias, null, weight) : outputList(node, null, alias, weight);
  const ownEmpty = ctx.isStaticallyEmpty(own);
  const otherEmpty = ctx.isStaticallyEmpty(other);
  const other0 = oldProbe(ctx, node, other);
  if (!ownEmpty) {
    // A: changed rows of this side without a match in the other side's R₀.
    // (The test is computed in the select list of a materialised CTE: a per-row, indexable
    // subplan driven by the small delta, never an anti-join hashing all of the other side.)
    const d = ctx.delta(own);
    const flags = perRowValuesCte(ctx, `n${node.nid}_pad${side}_delta`, d, p, [
      [someMatchSql(ctx, other0, o, alts, aliasOf(p, o), true), '__pgt_m'],
    ]);
    parts.push(sql`SELECT ${padded('f', `f.${WEIGHT_COLUMN}`)}\nFROM ${flags} AS f\nWHERE NOT f.__pgt_m`);
  }
  if (!otherEmpty) {
    // B: rows of this side (new) matching a changed row of the other side; padded row old vs new.
    const d = ctx.delta(other);
    const affected = affectedRowsSql(ctx, `(${ctx.snapshot(own, 'new')})`, p, d, o, alts, aliasOf(p, o));
    const other1 = `(${ctx.snapshot(other, 'new')})`;
    const a = `a${node.nid}`;
    const flags = perRowValuesCte(ctx, `n${node.nid}_pad${side}_affected`, `(${affected})`, a, [
      [someMatchSql(ctx, other1, o, alts, aliasOf(a, o), true), '__pgt_m1'],
      [someMatchSql(ctx, other0, o, alts, aliasOf(a, o), true), '__pgt_m0'],
    ]);
    parts.push(
      sql`SELECT ${padded('f', '(CASE WHEN f.__pgt_m1 THEN -1 ELSE 1 END)::bigint')}\nFROM ${flags} AS f\nWHERE f.__pgt_m1 <> f.__pgt_m0`,
    );
  }
  return parts;
}

/** The rules of `outerJoin` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const outerJoinRules: OperatorRules<OuterJoinNode> = {
  snapshot(node, side, ctx) {
    const [l, r] = twoChildren(node);
    const on = node.condition === null ? 'true' : ctx.render(node.condition, aliasesFor(node, 'l', 'r'));
    return sql`SELECT ${outputList(node, 'l', 'r', null)}
FROM (${ctx.snapshot(l, side)}) AS l
${node.full ? 'FULL' : 'LEFT'} JOIN (${ctx.snapshot(r, side)}) AS r ON ${on}`;
  },
  delta(node, ctx) {
    const [l, r] = twoChildren(node);
    // The inner part, as the inner join's rule (its columns are typed, so it comes first: the
    // NULL columns of the padded parts take their types from it).
    const terms = innerJoinDeltaTerms(ctx, l, r, (left, right, weight) =>
      innerTerm(ctx, node, left, right, weight),
    );
    terms.push(...paddedParts(ctx, node, 0));
    if (node.full) terms.push(...paddedParts(ctx, node, 1));
    return ctx.stmt.add(`d${node.nid}_${node.full ? 'full' : 'left'}_join`, terms.join('\nUNION ALL\n'));
  },
};
