/**
 * Real `pgtrickle` processes for the end-to-end tests: the CLI from source (`node
 * --conditions=@pgtrickle/source --import tsx packages/sidecar/src/cli.ts …`), so the tests do not
 * depend on a build; output collected, JSON log lines parsed, exits awaited.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The sidecar package directory. */
export const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The repository root. */
export const repoRoot = path.resolve(packageDir, '..', '..');
/** The CLI's source entry. */
export const cliSource = path.join(packageDir, 'src', 'cli.ts');
/** tsx's loader by absolute URL, so a child started in any directory finds it. */
const tsxLoader = pathToFileURL(
  path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs'),
).href;

/** The environment of a child: ours without vitest's and pgtrickle's variables, plus `extra`. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('VITEST') || key === 'TEST' || key === 'NODE_ENV' || key.startsWith('PGTRICKLE_'))
      continue;
    env[key] = value;
  }
  env.PGTRICKLE_LOG_FORMAT = 'json';
  env.NO_COLOR = '1';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** One JSON log line. */
export type LogLine = Record<string, unknown> & { event?: string };

/** A running `pgtrickle` process. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** The JSON log lines on stderr so far. */
  logs(): LogLine[];
  /** Resolves with the exit status. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line with this event (and matching `where`), or rejects after `timeoutMs`. */
  waitForLog(event: string, timeoutMs?: number, where?: (l: LogLine) => boolean): Promise<LogLine>;
  /** Whether the process has exited. */
  readonly done: boolean;
}

/** Starts `pgtrickle <args>` from source. */
export function startCli(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): CliProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=@pgtrickle/source', '--import', tsxLoader, cliSource, ...args],
    {
      cwd: options.cwd ?? repoRoot,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  let done = false;
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const logs = (): LogLine[] =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogLine];
        } catch {
          return [];
        }
      });
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    logs,
    exited,
    get done() {
      return done;
    },
    async waitForLog(event, timeoutMs = 60_000, where = () => true) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs().find((l) => l.event === event && where(l));
        if (hit !== undefined) return hit;
        if (done) throw new Error(`pgtrickle exited before logging "${event}":\n${err.slice(-3000)}`);
        if (Date.now() > deadline)
          throw new Error(`no "${event}" log line within ${timeoutMs} ms:\n${err.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Runs `pgtrickle <args>` to completion. */
export async function runCli(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startCli(args, options);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Retries `check` until it passes or `timeoutMs` runs out; resolves with how long it took. */
export async function eventually(
  check: () => Promise<void>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await check();
      return Date.now() - start;
    } catch (error) {
      if (Date.now() - start > timeoutMs) throw error;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

/** Kills every process in `list` that is still running (test clean-up). */
export async function killAll(list: readonly CliProcess[]): Promise<void> {
  for (const p of list) {
    if (!p.done) p.child.kill('SIGKILL');
  }
  await Promise.allSettled(list.map((p) => p.exited));
}
