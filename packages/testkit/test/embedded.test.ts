/**
 * startEmbeddedPostgres itself, against real servers: persistent data directories (re-use, a
 * server still running on them), errors carrying the server log, and the clean-up of a server
 * orphaned by a SIGKILLed process.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The launcher's helpers, from @pgtrickle/embedded's source (as the kit imports it).
import { isProcessAlive, OWNER_FILE, writeOwnerFile } from '../../embedded/src/index.js';
import {
  cleanupStaleServers,
  type EmbeddedPostgres,
  startEmbeddedPostgres,
  TestkitError,
} from '../src/index.js';
import { childEnv, packageDir } from './helpers.js';

// Run directories of this file's servers go to a private base (searchable by every user, as the
// PostgreSQL OS user needs when the tests run as root) so the checks below see only our own.
// The base has an owner file too, so a later run can clean up after a killed one.
const BASE_PREFIX = 'pgt-embedded-test-';
const base = mkdtempSync(path.join(os.tmpdir(), BASE_PREFIX));
chmodSync(base, 0o755);
await writeOwnerFile(base);
const started: EmbeddedPostgres[] = [];

beforeAll(async () => {
  // Bases of earlier runs of this file that were killed: stop their orphans, remove them.
  for (const name of readdirSync(os.tmpdir())) {
    const dir = path.join(os.tmpdir(), name);
    if (!name.startsWith(BASE_PREFIX) || dir === base) continue;
    let owner: { pid?: unknown; startTime?: unknown };
    try {
      owner = JSON.parse(readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as typeof owner;
    } catch {
      continue;
    }
    const startTime = typeof owner.startTime === 'string' ? owner.startTime : undefined;
    if (typeof owner.pid !== 'number' || isProcessAlive(owner.pid, startTime)) continue;
    await cleanupStaleServers({ tmpDir: dir, graceMs: 0 });
    rmSync(dir, { recursive: true, force: true });
  }
});

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop({ mode: 'immediate' })));
  rmSync(base, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startEmbeddedPostgres>[0] = {}): Promise<EmbeddedPostgres> {
  const server = await startEmbeddedPostgres({ tmpDir: base, ...options });
  started.push(server);
  return server;
}

async function scalar<T>(url: string, sql: string): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { rows } = await client.query<{ v: T }>(sql);
    return rows[0]?.v as T;
  } finally {
    await client.end();
  }
}

async function rejection(promise: Promise<unknown>): Promise<TestkitError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TestkitError);
  return error as TestkitError;
}

describe('startEmbeddedPostgres', () => {
  it('keeps a persistent data directory across restarts and stops a server still running on it', async () => {
    const dataDir = path.join(base, 'persistent', 'pgdata');
    const first = await start({ dataDir, password: 'pw1' });
    expect(first.persistent).toBe(true);
    expect(first.runDir).toBeUndefined();
    expect(first.timings.initdbMs).toBeGreaterThan(0);
    const client = new pg.Client(first.url);
    await client.connect();
    await client.query(`CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')`);
    await client.end();

    // A second start on the same directory: ifRunning 'error' refuses, the default stops the first.
    const refused = await rejection(startEmbeddedPostgres({ dataDir, password: 'pw1', ifRunning: 'error' }));
    expect(refused.code).toBe('PGT_TESTKIT_START_FAILED');
    expect(refused.message).toContain('already running');
    const second = await start({ dataDir, password: 'pw1' });
    expect(second.timings.initdbMs).toBeUndefined();
    expect(first.isRunning()).toBe(false);
    expect(await scalar<string>(second.url, 'SELECT v FROM kept')).toBe('still here');
    await first.stop(); // already stopped by the second start: a no-op
    await second.stop();
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false); // fast shutdown
  }, 120_000);

  it('fails with the server log when the fixed port is taken, and removes its run directory', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const error = await rejection(start({ port }));
      expect(error.code).toBe('PGT_TESTKIT_START_FAILED');
      expect(error.message).toContain(`Starting PostgreSQL on 127.0.0.1:${port} failed`);
      expect(error.message).toContain('--- server log (last lines) ---');
      expect(error.message).toMatch(/Address already in use/);
    } finally {
      blocker.close();
    }
    const report = await cleanupStaleServers({ tmpDir: base, graceMs: 0 });
    expect(report.removed).toEqual([]); // nothing was left behind
  }, 120_000);

  it('reports an initdb failure with its output', async () => {
    const error = await rejection(start({ initdbArgs: ['--no-such-initdb-flag'] }));
    expect(error.code).toBe('PGT_TESTKIT_START_FAILED');
    expect(error.message).toContain('initdb failed');
    expect(error.message).toContain('no-such-initdb-flag');
  }, 60_000);

  it('cleans up a server orphaned by a SIGKILLed process on the next start', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join('test', 'fixtures', 'start-server.ts'), base],
      {
        cwd: packageDir,
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        const newline = out.indexOf('\n');
        if (newline >= 0) resolve(out.slice(0, newline));
      });
      child.on('exit', (code) => reject(new Error(`start-server.ts exited early (code ${code})`)));
    });
    const orphan = JSON.parse(line) as { pid: number; runDir: string; dataDir: string; url: string };
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));

    // The postmaster survived its parent and still serves queries.
    expect(isProcessAlive(orphan.pid)).toBe(true);
    expect(await scalar<number>(orphan.url, 'SELECT 1 AS v')).toBe(1);

    const next = await start();
    expect(next.staleCleanup?.removed).toContain(orphan.runDir);
    expect(next.staleCleanup?.stoppedPids).toContain(orphan.pid);
    expect(isProcessAlive(orphan.pid)).toBe(false);
    expect(existsSync(orphan.runDir)).toBe(false);
    expect(next.logTail()).toContain(`removed stale run directory ${orphan.runDir}`);

    // A live owner's server is left alone.
    const again = await cleanupStaleServers({ tmpDir: base });
    expect(again.removed).not.toContain(next.runDir);
    expect(next.isRunning()).toBe(true);
    await next.stop();
    expect(next.runDir !== undefined && existsSync(next.runDir)).toBe(false);
  }, 120_000);
});
