/**
 * Window: the window functions of one SELECT (after FROM / WHERE / GROUP BY / HAVING), computed
 * over the child's rows. Output = the child's columns + one column per distinct window call.
 *
 * Delta rule (affected-partition recomputation): a window function's value for a row depends
 * only on the rows of its partition, so a change can only alter rows in the partitions it
 * touches. Let P be the PARTITION BY expressions common to every window of the node (compared
 * structurally); every window's partitions refine the partitions of P. With
 *   K = { P(r) : r ∈ ΔC }   (the −1 rows carry old values, the +1 rows new ones, so a row that
 *                            moves between partitions marks both),
 *   Δ = W(C₁|K) − W(C₀|K)   (`differenceDelta` over the two recomputations; C|K NULL-safe)
 * where C|K are the child's rows whose P values are in K. No common PARTITION BY (no PARTITION
 * BY at all, or windows partitioned differently without a shared expression): the whole input is
 * one partition, so any change recomputes the whole window over C₁ and C₀ (O(input); a window
 * with no change in its input costs nothing: both sides are guarded by "ΔC is not empty").
 * Snapshots: W(C₀) / W(C₁) — the child's snapshot on the same side. The delta reads only the
 * child's new snapshot, restricted to K (C₁|K: a semi-join on the affected keys, index lookups),
 * and the child's delta: C₀|K = C₁|K − Δ⁺ + Δ⁻ (see `old-from-new.ts`), never the old snapshot.
 * Row id: the child row's id when the child's ids are unique (a row keeps its id when its rank
 * changes, so the apply updates it in place). With non-unique child ids (keyless sources), rows
 * that share an id hold equal values but may get different window results (row_number() over
 * duplicates), so the id is `ROW(child id, every window result)` and ids are marked non-unique;
 * rows equal in id are then equal in every column, and the counted apply keeps their copies.
 * Determinism: with ties in a window's ORDER BY, row_number(), lag(), first_value() over ROWS
 * frames, … are arbitrary in PostgreSQL; such a window cannot be checked against its query, so
 * queries (and the tests) need a total order wherever the function depends on the row order.
 * Floating-point window aggregates (sum/avg of float8 over a frame) may differ in the last digits
 * between two evaluations over the same rows in another order; with unique ids the apply then
 * just updates the row, with non-unique ids (whose id includes the results) such a difference
 * would leave a stale copy, so keyless inputs need exact types (numeric, integers) there.
 */

import type { DiffContext } from '../diff/context.js';
import { differenceDelta } from '../diff/recompute.js';
import { rowIdExpr } from '../diff/rowid.js';
import { onlyChild } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrColumn, IrNode, IrNodeBase, Side } from '../ir/types.js';
import { ROW_ID_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';
import { netDelta, oldFromNew } from './shared/old-from-new.js';

/** One window function call: its result column and the resolved call (`f(args) [FILTER] OVER (…)`). */
export interface WindowCall {
  readonly column: IrColumn;
  /** The resolved FuncCall, its OVER clause inlined (no window names), reading child column ids. */
  readonly call: Expr;
}

/** The window calls of one SELECT over `child`. */
export interface WindowNode extends IrNodeBase {
  readonly kind: 'window';
  readonly calls: readonly WindowCall[];
  /** PARTITION BY expressions shared by every call (empty: the whole input is one partition). */
  readonly partitionKey: readonly Expr[];
  /** The calls' result types, in call order (set by `analyze` over non-unique child ids; else null). */
  types: readonly string[] | null;
}

/** Builds a window node over `child` computing `calls` (result ids pre-allocated by the builder). */
export function makeWindow(
  ids: IdAllocator,
  child: IrNode,
  calls: readonly WindowCall[],
  partitionKey: readonly Expr[],
): WindowNode {
  return {
    kind: 'window',
    nid: ids.node(),
    columns: [...child.columns, ...calls.map((c) => c.column)],
    uniqueIds: child.uniqueIds,
    children: [child],
    calls,
    partitionKey,
    types: null,
  };
}

/** The window computation over an input relation (SQL) with the child's columns. */
function evaluate(node: WindowNode, input: string, ctx: DiffContext): string {
  const child = onlyChild(node);
  const inputCols = child.columns.map((c) => sql`, c.${sql.id(c.id)}`).join('');
  const calls = node.calls.map((w) => sql`, ${ctx.render(w.call, 'c')} AS ${sql.id(w.column.id)}`).join('');
  const inner = sql`SELECT c.${ROW_ID_COLUMN}${inputCols}${calls}\nFROM (${input}) AS c`;
  if (child.uniqueIds) return inner;
  const id = rowIdExpr([
    `w.${ROW_ID_COLUMN}`,
    ...node.calls.map((w, i) => ({ expr: sql`w.${sql.id(w.column.id)}`, type: node.types?.[i] })),
  ]);
  const all = node.columns.map((c) => sql`, w.${sql.id(c.id)}`).join('');
  return sql`SELECT ${id} AS ${ROW_ID_COLUMN}${all}\nFROM (${inner}) AS w`;
}

/** Column names of the affected-keys CTE. */
function keyNames(node: WindowNode): string[] {
  return node.partitionKey.map((_, i) => `__pgt_k${i + 1}`);
}

/**
 * The child's snapshot on `side`, restricted to the partitions in `keys` (or, without a common
 * PARTITION BY, to "Δ is not empty"). Two disjoint branches keep the common case index-friendly:
 * partitions whose key has no NULL are a plain semi-join (`(k₁, …) IN (SELECT … FROM keys)`, which
 * PostgreSQL runs as index lookups per affected key); partitions with a NULL in the key are matched
 * NULL-safely in a second branch that only runs when such a key is affected (one-time filter).
 */
function restricted(node: WindowNode, side: Side, keys: string | null, delta: string, ctx: DiffContext) {
  const child = onlyChild(node);
  const snap = ctx.snapshot(child, side);
  const cols = child.columns.map((c) => sql`, s.${sql.id(c.id)}`).join('');
  if (keys === null) {
    return sql`SELECT s.${ROW_ID_COLUMN}${cols}\nFROM (${snap}) AS s\nWHERE EXISTS (SELECT 1 FROM ${delta})`;
  }
  const names = keyNames(node);
  const computed = node.partitionKey.map((e, i) => sql`, ${ctx.render(e, 'c')} AS ${names[i]!}`).join('');
  const input = sql`SELECT s.${ROW_ID_COLUMN}${cols}\nFROM (SELECT c.*${computed} FROM (${snap}) AS c) AS s`;
  const sk = names.map((n) => `s.${n}`);
  const kk = names.map((n) => `k.${n}`);
  const tuple = (xs: string[]) => (xs.length === 1 ? (xs[0] as string) : `(${xs.join(', ')})`);
  const noNull = kk.map((k) => `${k} IS NOT NULL`).join(' AND ');
  const someNull = kk.map((k) => `${k} IS NULL`).join(' OR ');
  const nullSafe = names.map((n) => `(s.${n} = k.${n} OR (s.${n} IS NULL AND k.${n} IS NULL))`).join(' AND ');
  const rowHasNull = sk.map((x) => `${x} IS NULL`).join(' OR ');
  return sql`${input}\nWHERE ${tuple(sk)} IN (SELECT ${kk.join(', ')} FROM ${keys} AS k WHERE ${noNull})
UNION ALL
${input}\nWHERE (${rowHasNull}) AND EXISTS (SELECT 1 FROM ${keys} AS k WHERE ${someNull})
  AND EXISTS (SELECT 1 FROM ${keys} AS k WHERE (${someNull}) AND ${nullSafe})`;
}

/** The rules of `window` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const windowRules: OperatorRules<WindowNode> = {
  snapshot(node, side, ctx) {
    return evaluate(node, ctx.snapshot(onlyChild(node), side), ctx);
  },
  delta(node, ctx) {
    const child = onlyChild(node);
    const d = ctx.delta(child);
    let keys: string | null = null;
    if (node.partitionKey.length > 0) {
      const names = keyNames(node);
      const exprs = node.partitionKey.map((e, i) => sql`${ctx.render(e, 'd')} AS ${names[i]!}`).join(', ');
      keys = ctx.stmt.add(`n${node.nid}_partitions`, sql`SELECT DISTINCT ${exprs}\nFROM ${d} AS d`, true);
    }
    // C₁|K once (materialized), and C₀|K = C₁|K − Δ⁺ + Δ⁻ (every Δ row is in K by construction).
    const newInput = ctx.stmt.add(`n${node.nid}_new_input`, restricted(node, 'new', keys, d, ctx), true);
    const oldInput = oldFromNew(child, newInput, netDelta(ctx, node, child, d));
    const newSql = evaluate(node, sql`SELECT * FROM ${newInput}`, ctx);
    const oldSql = evaluate(node, oldInput, ctx);
    return differenceDelta(ctx, node, newSql, oldSql, 'window');
  },
  async analyze(node, tools) {
    // Over non-unique child ids the call results are id parts: learn their types.
    if (onlyChild(node).uniqueIds) return;
    const byId = new Map((await tools.describe(tools.snapshotSql(node))).map((c) => [c.name, c.type]));
    node.types = node.calls.map((w) => byId.get(w.column.id) ?? 'unknown');
  },
};
