/**
 * Run directories and the clean-up of servers left behind by killed runs.
 *
 * Every temporary server lives in a run directory `<tmp>/pgtrickle-test-XXXXXX/` holding
 * `owner.json` (the PID and kernel start time of the Node process that owns the server) and
 * `data/` (the PostgreSQL data directory). When a run is SIGKILLed, its postmaster keeps
 * running as an orphan. {@link cleanupStaleServers} finds run directories whose owner is dead,
 * stops their postmaster (SIGQUIT, i.e. `pg_ctl stop -m immediate`; `pg_ctl` itself refuses to
 * run as root) and removes the directory. Directories of live owners, of other users and of
 * other hosts are left alone.
 */
import { readFileSync } from 'node:fs';
import { lstat, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  isPostgresProcess,
  isProcessAlive,
  processStartTime,
  signalProcess,
  sleep,
  waitForProcessExit,
} from './process-util.js';

/** Name prefix of run directories in the temp directory. */
export const RUN_DIR_PREFIX = 'pgtrickle-test-';

/** Name of the owner marker file inside a run directory. */
export const OWNER_FILE = 'owner.json';

/** Contents of `owner.json`. */
export interface RunOwner {
  /** PID of the owning Node process. */
  readonly pid: number;
  /** Kernel start time of `pid` (Linux), to tell a live owner from a reused PID. */
  readonly startTime: string | null;
  /** Host the owner runs on (directories of other hosts are left alone). */
  readonly hostname: string;
  /** When the run directory was created (ISO 8601). */
  readonly createdAt: string;
}

/** Writes `owner.json` for the current process into a run directory. */
export async function writeOwnerFile(runDir: string): Promise<void> {
  const owner: RunOwner = {
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? null,
    hostname: os.hostname(),
    createdAt: new Date().toISOString(),
  };
  await writeFile(path.join(runDir, OWNER_FILE), JSON.stringify(owner));
}

async function readOwner(runDir: string): Promise<RunOwner | undefined> {
  try {
    const raw = JSON.parse(await readFile(path.join(runDir, OWNER_FILE), 'utf8')) as Partial<RunOwner>;
    if (typeof raw.pid !== 'number' || typeof raw.hostname !== 'string') return undefined;
    return {
      pid: raw.pid,
      startTime: typeof raw.startTime === 'string' ? raw.startTime : null,
      hostname: raw.hostname,
      createdAt: typeof raw.createdAt === 'string' ? raw.createdAt : '',
    };
  } catch {
    return undefined;
  }
}

/**
 * The postmaster PID recorded in `<dataDir>/postmaster.pid` (line 1), or `undefined` when there
 * is no readable lock file.
 */
export function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const first = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
    const pid = Number.parseInt(first ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops a running postmaster by PID: `SIGQUIT` (immediate) or `SIGINT` (fast), escalating to
 * `SIGKILL` if it has not exited within `timeoutMs`. Resolves `true` if it is gone.
 */
export async function stopPostmaster(
  pid: number,
  mode: 'fast' | 'immediate',
  timeoutMs = 10_000,
): Promise<boolean> {
  if (!isProcessAlive(pid) || !isPostgresProcess(pid)) return true;
  const startTime = processStartTime(pid);
  signalProcess(pid, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
  if (await waitForProcessExit(pid, timeoutMs, startTime)) return true;
  signalProcess(pid, 'SIGQUIT');
  if (await waitForProcessExit(pid, 2_000, startTime)) return true;
  signalProcess(pid, 'SIGKILL');
  return waitForProcessExit(pid, 2_000, startTime);
}

/** What {@link cleanupStaleServers} did. */
export interface StaleCleanupReport {
  /** Run directories removed. */
  readonly removed: string[];
  /** Orphaned postmaster PIDs that were stopped. */
  readonly stoppedPids: number[];
  /** Run directories that looked stale but could not be cleaned, with the reason. */
  readonly failed: { dir: string; reason: string }[];
}

/** Options of {@link cleanupStaleServers}. */
export interface StaleCleanupOptions {
  /** Directory to scan (the temp base under which run directories are created). */
  readonly tmpDir: string;
  /** Run directories without an `owner.json` younger than this are assumed to be starting up. Default 60 s. */
  readonly graceMs?: number;
}

/**
 * Finds run directories under `tmpDir` whose owning process is dead, stops their orphaned
 * postmaster and removes them. Only directories owned by the current user (and created on this
 * host) are touched.
 */
export async function cleanupStaleServers(options: StaleCleanupOptions): Promise<StaleCleanupReport> {
  const report: StaleCleanupReport = { removed: [], stoppedPids: [], failed: [] };
  const grace = options.graceMs ?? 60_000;
  const myUid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  let names: string[];
  try {
    names = await readdir(options.tmpDir);
  } catch {
    return report;
  }
  for (const name of names) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = path.join(options.tmpDir, name);
    try {
      const s = await lstat(dir);
      if (!s.isDirectory()) continue;
      if (myUid !== undefined && s.uid !== myUid) continue;
      const owner = await readOwner(dir);
      if (owner === undefined) {
        if (Date.now() - s.mtimeMs < grace) continue; // maybe a run that is just starting
      } else {
        if (owner.hostname !== os.hostname()) continue;
        if (isProcessAlive(owner.pid, owner.startTime ?? undefined)) continue;
      }
      const pid = readPostmasterPid(path.join(dir, 'data'));
      if (pid !== undefined && isProcessAlive(pid) && isPostgresProcess(pid)) {
        if (!(await stopPostmaster(pid, 'immediate'))) {
          report.failed.push({ dir, reason: `postmaster ${pid} did not exit` });
          continue;
        }
        report.stoppedPids.push(pid);
      }
      await removeDir(dir);
      report.removed.push(dir);
    } catch (error) {
      report.failed.push({ dir, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return report;
}

/** `rm -rf` with a few retries (a dying server may still be writing). */
export async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rm(dir, { recursive: true, force: true });
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await sleep(50 * (attempt + 1));
    }
  }
}
