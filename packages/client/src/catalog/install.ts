/**
 * Installing and upgrading the catalog. Rule: one transaction under a transaction-level
 * advisory lock, so any number of processes may call it at once — the first applies what is
 * missing, the others wait for it and then find nothing to do. Every applied migration is
 * recorded (version, name, checksum of its statements); a recorded checksum that differs from the
 * client's migration, or a catalog newer than the client, is an error rather than a guess.
 */
import { createHash } from 'node:crypto';
import { changesSchemaDdl } from '@pgtrickle/dvm';
import type { Db } from '../db.js';
import { ClientError, SchemaVersionError } from '../errors.js';
import { CATALOG_VERSION, MIGRATIONS, type Migration } from './migrations.js';

/** Advisory lock key serialising catalog installs and catalog-changing operations ("pgtrickl"). */
export const CATALOG_LOCK_KEY = '8098715542962826092';

/** What `install` did. */
export interface InstallResult {
  /** Versions applied now, in order (empty: already up to date). */
  readonly applied: readonly number[];
  /** The catalog version after the install. */
  readonly version: number;
}

/** Checksum of a migration's statements. */
export function migrationChecksum(m: Migration): string {
  return createHash('sha256').update(m.statements.join('\n;\n')).digest('hex');
}

/** Installs or upgrades the catalog (up to `upTo`, default the latest; lower values are for tests). */
export async function installCatalog(db: Db, upTo: number = CATALOG_VERSION): Promise<InstallResult> {
  return db.transaction(async (conn) => {
    await conn.query(`SELECT pg_advisory_xact_lock(${CATALOG_LOCK_KEY})`);
    await conn.query('CREATE SCHEMA IF NOT EXISTS pgtrickle');
    for (const sql of changesSchemaDdl()) await conn.query(sql);
    await conn.query(`CREATE TABLE IF NOT EXISTS pgtrickle.pgt_schema_version (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`);
    const rows = await conn.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM pgtrickle.pgt_schema_version ORDER BY version',
    );
    const known = new Map(MIGRATIONS.map((m) => [m.version, m]));
    for (const r of rows.rows) {
      const m = known.get(r.version);
      if (m === undefined) throw new SchemaVersionError(r.version, CATALOG_VERSION);
      if (migrationChecksum(m) !== r.checksum) {
        throw new ClientError(
          'PGT_SCHEMA_VERSION',
          `Catalog migration ${r.version} (${m.name}) was applied from different statements than this client's. The catalog was changed by another version of pgtrickle; use that version, or reinstall.`,
        );
      }
    }
    const done = new Set(rows.rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version > upTo || done.has(m.version)) continue;
      for (const sql of m.statements) await conn.query(sql);
      await conn.query(
        'INSERT INTO pgtrickle.pgt_schema_version (version, name, checksum) VALUES ($1, $2, $3)',
        [m.version, m.name, migrationChecksum(m)],
      );
      applied.push(m.version);
    }
    const version = Math.max(0, ...done, ...applied);
    return { applied, version };
  });
}

/** The installed catalog version, or 0 when pgtrickle is not installed. */
export async function installedVersion(db: Db): Promise<number> {
  const exists = await db.query(`SELECT to_regclass('pgtrickle.pgt_schema_version') IS NOT NULL AS e`);
  if (exists.rows[0]?.e !== true) return 0;
  const res = await db.query('SELECT COALESCE(max(version), 0) AS v FROM pgtrickle.pgt_schema_version');
  return Number(res.rows[0]?.v ?? 0);
}
