/**
 * Outer joins: LEFT, RIGHT (a LEFT join with the inputs swapped) and FULL.
 * (Implementation pending: refused in incremental modes for now.)
 */
import { UnsupportedQueryError } from '../errors.js';
import type { Expr, IrNode } from '../ir/types.js';
import type { BuildEnv } from './env.js';

/**
 * Builds an outer join of `left` and `right` on `condition` (null: ON true). The node's columns
 * are all of both inputs' columns (same ids).
 */
export function buildOuterJoin(
  kind: 'LEFT' | 'RIGHT' | 'FULL',
  left: IrNode,
  right: IrNode,
  condition: Expr | null,
  env: BuildEnv,
  location: number | undefined,
): IrNode {
  void left;
  void right;
  void condition;
  throw new UnsupportedQueryError(
    `${kind} JOIN`,
    "Not supported yet in incremental modes; use refreshMode 'FULL'.",
    {
      position: env.at(location),
    },
  );
}
