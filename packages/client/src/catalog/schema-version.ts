/**
 * The register of applied migrations (`pgt_schema_version`) and the state of a database's catalog
 * against this client's migrations: what `installCatalog`, `pgtrickle migrate`, `pgtrickle plan`
 * and `pgtrickle doctor` all read. Also the statements that open every install transaction.
 */
import { createHash } from 'node:crypto';
import {
  captureSyncDdl,
  changesSchemaDdl,
  dollarQuote,
  quoteLiteral,
  SOURCE_DDL_EVENT_TRIGGER,
  sourceDdlEventTriggerDdl,
} from '@pgtrickle/dvm';
import { CATALOG_VERSION, MIGRATIONS, type Migration } from './migrations.js';
import { CATALOG_SCHEMA, cat, catalogObjectExists, LOCK_CATALOG_SQL, type Queryable } from './schema.js';

const SV = cat('pgt_schema_version');

/** Checksum of a migration's statements. */
export function migrationChecksum(m: Migration): string {
  return createHash('sha256').update(m.statements.join('\n;\n')).digest('hex');
}

/**
 * The statements every install transaction starts with, before a migration's own: the catalog
 * lock, the two schemas and the register of applied migrations (all idempotent).
 */
export function installPreamble(): string[] {
  return [
    LOCK_CATALOG_SQL,
    `CREATE SCHEMA IF NOT EXISTS ${CATALOG_SCHEMA}`,
    ...changesSchemaDdl(),
    `CREATE TABLE IF NOT EXISTS ${SV} (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`,
    ...captureMachineryDdl(),
  ];
}

/**
 * The capture machinery, installed with the catalog (idempotent): `capture_sync` and its state,
 * and — when this role may create it — the DDL event trigger that keeps typed capture in step with
 * source DDL. Without it, new capture uses the text format.
 */
export function captureMachineryDdl(): string[] {
  const create = sourceDdlEventTriggerDdl().join(';\n');
  return [
    ...captureSyncDdl(),
    `DO ${dollarQuote(`
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = ${quoteLiteral(SOURCE_DDL_EVENT_TRIGGER)}) THEN
    BEGIN
      EXECUTE ${quoteLiteral(create)};
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgtrickle: this role may not create event triggers; change capture uses the text format';
    END;
  END IF;
END
`)}`,
  ];
}

/** The statement recording migration `m` as applied, with literal values (for a script). */
export function recordMigrationSql(m: Migration): string {
  return `INSERT INTO ${SV} (version, name, checksum) VALUES (${m.version}, ${quoteLiteral(m.name)}, ${quoteLiteral(migrationChecksum(m))})`;
}

/** Records migration `m` as applied. */
export async function recordMigration(q: Queryable, m: Migration): Promise<void> {
  await q.query(`INSERT INTO ${SV} (version, name, checksum) VALUES ($1, $2, $3)`, [
    m.version,
    m.name,
    migrationChecksum(m),
  ]);
}

/** The applied migrations (version and recorded checksum), in order; [] when the register is missing. */
export async function appliedMigrations(q: Queryable): Promise<{ version: number; checksum: string }[]> {
  if (!(await catalogObjectExists(q, 'pgt_schema_version'))) return [];
  const res = await q.query(`SELECT version, checksum FROM ${SV} ORDER BY version`);
  return res.rows.map((r) => ({ version: Number(r.version), checksum: String(r.checksum) }));
}

/** What the catalog of a database looks like, against this client's migrations. */
export interface CatalogState {
  /** Whether the register of applied migrations exists (pgtrickle was installed, maybe partly). */
  readonly installed: boolean;
  /** The installed version (0: not installed). */
  readonly version: number;
  /** Migrations not applied yet, in order. */
  readonly pending: readonly Migration[];
  /** Applied migrations whose recorded checksum differs from this client's statements. */
  readonly mismatched: readonly number[];
  /** Applied versions this client does not know (a newer pgtrickle installed them). */
  readonly unknown: readonly number[];
}

/** Reads the catalog's applied migrations and compares them with this client's. */
export async function catalogState(q: Queryable): Promise<CatalogState> {
  const installed = await catalogObjectExists(q, 'pgt_schema_version');
  const applied = installed ? await appliedMigrations(q) : [];
  const known = new Map(MIGRATIONS.map((m) => [m.version, m]));
  const done = new Set(applied.map((a) => a.version));
  return {
    installed,
    version: Math.max(0, ...applied.map((a) => a.version)),
    pending: MIGRATIONS.filter((m) => !done.has(m.version)),
    mismatched: applied
      .filter((a) => {
        const m = known.get(a.version);
        return m !== undefined && migrationChecksum(m) !== a.checksum;
      })
      .map((a) => a.version),
    unknown: applied.filter((a) => !known.has(a.version)).map((a) => a.version),
  };
}

function statement(sql: string): string {
  const s = sql.trim();
  return s.endsWith(';') ? s : `${s};`;
}

/** The SQL script that migrating a catalog in `state` runs: one transaction per pending migration. */
export function migrationScript(state: CatalogState): string[] {
  const lines: string[] = [];
  if (state.pending.length === 0) {
    lines.push(
      `-- The pgtrickle catalog is at version ${state.version}, the latest this pgtrickle knows: nothing to do.`,
    );
    return lines;
  }
  lines.push(
    `-- pgtrickle catalog: version ${state.version} → ${CATALOG_VERSION}, ${state.pending.length} pending migration(s): ${state.pending
      .map((m) => `${m.version} (${m.name})`)
      .join(', ')}.`,
    '-- This is what `pgtrickle migrate` executes, one transaction per migration. Nothing has been run.',
    '-- The first statements of each transaction are idempotent (IF NOT EXISTS) and serialise concurrent installs.',
  );
  for (const m of state.pending) {
    lines.push('', `-- migration ${m.version}: ${m.name}`, 'BEGIN;');
    for (const sql of [...installPreamble(), ...m.statements, recordMigrationSql(m)])
      lines.push(statement(sql));
    lines.push('COMMIT;');
  }
  return lines;
}

/** The installed catalog version, or 0 when pgtrickle is not installed. */
export async function installedVersion(q: Queryable): Promise<number> {
  if (!(await catalogObjectExists(q, 'pgt_schema_version'))) return 0;
  const res = await q.query(`SELECT COALESCE(max(version), 0) AS v FROM ${SV}`);
  return Number(res.rows[0]?.v ?? 0);
}
