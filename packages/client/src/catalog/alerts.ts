/**
 * Alerts: the one channel on which pgtrickle tells operators that something needs them. Rule:
 * every alert is a `NOTIFY pgtrickle_alert` whose payload is one JSON object with an `event`
 * field naming the kind (the list is {@link AlertEvent}), the stream table or source it is about,
 * the instant, and the event's own fields. NOTIFY is transactional: an alert sent inside a
 * transaction goes out when it commits, never when it rolls back. Delivery is best-effort (no
 * listener, no alert); the state it reports is always in the catalog as well.
 */
import type { Queryable } from './schema.js';

/** The channel every alert is sent on (`LISTEN pgtrickle_alert`). */
export const ALERT_CHANNEL = 'pgtrickle_alert';

/** The kinds of alert. */
export type AlertEvent =
  | 'fuse_blown'
  | 'fuse_blown_reminder'
  | 'fuse_reset'
  | 'watermark_stuck'
  | 'watermark_resumed'
  | 'auto_suspended'
  | 'resumed'
  | 'green_created'
  | 'green_promoted'
  | 'green_cancelled'
  | 'green_rolled_back'
  | 'green_retired';

/** One alert as sent (and as a listener parses it). */
export interface Alert {
  readonly event: AlertEvent;
  /** ISO-8601 instant the alert was raised. */
  readonly at: string;
  readonly [field: string]: unknown;
}

/** The JSON payload of an alert. */
export function alertPayload(event: AlertEvent, fields: Record<string, unknown>, at = new Date()): string {
  return JSON.stringify({ event, at: at.toISOString(), ...fields });
}

/** Sends an alert on {@link ALERT_CHANNEL} (inside `q`'s transaction, if it has one). */
export async function emitAlert(
  q: Queryable,
  event: AlertEvent,
  fields: Record<string, unknown>,
): Promise<void> {
  await q.query('SELECT pg_catalog.pg_notify($1, $2)', [ALERT_CHANNEL, alertPayload(event, fields)]);
}

/** Parses an alert payload received on {@link ALERT_CHANNEL} (null when it is not one). */
export function parseAlert(payload: string | undefined): Alert | null {
  if (payload === undefined) return null;
  try {
    const v: unknown = JSON.parse(payload);
    if (typeof v === 'object' && v !== null && typeof (v as { event?: unknown }).event === 'string')
      return v as Alert;
    return null;
  } catch {
    return null;
  }
}
