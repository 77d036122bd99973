/**
 * Installing and upgrading the catalog. Rule: one transaction under a transaction-level
 * advisory lock, so any number of processes may call it at once — the first applies what is
 * missing, the others wait for it and then find nothing to do. Every applied migration is
 * recorded (version, name, checksum of its statements); a recorded checksum that differs from the
 * client's migration, or a catalog newer than the client, is an error rather than a guess.
 */
import type { Conn, Db } from '../db.js';
import { ClientError, SchemaVersionError } from '../errors.js';
import { CATALOG_VERSION, MIGRATIONS } from './migrations.js';
import { appliedMigrations, installPreamble, migrationChecksum, recordMigration } from './schema-version.js';

export { CATALOG_LOCK_KEY } from './schema.js';
export { installedVersion, migrationChecksum } from './schema-version.js';

/** What `install` did. */
export interface InstallResult {
  /** Versions applied now, in order (empty: already up to date). */
  readonly applied: readonly number[];
  /** The catalog version after the install. */
  readonly version: number;
}

/**
 * Installs or upgrades the catalog (up to `upTo`, default the latest; lower values are for tests).
 * `afterMigrations` runs in the same transaction with the versions just applied (e.g. to bring
 * objects outside the catalog, such as capture, up to what a migration introduced).
 */
export async function installCatalog(
  db: Db,
  upTo: number = CATALOG_VERSION,
  afterMigrations?: (conn: Conn, applied: readonly number[]) => Promise<void>,
): Promise<InstallResult> {
  return db.transaction(async (conn) => {
    for (const sql of installPreamble()) await conn.query(sql);
    const rows = await appliedMigrations(conn);
    const known = new Map(MIGRATIONS.map((m) => [m.version, m]));
    for (const r of rows) {
      const m = known.get(r.version);
      if (m === undefined) throw new SchemaVersionError(r.version, CATALOG_VERSION);
      if (migrationChecksum(m) !== r.checksum) {
        throw new ClientError(
          'PGT_SCHEMA_VERSION',
          `Catalog migration ${r.version} (${m.name}) was applied from different statements than this client's. The catalog was changed by another version of pgtrickle; use that version, or reinstall.`,
        );
      }
    }
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version > upTo || done.has(m.version)) continue;
      for (const sql of m.statements) await conn.query(sql);
      await recordMigration(conn, m);
      applied.push(m.version);
    }
    if (applied.length > 0) await afterMigrations?.(conn, applied);
    const version = Math.max(0, ...done, ...applied);
    return { applied, version };
  });
}
