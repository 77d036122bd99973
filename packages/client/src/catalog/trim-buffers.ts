/**
 * Trimming change buffers: the rows every consumer's committed frontier has passed (base buffers:
 * the row's xid is visible in every consumer's snapshot; stream-table buffers: its epoch is at
 * most every consumer's). A consumer without a frontier blocks trimming. Each trim is ONE
 * statement that first tries the buffer's cleanup lock (`lockKey`, an advisory lock held to the
 * end of the statement's transaction) and deletes nothing when another session holds it. A base
 * buffer has no index (docs/capture.md): the trim scans it, deleting rows below the smallest
 * consumer's snapshot xmax (a row at or above it is not visible to that consumer yet) that every
 * consumer's snapshot sees.
 */
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');
const DEP = cat('pgt_dependencies');

/** Deletes consumed rows of base table `oid`'s buffer (the quoted relation `buffer`); returns rows deleted. */
export async function trimBaseBuffer(
  q: Queryable,
  oid: number,
  buffer: string,
  lockKey: string,
): Promise<number> {
  const res = await q.query(
    `WITH locked AS MATERIALIZED (SELECT pg_catalog.pg_try_advisory_xact_lock($2::bigint) AS ok),
     consumers AS (
       SELECT st.frontier_snapshot AS snap FROM ${ST} AS st
       JOIN ${DEP} AS d ON d.pgt_id = st.pgt_id
       WHERE d.source_oid = $1 AND st.effective_mode <> 'IMMEDIATE'
     ), bound AS (
       SELECT CASE WHEN bool_or(snap IS NULL) THEN NULL ELSE min(pg_catalog.pg_snapshot_xmax(snap)) END AS xmax
       FROM consumers WHERE (SELECT ok FROM locked)
     )
     DELETE FROM ${buffer} AS b
     USING bound
     WHERE bound.xmax IS NOT NULL AND b.xid < bound.xmax
       AND NOT EXISTS (SELECT 1 FROM consumers AS c WHERE NOT pg_catalog.pg_visible_in_snapshot(b.xid, c.snap))`,
    [oid, lockKey],
  );
  return res.rowCount ?? 0;
}

/** Deletes consumed rows of stream table `pgtId`'s epoch buffer (the quoted relation `buffer`); returns rows deleted. */
export async function trimStreamBuffer(
  q: Queryable,
  pgtId: number,
  buffer: string,
  lockKey: string,
): Promise<number> {
  const res = await q.query(
    `WITH locked AS MATERIALIZED (SELECT pg_catalog.pg_try_advisory_xact_lock($3::bigint) AS ok),
     bound AS (
       SELECT min(COALESCE((st.frontier_epochs ->> $2::text)::bigint, -1)) AS epoch, count(*) AS n
       FROM ${ST} AS st
       JOIN ${DEP} AS d ON d.pgt_id = st.pgt_id
       WHERE d.source_pgt_id = $1 AND (SELECT ok FROM locked)
     )
     DELETE FROM ${buffer} AS b USING bound WHERE bound.n > 0 AND b.epoch <= bound.epoch`,
    [pgtId, String(pgtId), lockKey],
  );
  return res.rowCount ?? 0;
}
