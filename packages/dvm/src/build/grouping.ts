/**
 * GROUP BY, aggregates and HAVING.
 * (Implementation pending: refused in incremental modes for now.)
 */
import type { SelectStmt } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import type { IrNode } from '../ir/types.js';
import type { QueryCtx } from './context.js';
import type { ExprHooks } from './expr.js';
import type { Scope } from './scope.js';

/** The aggregated input and the hooks that resolve select-list / ORDER BY expressions over it. */
export interface GroupingResult {
  /** The aggregate (with HAVING applied). */
  readonly node: IrNode;
  /** Resolves expressions after grouping: group keys and aggregate calls map to the node's columns. */
  readonly hooks: ExprHooks;
}

/** Whether the SELECT groups (GROUP BY, HAVING, or an aggregate in its select list / ORDER BY). */
export function isGrouped(stmt: SelectStmt, hasAggregate: (node: unknown) => boolean): boolean {
  return (
    (stmt.groupClause?.length ?? 0) > 0 ||
    stmt.havingClause !== undefined ||
    hasAggregate(stmt.targetList) ||
    hasAggregate(stmt.sortClause)
  );
}

/** Builds the grouping of a SELECT over `input` (names in `scope`); null if it does not group. */
export function buildGrouping(
  stmt: SelectStmt,
  input: IrNode,
  scope: Scope,
  q: QueryCtx,
  hasAggregate: (node: unknown) => boolean,
): GroupingResult | null {
  if (!isGrouped(stmt, hasAggregate)) return null;
  void input;
  void scope;
  throw new UnsupportedQueryError(
    'GROUP BY / aggregates',
    "Not supported yet in incremental modes; use refreshMode 'FULL'.",
    {},
  );
}
