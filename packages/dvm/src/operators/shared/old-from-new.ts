/**
 * Old rows from new rows and the delta (shared by the window and top-N rules): for any part P of
 * a child's new snapshot C₁ that contains every C₁-row of interest, the corresponding old rows are
 *   P₀ = P − Δ⁺ + Δ⁻   (multiset arithmetic, clipped at zero copies),
 * since C₀ = C₁ − ΔC. This reads only the new snapshot (live tables, indexable) and the delta,
 * instead of the old snapshot (which for a scan is "live minus delta plus deleted rows", a union
 * that PostgreSQL cannot restrict with a semi-join or serve from an index in sort order).
 * The delta is first netted per (row id, row text): the terms of a delta rule may emit a row
 * several times with opposite signs (a join's ΔL⋈R₁ + L₁⋈ΔR − ΔL⋈ΔR), and only the net counts.
 * Unique ids: a row of P whose id has a net +1 is the new version of a changed row and is
 * dropped (matched by id, so it does not depend on the row's text); net −1 rows are added.
 * Non-unique ids (a content-derived id: rows equal in id are equal in value): copies are counted
 * per (id, text): old copies = copies in P − net weight.
 */

import type { DiffContext } from '../../diff/context.js';
import { rowText } from '../../diff/rowid.js';
import type { IrNode } from '../../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../../names.js';
import { sql } from '../../sql/sql.js';

/** Adds the CTE of `delta` netted per (id, row text), non-zero weights only; returns its name. */
export function netDelta(ctx: DiffContext, node: IrNode, child: IrNode, delta: string): string {
  const ids = child.columns.map((c) => c.id);
  const cols = ids.map((id) => sql`, x.${sql.id(id)}`).join('');
  return ctx.stmt.add(
    `n${node.nid}_net`,
    sql`SELECT y.${ROW_ID_COLUMN}, y.${WEIGHT_COLUMN}${ids.map((id) => sql`, y.${sql.id(id)}`).join('')}
FROM (SELECT DISTINCT ON (x.${ROW_ID_COLUMN}, x.__pgt_text) x.${ROW_ID_COLUMN}, pg_catalog.sum(x.${WEIGHT_COLUMN}) OVER (PARTITION BY
  x.${ROW_ID_COLUMN}, x.__pgt_text)::bigint AS ${WEIGHT_COLUMN}${cols}
      FROM (SELECT d.*, ${rowText('d', ids)} AS __pgt_text FROM ${delta} AS d) AS x
      ORDER BY x.${ROW_ID_COLUMN}, x.__pgt_text) AS y
WHERE y.${WEIGHT_COLUMN} <> 0`,
    true,
  );
}

/** `SELECT … FROM net` rows with weight < 0, one SQL row per copy. */
function removedRows(child: IrNode, net: string): string {
  const cols = child.columns.map((c) => sql`, d.${sql.id(c.id)}`).join('');
  return sql`SELECT d.${ROW_ID_COLUMN}${cols}
FROM ${net} AS d CROSS JOIN LATERAL pg_catalog.generate_series(1, -d.${WEIGHT_COLUMN}) AS g
WHERE d.${WEIGHT_COLUMN} < 0`;
}

/** Total count of rows added by the net delta (Σ positive weights), as a scalar subquery. */
export function addedCount(net: string): string {
  return sql`(SELECT COALESCE(pg_catalog.sum(d.${WEIGHT_COLUMN}), 0)::bigint FROM ${net} AS d WHERE d.${WEIGHT_COLUMN} > 0)`;
}

/**
 * SQL of P₀ = P − Δ⁺ + Δ⁻ for `part` (a relation: `__pgt_row_id` + the child's column ids, in
 * order) and the netted delta `net` of `child`.
 */
export function oldFromNew(child: IrNode, part: string, net: string): string {
  const ids = child.columns.map((c) => c.id);
  const cols = (alias: string) => ids.map((id) => sql`, ${alias}.${sql.id(id)}`).join('');
  if (child.uniqueIds) {
    return sql`SELECT p.${ROW_ID_COLUMN}${cols('p')}
FROM ${part} AS p
WHERE NOT EXISTS (SELECT 1 FROM ${net} AS d WHERE d.${WEIGHT_COLUMN} > 0 AND d.${ROW_ID_COLUMN} = p.${ROW_ID_COLUMN})
UNION ALL
${removedRows(child, net)}`;
  }
  return sql`SELECT y.${ROW_ID_COLUMN}${cols('y')}
FROM (SELECT DISTINCT ON (u.${ROW_ID_COLUMN}, u.__pgt_text) u.${ROW_ID_COLUMN}${cols('u')}, pg_catalog.sum(u.__pgt_n) OVER (PARTITION BY
  u.${ROW_ID_COLUMN}, u.__pgt_text)::bigint AS __pgt_copies
      FROM (SELECT p.${ROW_ID_COLUMN}${cols('p')}, ${rowText('p', ids)} AS __pgt_text, 1::bigint AS __pgt_n FROM ${part} AS p
            UNION ALL
            SELECT d.${ROW_ID_COLUMN}${cols('d')}, ${rowText('d', ids)} AS __pgt_text, -d.${WEIGHT_COLUMN} AS __pgt_n FROM ${net} AS d) AS u
      ORDER BY u.${ROW_ID_COLUMN}, u.__pgt_text) AS y
CROSS JOIN LATERAL pg_catalog.generate_series(1, y.__pgt_copies) AS g
WHERE y.__pgt_copies > 0`;
}
