/**
 * Removing pgtrickle from a database. Rule: everything pgtrickle installed goes — capture triggers
 * and functions, the change buffers (schema `pgtrickle_changes`), the catalog (schema `pgtrickle`,
 * with its views, functions and the grants on them) — in one transaction under the catalog lock;
 * the storage tables stay as plain tables (their guard trigger removed) unless `dropTables`. The
 * work is `pgtrickle.uninstall(drop_tables)` (migration 8), which only the owner of the schema
 * `pgtrickle` or a superuser may run; an older catalog is upgraded first. Without a catalog (it
 * was dropped by hand) what is left is removed: capture triggers whose function lives in
 * `pgtrickle_changes`, and that schema. The cluster-wide role `pgtrickle_user` is left in place
 * (other databases may use it).
 */
import { CATALOG_VERSION } from './migrations.js';
import type { Queryable } from './schema.js';
import { installedVersion } from './schema-version.js';

/** A capture trigger (its function lives in `pgtrickle_changes`). */
export interface CaptureTrigger {
  readonly trigger: string;
  /** The table it is on, as `regclass` text. */
  readonly table: string;
  /** Whether the catalog records capture on that table (false: orphaned). */
  readonly recorded: boolean;
}

/** Every capture trigger in the database, and whether the catalog knows its table. */
export async function captureTriggers(q: Queryable): Promise<CaptureTrigger[]> {
  const tracked = await q.query(`SELECT to_regclass('pgtrickle.pgt_change_tracking') IS NOT NULL AS t`);
  const recorded =
    tracked.rows[0]?.t === true
      ? `EXISTS (SELECT 1 FROM pgtrickle.pgt_change_tracking ct WHERE ct.source_oid = tg.tgrelid)`
      : 'false';
  const res = await q.query(
    `SELECT tg.tgname::text AS trigger, tg.tgrelid::regclass::text AS tbl, ${recorded} AS recorded
       FROM pg_catalog.pg_trigger tg
       JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid
       JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'pgtrickle_changes' AND NOT tg.tgisinternal
      ORDER BY 2, 1`,
  );
  return res.rows.map((r) => ({
    trigger: String(r.trigger),
    table: String(r.tbl),
    recorded: r.recorded === true,
  }));
}

/** What an uninstall did. */
export interface UninstallResult {
  /** The message of `pgtrickle.uninstall()`, or what was removed without a catalog. */
  readonly summary: string;
  /** Whether a catalog was there. */
  readonly hadCatalog: boolean;
}

/**
 * Uninstalls pgtrickle on `q` (a connection inside a transaction the caller commits). `upgrade`
 * installs the current catalog when an older one is there (so its uninstall function exists).
 */
export async function uninstallCatalog(
  q: Queryable,
  options: { readonly dropTables?: boolean },
  upgrade: () => Promise<void>,
): Promise<UninstallResult> {
  const version = await installedVersion(q);
  if (version > 0) {
    if (version < CATALOG_VERSION) await upgrade();
    const res = await q.query('SELECT pgtrickle.uninstall($1) AS summary', [options.dropTables === true]);
    return { summary: String(res.rows[0]?.summary), hadCatalog: true };
  }
  const triggers = await captureTriggers(q);
  for (const t of triggers) {
    await q
      .query(`SELECT pg_catalog.format('DROP TRIGGER %I ON %s', $1::text, $2::regclass::text) AS ddl`, [
        t.trigger,
        t.table,
      ])
      .then((r) => q.query(String(r.rows[0]?.ddl)));
  }
  await q.query('DROP SCHEMA IF EXISTS pgtrickle_changes CASCADE');
  await q.query('DROP SCHEMA IF EXISTS pgtrickle CASCADE');
  return {
    summary: `no pgtrickle catalog; removed ${triggers.length} capture trigger(s) and the change buffers`,
    hadCatalog: false,
  };
}
