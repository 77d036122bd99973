/**
 * Outer joins: LEFT, RIGHT (a LEFT join with the inputs swapped) and FULL (see
 * operators/outer-join.ts for the delta rule). For LEFT / RIGHT, the ON conjuncts that read only
 * the NULL-extended side are pushed into that side as a filter — `L ⟕_{p ∧ q(R)} R = L ⟕_p σ_q(R)` —
 * so they restrict what can match instead of being re-evaluated per pair. Conjuncts that read
 * the preserved side stay in the condition (a preserved row failing them is padded, not dropped).
 */

import { makeExpr } from '../ir/expr.js';
import type { Expr, IrNode } from '../ir/types.js';
import { makeOuterJoin } from '../operators/outer-join.js';
import { asNode } from '../parse/ast.js';
import type { BuildEnv } from './env.js';
import { andAll } from './expr.js';
import { placePredicates } from './pushdown.js';

/**
 * Builds an outer join of `left` and `right` on `condition` (null: ON true). The node's columns
 * are all of both inputs' columns (same ids).
 */
export function buildOuterJoin(
  kind: 'LEFT' | 'RIGHT' | 'FULL',
  left: IrNode,
  right: IrNode,
  condition: Expr | null,
  env: BuildEnv,
  location: number | undefined,
): IrNode {
  void location;
  const columns = [...left.columns, ...right.columns];
  if (kind === 'FULL') return makeOuterJoin(env.ids, true, left, right, condition, columns);
  const preserved = kind === 'LEFT' ? left : right;
  let nullable = kind === 'LEFT' ? right : left;
  const preservedIds = new Set(preserved.columns.map((c) => c.id));
  const nullableIds = new Set(nullable.columns.map((c) => c.id));
  const keep: Expr[] = [];
  const push: Expr[] = [];
  for (const c of exprConjuncts(condition)) {
    const readsNullable = c.refs.some((r) => nullableIds.has(r));
    const readsPreserved = c.refs.some((r) => preservedIds.has(r));
    (readsNullable && !readsPreserved ? push : keep).push(c);
  }
  nullable = placePredicates(nullable, push, env);
  return makeOuterJoin(env.ids, false, preserved, nullable, andAll(keep), columns);
}

/** The conjuncts of a resolved condition (`a AND b` → [a, b]; null → []). */
export function exprConjuncts(e: Expr | null): Expr[] {
  if (e === null) return [];
  const b = asNode(e.ast, 'BoolExpr');
  if (b?.boolop === 'AND_EXPR') {
    return (b.args ?? []).flatMap((a) => exprConjuncts(makeExpr(a, e.location)));
  }
  return [e];
}
