/**
 * IMMEDIATE apply of a linear delta: the cheapest statement for one statement's changes when the
 * delta needs no consolidation. Rule: when the query is scans, filters, projections and inner
 * joins with unique row ids, and the changed source is scanned once, every −1 row of the delta
 * comes from one OLD row and every +1 row from one NEW row (the other sources are read in one
 * state), so ids are unique per sign, a −1 id is stored, and an id appears with both signs only
 * when the same source row keeps the same partners. Then:
 * - only NEW rows (an INSERT): the +1 rows are inserted (their ids are new);
 * - only OLD rows (a DELETE): the stored rows of the −1 ids are deleted;
 * - both (an UPDATE): one MERGE by id, the +1 row of an id winning over its −1 row: update where
 *   stored and different, insert where not stored; a lone −1 deletes.
 * No sort, no window, no comparison of images except the one deciding whether to rewrite a row.
 */

import type { DiffContext } from '../diff/context.js';
import type { IrNode } from '../ir/types.js';
import { ROW_ID_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import { type ApplyTarget, mergeByRowId } from './apply.js';

/**
 * Whether the delta of `root` for changes of source `sourceKey` alone is linear with unique ids
 * per sign: only scan / filter / project / inner join nodes, unique row ids throughout, and one
 * scan of that source.
 */
export function isLinearIn(root: IrNode, sourceKey: string): boolean {
  let scans = 0;
  const walk = (node: IrNode): boolean => {
    if (!node.uniqueIds) return false;
    if (node.kind === 'scan') {
      if (node.source.key === sourceKey) scans++;
      return true;
    }
    if (node.kind !== 'project' && node.kind !== 'filter' && node.kind !== 'join') return false;
    return node.children.every(walk);
  };
  return walk(root) && scans === 1;
}

/** Which transition tables the statement has. */
export interface LinearEvent {
  readonly old: boolean;
  readonly new: boolean;
}

/**
 * Whether the delta CTE of a linear apply for `event` is `MATERIALIZED`: for the large copy of an
 * UPDATE (whose MERGE reads it through DISTINCT ON), yes — the planner then sizes the MERGE's
 * input as a set of unknown ids (a few hundred) rather than as the transition tables' rows, and
 * probes the storage by its row-id index instead of scanning it, whatever the statement's size.
 * The small copy is planned for a few rows anyway, and inlined it costs less.
 */
export function linearDeltaMaterialized(event: LinearEvent, large: boolean): boolean | undefined {
  return large && event.old && event.new ? true : undefined;
}

/**
 * The statement applying the linear delta `delta` (a CTE of `ctx`: `__pgt_row_id`,
 * `__pgt_weight`, the storage columns) of one statement with transition tables `event`.
 */
export function linearApplyStatement(
  ctx: DiffContext,
  target: ApplyTarget,
  delta: string,
  event: LinearEvent,
): string {
  const id = sql.id(ROW_ID_COLUMN);
  const cols = target.columns.map((c) => sql.id(c));
  const names = sql.join([id, ...cols]);
  const values = sql.join([id, ...cols].map((q) => sql`d.${q}`));
  if (!event.old) {
    return ctx.stmt.build(sql`INSERT INTO ${target.relation} (${names})
SELECT ${values} FROM ${delta} AS d`);
  }
  if (!event.new) {
    return ctx.stmt.build(sql`DELETE FROM ${target.relation} AS st
WHERE st.${id} IN (SELECT d.${id} FROM ${delta} AS d)`);
  }
  return ctx.stmt.build(mergeByRowId(target, delta));
}
