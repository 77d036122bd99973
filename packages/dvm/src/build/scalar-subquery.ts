/**
 * Scalar subqueries in the select list: `(SELECT …)` yielding one value per row.
 * (Implementation pending: refused in incremental modes for now.)
 */
import type { Node, SubLink } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import type { IrNode } from '../ir/types.js';
import { locationOf } from '../parse/ast.js';
import type { QueryCtx } from './context.js';
import type { Scope } from './scope.js';

/** Collects the scalar subqueries of one select list while it is resolved. */
export interface ScalarSubqueryCollector {
  /** The `sublink` hook: returns a reference to a column carrying the subquery's value. */
  readonly hook: (link: SubLink, node: Node) => Node;
  /** Wraps the input so that the collected subqueries' columns exist (identity if none). */
  wrap(input: IrNode): IrNode;
}

/** A collector for scalar subqueries of a select list whose names are `scope`. */
export function createScalarSubqueryCollector(scope: Scope, q: QueryCtx): ScalarSubqueryCollector {
  void scope;
  return {
    hook(link: SubLink, node: Node): Node {
      void link;
      throw new UnsupportedQueryError(
        'a subquery in the select list',
        "Not supported yet in incremental modes; use refreshMode 'FULL'.",
        {
          position: q.env.at(locationOf(node)),
        },
      );
    },
    wrap: (input) => input,
  };
}
