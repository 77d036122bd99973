/**
 * A database per test file.
 *
 * `useTestDatabase()` registers a `beforeAll` that creates a uniquely named database on the
 * run's server (from the file name plus a random suffix) and an `afterAll` that closes every
 * pool and connection it handed out, then drops the database `WITH (FORCE)`. The server URL
 * comes from the global setup via `inject('pgtrickleDatabaseUrl')`.
 *
 * `createTestDatabase()` is the same without vitest hooks, for scripts and benches.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { describeError, TestkitError } from './errors.js';
import './provided-context.js';

/** A test file's private database. */
export interface TestDatabase {
  /** The database name (e.g. `pgt_oracle_3f9a1c2e`). */
  readonly name: string;
  /** Connection URL of the database (superuser of the test server). */
  readonly url: string;
  /** A pool on the database, created on first use and closed after the file. */
  readonly pool: pg.Pool;
  /** Opens a dedicated connection, closed after the file (ending it earlier is fine). */
  client(): Promise<pg.Client>;
  /** Runs one statement on {@link pool}. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Creates another pool on the database (several sessions), closed after the file. */
  newPool(options?: pg.PoolConfig): pg.Pool;
}

/** A {@link TestDatabase} that its creator drops. */
export interface OwnedTestDatabase extends TestDatabase {
  /** Closes every pool and connection handed out, then drops the database `WITH (FORCE)`. Idempotent. */
  drop(): Promise<void>;
}

/** Options of {@link useTestDatabase} and {@link createTestDatabase}. */
export interface TestDatabaseOptions {
  /** Label in the database name. Default: the test file's name. */
  readonly label?: string;
  /** SQL run once in the new database (e.g. `CREATE EXTENSION pgcrypto`). */
  readonly setupSql?: string;
  /** Hook timeout for creating and dropping the database. Default 60 s. */
  readonly timeoutMs?: number;
}

/** Prefix of every database the test kit creates. */
export const TEST_DATABASE_PREFIX = 'pgt_';

function databaseName(label: string): string {
  const suffix = randomBytes(4).toString('hex');
  const clean =
    label
      .toLowerCase()
      .replace(/\.(test|spec)\.[cm]?[jt]sx?$/, '')
      .replace(/\.[cm]?[jt]sx?$/, '')
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'db';
  // Identifiers are limited to 63 bytes.
  const room = 63 - TEST_DATABASE_PREFIX.length - suffix.length - 1;
  return `${TEST_DATABASE_PREFIX}${clean.slice(0, room)}_${suffix}`;
}

function urlWithDatabase(serverUrl: string, database: string): string {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch (error) {
    throw new TestkitError(
      'PGT_TESTKIT_DATABASE',
      'The test server URL is not a URL (postgres://user:password@host:port/database is expected).',
      { cause: error },
    );
  }
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 15_000 });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * Creates a uniquely named database on the server at `serverUrl` (a URL of a database the user
 * may connect to, with the CREATEDB privilege) and returns a handle that drops it.
 */
export async function createTestDatabase(
  serverUrl: string,
  options: TestDatabaseOptions = {},
): Promise<OwnedTestDatabase> {
  const name = databaseName(options.label ?? 'db');
  const url = urlWithDatabase(serverUrl, name);
  try {
    await withAdmin(serverUrl, (admin) => admin.query(`CREATE DATABASE ${quoteIdent(name)}`));
  } catch (error) {
    throw new TestkitError(
      'PGT_TESTKIT_DATABASE',
      `Creating the test database ${name} failed: ${describeError(error)}. The server URL's user needs the CREATEDB privilege.`,
      { cause: error },
    );
  }

  const pools = new Set<pg.Pool>();
  const clients = new Set<pg.Client>();
  let mainPool: pg.Pool | undefined;
  let dropped: Promise<void> | undefined;

  const newPool = (config: pg.PoolConfig = {}): pg.Pool => {
    if (dropped)
      throw new TestkitError('PGT_TESTKIT_DATABASE', `The test database ${name} was already dropped.`);
    const pool = new pg.Pool({
      max: 10,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      ...config,
      connectionString: url,
    });
    // An idle pooled connection that the server terminates emits 'error' on the pool; without a
    // listener that would crash the test worker. The pool discards the connection either way.
    pool.on('error', () => undefined);
    pools.add(pool);
    return pool;
  };

  const handle: OwnedTestDatabase = {
    name,
    url,
    get pool() {
      mainPool ??= newPool();
      return mainPool;
    },
    async client() {
      if (dropped)
        throw new TestkitError('PGT_TESTKIT_DATABASE', `The test database ${name} was already dropped.`);
      const client = new pg.Client({ connectionString: url });
      // Errors of an idle connection (e.g. terminated by the server) surface on the next query.
      client.on('error', () => undefined);
      client.on('end', () => clients.delete(client));
      await client.connect();
      clients.add(client);
      return client;
    },
    query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]) {
      return handle.pool.query<R>(sql, params);
    },
    newPool,
    drop() {
      dropped ??= (async () => {
        await Promise.allSettled([
          ...[...pools].map((p) => (p.ended ? Promise.resolve() : p.end())),
          ...[...clients].map((c) => c.end()),
        ]);
        pools.clear();
        clients.clear();
        try {
          await withAdmin(serverUrl, (admin) =>
            admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
          );
        } catch (error) {
          throw new TestkitError(
            'PGT_TESTKIT_DATABASE',
            `Dropping the test database ${name} failed: ${describeError(error)}.`,
            { cause: error },
          );
        }
      })();
      return dropped;
    },
  };

  if (options.setupSql !== undefined) {
    try {
      await withAdmin(url, (client) => client.query(options.setupSql ?? ''));
    } catch (error) {
      await handle.drop().catch(() => undefined);
      throw new TestkitError(
        'PGT_TESTKIT_DATABASE',
        `The setupSql of test database ${name} failed: ${describeError(error)}.`,
        { cause: error },
      );
    }
  }
  return handle;
}

/** The server URL provided by the global setup, or a descriptive error. */
export function testServerUrl(): string {
  const url = inject('pgtrickleDatabaseUrl');
  if (typeof url === 'string' && url !== '') return url;
  const reason = inject('pgtrickleDatabaseUnavailable');
  throw new TestkitError(
    'PGT_TESTKIT_NO_SERVER',
    'No test PostgreSQL server is available to this test file' +
      (typeof reason === 'string' && reason !== '' ? `: ${reason}` : '.') +
      ' The root vitest.config.ts must list `packages/testkit/src/global-setup.ts` under test.globalSetup ' +
      '(run vitest from the repository root), or set PGTRICKLE_TEST_DATABASE_URL.',
  );
}

/**
 * Gives the calling test file (or `describe` block) its own database. Call it at the top level
 * of the file; the returned object is usable from `beforeAll` hooks registered after it and in
 * tests. The database is created in `beforeAll` and dropped in `afterAll`, after every pool and
 * connection obtained from it is closed.
 */
export function useTestDatabase(options: TestDatabaseOptions = {}): TestDatabase {
  let current: OwnedTestDatabase | undefined;
  const timeout = options.timeoutMs ?? 60_000;
  const get = (): OwnedTestDatabase => {
    if (current === undefined) {
      throw new TestkitError(
        'PGT_TESTKIT_DATABASE',
        'The test database is used before it exists: use it inside tests or in beforeAll hooks registered after ' +
          'useTestDatabase(), not at module level.',
      );
    }
    return current;
  };

  // vitest requires the first hook argument (the fixtures context) to be an object pattern.
  // biome-ignore lint/correctness/noEmptyPattern: the suite (second argument) is what is needed here
  beforeAll(async ({}, suite) => {
    const label = options.label ?? path.basename(suite.file.filepath);
    current = await createTestDatabase(testServerUrl(), { ...options, label });
  }, timeout);

  afterAll(async () => {
    const db = current;
    if (db === undefined) return;
    await db.drop();
  }, timeout);

  return {
    get name() {
      return get().name;
    },
    get url() {
      return get().url;
    },
    get pool() {
      return get().pool;
    },
    client: () => get().client(),
    query: <R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]) =>
      get().query<R>(sql, params),
    newPool: (config?: pg.PoolConfig) => get().newPool(config),
  };
}
