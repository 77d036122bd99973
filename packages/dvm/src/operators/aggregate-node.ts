/**
 * The aggregate node (GROUP BY / aggregates / HAVING / GROUPING SETS): its shape, its columns and
 * what the compile-time analysis learns about it. The rules are in `aggregate.ts`.
 *
 * Columns, in order (every name starts with `__pgt_`, so the node's whole row can be kept as the
 * stream table's hidden state when it is the top operator):
 * - `__pgt_grp_<i>`: the group key values (every key of every grouping set; a key that is not in a
 *   row's grouping set is NULL there);
 * - `__pgt_set`: the grouping set number (only with more than one grouping set);
 * - `__pgt_count`: the group's row count (`count(*)`);
 * - per aggregate call `__pgt_agg_<j>` (its result), plus for SUM and AVG `__pgt_sum_<j>` (the
 *   sum of the finite arguments), `__pgt_nn_<j>` (the non-NULL argument count) and
 *   `__pgt_nan_<j>`, `__pgt_pinf_<j>`, `__pgt_ninf_<j>` (how many are NaN, +Infinity, −Infinity;
 *   numeric and float arguments only, NULL otherwise) and `__pgt_scale_<j>` (numeric arguments:
 *   how many finite arguments have each display scale s, as Σ 10^(19·s), so the result's scale —
 *   the largest present, as in PostgreSQL — is known after deletions); after the analysis the
 *   aggregate whose state the storage keeps drops those its calls cannot need
 *   (`aggregate-state.ts`), every other aggregate all of them (`build/prune.ts`);
 * - per GROUPING(…) call `__pgt_gf_<k>` (a constant per grouping set).
 */
import { onlyChild } from '../ir/children.js';
import { renderExpr } from '../ir/expr.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrColumn, IrNode, IrNodeBase } from '../ir/types.js';
import { COUNT_COLUMN } from '../names.js';

/**
 * How an aggregate call is maintained: `count_star`, `count`, `sum`, `avg` algebraically (state
 * plus delta), `min` / `max` algebraically unless a deleted value could have been the extremum
 * (then that group is rescanned), `generic` by rescanning the affected groups.
 */
export type AggKind = 'count_star' | 'count' | 'sum' | 'avg' | 'min' | 'max' | 'generic';

/** One group key: an expression over the child's columns and the column holding its value. */
export interface AggKey {
  readonly column: IrColumn;
  readonly expr: Expr;
}

/** One aggregate call of the SELECT. */
export interface AggSpec {
  /** The result column. */
  readonly column: IrColumn;
  /** The whole call (resolved over the child's columns), as written: FILTER, DISTINCT, ORDER BY kept. */
  readonly call: Expr;
  /** How it could be maintained, judged from its form (the analysis may demote it to `generic`). */
  readonly candidate: AggKind;
  /** Its single argument (count/sum/avg/min/max), else null. */
  readonly arg: Expr | null;
  /** Its FILTER (WHERE …) predicate, else null. */
  readonly filter: Expr | null;
  /** SUM / AVG: the running sum of the (finite) arguments. */
  readonly sumState: IrColumn | null;
  /** SUM / AVG: the count of non-NULL arguments. */
  readonly nnState: IrColumn | null;
  /** SUM / AVG: the counts of NaN, +Infinity and −Infinity arguments. */
  readonly nanState: IrColumn | null;
  readonly pinfState: IrColumn | null;
  readonly ninfState: IrColumn | null;
  /** SUM / AVG over numeric: the histogram of the finite arguments' display scales. */
  readonly scaleState: IrColumn | null;
}

/** A GROUPING(…) call: the keys it names (by index), leftmost = most significant bit. */
export interface GroupingCall {
  readonly column: IrColumn;
  readonly args: readonly number[];
}

/** How an algebraic SUM / AVG accumulates its deltas. */
export interface SumPlan {
  /** The type deltas and (for AVG) the running sum are computed in. */
  readonly acc: 'numeric' | 'double precision' | 'interval' | 'money';
  /**
   * Non-finite arguments: `none` (the type has none), `count` (NaN / ±Infinity counted apart
   * from the finite sum, as PostgreSQL's own accumulators do: numeric, float), `rescan` (a group
   * that loses one is rescanned: interval).
   */
  readonly special: 'none' | 'count' | 'rescan';
  /** Whether the result's display scale follows the arguments' (numeric): kept as a histogram. */
  readonly scaled: boolean;
  /**
   * With `special: 'count'`: whether ±Infinity can occur (false for a numeric with a type
   * modifier, which holds NaN at most); their counters are kept only then.
   */
  readonly infinite: boolean;
}

/** What the analysis learned about one aggregate call. */
export interface AggTypes {
  /** The kind actually used. */
  readonly kind: AggKind;
  /** PostgreSQL's result type of the call. */
  readonly resultType: string;
  /** The argument's type (single-argument calls). */
  readonly argType: string | null;
  /** SUM / AVG: how they accumulate. */
  readonly sum: SumPlan | null;
  /** Whether the argument is provably never NULL (`ir/nullability.ts`); false without one. */
  readonly argNotNull: boolean;
}

/** The compile-time analysis of an aggregate node (types from PostgreSQL). */
export interface AggregateAnalysis {
  /** The type of each group key. */
  readonly keyTypes: readonly string[];
  /** Per aggregate call. */
  readonly aggs: readonly AggTypes[];
}

/** An aggregate over `children[0]`, one aggregation per grouping set, HAVING applied. */
export interface AggregateNode extends IrNodeBase {
  readonly kind: 'aggregate';
  readonly keys: readonly AggKey[];
  /** The grouping sets, each a sorted list of key indices; one set for a plain GROUP BY (empty: no key). */
  readonly sets: readonly (readonly number[])[];
  /** The grouping set number column, with more than one set. */
  readonly setColumn: IrColumn | null;
  /** The group's row count. */
  readonly count: IrColumn;
  readonly aggs: readonly AggSpec[];
  readonly groupings: readonly GroupingCall[];
  /** HAVING, over this node's own columns. */
  readonly having: Expr | null;
  /** Filled by the analysis (compile time); null before it or when it could not run. */
  analysis: AggregateAnalysis | null;
}

/** An aggregate call to build: everything but its columns. */
export interface AggCallInput {
  readonly call: Expr;
  readonly candidate: AggKind;
  readonly arg: Expr | null;
  readonly filter: Expr | null;
}

/** What {@link makeAggregate} needs. */
export interface AggregateInput {
  readonly keys: readonly Expr[];
  readonly sets: readonly (readonly number[])[];
  readonly aggs: readonly AggCallInput[];
  /** GROUPING(…) calls, each as key indices. */
  readonly groupings: readonly (readonly number[])[];
}

/** Builds an aggregate node over `child` (HAVING is added by {@link withHaving}). */
export function makeAggregate(ids: IdAllocator, child: IrNode, input: AggregateInput): AggregateNode {
  const col = (name: string): IrColumn => ({ id: ids.column(name), name });
  const keys = input.keys.map((expr, i) => ({ column: col(`__pgt_grp_${i + 1}`), expr }));
  const setColumn = input.sets.length > 1 ? col('__pgt_set') : null;
  const count = col(COUNT_COLUMN);
  const aggs: AggSpec[] = input.aggs.map((a, j) => {
    const summed = a.candidate === 'avg' || a.candidate === 'sum';
    const state = (what: string): IrColumn | null => (summed ? col(`__pgt_${what}_${j + 1}`) : null);
    return {
      column: col(`__pgt_agg_${j + 1}`),
      call: a.call,
      candidate: a.candidate,
      arg: a.arg,
      filter: a.filter,
      sumState: state('sum'),
      nnState: state('nn'),
      nanState: state('nan'),
      pinfState: state('pinf'),
      ninfState: state('ninf'),
      scaleState: state('scale'),
    };
  });
  const groupings = input.groupings.map((args, k) => ({ column: col(`__pgt_gf_${k + 1}`), args }));
  const columns: IrColumn[] = [
    ...keys.map((k) => k.column),
    ...(setColumn === null ? [] : [setColumn]),
    count,
    ...aggs.flatMap((a) => [a.column, ...aggStateColumns(a)]),
    ...groupings.map((g) => g.column),
  ];
  return {
    kind: 'aggregate',
    nid: ids.node(),
    columns,
    uniqueIds: true,
    children: [child],
    keys,
    sets: input.sets,
    setColumn,
    count,
    aggs,
    groupings,
    having: null,
    analysis: null,
  };
}

/** The state columns of an aggregate call (after its result column). */
export function aggStateColumns(a: AggSpec): IrColumn[] {
  return [a.sumState, a.nnState, a.nanState, a.pinfState, a.ninfState, a.scaleState].filter(
    (c): c is IrColumn => c !== null,
  );
}

/** The same aggregate with HAVING `predicate` (over the node's own columns). */
export function withHaving(node: AggregateNode, predicate: Expr | null): AggregateNode {
  return { ...node, having: predicate };
}

/** The aggregate's input. */
export function aggregateChild(node: AggregateNode): IrNode {
  return onlyChild(node);
}

/** The kind an aggregate call is maintained with (after the analysis; `generic` without one). */
export function effectiveKind(node: AggregateNode, j: number): AggKind {
  return node.analysis?.aggs[j]?.kind ?? 'generic';
}

/**
 * The earlier call whose SUM / AVG state call `j` shares, or null: both algebraic SUM / AVG
 * counting their non-finite arguments (numeric, float) in the same accumulation, over the same
 * argument and the same FILTER (e.g. `sum(x)` and `avg(x)`). Call `j` then keeps no state of its
 * own (its state columns are NULL) and reads that call's.
 */
export function stateOwner(node: AggregateNode, j: number): number | null {
  const mine = node.analysis?.aggs[j];
  const spec = node.aggs[j];
  if (mine === undefined || spec === undefined || spec.arg === null) return null;
  if ((mine.kind !== 'sum' && mine.kind !== 'avg') || mine.sum?.special !== 'count') return null;
  const arg = renderExpr(spec.arg, 'c');
  const filter = spec.filter === null ? null : renderExpr(spec.filter, 'c');
  for (let i = 0; i < j; i++) {
    const t = node.analysis?.aggs[i];
    const other = node.aggs[i];
    if (t === undefined || other === undefined || other.arg === null) continue;
    if ((t.kind !== 'sum' && t.kind !== 'avg') || t.sum?.special !== 'count') continue;
    if (t.sum.acc !== mine.sum.acc || t.sum.scaled !== mine.sum.scaled) continue;
    if (renderExpr(other.arg, 'c') !== arg) continue;
    if ((other.filter === null ? null : renderExpr(other.filter, 'c')) !== filter) continue;
    if (stateOwner(node, i) !== null) continue;
    return i;
  }
  return null;
}

/** The value of GROUPING(…) for the rows of grouping set `set`. */
export function groupingValue(call: GroupingCall, set: readonly number[]): number {
  let v = 0;
  for (const key of call.args) v = v * 2 + (set.includes(key) ? 0 : 1);
  return v;
}
