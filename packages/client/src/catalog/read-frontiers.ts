/** Reading where stream tables stand: their WAL frontiers, and which have source changes pending. */
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');
const PENDING = `${cat('pending_sources')}()`;

/** The WAL frontier of every stream table (or of `ids` only), by id; null before its first refresh. */
export async function readFrontiers(
  q: Queryable,
  ids?: readonly number[],
): Promise<Map<number, string | null>> {
  const res =
    ids === undefined
      ? await q.query(`SELECT pgt_id, frontier_lsn::text AS l FROM ${ST}`)
      : await q.query(`SELECT pgt_id, frontier_lsn::text AS l FROM ${ST} WHERE pgt_id = ANY($1::bigint[])`, [
          ids,
        ]);
  return new Map(res.rows.map((r) => [Number(r.pgt_id), (r.l as string | null) ?? null]));
}

/** Whether each stream table has changes pending in any source, by id (one call for all of them). */
export async function readPending(q: Queryable): Promise<Map<number, boolean>> {
  const res = await q.query(`SELECT pgt_id, bool_or(pending) AS pending FROM ${PENDING} GROUP BY pgt_id`);
  return new Map(res.rows.map((r) => [Number(r.pgt_id), r.pending === true]));
}

/** How many of `pgtId`'s sources have changes pending (0: none). */
export async function pendingSourceCount(q: Queryable, pgtId: number): Promise<number> {
  const res = await q.query(
    `SELECT COALESCE(sum(CASE WHEN pending THEN 1 ELSE 0 END), 0)::bigint AS n FROM ${PENDING} WHERE pgt_id = $1`,
    [pgtId],
  );
  return Number(res.rows[0]?.n ?? 0);
}

/** Progress of the stream tables of one schema: status, mode, seconds since refresh, pending changes. */
export interface StreamTableProgress {
  readonly name: string;
  readonly status: string;
  readonly mode: string;
  readonly sinceRefreshSeconds: number | null;
  readonly pending: boolean;
}

/** The stream tables of `schema`, by id, with where they stand. */
export async function progressOf(q: Queryable, schema: string): Promise<StreamTableProgress[]> {
  const res = await q.query(
    `SELECT s.table_name AS name, s.status, s.effective_mode AS mode,
            extract(epoch FROM clock_timestamp() - s.last_refresh_at)::float8 AS since,
            COALESCE(p.pending, false) AS pending
       FROM ${ST} s
       LEFT JOIN (SELECT pgt_id, bool_or(pending) AS pending FROM ${PENDING} GROUP BY pgt_id) p USING (pgt_id)
      WHERE s.schema_name = $1 ORDER BY s.pgt_id`,
    [schema],
  );
  return res.rows.map((r) => ({
    name: String(r.name),
    status: String(r.status),
    mode: String(r.mode),
    sinceRefreshSeconds: r.since === null ? null : Number(r.since),
    pending: r.pending === true,
  }));
}
