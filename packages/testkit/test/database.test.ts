/**
 * A database per test file: naming, the pool / client / newPool surface, isolation between
 * databases, and that everything handed out is closed and the database dropped afterwards.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, TestkitError, testServerUrl, useTestDatabase } from '../src/index.js';

const db = useTestDatabase();

async function serverQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client(testServerUrl());
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

let earlyError: unknown;
try {
  void db.url;
} catch (error) {
  earlyError = error;
}

beforeAll(async () => {
  await db.query('CREATE TABLE marks (who text)');
});

describe('useTestDatabase', () => {
  it('throws a clear error when used at module level, before beforeAll', () => {
    expect(earlyError).toBeInstanceOf(TestkitError);
    expect((earlyError as TestkitError).code).toBe('PGT_TESTKIT_DATABASE');
  });

  it('creates a database named after the file, reachable through url, pool and query', async () => {
    expect(db.name).toMatch(/^pgt_database_[0-9a-f]{8}$/);
    expect(new URL(db.url).pathname).toBe(`/${db.name}`);
    const { rows } = await db.query<{ d: string }>('SELECT current_database() AS d');
    expect(rows[0]?.d).toBe(db.name);
    const viaPool = await db.pool.query<{ d: string }>('SELECT current_database() AS d');
    expect(viaPool.rows[0]?.d).toBe(db.name);
    expect(inject('pgtrickleDatabaseUrl')).not.toBe('');
  });

  it('runs on a server configured for the tests', async () => {
    const { rows } = await db.query<Record<string, string>>(
      `SELECT current_setting('fsync') AS fsync, current_setting('wal_level') AS wal_level,
              current_setting('max_connections') AS max_connections, current_setting('TimeZone') AS tz,
              current_setting('server_version_num') AS version`,
    );
    expect(rows[0]).toMatchObject({ wal_level: 'logical', max_connections: '200', tz: 'UTC' });
    if (process.env.PGTRICKLE_TEST_DATABASE_URL === undefined) expect(rows[0]?.fsync).toBe('off');
    expect(Number(rows[0]?.version)).toBeGreaterThanOrEqual(180000);
  });

  it('gives dedicated clients that are separate sessions', async () => {
    const a = await db.client();
    const b = await db.client();
    const pa = (await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    const pb = (await b.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    expect(pa).not.toBe(pb);
    // Session state: an advisory lock held by a blocks b.
    await a.query('SELECT pg_advisory_lock(42)');
    const tried = await b.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(42) AS ok');
    expect(tried.rows[0]?.ok).toBe(false);
    await a.query('SELECT pg_advisory_unlock(42)');
    // Ending one early is fine; the rest are closed after the file.
    await a.end();
  });

  it('gives extra pools for concurrent sessions', async () => {
    const pool = db.newPool({ max: 8 });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => pool.query('INSERT INTO marks VALUES ($1)', [`w${i}`])),
    );
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM marks');
    expect(Number(rows[0]?.n)).toBe(20);
  });

  it('logical decoding works (wal_level=logical)', async () => {
    if (process.env.PGTRICKLE_TEST_DATABASE_URL !== undefined) return;
    const slot = `s_${db.name.slice(-8)}`;
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [slot]);
    await db.query(`INSERT INTO marks VALUES ('decoded')`);
    const { rows } = await db.query<{ data: string }>(
      'SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)',
      [slot],
    );
    expect(rows.some((r) => r.data.includes('decoded'))).toBe(true);
    await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  });
});

describe('createTestDatabase', () => {
  const created: string[] = [];

  afterAll(async () => {
    // Every database created here is gone, and nothing is still connected to it.
    const rows = await serverQuery<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = ANY($1::text[])',
      [created],
    );
    expect(rows).toEqual([]);
  });

  it('creates distinct, isolated databases concurrently and drops them with their connections', async () => {
    const [a, b] = await Promise.all([
      createTestDatabase(testServerUrl(), { label: 'iso' }),
      createTestDatabase(testServerUrl(), { label: 'iso', setupSql: 'CREATE TABLE probe (v text)' }),
    ]);
    created.push(a.name, b.name);
    expect(a.name).not.toBe(b.name);
    expect(a.name).toMatch(/^pgt_iso_[0-9a-f]{8}$/);
    await a.query('CREATE TABLE probe (v text)');
    await a.query(`INSERT INTO probe VALUES ('a')`);
    await b.query(`INSERT INTO probe VALUES ('b')`);
    expect((await a.query<{ v: string }>('SELECT v FROM probe')).rows).toEqual([{ v: 'a' }]);
    expect((await b.query<{ v: string }>('SELECT v FROM probe')).rows).toEqual([{ v: 'b' }]);

    // Open sessions of every kind, then drop: all are closed first, and the drop succeeds.
    const client = await a.client();
    const extra = a.newPool();
    await Promise.all([client.query('SELECT 1'), extra.query('SELECT 1'), a.pool.query('SELECT 1')]);
    const sessions = await serverQuery<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1',
      [a.name],
    );
    expect(Number(sessions[0]?.n)).toBeGreaterThanOrEqual(3);
    await Promise.all([a.drop(), b.drop()]);
    await a.drop(); // idempotent
    expect(extra.ended).toBe(true);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(() => a.newPool()).toThrow(/already dropped/);
  });

  it('reports a failing setupSql and cleans up', async () => {
    const error = await createTestDatabase(testServerUrl(), { label: 'bad', setupSql: 'SELEC 1' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TestkitError);
    expect((error as TestkitError).code).toBe('PGT_TESTKIT_DATABASE');
    const left = await serverQuery("SELECT datname FROM pg_database WHERE datname LIKE 'pgt_bad_%'");
    expect(left).toEqual([]);
  });
});
