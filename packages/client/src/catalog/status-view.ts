/** Reading the SQL API's status view (`pgt_status`): stream tables and pending or failed create requests. */
import { cat, catalogObjectExists, type Queryable } from './schema.js';

/** One line of the status view. */
export interface StatusViewRow {
  readonly name: string;
  readonly status: string;
  readonly refreshMode: string | null;
  readonly effectiveMode: string | null;
  readonly schedule: string;
  readonly lastRefreshAt: string | null;
  readonly dataTimestamp: string | null;
  readonly stalenessSeconds: number | null;
  readonly sinceRefreshSeconds: number | null;
  readonly consecutiveErrors: number;
  readonly lastError: string | null;
  readonly requestId: number | null;
}

/** Whether the status view exists (catalog version 3 or later). */
export function hasStatusView(q: Queryable): Promise<boolean> {
  return catalogObjectExists(q, 'pgt_status');
}

/** Every line of the status view, by schema and name. */
export async function readStatusView(q: Queryable): Promise<StatusViewRow[]> {
  const res = await q.query(
    `SELECT name, status, refresh_mode, effective_mode, schedule, last_refresh_at, data_timestamp,
            extract(epoch FROM staleness)::float8 AS staleness_s,
            extract(epoch FROM clock_timestamp() - last_refresh_at)::float8 AS since_s,
            consecutive_errors, last_error, request_id
       FROM ${cat('pgt_status')} ORDER BY schema_name, table_name`,
  );
  const iso = (v: unknown) =>
    v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v);
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return res.rows.map((r) => ({
    name: String(r.name),
    status: String(r.status),
    refreshMode: (r.refresh_mode as string | null) ?? null,
    effectiveMode: (r.effective_mode as string | null) ?? null,
    schedule: String(r.schedule),
    lastRefreshAt: iso(r.last_refresh_at),
    dataTimestamp: iso(r.data_timestamp),
    stalenessSeconds: num(r.staleness_s),
    sinceRefreshSeconds: num(r.since_s),
    consecutiveErrors: Number(r.consecutive_errors ?? 0),
    lastError: (r.last_error as string | null) ?? null,
    requestId: num(r.request_id),
  }));
}

/** Create requests that failed (name and error), from the status view. */
export async function failedCreateRequests(q: Queryable): Promise<{ name: string; error: string | null }[]> {
  const res = await q.query(
    `SELECT name, last_error FROM ${cat('pgt_status')} WHERE request_id IS NOT NULL AND status = 'ERROR'`,
  );
  return res.rows.map((r) => ({ name: String(r.name), error: (r.last_error as string | null) ?? null }));
}
