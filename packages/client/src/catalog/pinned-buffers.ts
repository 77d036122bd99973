/**
 * Buffers pinned by stream tables that are not being refreshed. Rule: a table that is SUSPENDED,
 * in ERROR, or whose last refresh failed keeps its frontier, and every change after it stays in
 * the shared buffers of its sources (cleanup only deletes what every consumer has passed). Past a
 * bound of unconsumed rows in any one of its buffers, the table is **released**: marked for a FULL
 * reinitialisation (`needs_reinit`) and its frontier moved to now — nothing is lost, since a FULL
 * refresh recomputes the query from the sources — so its frontier no longer holds the buffers
 * back. Counting stops at the bound (a limited scan per buffer).
 */
import { baseBuffer, streamBuffer } from '@pgtrickle/dvm';
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');
const DEP = cat('pgt_dependencies');

/** A buffer holding rows a non-refreshing stream table has not consumed. */
export interface PinnedBuffer {
  readonly pgtId: number;
  readonly schema: string;
  readonly name: string;
  readonly status: string;
  /** The source whose buffer it is (`schema.name`). */
  readonly sourceSchema: string;
  readonly sourceName: string;
  /** Rows of the buffer the table has not consumed (counted up to `limit` + 1). */
  readonly rows: number;
}

interface Candidate {
  readonly pgtId: number;
  readonly schema: string;
  readonly name: string;
  readonly status: string;
  readonly snapshot: string | null;
  readonly epochs: Record<string, unknown>;
  readonly sourceKind: 'table' | 'streamTable';
  readonly sourceOid: number;
  readonly sourcePgtId: number | null;
  readonly sourceSchema: string;
  readonly sourceName: string;
}

/** The dependencies of tables that are not being refreshed (SUSPENDED, ERROR, or failing). */
async function candidates(q: Queryable): Promise<Candidate[]> {
  const res = await q.query(
    `SELECT st.pgt_id, st.schema_name, st.table_name, st.status, st.frontier_snapshot::text AS snap, st.frontier_epochs,
            d.source_kind, d.source_oid, d.source_pgt_id, d.source_schema, d.source_name
       FROM ${ST} AS st JOIN ${DEP} AS d ON d.pgt_id = st.pgt_id
      WHERE st.effective_mode <> 'IMMEDIATE'
        AND (st.status IN ('SUSPENDED', 'ERROR') OR st.last_error_at IS NOT NULL)
      ORDER BY st.pgt_id, d.source_oid`,
  );
  return res.rows.map((r) => ({
    pgtId: Number(r.pgt_id),
    schema: String(r.schema_name),
    name: String(r.table_name),
    status: String(r.status),
    snapshot: (r.snap as string | null) ?? null,
    epochs: (r.frontier_epochs as Record<string, unknown> | null) ?? {},
    sourceKind: r.source_kind === 'streamTable' ? 'streamTable' : 'table',
    sourceOid: Number(r.source_oid),
    sourcePgtId: r.source_pgt_id === null ? null : Number(r.source_pgt_id),
    sourceSchema: String(r.source_schema),
    sourceName: String(r.source_name),
  }));
}

/** Rows of `c`'s source buffer that `c` has not consumed, counted up to `limit` + 1 (0 when the buffer is gone). */
async function unconsumed(q: Queryable, c: Candidate, limit: number): Promise<number> {
  const buffer = c.sourceKind === 'table' ? baseBuffer(c.sourceOid) : streamBuffer(c.sourcePgtId as number);
  const exists = await q.query('SELECT to_regclass($1) IS NOT NULL AS e', [buffer]);
  if (exists.rows[0]?.e !== true) return 0;
  const res =
    c.sourceKind === 'table'
      ? await q.query(
          `SELECT count(*)::bigint AS n FROM (SELECT 1 FROM ${buffer} AS b
             WHERE $1::pg_snapshot IS NULL OR NOT pg_catalog.pg_visible_in_snapshot(b.xid, $1::pg_snapshot) LIMIT $2) AS x`,
          [c.snapshot, limit + 1],
        )
      : await q.query(
          `SELECT count(*)::bigint AS n FROM (SELECT 1 FROM ${buffer} AS b WHERE b.epoch > $1::bigint LIMIT $2) AS x`,
          [String(c.epochs[String(c.sourcePgtId)] ?? '-1'), limit + 1],
        );
  return Number(res.rows[0]?.n ?? 0);
}

/** The buffers holding more than `threshold` rows for a table that is not being refreshed (counts capped at `limit` + 1). */
export async function pinnedBuffers(q: Queryable, threshold = 0, limit = 1_000_000): Promise<PinnedBuffer[]> {
  const out: PinnedBuffer[] = [];
  for (const c of await candidates(q)) {
    const rows = await unconsumed(q, c, Math.max(limit, threshold));
    if (rows > threshold)
      out.push({
        pgtId: c.pgtId,
        schema: c.schema,
        name: c.name,
        status: c.status,
        sourceSchema: c.sourceSchema,
        sourceName: c.sourceName,
        rows,
      });
  }
  return out;
}

/**
 * Releases `pgtId`: needs a FULL reinitialisation, and its frontier moves to now (every base change
 * committed so far, every stream-source epoch written so far). Skips a table another session holds;
 * returns whether it was released.
 */
export async function releaseFrontier(q: Queryable, pgtId: number): Promise<boolean> {
  const locked = await q.query(`SELECT pgt_id FROM ${ST} WHERE pgt_id = $1 FOR UPDATE SKIP LOCKED`, [pgtId]);
  if (locked.rows.length === 0) return false;
  const deps = await q.query(
    `SELECT source_pgt_id FROM ${DEP} WHERE pgt_id = $1 AND source_pgt_id IS NOT NULL`,
    [pgtId],
  );
  const epochs: Record<string, string> = {};
  for (const d of deps.rows) {
    const id = Number(d.source_pgt_id);
    const buffer = streamBuffer(id);
    const exists = await q.query('SELECT to_regclass($1) IS NOT NULL AS e', [buffer]);
    const max =
      exists.rows[0]?.e === true
        ? await q.query(`SELECT COALESCE(max(epoch), 0)::text AS e FROM ${buffer}`)
        : { rows: [{ e: '0' }] };
    const own = await q.query(`SELECT epoch::text AS e FROM ${ST} WHERE pgt_id = $1`, [id]);
    epochs[String(id)] = String(
      BigInt(String(max.rows[0]?.e ?? '0')) > BigInt(String(own.rows[0]?.e ?? '0'))
        ? max.rows[0]?.e
        : (own.rows[0]?.e ?? '0'),
    );
  }
  await q.query(
    `UPDATE ${ST} SET needs_reinit = true, frontier_snapshot = pg_catalog.pg_current_snapshot(),
       frontier_epochs = $2::jsonb, updated_at = clock_timestamp()
     WHERE pgt_id = $1`,
    [pgtId, JSON.stringify(epochs)],
  );
  return true;
}
