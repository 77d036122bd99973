/**
 * What an operator kind implements: its {@link OperatorRules}. Each operator module exports the
 * rules of its node kind(s); `operators/index.ts` lists them in `OPERATOR_RULES`, a table keyed by
 * every kind of the closed {@link IrNode} union, so a kind without rules is a compile error.
 */

import type { QueryColumn } from '../catalog/port.js';
import type { DiffContext, KeyedRootDelta } from '../diff/context.js';
import type { IrColumn, IrNode, Side } from '../ir/types.js';

/** The rules of one operator kind (docs/dvm-design.md §3). */
export interface OperatorRules<N extends IrNode = IrNode> {
  /**
   * A SELECT of the node's snapshot on `side` (R₀ before the window, R₁ as of the statement):
   * columns `__pgt_row_id`, then the node's column ids, one SQL row per result row.
   */
  snapshot(node: N, side: Side, ctx: DiffContext): string;
  /**
   * Adds the CTEs computing the node's delta to `ctx.stmt` and returns the last one's name:
   * columns `__pgt_row_id`, `__pgt_weight` (a Z-set weight, ±n), then the node's column ids.
   */
  delta(node: N, ctx: DiffContext): string;
  /**
   * Columns this node keeps in the storage table when it is the stream table's top operator
   * (only projections above it), so its delta rule can read its previous state from storage
   * instead of recomputing it (e.g. an aggregate's group keys, counts and sums). Null or absent:
   * the node keeps no state. Names must start with `__pgt_`.
   */
  rootState?(node: N): readonly IrColumn[] | null;
  /**
   * Optional, for a node with {@link rootState} bound to the storage in `ctx`: its changes as one
   * row per changed row id ({@link KeyedRootDelta}), which the refresh applies directly (no −1 /
   * +1 rows to net per id). Null: the node's `delta` is applied instead.
   */
  keyedRootDelta?(node: N, ctx: DiffContext): KeyedRootDelta | null;
  /**
   * Optional compile-time analysis that needs the database (e.g. the result types of its
   * expressions): called once per node, children first, before any SQL is generated. It may
   * record what it learns on the node (mutable fields of its own node type).
   */
  analyze?(node: N, tools: AnalyzeTools): Promise<void>;
}

/** What {@link OperatorRules.analyze} can use. */
export interface AnalyzeTools {
  /** Output columns (names, types) of a SELECT, as PostgreSQL describes it (not run). */
  describe(sql: string): Promise<readonly QueryColumn[]>;
  /** A standalone SELECT of a node's new-side snapshot (`__pgt_row_id`, its column ids). */
  snapshotSql(node: IrNode): string;
}
