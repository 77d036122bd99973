/**
 * LATERAL items in FROM: set-returning functions (`unnest`, `jsonb_array_elements`,
 * `generate_series`, …) and LATERAL subqueries, joined to the items before them.
 * (Implementation pending: refused in incremental modes for now.)
 */
import type { Node } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import { asNode, locationOf } from '../parse/ast.js';
import type { QueryCtx } from './context.js';
import type { FromPart } from './from.js';

/** Whether a FROM item is LATERAL (a LATERAL subquery, or any function in FROM). */
export function isLateralItem(item: Node): boolean {
  const sub = asNode(item, 'RangeSubselect');
  if (sub !== undefined) return sub.lateral === true;
  return asNode(item, 'RangeFunction') !== undefined;
}

/**
 * Builds a LATERAL item joined to `left` (null when it is the first FROM item) with join kind
 * INNER (comma / CROSS JOIN / JOIN … ON) or LEFT (LEFT JOIN LATERAL … ON cond).
 */
export function buildLateral(
  item: Node,
  left: FromPart | null,
  kind: 'INNER' | 'LEFT',
  condition: Node | undefined,
  q: QueryCtx,
): FromPart {
  void left;
  void kind;
  void condition;
  throw new UnsupportedQueryError(
    'a set-returning function or LATERAL subquery in FROM',
    "Not supported yet in incremental modes; use refreshMode 'FULL'.",
    {
      position: q.env.at(locationOf(item)),
    },
  );
}
