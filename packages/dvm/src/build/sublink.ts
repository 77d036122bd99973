/**
 * Subqueries in WHERE: EXISTS / NOT EXISTS / IN / NOT IN / = ANY become semi- and anti-joins.
 * (Implementation pending: refused in incremental modes for now.)
 */
import type { Node } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import type { IrNode } from '../ir/types.js';
import { locationOf, walkAst } from '../parse/ast.js';
import type { QueryCtx } from './context.js';
import type { Scope } from './scope.js';

/** Whether `node` contains a subquery (not counting nested ones' contents). */
export function containsSublink(node: Node): boolean {
  let found = false;
  walkAst(node, (n) => {
    if ('SubLink' in n) found = true;
    return !found;
  });
  return found;
}

/**
 * Builds a WHERE conjunct that contains a subquery over `input` (whose names are `scope`),
 * returning the new input (a semi/anti join with the input's columns).
 */
export function buildWhereSublink(conjunct: Node, input: IrNode, scope: Scope, q: QueryCtx): IrNode {
  void input;
  void scope;
  throw new UnsupportedQueryError(
    'a subquery in WHERE',
    "Not supported yet in incremental modes; use refreshMode 'FULL'.",
    {
      position: q.env.at(locationOf(conjunct)),
    },
  );
}
