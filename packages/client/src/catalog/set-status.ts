/**
 * Status changes of a stream table, checked by @pgtrickle/lifecycle's status machine: every
 * change is an event of `streamTableStatusMachine` sent from the row's current status, so an
 * event the machine does not allow there is refused with its coded `InvalidTransitionError`
 * (`PGT_INVALID_TRANSITION`) by the same rule everywhere.
 */
import { type StreamTableStatusEvent, streamTableStatusMachine } from '@pgtrickle/lifecycle';
import type { StreamTableRow } from './rows.js';
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');

/** A status as the catalog stores it (DROPPED is the row's deletion). */
export type StoredStatus = StreamTableRow['status'];

/** The status after `event` in `from`; throws InvalidTransitionError (PGT_INVALID_TRANSITION) if not allowed. */
export function statusAfter(from: StoredStatus, event: StreamTableStatusEvent): StoredStatus {
  const to = streamTableStatusMachine.transition(from, event);
  if (to === 'DROPPED') return from;
  return to;
}

/** The status after `event` in `from` when the machine allows it, else `from` unchanged. */
export function statusAfterIfAllowed(from: StoredStatus, event: StreamTableStatusEvent): StoredStatus {
  return streamTableStatusMachine.can(from, event) ? statusAfter(from, event) : from;
}

async function currentStatus(q: Queryable, pgtId: number): Promise<StoredStatus | null> {
  const res = await q.query(`SELECT status FROM ${ST} WHERE pgt_id = $1 FOR UPDATE`, [pgtId]);
  const s = res.rows[0]?.status;
  return s === undefined
    ? null
    : streamTableStatusMachine.parseState(s) === 'DROPPED'
      ? null
      : (s as StoredStatus);
}

/** Resumes a SUSPENDED or ERROR table: ACTIVE, errors cleared, rebuilt on its next refresh. */
export async function resumeStreamTable(q: Queryable, row: StreamTableRow): Promise<void> {
  const to = statusAfter(row.status, 'resume');
  await q.query(
    `UPDATE ${ST} SET status = $2, consecutive_errors = 0, last_error = NULL, last_error_at = NULL, needs_reinit = true, updated_at = now() WHERE pgt_id = $1`,
    [row.pgtId, to],
  );
}

/**
 * Suspends `pgtId` with `reason` (the scheduler, after too many consecutive failures). A table the
 * machine cannot suspend (already SUSPENDED, or in ERROR) keeps its status; returns whether it changed.
 */
export async function suspendStreamTable(q: Queryable, pgtId: number, reason: string): Promise<boolean> {
  const from = await currentStatus(q, pgtId);
  if (from === null || !streamTableStatusMachine.can(from, 'suspend')) return false;
  await q.query(
    `UPDATE ${ST} SET status = $3, last_error = $2, last_error_at = clock_timestamp(), updated_at = clock_timestamp() WHERE pgt_id = $1`,
    [pgtId, reason, statusAfter(from, 'suspend')],
  );
  return true;
}

/**
 * Records a failed refresh of `pgtId` on its row: the message, and by its class (see
 * `failures.ts`): a transient failure leaves the counter and the status alone; a deterministic one
 * adds one consecutive error; a permanent one also moves the status as the machine gives for
 * `permanent_error` (unchanged where it allows none).
 */
export async function recordFailureOnRow(
  q: Queryable,
  pgtId: number,
  message: string,
  kind: 'transient' | 'deterministic' | 'permanent',
): Promise<void> {
  const from = await currentStatus(q, pgtId);
  if (from === null) return;
  const to = statusAfterIfAllowed(
    from,
    kind === 'permanent' ? 'permanent_error' : 'refresh_failed_retryable',
  );
  await q.query(
    `UPDATE ${ST} SET consecutive_errors = consecutive_errors + $4::int, last_error = $2,
       last_error_at = clock_timestamp(), status = $3, updated_at = clock_timestamp()
     WHERE pgt_id = $1`,
    [pgtId, message, to, kind === 'transient' ? 0 : 1],
  );
}
