/**
 * Constant relation: rows that depend on no source — a SELECT without FROM (one row, no
 * columns), a VALUES list, a set-returning function over constants.
 *
 * Delta rule: Δ = ∅ (nothing it reads ever changes).
 * Snapshots: R₀ = R₁ = the relation itself.
 * Row id: given by the builder in `sql` (for a VALUES list: the row's position; one row: `ROW()`).
 */

import { emptyDeltaSql } from '../diff/recompute.js';
import { rowIdExpr } from '../diff/rowid.js';
import type { IdAllocator } from '../ir/ids.js';
import type { IrColumn, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';

/** A relation computed without reading any source. */
export interface ConstantNode extends IrNodeBase {
  readonly kind: 'constant';
  /** A SELECT producing `__pgt_row_id` and the column ids, in order. */
  readonly sql: string;
}

/** A constant relation from a SELECT that yields `__pgt_row_id` and `columns` (by id). */
export function makeConstant(
  ids: IdAllocator,
  columns: readonly IrColumn[],
  sql: string,
  uniqueIds: boolean,
): ConstantNode {
  return { kind: 'constant', nid: ids.node(), columns, uniqueIds, children: [], sql };
}

/** The one-row, no-column relation of a SELECT without FROM. */
export function makeSingleRow(ids: IdAllocator): ConstantNode {
  return makeConstant(ids, [], sql`SELECT ${rowIdExpr([])} AS ${ROW_ID_COLUMN}`, true);
}

/** The rules of `constant` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const constantRules: OperatorRules<ConstantNode> = {
  snapshot(node) {
    return node.sql;
  },
  delta(node, ctx) {
    return ctx.stmt.add(`d${node.nid}_constant`, emptyDeltaSql(node, node.sql));
  },
};
