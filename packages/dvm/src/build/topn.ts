/**
 * ORDER BY … LIMIT / OFFSET (top-N), also `OFFSET m ROWS FETCH FIRST n ROWS ONLY | WITH TIES`.
 * LIMIT and OFFSET must be constants: literals, casts of literals, or expressions over them
 * without column references, subqueries or parameters (volatile and time-dependent functions are
 * refused as everywhere). `LIMIT ALL` / `LIMIT NULL` mean no limit; without a limit, a missing
 * or literally zero / NULL OFFSET leaves the rows as they are (the ORDER BY then has no effect on
 * a table and is dropped). A LIMIT or OFFSET without ORDER BY keeps rows of PostgreSQL's choosing
 * and is refused in incremental modes.
 */
import type { Node, SelectStmt } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import type { Expr, IrNode } from '../ir/types.js';
import { makeTopN } from '../operators/top-n.js';
import { asNode, locationOf, walkAst } from '../parse/ast.js';
import type { QueryCtx, SortKey } from './context.js';
import { resolveExpr } from './expr.js';
import { EMPTY_FROM, Scope, type ScopeColumn } from './scope.js';

/** The first `limit` rows (after `offset`) of `node` in `sortKeys` order (`withTies`: plus the ties of the last). */
export function buildTopN(
  node: IrNode,
  outputs: readonly ScopeColumn[],
  sortKeys: readonly SortKey[],
  limit: Node | undefined,
  offset: Node | undefined,
  q: QueryCtx,
  withTies = false,
): IrNode {
  void outputs;
  const limitExpr = constant(limit, 'LIMIT', q);
  const offsetExpr = constant(offset, 'OFFSET', q);
  const noOffset = offsetExpr === null || isLiteralZero(offset);
  if (limitExpr === null && noOffset) return node;
  if (sortKeys.length === 0) {
    throw new UnsupportedQueryError(
      `${limitExpr === null ? 'OFFSET' : 'LIMIT'} without ORDER BY`,
      "Which rows it keeps is up to PostgreSQL's plan, so the stream table could not be kept equal to its query. Add an ORDER BY " +
        "that orders the rows totally (e.g. ending with the primary key), or use refreshMode 'FULL'.",
      { position: q.env.at(locationOf(limit ?? offset)) },
    );
  }
  const keys = sortKeys.map((k) => ({ id: k.id, descending: k.descending, nullsFirst: k.nullsFirst }));
  return makeTopN(q.env.ids, node, keys, limitExpr, noOffset ? null : offsetExpr, withTies);
}

/** Whether a SELECT's limit is `FETCH FIRST … WITH TIES`. */
export function withTies(stmt: SelectStmt): boolean {
  return stmt.limitOption === 'LIMIT_OPTION_WITH_TIES';
}

/** A constant LIMIT / OFFSET expression resolved (null for none, ALL or a NULL literal). */
function constant(ast: Node | undefined, clause: 'LIMIT' | 'OFFSET', q: QueryCtx): Expr | null {
  if (ast === undefined || asNode(ast, 'A_Const')?.isnull === true) return null;
  let offending: Node | undefined;
  walkAst(ast, (n) => {
    if (offending !== undefined) return false;
    if (
      asNode(n, 'ColumnRef') !== undefined ||
      asNode(n, 'SubLink') !== undefined ||
      asNode(n, 'ParamRef') !== undefined
    ) {
      offending = n;
      return false;
    }
    return undefined;
  });
  if (offending !== undefined) {
    const what = asNode(offending, 'SubLink') !== undefined ? 'a subquery' : 'a column reference';
    throw new UnsupportedQueryError(
      `a non-constant ${clause} (${what})`,
      `${clause} must be a constant (a literal or an expression over literals) to be maintained; write the number into the query, ` +
        `or use refreshMode 'FULL'.`,
      { position: q.env.at(locationOf(offending) ?? locationOf(ast)) },
    );
  }
  const scope = new Scope(EMPTY_FROM, null, q.env);
  return resolveExpr(ast, scope, q.env, { clause });
}

function isLiteralZero(ast: Node | undefined): boolean {
  const c = asNode(ast, 'A_Const');
  return c !== undefined && c.ival !== undefined && (c.ival.ival ?? 0) === 0;
}
