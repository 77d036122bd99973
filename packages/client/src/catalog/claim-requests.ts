/** The requests of the SQL API (`pgt_requests`): the pending ones, in order, and their outcome. */
import type { RequestedMode } from '@pgtrickle/dvm';
import { cat, type Queryable } from './schema.js';

const RQ = cat('pgt_requests');

/** One pending request. */
export interface RequestRow {
  readonly requestId: string;
  readonly kind:
    | 'create'
    | 'alter'
    | 'drop'
    | 'refresh'
    | 'resume'
    | 'create_green'
    | 'promote_green'
    | 'cancel_green'
    | 'rollback_green'
    | 'drop_retired';
  readonly schema: string;
  readonly name: string;
  readonly query: string | null;
  readonly schedule: string | null;
  readonly refreshMode: RequestedMode | null;
  readonly setSchedule: boolean;
  readonly cascadeDrop: boolean;
  /** Settings given with a create (`pgtrickle.check_settings`'s SQL names). */
  readonly options: Record<string, unknown>;
  /** The role that made the request (recorded by the table's default, not writable by it). */
  readonly requester: { readonly oid: number; readonly name: string; readonly searchPath: string };
}

/** The pending requests, oldest first. */
export async function claimRequests(q: Queryable): Promise<RequestRow[]> {
  const res = await q.query(
    `SELECT r.*, r.requester::int8 AS requester_oid, pg_catalog.pg_get_userbyid(r.requester)::text AS requester_name
       FROM ${RQ} AS r WHERE r.status = 'PENDING' ORDER BY r.request_id`,
  );
  return res.rows.map((r) => ({
    requestId: String(r.request_id),
    kind: r.kind as RequestRow['kind'],
    schema: String(r.schema_name),
    name: String(r.table_name),
    query: (r.query as string | null) ?? null,
    schedule: (r.schedule as string | null) ?? null,
    refreshMode: (r.refresh_mode as RequestedMode | null) ?? null,
    setSchedule: r.set_schedule === true,
    cascadeDrop: r.cascade_drop === true,
    options: (r.options as Record<string, unknown> | null | undefined) ?? {},
    requester: {
      oid: Number(r.requester_oid),
      name: String(r.requester_name),
      searchPath: String(r.search_path),
    },
  }));
}

/** Marks a request DONE, or FAILED with `error`. */
export async function finishRequest(q: Queryable, requestId: string, error: string | null): Promise<void> {
  if (error === null)
    await q.query(`UPDATE ${RQ} SET status = 'DONE', done_at = clock_timestamp() WHERE request_id = $1`, [
      requestId,
    ]);
  else
    await q.query(
      `UPDATE ${RQ} SET status = 'FAILED', error = $2, done_at = clock_timestamp() WHERE request_id = $1`,
      [requestId, error],
    );
}

/** Deletes every request about schema `schema` (e.g. before dropping it). */
export async function deleteRequestsIn(q: Queryable, schema: string): Promise<void> {
  await q.query(`DELETE FROM ${RQ} WHERE schema_name = $1`, [schema]);
}

/** How many requests are pending, and the age of the oldest in seconds (null: none). */
export async function pendingRequestSummary(
  q: Queryable,
): Promise<{ count: number; oldestSeconds: number | null }> {
  const res = await q.query(
    `SELECT count(*)::int AS n, extract(epoch FROM clock_timestamp() - min(requested_at))::float8 AS oldest
       FROM ${RQ} WHERE status = 'PENDING'`,
  );
  const r = res.rows[0];
  return { count: Number(r?.n ?? 0), oldestSeconds: r?.oldest == null ? null : Number(r.oldest) };
}
