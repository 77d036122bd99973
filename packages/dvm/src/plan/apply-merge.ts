/**
 * The apply of a consolidated delta with unique row ids as ONE MERGE inside the refresh
 * statement (a data-modifying CTE, PostgreSQL 17 or later). Rule: per row id the +1 row wins
 * (`__pgt_changes`, one row per id); the MERGE joins those rows to the storage once, deletes a
 * stored row whose id has only a −1, updates a stored row to its id's +1 values when its row
 * image differs, inserts a +1 whose id is not stored; `RETURNING merge_action()` tells the three
 * apart for the counts (an update counts as one row inserted and one deleted).
 *
 * Why: the three statements of the form before (DELETE, UPDATE, INSERT … NOT EXISTS) each join
 * the changes to the whole storage; at a large window each is a hash join over every stored row.
 */
import { rowText } from '../diff/rowid.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { ApplyTarget } from './apply.js';

/** Server versions from which MERGE … RETURNING may be a CTE of a statement (`server_version_num`). */
export const MERGE_IN_WITH_VERSION_NUM = 170_000;

/**
 * The CTEs applying consolidated relation `c` (unique ids, not clean: the stored row's image is
 * compared before an update) in one MERGE, and the expressions counting the rows it inserted and
 * deleted.
 */
export function mergeApplyParts(
  target: ApplyTarget,
  c: string,
): {
  ctes: readonly { name: string; sql: string; materialized?: boolean }[];
  counts: { ins: string; del: string };
} {
  const id = sql.id(ROW_ID_COLUMN);
  const cols = target.columns.map((q) => sql.id(q));
  const names = sql.join([id, ...cols]);
  const update =
    cols.length === 0
      ? ''
      : sql`WHEN MATCHED AND d.${WEIGHT_COLUMN} > 0 AND ${rowText('st', target.columns)} IS DISTINCT FROM ${rowText('d', target.columns)} THEN
  UPDATE SET ${sql.join(cols.map((q) => sql`${q} = d.${q}`))}
`;
  return {
    ctes: [
      {
        name: '__pgt_changes',
        sql: sql`SELECT DISTINCT ON (x.${id}) x.* FROM ${c} AS x ORDER BY x.${id}, x.${WEIGHT_COLUMN} DESC`,
        materialized: true,
      },
      {
        name: '__pgt_merged',
        sql: sql`MERGE INTO ${target.relation} AS st USING __pgt_changes AS d ON st.${id} = d.${id}
WHEN MATCHED AND d.${WEIGHT_COLUMN} < 0 THEN DELETE
${update}WHEN NOT MATCHED AND d.${WEIGHT_COLUMN} > 0 THEN INSERT (${names}) VALUES (${sql.join([id, ...cols].map((q) => sql`d.${q}`))})
RETURNING merge_action() AS __pgt_action`,
      },
    ],
    counts: {
      ins: `(SELECT pg_catalog.count(*) FROM __pgt_merged AS m WHERE m.__pgt_action <> 'DELETE')`,
      del: `(SELECT pg_catalog.count(*) FROM __pgt_merged AS m WHERE m.__pgt_action <> 'INSERT')`,
    },
  };
}
