/**
 * The hidden state an aggregate keeps, decided after the analysis: only what the algebraic root
 * rule reads, each piece once.
 * - No algebraic root rule (a call is rescanned, or no analysis): no state; every affected group is
 *   recomputed from the calls themselves.
 * - A SUM / AVG sharing another call's accumulation (`stateOwner`: same argument, FILTER and
 *   accumulation, e.g. `sum(x)` and `avg(x)`): none of its own.
 * - The finite sum: for numeric / float (non-finite values counted apart) and for AVG; an integer,
 *   money or interval SUM is its own running sum.
 * - The non-NULL count: not kept when it is known otherwise ({@link nnSource}): a NOT NULL
 *   argument without FILTER counts the group's rows; a COUNT(x) over the same argument and
 *   FILTER (or, for a NOT NULL argument, a COUNT(*) with the same FILTER) is the same number.
 * - NaN counter: numeric and float; ±Infinity counters: only when the type can hold them (not a
 *   numeric with a type modifier). The scale histogram: numeric without a fixed scale.
 * The trimmed state columns are dropped from the node (and so from the storage table).
 */
import { renderExpr } from '../ir/expr.js';
import type { IrColumn, IrNode } from '../ir/types.js';
import type { AggregateNode, AggSpec } from './aggregate-node.js';
import { effectiveKind, stateOwner } from './aggregate-node.js';

/** Where call `j`'s non-NULL count is read from. */
export type NnSource =
  /** Its own `nnState` column. */
  | { readonly kind: 'own' }
  /** The group's row count (`__pgt_count`). */
  | { readonly kind: 'rows' }
  /** The result of COUNT call `j`. */
  | { readonly kind: 'call'; readonly j: number };

const filterText = (spec: AggSpec): string | null =>
  spec.filter === null ? null : renderExpr(spec.filter, 'c');

/** Where SUM / AVG call `j` (keeping its own state) reads its non-NULL count (see the module header). */
export function nnSource(node: AggregateNode, j: number): NnSource {
  const spec = node.aggs[j];
  const t = node.analysis?.aggs[j];
  if (spec === undefined || t === undefined || spec.arg === null) return { kind: 'own' };
  if (t.argNotNull && spec.filter === null) return { kind: 'rows' };
  const arg = renderExpr(spec.arg, 'c');
  const filter = filterText(spec);
  for (let k = 0; k < node.aggs.length; k++) {
    const other = node.aggs[k] as AggSpec;
    const kind = effectiveKind(node, k);
    if (filterText(other) !== filter) continue;
    if (kind === 'count' && other.arg !== null && renderExpr(other.arg, 'c') === arg)
      return { kind: 'call', j: k };
    if (kind === 'count_star' && t.argNotNull) return { kind: 'call', j: k };
  }
  return { kind: 'own' };
}

/** Whether the algebraic root rule applies (every call algebraic after the analysis). */
export function everyCallAlgebraic(node: AggregateNode): boolean {
  return node.analysis !== null && node.aggs.every((_, j) => effectiveKind(node, j) !== 'generic');
}

/** Call `j` with only the state columns it needs (see the module header). */
function trimmedSpec(node: AggregateNode, j: number, algebraic: boolean): AggSpec {
  const spec = node.aggs[j] as AggSpec;
  const t = node.analysis?.aggs[j];
  const plan = t?.sum ?? null;
  const own =
    algebraic &&
    t !== undefined &&
    plan !== null &&
    (t.kind === 'sum' || t.kind === 'avg') &&
    stateOwner(node, j) === null;
  const keep = (col: IrColumn | null, needed: boolean): IrColumn | null => (own && needed ? col : null);
  const counted = plan?.special === 'count';
  return {
    ...spec,
    sumState: keep(spec.sumState, counted || t?.kind === 'avg'),
    nnState: keep(spec.nnState, nnSource(node, j).kind === 'own'),
    nanState: keep(spec.nanState, counted),
    pinfState: keep(spec.pinfState, counted && plan?.infinite === true),
    ninfState: keep(spec.ninfState, counted && plan?.infinite === true),
    scaleState: keep(spec.scaleState, plan?.scaled === true),
  };
}

/** The aggregate keeping only the state its delta rule reads (after the analysis). */
export function withTrimmedState(node: AggregateNode): AggregateNode {
  const algebraic = everyCallAlgebraic(node);
  const aggs = node.aggs.map((_, j) => trimmedSpec(node, j, algebraic));
  const before = new Set(node.aggs.flatMap((a) => stateIds(a)));
  const after = new Set(aggs.flatMap((a) => stateIds(a)));
  const columns = node.columns.filter((c) => !before.has(c.id) || after.has(c.id));
  return { ...node, aggs, columns };
}

function stateIds(a: AggSpec): string[] {
  return [a.sumState, a.nnState, a.nanState, a.pinfState, a.ninfState, a.scaleState].flatMap((c) =>
    c === null ? [] : [c.id],
  );
}

/**
 * `root` with the aggregate whose state the storage keeps (the top node below projections)
 * trimmed by {@link withTrimmedState}; the projections above it are rebuilt over it.
 */
export function trimRootAggregateState(root: IrNode): IrNode {
  if (root.kind === 'aggregate') return withTrimmedState(root);
  if (root.kind !== 'project') return root;
  const child = root.children[0];
  if (child === undefined) return root;
  const next = trimRootAggregateState(child);
  return next === child ? root : { ...root, children: [next] };
}
