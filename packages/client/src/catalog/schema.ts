/**
 * Where pgtrickle's catalog lives, named once: the schema names, their quoted forms, the one
 * helper that names a catalog object in SQL, and the catalog lock. Every other module builds its
 * SQL from these (no module spells the schema in a string).
 */
import { quoteIdent } from '@pgtrickle/dvm';
import type pg from 'pg';

/** The schema of pgtrickle's catalog (unquoted). */
export const CATALOG_SCHEMA_NAME = 'pgtrickle';
/** The schema of the change buffers (unquoted). */
export const CHANGES_SCHEMA_NAME = 'pgtrickle_changes';
/** The catalog schema, quoted for SQL. */
export const CATALOG_SCHEMA = quoteIdent(CATALOG_SCHEMA_NAME);
/** The change-buffer schema, quoted for SQL. */
export const CHANGES_SCHEMA = quoteIdent(CHANGES_SCHEMA_NAME);

/** The tables, views and functions of the catalog. */
export type CatalogObject =
  | 'pgt_schema_version'
  | 'pgt_stream_tables'
  | 'pgt_dependencies'
  | 'pgt_change_tracking'
  | 'pgt_refresh_history'
  | 'pgt_requests'
  | 'pgt_leader'
  | 'pgt_status'
  | 'pgt_request_log'
  | 'pgt_refreshing'
  | 'pgt_immediate'
  | 'pgt_immediate_sources'
  | 'pending_sources'
  | 'acts_as'
  | 'pgt_freshness'
  | 'pgt_stream_table_stats'
  | 'health'
  | 'pgt_watermarks'
  | 'pgt_watermark_groups'
  | 'advance_watermark'
  | 'create_watermark_group'
  | 'drop_watermark_group'
  | 'watermarks'
  | 'watermark_groups'
  | 'watermark_status'
  | 'check_settings'
  | 'apply_settings'
  | 'pgt_commands'
  | 'pgt_refresh_groups'
  | 'pgt_consistency_groups'
  | 'pgt_service_settings'
  | 'unread_changes'
  | 'fuse_samples'
  | 'fuse_status'
  | 'pgt_green_deployments'
  | 'pgt_green_lag'
  | 'green_status'
  | 'green_converged';

/** The quoted, schema-qualified SQL name of a catalog object. */
export function cat(object: CatalogObject): string {
  return `${CATALOG_SCHEMA}.${quoteIdent(object)}`;
}

/** Anything that runs a query: the pool (`Db`), a transaction's connection, a dedicated client. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
}

/** Advisory lock key serialising catalog installs and catalog-changing operations ("pgtrickl"). */
export const CATALOG_LOCK_KEY = '8098715542962826092';

/** The statement taking the catalog lock until the end of the transaction (waits for it). */
export const LOCK_CATALOG_SQL = `SELECT pg_advisory_xact_lock(${CATALOG_LOCK_KEY})`;

/** Takes the catalog lock for the rest of the transaction open on `conn` (waits for it). */
export async function lockCatalog(conn: Queryable): Promise<void> {
  await conn.query(LOCK_CATALOG_SQL);
}

/**
 * Lets this transaction write the storage of stream table `pgtId`: registers it in
 * `pgt_refreshing`, which the storage guard trigger checks (readable by the catalog's owner only,
 * so no other role can register itself). Undone by the refresh's last catalog write
 * (`recordCompletedRefresh`) or the rollback.
 */
export async function allowStorageWrites(conn: Queryable, pgtId: number): Promise<void> {
  await conn.query(
    `INSERT INTO ${cat('pgt_refreshing')} (xid, pgt_id) VALUES (pg_catalog.pg_current_xact_id(), $1) ON CONFLICT DO NOTHING`,
    [pgtId],
  );
}

/** Whether catalog object `object` exists in the database. */
export async function catalogObjectExists(q: Queryable, object: CatalogObject): Promise<boolean> {
  const res = await q.query('SELECT pg_catalog.to_regclass($1) IS NOT NULL AS e', [cat(object)]);
  return res.rows[0]?.e === true;
}
