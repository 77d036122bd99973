/**
 * The launcher as the demo uses it: a persistent data directory whose server was left running by
 * a SIGKILLed process is stopped and re-used (data kept), and failures carry stable codes.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EMBEDDED_ERROR_CODES,
  type EmbeddedPostgres,
  EmbeddedPostgresError,
  isProcessAlive,
  readPostmasterPid,
  startEmbeddedPostgres,
} from '../src/index.js';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Traversable by every user: as root, PostgreSQL runs as another OS user.
const base = mkdtempSync(path.join(os.tmpdir(), 'pgt-embedded-pkg-test-'));
chmodSync(base, 0o755);
const started: EmbeddedPostgres[] = [];

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop({ mode: 'immediate' })));
  rmSync(base, { recursive: true, force: true });
});

async function scalar(url: string, sql: string): Promise<unknown> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql)).rows[0]?.v;
  } finally {
    await client.end();
  }
}

describe('a persistent data directory', () => {
  it('stops the server a killed process left running on it, and re-uses the data', async () => {
    const dataDir = path.join(base, 'demo');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join('test', 'fixtures', 'start-persistent.ts'), dataDir],
      { cwd: packageDir, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        const newline = out.indexOf('\n');
        if (newline >= 0) resolve(out.slice(0, newline));
      });
      child.on('exit', (code) => reject(new Error(`fixture exited early (code ${code})`)));
    });
    const orphan = JSON.parse(line) as { pid: number; url: string };
    await scalar(orphan.url, `CREATE TABLE kept AS SELECT 'still here'::text AS v`);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    expect(isProcessAlive(orphan.pid)).toBe(true); // the postmaster outlived its parent

    const notes: string[] = [];
    const server = await startEmbeddedPostgres({ dataDir, onLog: (l) => notes.push(l) });
    started.push(server);
    expect(server.persistent).toBe(true);
    expect(server.timings.initdbMs).toBeUndefined();
    expect(isProcessAlive(orphan.pid)).toBe(false);
    expect(notes.some((n) => n.includes(`[embedded] stopping the server already running on`))).toBe(true);
    expect(await scalar(server.url, 'SELECT v FROM kept')).toBe('still here');
    expect(readPostmasterPid(dataDir)).toBe(server.pid);
    await server.stop();
    expect(readPostmasterPid(dataDir)).toBeUndefined(); // fast shutdown removed the lock file
  }, 120_000);

  it('refuses a non-empty directory that is not a data directory, with a stable code', async () => {
    const dir = path.join(base, 'not-pg');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'README'), 'not a cluster');
    const error = await startEmbeddedPostgres({ dataDir: dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect((error as EmbeddedPostgresError).code).toBe('PGT_EMBEDDED_START_FAILED');
    expect((error as Error).message).toContain('is not a PostgreSQL data directory');
    expect(EMBEDDED_ERROR_CODES).toContain((error as EmbeddedPostgresError).code);
  }, 60_000);
});
