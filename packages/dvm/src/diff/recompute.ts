/**
 * Deltas by recomputation, shared by the operators whose delta is not linear:
 * `differenceDelta`: Δ = Q₁ − Q₀ for two snapshots of a node (possibly both restricted to the
 *   same affected keys), as a Z-set: each distinct row (same id, same values by text form) with
 *   weight (copies in Q₁) − (copies in Q₀), zero weights dropped. Exact for any deterministic
 *   operator; its cost is that of the two snapshots.
 * `emptyDeltaSql`: the delta of a node when nothing it reads changes — no rows, the node's shape
 *   (and types, from the snapshot it selects from).
 */

import type { IrNode } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { DiffContext } from './context.js';
import { rowText } from './rowid.js';

/**
 * An empty delta of `node`'s shape (`__pgt_row_id`, `__pgt_weight`, its column ids), typed by the
 * SELECT `snapshot` of its rows (read under alias `alias`, never run: `WHERE false`).
 */
export function emptyDeltaSql(node: IrNode, snapshot: string, alias = 'c'): string {
  const cols = sql.join(
    node.columns.map((c) => sql`, ${alias}.${sql.id(c.id)}`),
    '',
  );
  return sql`SELECT ${alias}.${ROW_ID_COLUMN}, 0::bigint AS ${WEIGHT_COLUMN}${cols}\nFROM (${snapshot}) AS ${alias}\nWHERE false`;
}

/**
 * Adds the CTE of `newSql − oldSql` (both SELECTs of `__pgt_row_id` and `node`'s column ids) and
 * returns its name; columns `__pgt_row_id`, `__pgt_weight`, the column ids.
 */
export function differenceDelta(
  ctx: DiffContext,
  node: IrNode,
  newSql: string,
  oldSql: string,
  label = 'diff',
): string {
  const ids = node.columns.map((c) => c.id);
  const trailing = (alias: string) =>
    sql.join(
      ids.map((id) => sql`, ${alias}.${sql.id(id)}`),
      '',
    );
  const both = ctx.stmt.add(
    `n${node.nid}_${label}_sides`,
    sql`SELECT s.*, 1::bigint AS __pgt_side FROM (${newSql}) AS s\nUNION ALL\nSELECT s.*, -1::bigint AS __pgt_side FROM (${oldSql}) AS s`,
  );
  return ctx.stmt.add(
    `d${node.nid}_${label}`,
    sql`SELECT y.${ROW_ID_COLUMN}, y.${WEIGHT_COLUMN}${trailing('y')}
FROM (SELECT DISTINCT ON (x.${ROW_ID_COLUMN}, x.__pgt_text) x.${ROW_ID_COLUMN}, pg_catalog.sum(x.__pgt_side) OVER (PARTITION BY
  x.${ROW_ID_COLUMN}, x.__pgt_text)::bigint AS ${WEIGHT_COLUMN}${trailing('x')}
      FROM (SELECT b.*, ${rowText('b', ids)} AS __pgt_text FROM ${both} AS b) AS x
      ORDER BY x.${ROW_ID_COLUMN}, x.__pgt_text) AS y
WHERE y.${WEIGHT_COLUMN} <> 0`,
  );
}
