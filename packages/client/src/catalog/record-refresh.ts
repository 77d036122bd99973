/**
 * Recording a committed refresh: the new frontier and state on the row, and a history entry —
 * written by one statement at the end of a refresh ({@link recordCompletedRefresh}), which also
 * ends the transaction's registration as a storage writer (`pgt_refreshing`).
 */
import type { Frontier } from '@pgtrickle/dvm';
import type pg from 'pg';
import { repeatedQuery, repeatedQueryAndCommit } from '../prepared.js';
import { type HistoryEntry, ST_COLUMNS, type StreamTableRow, toRow } from './rows.js';
import { cat, type Queryable } from './schema.js';
import { type InlineTrimTarget, inlineTrimSql } from './trim-buffers.js';

const ST = cat('pgt_stream_tables');

/** Appends a history row. */
export async function insertHistory(q: Queryable, h: HistoryEntry): Promise<void> {
  await q.query(
    `INSERT INTO ${cat('pgt_refresh_history')}
       (pgt_id, action, status, initiated_by, started_at, rows_inserted, rows_deleted, pending_changes, reason, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [h.pgtId, ...historyValues(h)],
  );
}

/** What a committed refresh leaves on its stream table's row. */
export interface RefreshRecord {
  readonly frontier: Frontier;
  /** Whether the refresh wrote its changes to the table's own buffer (its epoch advances). */
  readonly captured: boolean;
  /** Whether it changed the table's data (the data timestamp moves). */
  readonly changedData: boolean;
  readonly status: StreamTableRow['status'];
  readonly effectiveMode: 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';
  readonly modeReason: string | null;
  readonly uniqueRowIds: boolean;
}

const SET_REFRESHED = `frontier_snapshot = $2::pg_snapshot, frontier_epochs = $3::jsonb,
       epoch = epoch + $4::int, last_refresh_at = clock_timestamp(), frontier_lsn = pg_current_wal_lsn(),
       data_timestamp = CASE WHEN $5 THEN clock_timestamp() ELSE data_timestamp END,
       status = $9, consecutive_errors = 0, last_error = NULL, last_error_at = NULL, needs_reinit = false,
       effective_mode = $6, mode_reason = $7, unique_row_ids = $8, updated_at = clock_timestamp()`;

/** A history row's values after its pgt_id, in the column order of `pgt_refresh_history` inserts here. */
function historyValues(h: Omit<HistoryEntry, 'pgtId'>): unknown[] {
  return [
    h.action,
    h.status,
    h.initiatedBy,
    h.startedAt,
    h.rowsInserted,
    h.rowsDeleted,
    h.pendingChanges,
    h.reason,
    h.error,
  ];
}

function recordParams(pgtId: number, r: RefreshRecord): unknown[] {
  return [
    pgtId,
    r.frontier.snapshot,
    JSON.stringify(r.frontier.epochs),
    r.captured ? 1 : 0,
    r.changedData,
    r.effectiveMode,
    r.modeReason,
    r.uniqueRowIds,
    r.status,
  ];
}

/**
 * The end of a refresh in ONE statement: {@link recordRefresh}'s update of the row, the history
 * row `h` (its pgt_id is `pgtId`), and the end of this transaction's registration as a writer of
 * stream tables' storage (the refresh has written everything); with `restorePath`, the
 * transaction's search_path set to it too (the end of an owner's sandbox); with `trim`, the
 * consumed rows of those buffers deleted too (`inlineTrimSql`, this refresh's new frontier
 * counted); with `restorePlanCache`, the transaction's plan_cache_mode set to it (the refresh
 * changed it: `refresh-preflight.ts`). Returns the row and, per trimmed buffer, what its trim found.
 * With `commit` (`q` is then the transaction's connection), the transaction is committed in the
 * same round trip (`repeatedQueryAndCommit`): the refresh ends there.
 */
export async function recordCompletedRefresh(
  q: Queryable,
  pgtId: number,
  r: RefreshRecord,
  h: Omit<HistoryEntry, 'pgtId'>,
  restorePath: string | null = null,
  trim: { readonly targets: readonly InlineTrimTarget[]; readonly countUpTo: number } | null = null,
  restorePlanCache: string | null = null,
  commit: { readonly conn: pg.PoolClient } | null = null,
): Promise<{ readonly row: StreamTableRow; readonly trims: readonly InlineTrim[] }> {
  const targets = trim?.targets ?? [];
  const inline = inlineTrimSql(
    targets,
    { pgtId: '$1', snapshot: '$2::pg_catalog.pg_snapshot', epochs: '$3::jsonb' },
    trim?.countUpTo ?? 0,
  );
  const text = `WITH updated AS (UPDATE ${ST} SET ${SET_REFRESHED} WHERE pgt_id = $1 RETURNING ${ST_COLUMNS}),
     history AS (
       INSERT INTO ${cat('pgt_refresh_history')}
         (pgt_id, action, status, initiated_by, started_at, rows_inserted, rows_deleted, pending_changes, reason, error)
       VALUES ($1, $10, $11, $12, $13, $14, $15, $16, $17, $18)),
     ended AS (DELETE FROM ${cat('pgt_refreshing')} WHERE xid = pg_catalog.pg_current_xact_id())${inline.ctes.map((c) => `,\n     ${c}`).join('')}
     SELECT u.*, CASE WHEN $19::text IS NOT NULL THEN pg_catalog.set_config('search_path', $19::text, true) END AS __pgt_path,
            CASE WHEN $20::text IS NOT NULL THEN pg_catalog.set_config('plan_cache_mode', $20::text, true) END AS __pgt_plan_cache${inline.columns.map((c) => `,\n            ${c}`).join('')}
       FROM updated AS u`;
  const values = [...recordParams(pgtId, r), ...historyValues(h), restorePath, restorePlanCache];
  const res =
    commit === null
      ? await repeatedQuery(q, text, values)
      : await repeatedQueryAndCommit(commit.conn, text, values);
  const out = res.rows[0] as Record<string, unknown>;
  return {
    row: toRow(out),
    trims: targets.map((_, i) => {
      const kept = out[`__pgt_trim_kept${i}`];
      return {
        locked: out[`__pgt_trim_ok${i}`] === true,
        kept: kept === null || kept === undefined ? null : Number(kept),
        indexed: out[`__pgt_trim_indexed${i}`] === true,
      };
    }),
  };
}

/** What the trim of one buffer in {@link recordCompletedRefresh} found. */
export interface InlineTrim {
  /** Whether it took the buffer's cleanup lock (false: another session is trimming it; nothing was deleted). */
  readonly locked: boolean;
  /** A base buffer's rows left, counted up to the `countUpTo` asked for (null: not counted). */
  readonly kept: number | null;
  /** Whether a base buffer has its window index. */
  readonly indexed: boolean;
}

/** Records a refresh of `pgtId` on its row (frontier, epoch, timestamps, status, mode; errors cleared); returns the row. */
export async function recordRefresh(q: Queryable, pgtId: number, r: RefreshRecord): Promise<StreamTableRow> {
  const res = await q.query(
    `UPDATE ${ST} SET ${SET_REFRESHED} WHERE pgt_id = $1 RETURNING ${ST_COLUMNS}`,
    recordParams(pgtId, r),
  );
  return toRow(res.rows[0] as Record<string, unknown>);
}
