/**
 * SELECT DISTINCT and DISTINCT ON.
 * (Implementation pending: refused in incremental modes for now.)
 */
import { UnsupportedQueryError } from '../errors.js';
import type { IrNode } from '../ir/types.js';
import type { QueryCtx, SortKey } from './context.js';
import type { ScopeColumn } from './scope.js';

/**
 * DISTINCT over the projected `node` (`distinctOn` null) or DISTINCT ON the given column ids,
 * keeping per key the first row by `sortKeys`. `outputs` are the SELECT's output columns.
 */
export function buildDistinct(
  node: IrNode,
  outputs: readonly ScopeColumn[],
  distinctOn: readonly string[] | null,
  sortKeys: readonly SortKey[],
  q: QueryCtx,
): IrNode {
  void node;
  void outputs;
  void sortKeys;
  void q;
  throw new UnsupportedQueryError(
    distinctOn === null ? 'SELECT DISTINCT' : 'SELECT DISTINCT ON',
    "Not supported yet in incremental modes; use refreshMode 'FULL'.",
    {},
  );
}
