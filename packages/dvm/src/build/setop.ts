/**
 * UNION, INTERSECT [ALL], EXCEPT [ALL] (UNION ALL is built by the query builder itself).
 * (Implementation pending: refused in incremental modes for now.)
 */
import { UnsupportedQueryError } from '../errors.js';
import type { BuiltQuery, QueryCtx } from './context.js';

/** Builds `left <op> [ALL] right`; column names come from the left input. */
export function buildSetOperation(
  op: 'UNION' | 'INTERSECT' | 'EXCEPT',
  all: boolean,
  left: BuiltQuery,
  right: BuiltQuery,
  q: QueryCtx,
): BuiltQuery {
  void left;
  void right;
  void q;
  throw new UnsupportedQueryError(
    `${op}${all ? ' ALL' : ''}`,
    "Not supported yet in incremental modes; use refreshMode 'FULL'.",
    {},
  );
}
