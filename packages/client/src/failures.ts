/**
 * Recording a failed refresh, after its transaction rolled back: a FAILED history row and the
 * error on the catalog row. Rule: an error that will not go away by retrying (the query no longer
 * fits its sources, a source or the storage table was dropped, a compile refusal) puts the table in ERROR (the status
 * machine's `permanent_error`) with the
 * message saying what to do; anything else (a lost connection, a lock timeout, a serialization
 * failure) only counts towards the consecutive-error limit the scheduler enforces.
 */
import { DvmError } from '@pgtrickle/dvm';
import { insertHistory } from './catalog/record-refresh.js';
import { recordFailureOnRow } from './catalog/set-status.js';
import { type Db, isConnectionError } from './db.js';
import { SourceChangedError, StorageMissingError } from './errors.js';

/** Whether a refresh error is permanent (retrying cannot help). */
export function isPermanentRefreshError(error: unknown): boolean {
  return (
    error instanceof SourceChangedError ||
    error instanceof StorageMissingError ||
    (error instanceof DvmError && error.code !== 'PGT_CATALOG' && error.code !== 'PGT_INTERNAL')
  );
}

/** Records the failure of a refresh of `pgtId` (best effort: never throws). */
export async function recordFailure(
  db: Db,
  pgtId: number,
  error: unknown,
  initiatedBy: 'MANUAL' | 'SCHEDULER',
): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  const permanent = isPermanentRefreshError(error);
  try {
    await db.transaction(async (conn) => {
      await recordFailureOnRow(conn, pgtId, message, permanent);
      await insertHistory(conn, {
        pgtId,
        action: 'DIFFERENTIAL',
        status: 'FAILED',
        initiatedBy,
        startedAt: new Date(),
        rowsInserted: 0,
        rowsDeleted: 0,
        pendingChanges: null,
        reason: isConnectionError(error) ? 'connection lost' : null,
        error: message,
      });
    });
  } catch {
    // The table may be gone, or the database unreachable: nothing more to record.
  }
}
