/**
 * Retention of the catalog's logs. Rule: the refresh history keeps, per stream table, at most
 * `maxRows` rows and nothing older than `maxAgeMs`; finished SQL-API requests (DONE or FAILED) are
 * kept `maxAgeMs` after they finished, pending ones always. Deletion is in batches of at most
 * `batch` rows per statement, each statement its own short transaction (no long lock, no big WAL
 * burst); a call deletes at most `maxBatches` batches of each kind and says how many rows went.
 */
import { cat, type Queryable } from './schema.js';

const HISTORY = cat('pgt_refresh_history');
const REQUESTS = cat('pgt_requests');
const ST = cat('pgt_stream_tables');

/** How long and how much of the logs to keep. */
export interface RetentionPolicy {
  /** History rows older than this are deleted, ms (default 7 days). */
  readonly historyMaxAgeMs: number;
  /** At most this many history rows per stream table (default 10000). */
  readonly historyMaxRowsPerTable: number;
  /** Finished requests older than this are deleted, ms (default 1 day). */
  readonly requestsMaxAgeMs: number;
  /** Rows per delete statement (default 1000). */
  readonly batch: number;
  /** Delete statements per kind per call (default 10). */
  readonly maxBatches: number;
}

/** The default retention: history 7 days and 10000 rows per table, finished requests 1 day. */
export const DEFAULT_RETENTION: RetentionPolicy = Object.freeze({
  historyMaxAgeMs: 7 * 24 * 3600 * 1000,
  historyMaxRowsPerTable: 10_000,
  requestsMaxAgeMs: 24 * 3600 * 1000,
  batch: 1000,
  maxBatches: 10,
});

/** What one retention pass deleted. */
export interface RetentionResult {
  readonly historyRows: number;
  readonly requests: number;
}

async function batches(maxBatches: number, once: () => Promise<number>, batch: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await once();
    total += n;
    if (n < batch) break;
  }
  return total;
}

/** Deletes history rows past the age or per-table row bound (batched). */
export async function trimHistory(q: Queryable, policy: RetentionPolicy): Promise<number> {
  const old = await batches(
    policy.maxBatches,
    async () =>
      (
        await q.query(
          `DELETE FROM ${HISTORY} WHERE refresh_id IN (
             SELECT refresh_id FROM ${HISTORY} WHERE finished_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)
             ORDER BY finished_at LIMIT $2)`,
          [policy.historyMaxAgeMs, policy.batch],
        )
      ).rowCount ?? 0,
    policy.batch,
  );
  let extra = 0;
  const over = await q.query(
    `SELECT st.pgt_id FROM ${ST} AS st
      WHERE EXISTS (SELECT 1 FROM ${HISTORY} AS h WHERE h.pgt_id = st.pgt_id ORDER BY h.refresh_id DESC OFFSET $1 LIMIT 1)`,
    [policy.historyMaxRowsPerTable],
  );
  for (const r of over.rows) {
    extra += await batches(
      policy.maxBatches,
      async () =>
        (
          await q.query(
            `DELETE FROM ${HISTORY} WHERE refresh_id IN (
               SELECT refresh_id FROM ${HISTORY} WHERE pgt_id = $1 ORDER BY refresh_id DESC OFFSET $2 LIMIT $3)`,
            [r.pgt_id, policy.historyMaxRowsPerTable, policy.batch],
          )
        ).rowCount ?? 0,
      policy.batch,
    );
  }
  return old + extra;
}

/** Deletes finished requests older than the bound (batched); pending ones are never deleted. */
export async function trimRequests(q: Queryable, policy: RetentionPolicy): Promise<number> {
  return batches(
    policy.maxBatches,
    async () =>
      (
        await q.query(
          `DELETE FROM ${REQUESTS} WHERE request_id IN (
             SELECT request_id FROM ${REQUESTS}
              WHERE status <> 'PENDING' AND done_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)
              ORDER BY done_at LIMIT $2)`,
          [policy.requestsMaxAgeMs, policy.batch],
        )
      ).rowCount ?? 0,
    policy.batch,
  );
}

/** One retention pass over the history and the requests. */
export async function applyRetention(q: Queryable, policy: RetentionPolicy): Promise<RetentionResult> {
  return { historyRows: await trimHistory(q, policy), requests: await trimRequests(q, policy) };
}
