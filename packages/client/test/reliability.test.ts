/**
 * No change is ever skipped or applied twice: transactions that commit out of order, a refresh
 * whose connection is terminated at different points, refreshes racing each other, writers
 * committing while a refresh runs, and two installs at once.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, type Trickle } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const QUERY = 'SELECT id, v, v * 2 AS doubled FROM src WHERE v IS NOT NULL';

async function check(): Promise<void> {
  await expectTableEqualsQuery(db, 'st', QUERY);
}

async function waitFor(predicate: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The pid of a backend of application `app` waiting on a lock. */
async function lockedBackend(app: string): Promise<number | null> {
  const res = await db.query(
    `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND state = 'active'`,
    [app],
  );
  return res.rows[0]?.pid ?? null;
}

beforeAll(async () => {
  await db.query('CREATE TABLE src (id int PRIMARY KEY, v int)');
  await db.query('INSERT INTO src SELECT g, g FROM generate_series(1, 100) g');
  await trickle().createStreamTable({ name: 'st', query: QUERY, refreshMode: 'DIFFERENTIAL' });
});

describe('out-of-order commits', () => {
  it('picks up a long transaction that started before a refresh and committed after it', async () => {
    const a = await db.client();
    await a.query('BEGIN');
    await a.query('INSERT INTO src VALUES (1001, 1)'); // xid assigned now, before the refresh
    await db.query('INSERT INTO src VALUES (1002, 2)'); // commits first
    await trickle().refresh('st');
    await check(); // sees 1002, not the uncommitted 1001
    await a.query('UPDATE src SET v = 50 WHERE id = 1');
    await a.query('COMMIT');
    await check().then(
      () => {
        throw new Error('the table should lag until refreshed');
      },
      () => undefined,
    );
    await trickle().refresh('st');
    await check();
    await a.end();
  });

  it('keeps a writer that commits while a refresh is finishing for the next refresh', async () => {
    const blocker = await db.client();
    await blocker.query('BEGIN');
    // The refresh statement (delta, apply, frontier) runs; its record (history row) waits.
    await blocker.query('LOCK TABLE pgtrickle.pgt_refresh_history IN SHARE MODE');
    await db.query('UPDATE src SET v = v + 1 WHERE id BETWEEN 10 AND 20');
    const victimApp = 'pgt_ooo';
    const t2 = await connect({ poolConfig: { connectionString: db.url, application_name: victimApp } });
    const refreshing = t2.refresh('st');
    await waitFor(async () => (await lockedBackend(victimApp)) !== null, 'the refresh to wait on the lock');
    await db.query('INSERT INTO src VALUES (2001, 7)'); // commits while the refresh holds its snapshot
    await blocker.query('COMMIT');
    await refreshing;
    await t2.close();
    // 2001 was not visible to that refresh, so it is still pending and nothing was lost.
    const has = await db.query('SELECT count(*)::int AS n FROM st WHERE id = 2001');
    expect(has.rows[0]?.n).toBe(0);
    await trickle().refresh('st');
    await check();
    await blocker.end();
  });
});

describe('a refresh whose connection is terminated', () => {
  for (const [where, lockMode, locked] of [
    ['before it computes the delta', 'ACCESS EXCLUSIVE', 'st'],
    ['after it applied the delta, before it records the refresh', 'SHARE', 'pgtrickle.pgt_refresh_history'],
  ] as const) {
    it(`loses nothing and applies nothing twice when killed ${where}`, async () => {
      const k = lockMode === 'SHARE' ? 3100 : 3000;
      await db.query('UPDATE src SET v = v * 3 WHERE id % 9 = 0');
      await db.query('DELETE FROM src WHERE id % 13 = 0');
      await db.query('INSERT INTO src VALUES ($1, 1), ($2, NULL)', [k + 1, k + 2]);
      await db.query('DELETE FROM src WHERE id IN ($1, $2)', [k + 1, k + 2]);
      await db.query('INSERT INTO src VALUES ($1, 5)', [k + 1]);
      const before = await db.query(
        'SELECT frontier_snapshot::text AS f FROM pgtrickle.pgt_stream_tables WHERE table_name = $1',
        ['st'],
      );
      const blocker = await db.client();
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE ${locked} IN ${lockMode} MODE`);
      const app = `pgt_victim_${lockMode.replace(' ', '_').toLowerCase()}`;
      const victim: Trickle = await connect({
        poolConfig: { connectionString: db.url, application_name: app },
      });
      const refreshing = victim.refresh('st').then(
        () => null,
        (e: unknown) => e,
      );
      let pid: number | null = null;
      await waitFor(async () => {
        pid = await lockedBackend(app);
        return pid !== null;
      }, 'the refresh to block');
      await db.query('SELECT pg_terminate_backend($1)', [pid]);
      // Released before the failure is recorded (its history row would wait on the lock).
      await blocker.query('COMMIT');
      await blocker.end();
      const error = await refreshing;
      expect(error).toBeInstanceOf(Error);
      await victim.close();
      // Nothing of the killed refresh committed: same frontier, a FAILED history row.
      const after = await db.query(
        'SELECT frontier_snapshot::text AS f FROM pgtrickle.pgt_stream_tables WHERE table_name = $1',
        ['st'],
      );
      expect(after.rows[0]?.f).toBe(before.rows[0]?.f);
      const failed = await db.query(
        `SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_history h JOIN pgtrickle.pgt_stream_tables s USING (pgt_id) WHERE s.table_name = 'st' AND h.status = 'FAILED'`,
      );
      expect(failed.rows[0]?.n).toBeGreaterThan(0);
      const r = await trickle().refresh('st');
      expect(r.action).toBe('DIFFERENTIAL');
      await check();
      await db.query('UPDATE src SET v = v + 100 WHERE id < 5');
      await trickle().refresh('st');
      await check();
    });
  }
});

describe('racing refreshes', () => {
  it('serialises concurrent refreshes of one table, interleaved with writes', async () => {
    const others = await Promise.all([1, 2, 3].map(() => connect({ connectionString: db.url })));
    const writes = (async () => {
      for (let i = 0; i < 20; i++) {
        await db.query('UPDATE src SET v = v + 1 WHERE id = $1', [1 + (i % 30)]);
        await db.query('INSERT INTO src VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v', [
          5000 + i,
          i,
        ]);
      }
    })();
    const refreshes = others.flatMap((t) => [0, 1, 2, 3].map(() => t.refresh('st')));
    await Promise.all([writes, ...refreshes]);
    await trickle().refresh('st');
    await check();
    await Promise.all(others.map((t) => t.close()));
  });
});

describe('install', () => {
  it('is idempotent and safe from two processes at once', async () => {
    const clients = await Promise.all([connect(db.url), connect(db.url), connect(db.url)]);
    const results = await Promise.all(clients.map((c) => c.install()));
    expect(results.every((r) => r.applied.length === 0)).toBe(true);
    await Promise.all(clients.map((c) => c.close()));
    const versions = await db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_schema_version');
    expect(versions.rows[0]?.n).toBeGreaterThan(0);
  });
});

describe('refresh in a transaction that also wrote the source', () => {
  it('consumes its own writes exactly once', async () => {
    // The refresh transaction's own xid is not visible in its own snapshot; the frontier must still count it.
    const pool = db.newPool();
    const c: pg.PoolClient = await pool.connect();
    const { refreshInTransaction, createEngine, streamTableById } = await import('../src/index.js');
    const row = await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'st'`);
    const pgtId = Number(row.rows[0]?.pgt_id);
    await c.query('BEGIN');
    await c.query('INSERT INTO src VALUES (7001, 70)');
    await refreshInTransaction(c, createEngine(), pgtId, { initiatedBy: 'MANUAL' });
    await c.query('COMMIT');
    c.release();
    await check();
    expect((await streamTableById(db.pool as never, pgtId))?.status).toBe('ACTIVE');
    await db.query('UPDATE src SET v = v + 1 WHERE id = 7001');
    await trickle().refresh('st');
    await check();
  });

  it('does not apply its own writes twice to a keyless table', async () => {
    await db.query('CREATE TABLE logs (msg text)');
    await trickle().createStreamTable({
      name: 'log_st',
      query: 'SELECT msg FROM logs',
      refreshMode: 'DIFFERENTIAL',
    });
    const { refreshInTransaction, createEngine } = await import('../src/index.js');
    const row = await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'log_st'`);
    const c = await db.pool.connect();
    await c.query('BEGIN');
    await c.query(`INSERT INTO logs VALUES ('mine'), ('mine')`);
    await refreshInTransaction(c, createEngine(), Number(row.rows[0]?.pgt_id), { initiatedBy: 'MANUAL' });
    await c.query('COMMIT');
    c.release();
    await expectTableEqualsQuery(db, 'log_st', 'SELECT msg FROM logs');
    await db.query(`INSERT INTO logs VALUES ('later')`);
    await trickle().refresh('log_st');
    await expectTableEqualsQuery(db, 'log_st', 'SELECT msg FROM logs');
  });
});
