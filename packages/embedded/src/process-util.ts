/**
 * Process helpers for finding and stopping PostgreSQL servers left behind by killed runs:
 * liveness checks that see through zombies and PID reuse (via `/proc` where it exists), and a
 * polling wait for a process to go away.
 */
import { readFileSync } from 'node:fs';

/**
 * The kernel start time of a process (field 22 of `/proc/<pid>/stat`, in clock ticks since
 * boot), or `undefined` where `/proc` is unavailable or the process does not exist.
 * Together with the PID it identifies a process across PID reuse.
 */
export function processStartTime(pid: number): string | undefined {
  const stat = readProcStat(pid);
  return stat?.fields[18];
}

interface ProcStat {
  /** Process state letter (R, S, D, Z, ...). */
  state: string;
  /** The fields after the state (field 4 onwards, so index 0 is the parent PID). */
  fields: string[];
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const state = rest[0];
  if (state === undefined) return undefined;
  return { state, fields: rest.slice(1) };
}

/**
 * Whether a process with this PID is alive. Zombies count as dead. When `startTime` (from
 * {@link processStartTime}) is given and `/proc` is available, a process with the same PID but a
 * different start time (the PID was reused) also counts as dead.
 */
export function isProcessAlive(pid: number, startTime?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readProcStat(pid);
  if (stat === undefined) return true; // no /proc (macOS): trust kill(0)
  if (stat.state === 'Z' || stat.state === 'X') return false;
  if (startTime !== undefined && stat.fields[18] !== startTime) return false;
  return true;
}

/**
 * Whether the process looks like a PostgreSQL server process (its command name is `postgres`).
 * Guards against signalling an unrelated process that reused a dead postmaster's PID. Where
 * `/proc` is unavailable the answer is `true`.
 */
export function isPostgresProcess(pid: number): boolean {
  let comm: string;
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return !isLinux();
  }
  return comm === 'postgres' || comm.startsWith('postgres');
}

function isLinux(): boolean {
  return process.platform === 'linux';
}

/** Sends a signal, ignoring "no such process". Returns whether the signal was delivered. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Polls until the process is gone (or a zombie). Resolves `true` if it went away in time. */
export async function waitForProcessExit(
  pid: number,
  timeoutMs: number,
  startTime?: string,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid, startTime)) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
