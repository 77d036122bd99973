/**
 * Classifying and recording a failed refresh, after its transaction rolled back. Rules:
 * - **transient**: the same refresh can succeed when simply tried again — a serialization failure
 *   (40001), a deadlock (40P01), a cancelled statement (57014), a lost connection (08*, or the
 *   driver's own connection errors), a lock not available (55P03), an administrator's shutdown or
 *   termination (57P01–57P03), too many connections (53300), the server's
 *   `tuple concurrently updated` (XX000 with that message), or this sidecar losing the lead. It is
 *   retried with backoff, recorded in the history, and never counts towards suspension (the row's
 *   `consecutive_errors` does not move);
 * - **permanent**: retrying cannot help and the table needs a change — a source or the storage table
 *   dropped, a source changed so the query no longer compiles, a compile refusal: the table goes to ERROR (the
 *   status machine's `permanent_error`) with the message saying what to do;
 * - **deterministic**: anything else (a division by zero, a constraint, a permission denied): it
 *   counts towards the consecutive-error limit, past which the scheduler suspends the table with
 *   the reason.
 */
import { DvmError } from '@pgtrickle/dvm';
import { insertHistory } from './catalog/record-refresh.js';
import { recordFailureOnRow } from './catalog/set-status.js';
import { type Db, isConnectionError, sqlState } from './db.js';
import { SourceChangedError, StorageMissingError } from './errors.js';

/** How a refresh failure is handled: retried freely, counted towards suspension, or ERROR at once. */
export type FailureClass = 'transient' | 'deterministic' | 'permanent';

/** SQLSTATEs of failures that retrying the same refresh can clear. */
export const TRANSIENT_SQLSTATES: ReadonlySet<string> = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57014', // query_canceled
  '55P03', // lock_not_available
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '25P04', // transaction_timeout
]);

/** Whether a refresh error is permanent (retrying cannot help). */
export function isPermanentRefreshError(error: unknown): boolean {
  return (
    error instanceof SourceChangedError ||
    error instanceof StorageMissingError ||
    (error instanceof DvmError && error.code !== 'PGT_CATALOG' && error.code !== 'PGT_INTERNAL')
  );
}

/** Whether a refresh error is transient (retrying the same refresh can succeed). */
export function isTransientRefreshError(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  const state = sqlState(error);
  if (state !== undefined) {
    if (state.startsWith('08') || TRANSIENT_SQLSTATES.has(state)) return true;
    if (state === 'XX000') return /tuple concurrently (updated|deleted)/.test(messageOf(error));
    return false;
  }
  // This sidecar lost the lead mid-refresh (NotLeaderError): the new leader redoes the work.
  return (error as { code?: unknown } | null)?.code === 'PGT_BUSY';
}

/** The class of a refresh failure (see the module header). */
export function classifyFailure(error: unknown): FailureClass {
  if (isPermanentRefreshError(error)) return 'permanent';
  if (isTransientRefreshError(error)) return 'transient';
  return 'deterministic';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Records the failure of a refresh of `pgtId` (best effort: never throws). */
export async function recordFailure(
  db: Db,
  pgtId: number,
  error: unknown,
  initiatedBy: 'MANUAL' | 'SCHEDULER',
): Promise<void> {
  const message = messageOf(error);
  const kind = classifyFailure(error);
  const state = sqlState(error);
  try {
    await db.transaction(async (conn) => {
      await recordFailureOnRow(conn, pgtId, message, kind);
      await insertHistory(conn, {
        pgtId,
        action: 'DIFFERENTIAL',
        status: 'FAILED',
        initiatedBy,
        startedAt: new Date(),
        rowsInserted: 0,
        rowsDeleted: 0,
        pendingChanges: null,
        reason: isConnectionError(error)
          ? 'connection lost (transient: retried)'
          : kind === 'transient'
            ? `transient${state === undefined ? '' : ` (SQLSTATE ${state})`}: retried`
            : kind === 'permanent'
              ? 'permanent: the table is in ERROR until fixed'
              : `counts towards suspension${state === undefined ? '' : ` (SQLSTATE ${state})`}`,
        error: message,
      });
    });
  } catch {
    // The table may be gone, or the database unreachable: nothing more to record.
  }
}
