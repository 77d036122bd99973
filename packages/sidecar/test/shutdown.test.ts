/**
 * Clean shutdown of the real process. SIGTERM while a refresh is in flight (held on a lock of the
 * storage table): the process waits for it, the refresh commits, exit 0. With a shutdown timeout
 * shorter than the wait: exit 1 with PGT_SHUTDOWN_TIMEOUT, and the refresh is rolled back (nothing
 * half-applied; the next sidecar applies the change).
 */
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, eventually, killAll, startCli } from './support/process.js';

const db = useTestDatabase();
const processes: CliProcess[] = [];
let client: pg.Client;
const QUERY = 'SELECT k, sum(v) AS total FROM src GROUP BY k';

function run(extra: string[] = []): CliProcess {
  const p = startCli(['run', '--database-url', db.url, '--poll-interval-ms', '200', ...extra]);
  processes.push(p);
  return p;
}

/** Holds an ACCESS EXCLUSIVE lock on the storage table on its own connection until released. */
async function lockStorage(): Promise<{ release: () => Promise<void> }> {
  const locker = await db.client();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE totals IN ACCESS EXCLUSIVE MODE');
  return {
    release: async () => {
      await locker.query('COMMIT');
    },
  };
}

/** Waits until a refresh of the sidecar is blocked on a lock (in flight). */
async function refreshBlocked(): Promise<void> {
  await eventually(async () => {
    const res = await client.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'pgtrickle sidecar #%' AND wait_event_type = 'Lock'`,
    );
    expect(Number(res.rows[0]?.n)).toBeGreaterThan(0);
  }, 15_000);
}

async function completedRefreshes(): Promise<number> {
  const res = await client.query(
    `SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_log WHERE name = 'public.totals' AND initiated_by = 'SCHEDULER' AND status = 'COMPLETED'`,
  );
  return Number(res.rows[0]?.n);
}

beforeAll(async () => {
  client = await db.client();
  await client.query(`CREATE TABLE src (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL);
    INSERT INTO src SELECT g, g % 10, g FROM generate_series(1, 100) g`);
});
afterAll(async () => {
  await killAll(processes);
});

describe('stopping pgtrickle run', () => {
  it('lets the refresh in flight commit on SIGTERM, then exits 0', async () => {
    const a = run();
    await a.waitForLog('leadership-acquired');
    await client.query(`SELECT pgtrickle.create_stream_table('totals', $1, '1s', 'DIFFERENTIAL')`, [QUERY]);
    await eventually(() => expectTableEqualsQuery(db, 'totals', QUERY), 60_000);
    const before = await completedRefreshes();

    const lock = await lockStorage();
    await client.query('UPDATE src SET v = v + 100 WHERE id <= 10');
    await refreshBlocked();
    a.child.kill('SIGTERM');
    await a.waitForLog('stopping');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(a.done).toBe(false); // still waiting for the refresh in flight
    await lock.release();
    const { code } = await a.exited;
    expect(code, a.stderr()).toBe(0);
    expect(a.logs().some((l) => l.event === 'stopped')).toBe(true);
    // The refresh committed before the process exited: the table is current, one more COMPLETED refresh.
    await expectTableEqualsQuery(db, 'totals', QUERY);
    expect(await completedRefreshes()).toBe(before + 1);
    await eventually(async () => {
      const left = await client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'pgtrickle%'`,
      );
      expect(Number(left.rows[0]?.n)).toBe(0); // every connection closed
    }, 5_000);
  });

  it('gives up after the shutdown timeout: exit 1, the refresh in flight rolled back', async () => {
    const a = run(['--shutdown-timeout-ms', '1500']);
    await a.waitForLog('leadership-acquired');
    const before = await completedRefreshes();
    const lock = await lockStorage();
    await client.query('UPDATE src SET v = v + 1000 WHERE id > 90');
    await refreshBlocked();
    a.child.kill('SIGTERM');
    const { code } = await a.exited;
    expect(code).toBe(1);
    expect(a.stderr()).toMatch(/pgtrickle run: PGT_SHUTDOWN_TIMEOUT: /);
    await lock.release();
    await new Promise((r) => setTimeout(r, 500));
    // Nothing of that refresh was committed: the table still has the old totals.
    expect(await completedRefreshes()).toBe(before);
    const stale = await client.query('SELECT total FROM totals WHERE k = 1');
    expect(Number(stale.rows[0]?.total)).toBeLessThan(1000);
    // The next sidecar applies the change exactly once.
    const b = run();
    await eventually(() => expectTableEqualsQuery(db, 'totals', QUERY), 30_000);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });
});
