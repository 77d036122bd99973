/**
 * Change capture management. Rule: one buffer per source, shared by all its consumers —
 * capture is installed when the first stream table reads a base table (recorded in
 * `pgt_change_tracking`) and removed when the last one stops reading it; a stream table read by
 * other stream tables gets its own epoch buffer while it has consumers. Buffer rows are deleted
 * once every consumer's frontier has passed them (base buffers: the row's xid is visible in
 * every consumer's snapshot; stream-table buffers: its epoch is at most every consumer's), in a
 * short transaction of its own that skips a buffer another session is cleaning.
 */
import {
  baseBuffer,
  baseCaptureDdl,
  dropBaseCaptureDdl,
  dropStreamBufferDdl,
  type PlanSource,
  streamBuffer,
  streamBufferDdl,
} from '@pgtrickle/dvm';
import type { Conn, Db } from './db.js';
import { fingerprints } from './port.js';

/** Installs (or extends) capture on a base-table source. Idempotent. */
export async function ensureBaseCapture(conn: Conn, source: PlanSource): Promise<void> {
  for (const sql of baseCaptureDdl({
    oid: source.oid,
    schema: source.schema,
    name: source.name,
    columns: source.columns,
  })) {
    await conn.query(sql);
  }
  await conn.query(
    `INSERT INTO pgtrickle.pgt_change_tracking (source_oid, source_schema, source_name, columns)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (source_oid) DO UPDATE SET source_schema = EXCLUDED.source_schema, source_name = EXCLUDED.source_name, columns = EXCLUDED.columns`,
    [source.oid, source.schema, source.name, source.columns.map((c) => c.name)],
  );
}

/** Creates (or extends) the epoch buffer of stream table `pgtId` with its visible columns. */
export async function ensureStreamBuffer(
  conn: Conn,
  pgtId: number,
  columns: PlanSource['columns'],
): Promise<void> {
  for (const sql of streamBufferDdl(pgtId, columns)) await conn.query(sql);
}

/** Removes capture from base tables no stream table reads any more. */
export async function dropUnusedCapture(conn: Conn): Promise<void> {
  const unused = await conn.query(
    `SELECT t.source_oid::int8 AS oid, t.source_schema, t.source_name, c.oid IS NOT NULL AS exists
     FROM pgtrickle.pgt_change_tracking AS t
     LEFT JOIN pg_catalog.pg_class AS c ON c.oid = t.source_oid
     WHERE NOT EXISTS (SELECT 1 FROM pgtrickle.pgt_dependencies AS d WHERE d.source_oid = t.source_oid AND d.source_kind = 'table')`,
  );
  for (const r of unused.rows) {
    const oid = Number(r.oid);
    // The table may have been renamed since: address it by oid.
    let schema = String(r.source_schema);
    let name = String(r.source_name);
    if (r.exists === true) {
      const now = await conn.query(
        'SELECT n.nspname, c.relname FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = $1',
        [oid],
      );
      schema = String(now.rows[0]?.nspname ?? schema);
      name = String(now.rows[0]?.relname ?? name);
    }
    for (const sql of dropBaseCaptureDdl({ oid, schema, name }, r.exists === true)) await conn.query(sql);
    await conn.query('DELETE FROM pgtrickle.pgt_change_tracking WHERE source_oid = $1', [oid]);
  }
}

/** Drops the epoch buffer of `pgtId` when no stream table reads it any more. */
export async function dropStreamBufferIfUnused(conn: Conn, pgtId: number): Promise<void> {
  const res = await conn.query('SELECT 1 FROM pgtrickle.pgt_dependencies WHERE source_pgt_id = $1 LIMIT 1', [
    pgtId,
  ]);
  if (res.rows.length === 0) for (const sql of dropStreamBufferDdl(pgtId)) await conn.query(sql);
}

/** Lock key of the cleanup of one buffer (so two sessions never clean the same buffer at once). */
function cleanupLockKey(kind: 'base' | 'st', id: number): string {
  return String((kind === 'base' ? 0x50475400n : 0x50475500n) * 4294967296n + BigInt(id));
}

/** Deletes buffer rows every consumer has consumed, for the given sources. Returns rows deleted. */
export async function cleanupBuffers(
  db: Db,
  sources: readonly { kind: 'table' | 'streamTable'; oid: number; pgtId: number | null }[],
): Promise<number> {
  let deleted = 0;
  for (const s of sources) {
    deleted += await db.transaction(async (conn) => {
      const key =
        s.kind === 'table' ? cleanupLockKey('base', s.oid) : cleanupLockKey('st', s.pgtId as number);
      const locked = await conn.query(`SELECT pg_try_advisory_xact_lock(${key}) AS ok`);
      if (locked.rows[0]?.ok !== true) return 0;
      if (s.kind === 'table') {
        const exists = await conn.query('SELECT to_regclass($1) IS NOT NULL AS e', [baseBuffer(s.oid)]);
        if (exists.rows[0]?.e !== true) return 0;
        // Consumers: every stream table reading the source. One without a frontier blocks cleanup.
        const res = await conn.query(
          `WITH consumers AS (
             SELECT st.frontier_snapshot AS snap FROM pgtrickle.pgt_stream_tables AS st
             JOIN pgtrickle.pgt_dependencies AS d ON d.pgt_id = st.pgt_id
             WHERE d.source_oid = $1 AND st.effective_mode <> 'IMMEDIATE'
           ), bound AS (
             SELECT CASE WHEN bool_or(snap IS NULL) THEN NULL ELSE max(pg_catalog.pg_snapshot_xmax(snap)) END AS xmax
             FROM consumers
           )
           DELETE FROM ${baseBuffer(s.oid)} AS b
           USING bound
           WHERE bound.xmax IS NOT NULL AND b.xid < bound.xmax
             AND NOT EXISTS (SELECT 1 FROM consumers AS c WHERE NOT pg_catalog.pg_visible_in_snapshot(b.xid, c.snap))`,
          [s.oid],
        );
        return res.rowCount ?? 0;
      }
      const pgtId = s.pgtId as number;
      const exists = await conn.query('SELECT to_regclass($1) IS NOT NULL AS e', [streamBuffer(pgtId)]);
      if (exists.rows[0]?.e !== true) return 0;
      const res = await conn.query(
        `WITH bound AS (
           SELECT min(COALESCE((st.frontier_epochs ->> $2::text)::bigint, -1)) AS epoch, count(*) AS n
           FROM pgtrickle.pgt_stream_tables AS st
           JOIN pgtrickle.pgt_dependencies AS d ON d.pgt_id = st.pgt_id
           WHERE d.source_pgt_id = $1
         )
         DELETE FROM ${streamBuffer(pgtId)} AS b USING bound WHERE bound.n > 0 AND b.epoch <= bound.epoch`,
        [pgtId, String(pgtId)],
      );
      return res.rowCount ?? 0;
    });
  }
  return deleted;
}

/**
 * Records the sources of `plan` as the dependencies of stream table `pgtId` (with their current
 * fingerprints) and installs their capture: base tables' triggers and buffers, stream-table
 * sources' epoch buffers.
 */
export async function recordDependencies(
  conn: Conn,
  pgtId: number,
  plan: { readonly sources: readonly PlanSource[] },
): Promise<void> {
  await conn.query('DELETE FROM pgtrickle.pgt_dependencies WHERE pgt_id = $1', [pgtId]);
  const fps = await fingerprints(
    conn,
    plan.sources.map((s) => s.oid),
  );
  for (const s of plan.sources) {
    await conn.query(
      `INSERT INTO pgtrickle.pgt_dependencies (pgt_id, source_oid, source_schema, source_name, source_kind, source_pgt_id, fingerprint)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [pgtId, s.oid, s.schema, s.name, s.kind, s.pgtId, fps.get(s.oid) ?? ''],
    );
    if (s.kind === 'table') await ensureBaseCapture(conn, s);
    else await ensureStreamBuffer(conn, s.pgtId as number, s.columns);
  }
}
