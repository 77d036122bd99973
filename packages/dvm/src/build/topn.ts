/**
 * ORDER BY … LIMIT / OFFSET (top-N).
 * (Implementation pending: refused in incremental modes for now.)
 */
import type { Node } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import type { IrNode } from '../ir/types.js';
import type { QueryCtx, SortKey } from './context.js';
import type { ScopeColumn } from './scope.js';

/** The first `limit` rows (after `offset`) of `node` in `sortKeys` order. */
export function buildTopN(
  node: IrNode,
  outputs: readonly ScopeColumn[],
  sortKeys: readonly SortKey[],
  limit: Node | undefined,
  offset: Node | undefined,
  q: QueryCtx,
): IrNode {
  void node;
  void outputs;
  void sortKeys;
  void limit;
  void offset;
  void q;
  throw new UnsupportedQueryError(
    'ORDER BY … LIMIT / OFFSET',
    "Not supported yet in incremental modes; use refreshMode 'FULL'.",
    {},
  );
}
