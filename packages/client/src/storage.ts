/**
 * Storage tables: created from the plan's DDL (column types as PostgreSQL infers them for the
 * query), owned by the stream table's owner, protected by a statement-level guard trigger that
 * refuses writes from anyone but a refresh that registered itself for the table in its own
 * transaction (`allowStorageWrites`), and compared by signature
 * (visible columns with their types, then hidden column names) to decide whether a rebuilt plan
 * still fits the existing table.
 */
import type { CompiledPlan } from '@pgtrickle/dvm';
import { quoteIdent } from '@pgtrickle/dvm';
import { CATALOG_SCHEMA } from './catalog/schema.js';
import { setStorageOid } from './catalog/update-stream-table.js';
import type { Conn } from './db.js';
import { sqlName } from './names.js';

/** Name of the guard trigger on every storage table. */
export const GUARD_TRIGGER = 'pgtrickle_guard';

/** Creates the storage table of `plan` with its guard, owned by role `owner`; returns its oid. */
export async function createStorage(conn: Conn, plan: CompiledPlan, owner: string): Promise<number> {
  for (const sql of plan.storageDdl()) await conn.query(sql);
  const rel = sqlName(plan.storage.schema, plan.storage.name);
  await conn.query(
    `CREATE TRIGGER ${quoteIdent(GUARD_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${rel} FOR EACH STATEMENT EXECUTE FUNCTION ${CATALOG_SCHEMA}.guard_storage()`,
  );
  await conn.query(`ALTER TABLE ${rel} OWNER TO ${quoteIdent(owner)}`);
  const res = await conn.query('SELECT to_regclass($1)::oid::int8 AS oid', [rel]);
  return Number(res.rows[0]?.oid);
}

/** The signature a plan's storage table has: `name type` per visible column, then hidden names. */
export function planSignature(plan: CompiledPlan): string[] {
  return [...plan.columns.map((c) => `${c.name} ${c.type}`), ...plan.hiddenColumns];
}

/** The signature of an existing storage table (null when it does not exist). */
export async function storageColumnsOf(conn: Conn, schema: string, name: string): Promise<string[] | null> {
  const res = await conn.query(
    `SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [sqlName(schema, name)],
  );
  if (res.rows.length === 0) return null;
  return res.rows
    .filter((r) => r.attname !== '__pgt_row_id')
    .map((r) => (String(r.attname).startsWith('__pgt_') ? String(r.attname) : `${r.attname} ${r.type}`));
}

/** How an existing storage table fits a plan: same columns throughout, or same visible columns only. */
export interface StorageFit {
  readonly same: boolean;
  readonly visibleSame: boolean;
}

/** Compares the storage table schema.name with what `plan` would create. */
export async function storageFit(
  conn: Conn,
  schema: string,
  name: string,
  plan: CompiledPlan,
): Promise<StorageFit> {
  const existing = await storageColumnsOf(conn, schema, name);
  const wanted = planSignature(plan);
  const visible = plan.columns.map((c) => `${c.name} ${c.type}`);
  const same =
    existing !== null && existing.length === wanted.length && existing.every((c, i) => c === wanted[i]);
  const shown = existing?.filter((c) => !c.startsWith('__pgt_')) ?? null;
  const visibleSame =
    shown !== null && shown.length === visible.length && shown.every((c, i) => c === visible[i]);
  return { same, visibleSame };
}

/**
 * Replaces the storage table of stream table `pgtId` by a new one for `plan`: drops it, creates
 * the new one, records its oid, and points the stream tables reading it at the new table (they
 * rebuild on their next refresh). Returns the new oid.
 */
export async function replaceStorage(
  conn: Conn,
  pgtId: number,
  plan: CompiledPlan,
  owner: string,
): Promise<number> {
  await conn.query(`DROP TABLE IF EXISTS ${sqlName(plan.storage.schema, plan.storage.name)}`);
  const oid = await createStorage(conn, plan, owner);
  await setStorageOid(conn, pgtId, oid, true);
  return oid;
}
