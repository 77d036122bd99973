/**
 * Aggregate: GROUP BY / aggregate calls / HAVING / GROUPING SETS, ROLLUP, CUBE — γ_K(C).
 *
 * Shape (see `aggregate-node.ts`): group keys K (expressions over the child C), one aggregation
 * per grouping set (UNION ALL-like; a plain GROUP BY is one set, no GROUP BY / GROUP BY () the
 * empty set, which always yields exactly one row, also over an empty input: count 0, sum NULL), a
 * hidden row count `__pgt_count`, per call its result plus algebraic state (SUM / AVG: the sum of
 * the finite arguments, the non-NULL count, NaN / +Infinity / −Infinity counts and, for numeric,
 * a histogram of the arguments' display scales), GROUPING() values as per-set constants, HAVING
 * over the node's own columns.
 *
 * Row id: the row id of (<group key values>) (ROW() without keys); with several
 * grouping sets ROW(<set number>, <all keys, NULL where not grouped>), so rows of different sets
 * (and a data NULL vs a "not grouped" NULL) never share an id. Keys are hashed by their types'
 * own hash functions under their collations, so keys equal as GROUP BY sees them give equal ids
 * (1.0 = 1.00, −0 = 0, '1 day' = '24 hours', citext, bpchar trailing spaces, jsonb numbers,
 * case-insensitive collations). Ids are unique.
 *
 * Snapshots: γ(C₀) / γ(C₁) — the child's snapshot on the same side, HAVING applied.
 *
 * Delta rules:
 * 1. At the root (only projections above; `rootState` = every column of the node, all named
 *    `__pgt_…`, so the storage table holds the previous state of every stored group), every call
 *    COUNT(*) / COUNT(x) / SUM / AVG / MIN / MAX with FILTER folded in (`aggregate-delta.ts`):
 *    ΔC is aggregated per group key, the previous state of those groups is read from the storage
 *    table by row id (its unique index), new = old ⊕ Δ. Reads ΔC (the change buffers, through the
 *    child's delta) and the affected storage rows only — never C. SUM of only NULLs is NULL
 *    (non-NULL count 0); NaN / ±Infinity decide SUM and AVG as in PostgreSQL's accumulators;
 *    AVG = sum / non-NULL count in PostgreSQL's result type (numeric division for integers and
 *    numerics, like avg itself). MIN / MAX: LEAST / GREATEST(old, inserted extreme) unless a
 *    deleted value could have been the extremum (deleted ≤ MIN / ≥ MAX): then that group is
 *    rescanned from C₁ restricted to it; interval SUM / AVG groups that lose an infinite value
 *    likewise. A keyed group reaching zero rows disappears, a key-less set's row stays; −1 (old
 *    row) / +1 (new row) only for groups whose row changed. HAVING: a stored group is updated
 *    algebraically and stays iff HAVING holds on its new values; an affected group that is not
 *    stored (new, or failing HAVING, whose state is therefore unknown) is rescanned from C₁
 *    restricted to it and appears iff HAVING holds — so groups cross the threshold both ways.
 *    Float sums are maintained by adding deltas, so they can differ from a recomputation in the
 *    last digits; numeric SUM / AVG are exact, display scale included (the largest scale among
 *    the group's finite arguments, tracked as a histogram, as PostgreSQL's sum shows it).
 * 2. At the root otherwise (COUNT(DISTINCT …), bool_and/bool_or, string_agg/array_agg with
 *    ORDER BY, any other or user-defined aggregate, with or without HAVING): the affected groups
 *    K (keys of ΔC, per grouping set) are rescanned from C₁ restricted to K (cost O(affected
 *    groups) with an index on the group keys); Δ = γ(C₁|K) − storage|K, HAVING applied to the
 *    recomputed values.
 * 3. Not at the root (e.g. a subquery that is joined or filtered, a CTE, below DISTINCT / top-N /
 *    windows): Δ = γ(C₁|K) − γ(C₀|K), exact (`differenceDelta`), C₀ / C₁ restricted to K; with
 *    one grouping set C₁|K is computed once and C₀|K read as C₁|K − ΔC⁺ + ΔC⁻ (the netted child
 *    delta), never the whole old snapshot.
 * A key-less grouping set is affected when ΔC is non-empty, and then reads the whole C₁ (its one
 * group is the whole input) in rules 2 and 3. Only the aggregate of rule 1 keeps SUM / AVG state
 * columns: below the root they are dropped when the tree is built (`build/prune.ts`), so rule 3
 * computes just the keys, the count and the calls. The restriction to K reads one key as
 * `= ANY (ARRAY(…))` (one index probe for all the keys, combinable with the input's own index
 * conditions), several as `(…) IN (…)`.
 */

import type { DiffContext } from '../diff/context.js';
import { differenceDelta } from '../diff/recompute.js';
import { sql } from '../sql/sql.js';
import { algebraicDelta, algebraicRows, isAlgebraic } from './aggregate-delta.js';
import { type AggregateNode, aggregateChild } from './aggregate-node.js';
import {
  affectedKeys,
  aggregateSelect,
  keysGate,
  restrictedAggregate,
  restrictedInput,
  storedRows,
} from './aggregate-sql.js';
import { analyzeAggregate } from './aggregate-types.js';
import type { OperatorRules } from './rules.js';
import { netDelta, oldFromNew } from './shared/old-from-new.js';

export type { AggKind, AggregateNode, AggSpec } from './aggregate-node.js';
export { makeAggregate, withHaving } from './aggregate-node.js';

/**
 * Rule 3 (not at the root): Δ = γ(C₁|K) − γ(C₀|K). With one grouping set, C₁|K (the child's new
 * snapshot through the keys, index-driven) is computed once into a CTE, and C₀|K is read from it
 * as C₁|K − ΔC⁺ + ΔC⁻ (`old-from-new.ts`, the netted child delta) — never C₀, whose scans are
 * "live minus delta plus deleted rows" unions that PostgreSQL cannot restrict to the keys and so
 * reads whole. (The ΔC⁻ rows outside K are dropped by the restriction applied again on that
 * side.) Several grouping sets: both sides from the child's snapshots, restricted per set.
 */
function recomputedDelta(node: AggregateNode, ctx: DiffContext, keys: string): string {
  const child = aggregateChild(node);
  if (node.sets.length !== 1) {
    const now = restrictedAggregate(node, ctx, ctx.snapshot(child, 'new'), keys);
    const before = restrictedAggregate(node, ctx, ctx.snapshot(child, 'old'), keys);
    return differenceDelta(ctx, node, now, before, 'recompute');
  }
  const input = ctx.stmt.add(
    `n${node.nid}_input_new`,
    restrictedInput(node, ctx, ctx.snapshot(child, 'new'), 0, keys),
    true,
  );
  const now = aggregateSelect(node, ctx, () => sql`SELECT i.* FROM ${input} AS i`, keysGate(node, keys));
  const old = oldFromNew(child, input, netDelta(ctx, node, child, ctx.delta(child)));
  const before = restrictedAggregate(node, ctx, old, keys);
  return differenceDelta(ctx, node, now, before, 'recompute');
}

/** The rules of `aggregate` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const aggregateRules: OperatorRules<AggregateNode> = {
  snapshot(node, side, ctx) {
    const child = ctx.snapshot(aggregateChild(node), side);
    return aggregateSelect(
      node,
      ctx,
      () => child,
      () => null,
    );
  },
  delta(node, ctx) {
    const child = aggregateChild(node);
    const binding = ctx.storageFor(node);
    if (binding !== null && isAlgebraic(node)) return algebraicDelta(node, ctx, binding);
    const keys = affectedKeys(node, ctx, ctx.delta(child));
    if (binding !== null) {
      const now = restrictedAggregate(node, ctx, ctx.snapshot(child, 'new'), keys);
      return differenceDelta(ctx, node, now, storedRows(node, binding, keys), 'rescan');
    }
    return recomputedDelta(node, ctx, keys);
  },
  rootState(node) {
    return node.columns;
  },
  keyedRootDelta(node, ctx) {
    const binding = ctx.storageFor(node);
    return binding !== null && isAlgebraic(node) ? algebraicRows(node, ctx, binding) : null;
  },
  analyze(node, tools) {
    return analyzeAggregate(node, tools);
  },
};
