/**
 * The term list of the inner-join delta rule, shared by inner joins (`operators/join.ts`) and the
 * inner part of outer joins (`operators/outer-join.ts`).
 */

import type { DiffContext } from '../../diff/context.js';
import type { IrNode } from '../../ir/types.js';
import { WEIGHT_COLUMN } from '../../names.js';

/**
 * L₁ of a term: a join below is written once as a shared CTE (`DiffContext.sharedSnapshot`),
 * which the next join up reads again in its own L₁; any other input is written out in place.
 */
function leftNew(ctx: DiffContext, l: IrNode): string {
  return l.kind === 'join' ? ctx.sharedSnapshot(l) : `(${ctx.snapshot(l, 'new')})`;
}

/**
 * The terms of the inner-join rule over inputs `l` (alias `l`) and `r` (alias `r`):
 * ΔL⋈R₁ + L₁⋈ΔR − ΔL⋈ΔR, without the terms of a statically empty delta (the framework never asks
 * for the delta of a join neither of whose inputs changes, so at least one term remains). `term(left, right, weight)` builds one term from two
 * relations and its weight expression (the outer joins' inner part uses it with their own select
 * list); `delta` gives an input's delta (default `ctx.delta`; `summed-delta.ts` passes its own).
 */
export function innerJoinDeltaTerms(
  ctx: DiffContext,
  l: IrNode,
  r: IrNode,
  term: (left: string, right: string, weight: string) => string,
  delta: (node: IrNode) => string = (node) => ctx.delta(node),
): string[] {
  const terms: string[] = [];
  const dl = ctx.isStaticallyEmpty(l) ? null : delta(l);
  const dr = ctx.isStaticallyEmpty(r) ? null : delta(r);
  if (dl !== null) terms.push(term(dl, `(${ctx.snapshot(r, 'new')})`, `l.${WEIGHT_COLUMN}`));
  if (dr !== null) terms.push(term(leftNew(ctx, l), dr, `r.${WEIGHT_COLUMN}`));
  if (dl !== null && dr !== null) terms.push(term(dl, dr, `-(l.${WEIGHT_COLUMN} * r.${WEIGHT_COLUMN})`));
  return terms;
}
