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
  /** The scheduler gate holding it back now, and why (null: not held). */
  readonly hold: { readonly gate: string; readonly reason: string; readonly since: string | null } | null;
  /** Its role in a blue-green deployment: 'table', 'green' (a copy catching up) or 'retired' (kept for a rollback). */
  readonly role: 'table' | 'green' | 'retired';
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
            consecutive_errors, last_error, request_id,
            -- (read through to_jsonb: catalogs older than version 9 have no hold columns)
            pg_catalog.to_jsonb(s) ->> 'hold_gate' AS hold_gate, pg_catalog.to_jsonb(s) ->> 'hold_reason' AS hold_reason,
            pg_catalog.to_jsonb(s) ->> 'held_since' AS held_since,
            -- (catalogs older than version 15 have no role column)
            pg_catalog.to_jsonb(s) ->> 'role' AS role
       FROM ${cat('pgt_status')} AS s ORDER BY schema_name, table_name`,
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
    hold:
      r.hold_gate === null || r.hold_gate === undefined
        ? null
        : {
            gate: String(r.hold_gate),
            reason: String(r.hold_reason ?? ''),
            since: (r.held_since as string | null) ?? null,
          },
    role: r.role === 'green' || r.role === 'retired' ? r.role : 'table',
  }));
}

/** Create requests that failed and were not created since (name and error), from the request log. */
export async function failedCreateRequests(q: Queryable): Promise<{ name: string; error: string | null }[]> {
  const log = await q.query(`SELECT to_regclass('pgtrickle.pgt_request_log') IS NOT NULL AS e`);
  if (log.rows[0]?.e !== true) {
    const res = await q.query(
      `SELECT name, last_error FROM ${cat('pgt_status')} WHERE request_id IS NOT NULL AND status = 'ERROR'`,
    );
    return res.rows.map((r) => ({ name: String(r.name), error: (r.last_error as string | null) ?? null }));
  }
  // Since migration 8 the status view shows no failed create: the request log keeps it (for its retention).
  const res = await q.query(
    `SELECT l.name, l.error FROM ${cat('pgt_request_log')} AS l
      WHERE l.kind = 'create' AND l.status = 'FAILED'
        AND l.request_id = (SELECT max(l2.request_id) FROM ${cat('pgt_request_log')} AS l2 WHERE l2.kind = 'create' AND l2.name = l.name)
        AND NOT EXISTS (SELECT 1 FROM ${cat('pgt_status')} AS s WHERE s.name = l.name)
      ORDER BY l.request_id`,
  );
  return res.rows.map((r) => ({ name: String(r.name), error: (r.error as string | null) ?? null }));
}
