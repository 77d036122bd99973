/**
 * Applying a delta to a storage table (docs/dvm-design.md §4). The materialised delta
 * (`__pgt_row_id`, `__pgt_weight`, storage columns) is first consolidated: rows equal in id and
 * in every value (compared by their binary image, diff/rowid.ts, so any column type works and no
 * session setting matters) are summed and zero sums dropped. Then:
 * - unique row ids: per id at most one −1 (old values) and one +1 (new values) remain; one MERGE
 *   updates a matched row to the +1 values (only if a value differs), inserts an unmatched +1,
 *   deletes a matched lone −1;
 * - non-unique row ids (keyless results): delete |w| copies of each −w row (by ctid; copies
 *   with the row's exact image first, then, for a shortfall, other copies under the same id),
 *   insert w copies of each +w row.
 * A stream table read by other stream tables also appends the consolidated change to its own
 * buffer (D rows before I rows) under the refresh's epoch.
 */

import { rowText } from '../diff/rowid.js';
import {
  bufferColumnName,
  consolidatedTempName,
  ROW_ID_COLUMN,
  STREAM_BUFFER_COLUMNS,
  WEIGHT_COLUMN,
} from '../names.js';
import { sql } from '../sql/sql.js';
import { mergeApplyParts } from './apply-merge.js';
import { streamBuffer } from './capture.js';

/** What the apply SQL needs to know about the storage table. */
export interface ApplyTarget {
  /** The storage table, quoted and qualified. */
  readonly relation: string;
  /** Storage columns after `__pgt_row_id`, in order (visible then hidden). */
  readonly columns: readonly string[];
  /** The visible columns (captured into the stream table's own buffer). */
  readonly visible: readonly string[];
  /** Whether row ids are unique. */
  readonly uniqueRowIds: boolean;
  /** Names the temp tables of one refresh. */
  readonly tag: string;
}

/** The consolidated delta temp table of a refresh, qualified. */
export function consolidatedTable(tag: string): string {
  return sql`pg_temp.${sql.id(consolidatedTempName(tag))}`;
}

/** `, <alias>."c1", <alias>."c2", …` (each column after a leading comma). */
function trailingColumns(alias: string, columns: readonly string[]): string {
  return sql`${sql.join(
    columns.map((c) => sql`, ${alias}.${sql.id(c)}`),
    '',
  )}`;
}

/**
 * The SELECT consolidating a delta relation `from` (with `__pgt_weight`): rows equal in id and
 * image summed, zero sums dropped.
 */
export function consolidatedSelect(target: ApplyTarget, from: string): string {
  const id = sql.id(ROW_ID_COLUMN);
  return sql`SELECT y.${id}, y.${WEIGHT_COLUMN}${trailingColumns('y', target.columns)}
FROM (SELECT DISTINCT ON (x.${id}, x.__pgt_text) x.${id}, pg_catalog.sum(x.${WEIGHT_COLUMN})
  OVER (PARTITION BY x.${id}, x.__pgt_text)::bigint AS ${WEIGHT_COLUMN}${trailingColumns('x', target.columns)}
      FROM (SELECT d.*, ${rowText('d', target.columns)} AS __pgt_text FROM ${from} AS d) AS x
      ORDER BY x.${id}, x.__pgt_text) AS y
WHERE y.${WEIGHT_COLUMN} <> 0`;
}

/** Statements that consolidate a delta table (`from`, with `__pgt_weight`) into the consolidated table. */
export function consolidateSql(target: ApplyTarget, from: string): string[] {
  return [
    sql`DROP TABLE IF EXISTS ${consolidatedTable(target.tag)}`,
    sql`CREATE TEMP TABLE ${sql.id(consolidatedTempName(target.tag))} ON COMMIT DROP AS
${consolidatedSelect(target, from)}`,
  ];
}

/**
 * The consolidated delta in relation `c` applied as ONE statement: returns the CTEs to put
 * before it (the copies to delete, then a data-modifying CTE deleting them) and its body (the
 * MERGE, or the INSERT of the new copies). The deletion picks rows by ctid in the statement's
 * snapshot and the insertion adds new rows, so the two never see each other.
 */
export function applyInOneStatement(
  target: ApplyTarget,
  c: string,
): { ctes: readonly { name: string; sql: string }[]; body: string } {
  const parts = applyParts(target, c);
  if (parts.merge !== null) return { ctes: [], body: parts.merge };
  return {
    ctes: [...parts.deleteCtes, { name: '__pgt_deleted', sql: sql`${parts.delete}\nRETURNING 1` }],
    body: parts.insert,
  };
}

/**
 * The MERGE applying a delta `source` (a relation: `__pgt_row_id`, `__pgt_weight`, the storage
 * columns) whose row ids are unique in the storage: per id the +1 row wins (DISTINCT ON sorts by
 * id, so no cached plan turns quadratic on a large delta), a matched −1 deletes, a matched +1
 * updates only when a value differs (binary images), an unmatched +1 inserts.
 */
export function mergeByRowId(target: ApplyTarget, source: string): string {
  const id = sql.id(ROW_ID_COLUMN);
  const cols = target.columns.map((c) => sql.id(c));
  const names = sql.join([id, ...cols]);
  const set = sql.join(cols.map((q) => sql`${q} = d.${q}`));
  const differs = sql`${rowText('st', target.columns)} IS DISTINCT FROM ${rowText('d', target.columns)}`;
  const update =
    cols.length === 0
      ? ''
      : sql`WHEN MATCHED AND d.${WEIGHT_COLUMN} > 0 AND ${differs} THEN UPDATE SET ${set}
`;
  return sql`MERGE INTO ${target.relation} AS st
USING (SELECT DISTINCT ON (x.${id}) x.* FROM ${source} AS x ORDER BY x.${id}, x.${WEIGHT_COLUMN} DESC) AS d
ON st.${id} = d.${id}
WHEN MATCHED AND d.${WEIGHT_COLUMN} < 0 THEN DELETE
${update}WHEN NOT MATCHED AND d.${WEIGHT_COLUMN} > 0 THEN INSERT (${names}) VALUES
  (${sql.join([id, ...cols].map((q) => sql`d.${q}`))})`;
}

interface ApplyParts {
  readonly merge: string | null;
  readonly deleteCtes: readonly { name: string; sql: string }[];
  readonly delete: string;
  readonly insert: string;
}

function applyParts(target: ApplyTarget, c: string): ApplyParts {
  const id = sql.id(ROW_ID_COLUMN);
  const cols = target.columns.map((c) => sql.id(c));
  const names = sql.join([id, ...cols]);
  if (target.uniqueRowIds) {
    return {
      merge: mergeByRowId(target, c),
      deleteCtes: [],
      delete: '',
      insert: '',
    };
  }
  // Copies to delete: first those with the delta row's exact image; a shortfall (a value the
  // change buffer returned in another representation of the same value, e.g. re-printed json)
  // is taken from the other copies under the same row id.
  const text = rowText('s', target.columns);
  return {
    merge: null,
    deleteCtes: [
      {
        name: 'want',
        sql: sql`SELECT x.${id}, ${rowText('x', target.columns)} AS __pgt_text, -x.${WEIGHT_COLUMN} AS __pgt_copies FROM ${c} AS x
  WHERE x.${WEIGHT_COLUMN} < 0`,
      },
      {
        name: 'have',
        sql: sql`SELECT s.ctid AS __pgt_ctid, s.${id}, ${text} AS __pgt_text,
  pg_catalog.row_number() OVER (PARTITION BY s.${id}, ${text} ORDER BY s.ctid) AS __pgt_n
  FROM ${target.relation} AS s WHERE s.${id} IN (SELECT w.${id} FROM want AS w)`,
      },
      {
        name: 'exact',
        sql: sql`SELECT h.__pgt_ctid, h.${id} FROM have AS h JOIN want AS w ON w.${id} = h.${id} AND w.__pgt_text = h.__pgt_text
  AND h.__pgt_n <= w.__pgt_copies`,
      },
      {
        name: 'short',
        sql: sql`SELECT w.${id}, pg_catalog.sum(w.__pgt_copies) - (SELECT pg_catalog.count(*) FROM exact AS e WHERE e.${id} = w.${id})
  AS __pgt_missing FROM want AS w GROUP BY w.${id}`,
      },
      {
        name: 'rest',
        sql: sql`SELECT h.__pgt_ctid, h.${id}, pg_catalog.row_number() OVER (PARTITION BY h.${id} ORDER BY h.__pgt_ctid) AS __pgt_m
  FROM have AS h WHERE NOT EXISTS (SELECT 1 FROM exact AS e WHERE e.__pgt_ctid = h.__pgt_ctid)`,
      },
    ],
    delete: sql`DELETE FROM ${target.relation} AS t
WHERE t.ctid = ANY (ARRAY(SELECT e.__pgt_ctid FROM exact AS e
  UNION ALL SELECT r.__pgt_ctid FROM rest AS r JOIN short AS m ON m.${id} = r.${id} AND r.__pgt_m <= m.__pgt_missing))`,
    insert: sql`INSERT INTO ${target.relation} (${names})
SELECT x.${id}${trailingColumns('x', target.columns)} FROM ${c} AS x CROSS JOIN LATERAL pg_catalog.generate_series(1, x.${WEIGHT_COLUMN}) AS g
WHERE x.${WEIGHT_COLUMN} > 0`,
  };
}

/**
 * Appends the consolidated change (in `table`, default the consolidated temp table) to stream
 * table `pgtId`'s own buffer under epoch `$<epochParam>`: |w| D rows per −w, then |w| I rows per +w.
 */
export function captureAppliedSql(
  target: ApplyTarget,
  pgtId: number,
  epochParam: string,
  table?: string,
): string {
  const c = table ?? consolidatedTable(target.tag);
  const id = sql.id(ROW_ID_COLUMN);
  const bufCols = target.visible.map((v) => sql.id(bufferColumnName(v, STREAM_BUFFER_COLUMNS)));
  const vals = target.visible.map((v) => sql`x.${sql.id(v)}`);
  return sql`INSERT INTO ${streamBuffer(pgtId)} (epoch, action, ${sql.join([id, ...bufCols])})
SELECT ${epochParam}, CASE WHEN x.${WEIGHT_COLUMN} < 0 THEN 'D' ELSE 'I' END, ${sql.join([sql`x.${id}`, ...vals])}
FROM ${c} AS x CROSS JOIN LATERAL pg_catalog.generate_series(1, abs(x.${WEIGHT_COLUMN})) AS g
ORDER BY x.${WEIGHT_COLUMN} > 0, x.${id}`;
}

/** What the one statement of a DIFFERENTIAL refresh does besides applying its delta. */
export interface RefreshStatementOptions {
  /**
   * The delta relation is already consolidated and clean: per row id at most one −1 row (the
   * stored row's exact values) and one +1 row, a pair only when the row changed (the root
   * aggregate's rules, docs/dvm-design.md §3). It is then applied as it is, with no
   * consolidation and no comparison of the stored row's image.
   */
  readonly consolidated: boolean;
  /**
   * The server takes MERGE … RETURNING as a CTE (PostgreSQL 17 or later): a delta with unique
   * ids that is not clean is applied by one MERGE (`apply-merge.ts`) instead of three statements.
   */
  readonly merge?: boolean;
  /** Append the applied change to stream table `pgtId`'s own buffer, under the epoch expression `epoch`. */
  readonly capture: { readonly pgtId: number; readonly epoch: string } | null;
  /** The new frontier's snapshot (text) and epochs (jsonb), as expressions of the same statement. */
  readonly snapshot: string;
  readonly epochs: string;
}

/**
 * One row per changed row id, ready to apply (a root operator's {@link KeyedRootDelta} with the
 * storage columns' new values rendered over it): no −1 / +1 rows to net.
 */
export interface KeyedChanges {
  /** The relation, aliased `f` in every expression below. */
  readonly relation: string;
  /** The id is stored and its row goes. */
  readonly deletes: string;
  /** The id is stored and its row is replaced by the new values. */
  readonly updates: string;
  /** The id is not stored and its new row comes. */
  readonly inserts: string;
  /** The new value of each storage column (`target.columns`, in order). */
  readonly values: readonly string[];
  /** The column (unquoted) of `relation` holding the stored row's ctid, read by the same statement. */
  readonly storedCtid?: string;
}

/**
 * A stream table without consumers whose root delta is one row per changed id
 * ({@link KeyedChanges}), applied in ONE statement: three disjoint data-modifying CTEs delete,
 * update and insert by row id (a stored row by the ctid the statement read it at, when the changes
 * carry it) straight from it, so nothing is unioned, sorted or netted per id.
 * The result row is {@link refreshStatementParts}'.
 */
export function keyedRefreshParts(
  target: ApplyTarget,
  keyed: KeyedChanges,
  o: Pick<RefreshStatementOptions, 'snapshot' | 'epochs'>,
): { ctes: readonly { name: string; sql: string }[]; body: string } {
  const id = sql.id(ROW_ID_COLUMN);
  const cols = target.columns.map((c) => sql.id(c));
  // A stored row is reached by the ctid the statement read it at when the changes carry it (one
  // heap fetch), else by its row id (a probe of the unique index).
  const stored =
    keyed.storedCtid === undefined ? sql`st.${id} = f.${id}` : sql`st.ctid = f.${sql.id(keyed.storedCtid)}`;
  const ctes: { name: string; sql: string }[] = [
    {
      name: '__pgt_deleted',
      sql: sql`DELETE FROM ${target.relation} AS st USING ${keyed.relation} AS f
WHERE ${stored} AND ${keyed.deletes}
RETURNING 1`,
    },
  ];
  if (cols.length > 0) {
    ctes.push({
      name: '__pgt_updated',
      sql: sql`UPDATE ${target.relation} AS st SET ${sql.join(cols.map((q, i) => sql`${q} = ${keyed.values[i] as string}`))}
FROM ${keyed.relation} AS f
WHERE ${stored} AND ${keyed.updates}
RETURNING 1`,
    });
  }
  ctes.push({
    name: '__pgt_inserted',
    sql: sql`INSERT INTO ${target.relation} (${sql.join([id, ...cols])})
SELECT ${sql.join([sql`f.${id}`, ...keyed.values])} FROM ${keyed.relation} AS f
WHERE ${keyed.inserts}
RETURNING 1`,
  });
  const updated = cols.length > 0 ? ' + (SELECT pg_catalog.count(*) FROM __pgt_updated)' : '';
  return {
    ctes,
    body: sql`SELECT ${o.snapshot} AS snapshot, ${o.epochs} AS epochs, ((SELECT pg_catalog.count(*) FROM __pgt_inserted)${updated})::bigint AS ins, ((SELECT pg_catalog.count(*) FROM __pgt_deleted)${updated})::bigint AS del`,
  };
}

/**
 * The delta relation `delta` (`__pgt_row_id`, `__pgt_weight`, the storage columns) consolidated,
 * applied to the storage table, captured into the table's own buffer if asked, in ONE statement:
 * returns the CTEs to add after the delta's and the final SELECT, whose one row reports the new
 * frontier (`snapshot`, `epochs`) and the rows inserted and deleted (`ins`, `del`; an update is
 * one of each). Every data-modifying CTE runs on the statement's one snapshot, so the apply
 * reads the stored rows as they were before it, and no part sees another's writes: unique ids
 * are deleted (a lone −1), updated (a +1 whose id is stored) and inserted (a +1 whose id is not)
 * by three disjoint statements, or by one MERGE where the server allows it (`apply-merge.ts`); counted ids delete
 * copies by ctid and insert new copies.
 */
export function refreshStatementParts(
  target: ApplyTarget,
  delta: string,
  o: RefreshStatementOptions,
): { ctes: readonly { name: string; sql: string; materialized?: boolean }[]; body: string } {
  const id = sql.id(ROW_ID_COLUMN);
  const cols = target.columns.map((c) => sql.id(c));
  const names = sql.join([id, ...cols]);
  const ctes: { name: string; sql: string; materialized?: boolean }[] = [];
  const unique = target.uniqueRowIds;
  const clean = unique && o.consolidated;
  let c = delta;
  if (!clean) {
    c = '__pgt_consolidated';
    ctes.push({ name: c, sql: consolidatedSelect(target, delta), materialized: true });
  }
  let counts: { ins: string; del: string };
  if (unique && !clean && o.merge === true) {
    const parts = mergeApplyParts(target, c);
    ctes.push(...parts.ctes);
    counts = parts.counts;
  } else if (unique) {
    // Per id the +1 row wins (a lone −1 deletes; a +1 updates a stored row or inserts). A clean
    // delta has its −1 exactly for stored ids, so an id's row count tells a new row from a
    // changed one without probing the storage.
    const rows = clean ? sql`, pg_catalog.count(*) OVER (PARTITION BY x.${id}) AS __pgt_rows` : '';
    ctes.push({
      name: '__pgt_changes',
      sql: sql`SELECT DISTINCT ON (x.${id}) x.*${rows} FROM ${c} AS x ORDER BY x.${id}, x.${WEIGHT_COLUMN} DESC`,
      materialized: true,
    });
    ctes.push({
      name: '__pgt_deleted',
      sql: sql`DELETE FROM ${target.relation} AS st USING __pgt_changes AS d
WHERE st.${id} = d.${id} AND d.${WEIGHT_COLUMN} < 0
RETURNING 1`,
    });
    if (cols.length > 0) {
      const set = sql.join(cols.map((q) => sql`${q} = d.${q}`));
      const differs = clean
        ? ''
        : sql` AND ${rowText('st', target.columns)} IS DISTINCT FROM ${rowText('d', target.columns)}`;
      ctes.push({
        name: '__pgt_updated',
        sql: sql`UPDATE ${target.relation} AS st SET ${set}
FROM __pgt_changes AS d
WHERE st.${id} = d.${id} AND d.${WEIGHT_COLUMN} > 0${differs}
RETURNING 1`,
      });
    }
    const unstored = clean
      ? ' AND d.__pgt_rows = 1'
      : sql` AND NOT EXISTS (SELECT FROM ${target.relation} AS st WHERE st.${id} = d.${id})`;
    ctes.push({
      name: '__pgt_inserted',
      sql: sql`INSERT INTO ${target.relation} (${names})
SELECT ${sql.join([id, ...cols].map((q) => sql`d.${q}`))} FROM __pgt_changes AS d
WHERE d.${WEIGHT_COLUMN} > 0${unstored}
RETURNING 1`,
    });
    const updated = cols.length > 0 ? ' + (SELECT pg_catalog.count(*) FROM __pgt_updated)' : '';
    counts = {
      ins: `(SELECT pg_catalog.count(*) FROM __pgt_inserted)${updated}`,
      del: `(SELECT pg_catalog.count(*) FROM __pgt_deleted)${updated}`,
    };
  } else {
    const parts = applyParts(target, c);
    ctes.push(...parts.deleteCtes);
    ctes.push({ name: '__pgt_deleted', sql: sql`${parts.delete}\nRETURNING 1` });
    ctes.push({ name: '__pgt_inserted', sql: sql`${parts.insert}\nRETURNING 1` });
    counts = {
      ins: '(SELECT pg_catalog.count(*) FROM __pgt_inserted)',
      del: '(SELECT pg_catalog.count(*) FROM __pgt_deleted)',
    };
  }
  if (o.capture !== null) {
    ctes.push({
      name: '__pgt_captured',
      sql: captureAppliedSql(target, o.capture.pgtId, o.capture.epoch, c),
    });
  }
  return {
    ctes,
    body: sql`SELECT ${o.snapshot} AS snapshot, ${o.epochs} AS epochs, (${counts.ins})::bigint AS ins, (${counts.del})::bigint AS del`,
  };
}
