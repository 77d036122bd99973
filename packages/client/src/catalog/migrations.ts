/**
 * The versioned migrations of pgtrickle's own catalog (schema `pgtrickle`), read from the numbered
 * files `sql/migrations/NNN-name.sql` of this package — the one source for `installCatalog`,
 * `pgtrickle migrate` and `pgtrickle plan`. Rule: a migration, once released, is never edited
 * (its checksum is recorded and verified); changes come as new files. Installing from scratch
 * runs them all in order, so a fresh install and an upgraded one are the same by construction (a
 * test checks it object by object).
 *
 * File format: a header of `--` comment lines, one of them `-- name: <migration name>`; then the
 * statements, separated by a line that is exactly `--> statement-breakpoint` (so a dollar-quoted
 * body may contain `;`). Leading comment and blank lines of a statement are not part of it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientError } from '../errors.js';

/** One migration: a version, a name and its statements. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

/** The line separating two statements of a migration file. */
export const STATEMENT_BREAKPOINT = '--> statement-breakpoint';

const PACKAGE_NAME = '@pgtrickle/client';

/**
 * The root folder of this package: the nearest package.json named @pgtrickle/client above this
 * module (from `src/` or from `dist/`), else (when a bundler inlined this module elsewhere) the
 * installed package as Node resolves it.
 */
export function clientPackageRoot(from: string = import.meta.url): string {
  let dir = path.dirname(fileURLToPath(from));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
      if (name === PACKAGE_NAME) return dir;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.dirname(createRequire(from).resolve(`${PACKAGE_NAME}/package.json`));
}

/** Parses one migration file's text (`version` from its file name). */
export function parseMigration(version: number, text: string, file = `migration ${version}`): Migration {
  const lines = text.split(/\r?\n/);
  const nameLine = lines.find((l) => l.startsWith('-- name:'));
  if (nameLine === undefined)
    throw new ClientError(
      'PGT_SCHEMA_VERSION',
      `${file} has no "-- name: …" header line; reinstall @pgtrickle/client.`,
    );
  const chunks: string[][] = [[]];
  for (const line of lines) {
    if (line === STATEMENT_BREAKPOINT) chunks.push([]);
    else (chunks[chunks.length - 1] as string[]).push(line);
  }
  const statements = chunks
    .map((chunk) => {
      let start = 0;
      while (start < chunk.length && /^\s*(--.*)?$/.test(chunk[start] as string)) start++;
      return chunk.slice(start).join('\n').trim();
    })
    .filter((s) => s !== '');
  if (statements.length === 0)
    throw new ClientError('PGT_SCHEMA_VERSION', `${file} has no statements; reinstall @pgtrickle/client.`);
  return { version, name: nameLine.slice('-- name:'.length).trim(), statements };
}

/** Reads every `NNN-name.sql` of `dir`, in version order (versions must be 1, 2, 3, …). */
export function loadMigrations(
  dir: string = path.join(clientPackageRoot(), 'sql', 'migrations'),
): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => /^\d+-.*\.sql$/.test(f))
    .sort();
  const migrations = files.map((f) =>
    parseMigration(Number.parseInt(f, 10), readFileSync(path.join(dir, f), 'utf8'), f),
  );
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new ClientError(
        'PGT_SCHEMA_VERSION',
        `Catalog migrations in ${dir} must be numbered 1, 2, 3, … without gaps; found ${m.version} at position ${i + 1}; reinstall @pgtrickle/client.`,
      );
    }
  });
  return migrations;
}

/** Every migration, in version order. */
export const MIGRATIONS: readonly Migration[] = Object.freeze(loadMigrations());

/** The catalog version this client installs. */
export const CATALOG_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);
