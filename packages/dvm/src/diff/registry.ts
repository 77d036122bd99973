/**
 * The operator registry: one module per operator kind registers its rules here. Adding an
 * operator = one module that defines its node type, a constructor, and these rules, plus one
 * line in `operators/index.ts`.
 */

import type { QueryColumn } from '../catalog/port.js';
import { InternalError } from '../errors.js';
import type { IrColumn, IrNode, Side } from '../ir/types.js';
import type { DiffContext } from './context.js';

/** The rules of one operator kind (docs/dvm-design.md §3). */
export interface OperatorRules<N extends IrNode = IrNode> {
  /** The node kind these rules are for. */
  readonly kind: string;
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

const operators = new Map<string, OperatorRules>();

/** Registers the rules of an operator kind (a later registration of the same kind replaces it). */
export function registerOperator<N extends IrNode>(rules: OperatorRules<N>): void {
  operators.set(rules.kind, rules as unknown as OperatorRules);
}

/** The rules registered for `kind`. */
export function getOperator(kind: string): OperatorRules {
  const rules = operators.get(kind);
  if (rules === undefined) throw new InternalError(`no operator is registered for node kind "${kind}"`);
  return rules;
}

/** The kinds registered so far. */
export function registeredKinds(): string[] {
  return [...operators.keys()];
}
