/** What `pgtrickle doctor` inspects beyond the migrations: schemas, privileges and change buffers. */

import { quoteQualified } from '@pgtrickle/dvm';
import { PermissionDeniedError } from '../errors.js';
import { CATALOG_SCHEMA_NAME, CHANGES_SCHEMA_NAME, cat, type Queryable } from './schema.js';

/** The schemas pgtrickle creates, with whether they exist and the current user may use and create in them. */
export async function catalogSchemaGrants(
  q: Queryable,
): Promise<{ schema: string; exists: boolean; ok: boolean }[]> {
  const out: { schema: string; exists: boolean; ok: boolean }[] = [];
  for (const schema of [CATALOG_SCHEMA_NAME, CHANGES_SCHEMA_NAME]) {
    const res = await q.query(
      `SELECT n.oid IS NOT NULL AS exists, COALESCE(has_schema_privilege(n.oid, 'CREATE') AND has_schema_privilege(n.oid, 'USAGE'), false) AS ok
         FROM (SELECT 1) x LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = $1`,
      [schema],
    );
    out.push({ schema, exists: res.rows[0]?.exists === true, ok: res.rows[0]?.ok === true });
  }
  return out;
}

/** The schemas stream tables are stored in. */
export async function streamTableSchemas(q: Queryable): Promise<string[]> {
  const res = await q.query(`SELECT DISTINCT schema_name AS s FROM ${cat('pgt_stream_tables')}`);
  return res.rows.map((r) => String(r.s));
}

/** One change buffer: its relation name, rows (counted up to `limit` + 1) and total size. */
export interface ChangeBufferSize {
  readonly name: string;
  readonly rows: number;
  readonly bytes: number;
}

/** Every change buffer with its size; rows are counted up to `limit` + 1 (more reads as `limit` + 1). */
export async function changeBufferSizes(q: Queryable, limit: number): Promise<ChangeBufferSize[]> {
  const buffers = await q.query(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes,
            pg_catalog.row_security_active(c.oid) AS hidden
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname LIKE 'changes_%' ORDER BY c.relname`,
    [CHANGES_SCHEMA_NAME],
  );
  const out: ChangeBufferSize[] = [];
  if (buffers.rows.some((b) => b.hidden === true)) {
    throw new PermissionDeniedError(
      'row-level security hides buffered changes from this role; only the role that installed pgtrickle sees them all (run this as that role)',
    );
  }
  for (const b of buffers.rows) {
    const name = String(b.name);
    const count = await q.query(
      `SELECT count(*)::bigint AS n FROM (SELECT 1 FROM ${quoteQualified(CHANGES_SCHEMA_NAME, name)} LIMIT $1) x`,
      [limit + 1],
    );
    out.push({ name, rows: Number(count.rows[0]?.n ?? 0), bytes: Number(b.bytes) });
  }
  return out;
}
