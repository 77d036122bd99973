/**
 * Whole vitest runs in a child process, with the test kit's global setup:
 * - PGTRICKLE_TEST_DATABASE_URL pointing at this run's server: the child starts no server, its two
 *   fixture files run in parallel with two different databases on our server, and both
 *   databases are dropped afterwards;
 * - no project depending on the test kit: no server, and a clear error from useTestDatabase.
 */
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { testServerUrl, useTestDatabase } from '../src/index.js';
import { childEnv, packageDir, runChild, vitestCli } from './helpers.js';

const registry = useTestDatabase();
const fixtureDir = path.join(packageDir, 'test', 'fixtures', 'child-run');

beforeAll(async () => {
  await registry.query('CREATE TABLE runs (file text, db text, port int); CREATE TABLE counted (file text)');
});

describe('a child vitest run', () => {
  it('uses PGTRICKLE_TEST_DATABASE_URL instead of starting a server, one database per file, in parallel', async () => {
    const serverUrl = testServerUrl();
    const result = await runChild(process.execPath, [vitestCli, 'run', '--config', 'vitest.config.ts'], {
      cwd: fixtureDir,
      env: childEnv({
        PGTRICKLE_TEST_DATABASE_URL: serverUrl,
        PGTRICKLE_TEST_PG_LOG: '1',
        REGISTRY_URL: registry.url,
        FIXTURE_INCLUDE: '{alpha,beta}.fixture.ts',
        CI: undefined,
      }),
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).toBe(0);
    expect(output).toContain('2 passed');
    expect(output).not.toContain('PostgreSQL ready'); // the child started no server

    const { rows } = await registry.query<{ file: string; db: string; port: number }>(
      'SELECT file, db, port FROM runs ORDER BY file',
    );
    expect(rows.map((r) => r.file)).toEqual(['alpha', 'beta']);
    expect(rows[0]?.db).toMatch(/^pgt_alpha_fixture_[0-9a-f]{8}$/);
    expect(rows[1]?.db).toMatch(/^pgt_beta_fixture_[0-9a-f]{8}$/);
    expect(rows.every((r) => r.port === Number(new URL(serverUrl).port))).toBe(true);

    // Both databases were dropped when their files finished.
    const admin = new pg.Client(serverUrl);
    await admin.connect();
    try {
      const left = await admin.query('SELECT datname FROM pg_database WHERE datname = ANY($1::text[])', [
        rows.map((r) => r.db),
      ]);
      expect(left.rows).toEqual([]);
    } finally {
      await admin.end();
    }
  }, 120_000);

  it('starts no server when no selected project depends on the test kit, and says so', async () => {
    const result = await runChild(process.execPath, [vitestCli, 'run', '--config', 'vitest.config.ts'], {
      cwd: fixtureDir,
      env: childEnv({ PGTRICKLE_TEST_PG_LOG: '1', FIXTURE_INCLUDE: 'no-server.fixture.ts', CI: undefined }),
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.code, output).toBe(0);
    expect(output).toContain('1 passed');
    expect(output).not.toContain('PostgreSQL ready');
  }, 120_000);
});
