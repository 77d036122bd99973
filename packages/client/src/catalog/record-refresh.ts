/** Recording a committed refresh: the new frontier and state on the row, and a history entry. */
import type { Frontier } from '@pgtrickle/dvm';
import { type HistoryEntry, ST_COLUMNS, type StreamTableRow, toRow } from './rows.js';
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');

/** Appends a history row. */
export async function insertHistory(q: Queryable, h: HistoryEntry): Promise<void> {
  await q.query(
    `INSERT INTO ${cat('pgt_refresh_history')}
       (pgt_id, action, status, initiated_by, started_at, rows_inserted, rows_deleted, pending_changes, reason, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      h.pgtId,
      h.action,
      h.status,
      h.initiatedBy,
      h.startedAt,
      h.rowsInserted,
      h.rowsDeleted,
      h.pendingChanges,
      h.reason,
      h.error,
    ],
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

/** Records a refresh of `pgtId` on its row (frontier, epoch, timestamps, status, mode; errors cleared); returns the row. */
export async function recordRefresh(q: Queryable, pgtId: number, r: RefreshRecord): Promise<StreamTableRow> {
  const res = await q.query(
    `UPDATE ${ST} SET
       frontier_snapshot = $2::pg_snapshot, frontier_epochs = $3::jsonb,
       epoch = epoch + $4::int, last_refresh_at = clock_timestamp(), frontier_lsn = pg_current_wal_lsn(),
       data_timestamp = CASE WHEN $5 THEN clock_timestamp() ELSE data_timestamp END,
       status = $9, consecutive_errors = 0, last_error = NULL, last_error_at = NULL, needs_reinit = false,
       effective_mode = $6, mode_reason = $7, unique_row_ids = $8, updated_at = clock_timestamp()
     WHERE pgt_id = $1 RETURNING ${ST_COLUMNS}`,
    [
      pgtId,
      r.frontier.snapshot,
      JSON.stringify(r.frontier.epochs),
      r.captured ? 1 : 0,
      r.changedData,
      r.effectiveMode,
      r.modeReason,
      r.uniqueRowIds,
      r.status,
    ],
  );
  return toRow(res.rows[0] as Record<string, unknown>);
}
