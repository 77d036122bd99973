/**
 * Window functions in the select list (and ORDER BY).
 * (Implementation pending: refused in incremental modes for now.)
 */
import type { FuncCall, Node, SelectStmt } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import type { IrNode } from '../ir/types.js';
import { locationOf } from '../parse/ast.js';
import type { QueryCtx } from './context.js';
import type { ExprHooks } from './expr.js';
import type { Scope } from './scope.js';

/** Collects the window calls of one SELECT while its select list is resolved. */
export interface WindowCollector {
  /** The `window` hook: resolves a call's arguments and window, returns a reference to its result column. */
  readonly hook: (call: FuncCall, node: Node) => Node;
  /** Wraps the SELECT's input with the window computation (identity if no call was collected). */
  wrap(input: IrNode): IrNode;
}

/** A collector for the window calls of `stmt`; `base` resolves their arguments (after grouping, if any). */
export function createWindowCollector(
  stmt: SelectStmt,
  scope: Scope,
  base: ExprHooks,
  q: QueryCtx,
): WindowCollector {
  void stmt;
  void scope;
  void base;
  return {
    hook(call: FuncCall, node: Node): Node {
      void call;
      throw new UnsupportedQueryError(
        'a window function',
        "Not supported yet in incremental modes; use refreshMode 'FULL'.",
        {
          position: q.env.at(locationOf(node)),
        },
      );
    },
    wrap: (input) => input,
  };
}
