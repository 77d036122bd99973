/** The register of captured base tables (`pgt_change_tracking`). */
import { cat, type Queryable } from './schema.js';

const CT = cat('pgt_change_tracking');

/** Records (or updates) capture on base table `oid` with its columns. */
export async function upsertChangeTracking(
  q: Queryable,
  t: { oid: number; schema: string; name: string; columns: readonly string[] },
): Promise<void> {
  await q.query(
    `INSERT INTO ${CT} (source_oid, source_schema, source_name, columns)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (source_oid) DO UPDATE SET source_schema = EXCLUDED.source_schema, source_name = EXCLUDED.source_name, columns = EXCLUDED.columns`,
    [t.oid, t.schema, t.name, t.columns],
  );
}

/** A captured table no stream table reads any more (its current name when it still exists). */
export interface UnusedCapture {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly exists: boolean;
}

/** Captured tables no stream table reads any more; renamed tables are reported by their current name. */
export async function unusedCaptures(q: Queryable): Promise<UnusedCapture[]> {
  const res = await q.query(
    `SELECT t.source_oid::int8 AS oid, COALESCE(n.nspname, t.source_schema) AS schema, COALESCE(c.relname, t.source_name) AS name,
            c.oid IS NOT NULL AS exists
     FROM ${CT} AS t
     LEFT JOIN pg_catalog.pg_class AS c ON c.oid = t.source_oid
     LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE NOT EXISTS (SELECT 1 FROM ${cat('pgt_dependencies')} AS d JOIN ${cat('pgt_stream_tables')} AS s ON s.pgt_id = d.pgt_id
                        WHERE d.source_oid = t.source_oid AND d.source_kind = 'table' AND s.effective_mode <> 'IMMEDIATE')`,
  );
  return res.rows.map((r) => ({
    oid: Number(r.oid),
    schema: String(r.schema),
    name: String(r.name),
    exists: r.exists === true,
  }));
}

/** Forgets capture on base table `oid`. */
export async function deleteChangeTracking(q: Queryable, oid: number): Promise<void> {
  await q.query(`DELETE FROM ${CT} WHERE source_oid = $1`, [oid]);
}

/** Captured tables with whether the current user may still capture and read them. */
export async function captureGrants(
  q: Queryable,
): Promise<{ name: string; trigger: boolean; select: boolean }[]> {
  const res = await q.query(
    `SELECT t.source_schema || '.' || t.source_name AS name,
            has_table_privilege(t.source_oid, 'TRIGGER') AS trig, has_table_privilege(t.source_oid, 'SELECT') AS sel
       FROM ${CT} t JOIN pg_catalog.pg_class c ON c.oid = t.source_oid`,
  );
  return res.rows.map((r) => ({ name: String(r.name), trigger: r.trig === true, select: r.sel === true }));
}

/** Captured tables that still exist, with their owners. */
export async function capturedSources(q: Queryable): Promise<{ oid: number; owner: string }[]> {
  const res = await q.query(
    `SELECT t.source_oid::int8 AS oid, pg_catalog.pg_get_userbyid(c.relowner)::text AS owner
       FROM ${CT} AS t JOIN pg_catalog.pg_class AS c ON c.oid = t.source_oid`,
  );
  return res.rows.map((r) => ({ oid: Number(r.oid), owner: String(r.owner) }));
}

/** Stream tables other stream tables read (so they have a buffer): id, qualified storage name, owner. */
export async function streamBuffersInUse(
  q: Queryable,
): Promise<{ pgtId: number; storage: string; owner: string }[]> {
  const res = await q.query(
    `SELECT DISTINCT s.pgt_id::int8 AS pgt_id, pg_catalog.pg_get_userbyid(s.owner_oid)::text AS owner,
            pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS storage
       FROM ${cat('pgt_stream_tables')} AS s JOIN ${cat('pgt_dependencies')} AS d ON d.source_pgt_id = s.pgt_id`,
  );
  return res.rows.map((r) => ({
    pgtId: Number(r.pgt_id),
    storage: String(r.storage),
    owner: String(r.owner),
  }));
}
