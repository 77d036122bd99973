/**
 * Nothing stuck (issue 11), with real `pgtrickle` processes:
 * - a leader frozen (SIGSTOP) inside a refresh transaction that holds the lease row is replaced
 *   within its lease plus a few seconds: the standby ends every backend of the stale leader, says
 *   so, takes over and keeps the tables fresh; the old leader, continued, commits nothing and
 *   becomes a standby; both stop cleanly on SIGTERM;
 * - a session outside pgtrickle holding the lease row: the standby logs what it waits for and,
 *   the lease being stale, ends it;
 * - the catalog dropped under a running sidecar: it stops with one PGT_CATALOG_MISSING; doctor
 *   finds the capture triggers left behind; `pgtrickle uninstall --yes` removes them;
 * - `run` against an unreachable database retries (each attempt logged) instead of exiting, for
 *   ever or until `--start-retry-s`;
 * - doctor as a role without privileges reports each check and does not abort.
 */
import { expectTableEqualsQuery, findFreePort, useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { captureIo } from './support/io.js';
import { type CliProcess, eventually, killAll, runCli, startCli } from './support/process.js';

const db = useTestDatabase();
const processes: CliProcess[] = [];
let client: pg.Client;
const QUERY = 'SELECT region, count(*) AS n, sum(amount) AS total FROM sales GROUP BY region';

beforeAll(async () => {
  client = await db.client();
  await client.query(`CREATE TABLE sales (id int PRIMARY KEY, region text NOT NULL, amount int NOT NULL);
    INSERT INTO sales SELECT g, 'r' || (g % 5), g FROM generate_series(1, 200) g`);
});
afterAll(async () => {
  for (const p of processes) if (!p.done) p.child.kill('SIGCONT');
  await killAll(processes);
});

function start(extra: string[] = []): CliProcess {
  const p = startCli([
    'run',
    '--database-url',
    db.url,
    '--poll-interval-ms',
    '200',
    '--lease-ms',
    '2000',
    '--shutdown-timeout-ms',
    '20000',
    ...extra,
  ]);
  processes.push(p);
  return p;
}

async function holder(): Promise<string | null> {
  const res = await client.query('SELECT holder FROM pgtrickle.pgt_leader WHERE id = 1');
  return (res.rows[0]?.holder as string | null) ?? null;
}

describe('a frozen leader', () => {
  it('is replaced within its lease plus a few seconds, whatever its sessions hold', async () => {
    const a = start();
    await a.waitForLog('leadership-acquired');
    await client.query(`SELECT pgtrickle.create_stream_table('frozen_st', $1, '1s', 'DIFFERENTIAL')`, [
      QUERY,
    ]);
    await eventually(() => expectTableEqualsQuery(db, 'frozen_st', QUERY), 60_000);

    // A's next refresh blocks on the storage (after its fence: it holds the lease row) ...
    const locker = await db.client();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE frozen_st IN ACCESS EXCLUSIVE MODE');
    await client.query(`UPDATE sales SET amount = amount + 1 WHERE id <= 10`);
    await eventually(async () => {
      const res = await client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'pgtrickle sidecar #%' AND wait_event_type = 'Lock'`,
      );
      expect(Number(res.rows[0]?.n)).toBeGreaterThan(0);
    }, 30_000);
    // ... and A freezes there; the lock goes, so its transaction sits idle, holding its locks.
    a.child.kill('SIGSTOP');
    await locker.query('COMMIT');
    await locker.end();
    await eventually(async () => {
      const res = await client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'pgtrickle sidecar #%' AND state = 'idle in transaction'`,
      );
      expect(Number(res.rows[0]?.n)).toBeGreaterThan(0);
    }, 10_000);

    const b = start();
    await b.waitForLog('started');
    const frozenAt = Date.now();
    await client.query(`INSERT INTO sales VALUES (1000, 'after freeze', 7)`);
    await b.waitForLog('leader-stale', 30_000);
    await b.waitForLog('leadership-acquired', 30_000);
    await eventually(async () => {
      expect(await holder()).toMatch(new RegExp(`:${b.pid}$`));
      await expectTableEqualsQuery(db, 'frozen_st', QUERY);
    }, 30_000);
    console.info(
      `a frozen leader was replaced, and the table refreshed, ${Date.now() - frozenAt} ms after the standby started`,
    );
    const stale = b.logs().find((l) => l.event === 'leader-stale');
    expect(JSON.stringify(stale?.terminated)).toMatch(/pgtrickle (leader|sidecar) #/);

    // A continues: it commits nothing more and becomes a standby.
    a.child.kill('SIGCONT');
    await a.waitForLog('leadership-lost', 30_000);
    await client.query(`UPDATE sales SET amount = amount * 2 WHERE id % 9 = 0`);
    await eventually(() => expectTableEqualsQuery(db, 'frozen_st', QUERY), 30_000);
    expect(await holder()).toMatch(new RegExp(`:${b.pid}$`));

    b.child.kill('SIGTERM');
    a.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    expect((await a.exited).code).toBe(0);
  });

  it('a session holding the lease row: the standby logs what it waits for, and ends it once the lease is stale', async () => {
    const a = start();
    await a.waitForLog('leadership-acquired');
    const b = start();
    await b.waitForLog('started');
    const intruder = await db.client();
    intruder.on('error', () => undefined);
    await intruder.query('BEGIN');
    await intruder.query('SELECT epoch FROM pgtrickle.pgt_leader WHERE id = 1 FOR KEY SHARE');
    const intruderPid = Number((await intruder.query('SELECT pg_backend_pid() AS p')).rows[0]?.p);
    a.child.kill('SIGKILL');
    const waiting = await b.waitForLog('leader-takeover-waiting', 30_000);
    expect(JSON.stringify(waiting.blockers)).toContain(`"pid":${intruderPid}`);
    await b.waitForLog('leadership-acquired', 30_000, (l) => Number(l.epoch) > 0);
    expect(await holder()).toMatch(new RegExp(`:${b.pid}$`));
    const alive = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [
      intruderPid,
    ]);
    expect(Number(alive.rows[0]?.n)).toBe(0);
    await intruder.end().catch(() => undefined);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });
});

describe('the catalog dropped under a running sidecar', () => {
  it('stops it with one PGT_CATALOG_MISSING; doctor finds the triggers left; uninstall removes them', async () => {
    const a = start();
    await a.waitForLog('leadership-acquired');
    await client.query(`SELECT pgtrickle.create_stream_table('dropped_st', $1, '1s')`, [QUERY]);
    await eventually(async () => {
      const res = await client.query(
        `SELECT status FROM pgtrickle.pgt_status WHERE name = 'public.dropped_st'`,
      );
      expect(res.rows[0]?.status).toBe('ACTIVE');
    }, 30_000);
    await client.query('DROP SCHEMA pgtrickle CASCADE');
    const exit = await a.exited;
    expect(exit.code).toBe(1);
    expect(a.stderr().match(/PGT_CATALOG_MISSING/g)?.length).toBeGreaterThanOrEqual(1);
    expect(a.stderr()).toMatch(/pgtrickle run: PGT_CATALOG_MISSING: .*pgtrickle migrate/);
    // At most the tick in flight when the schema went failed; then it stopped (no loop).
    expect(a.logs().filter((l) => l.event === 'tick-failed').length).toBeLessThanOrEqual(1);
    expect(a.logs().filter((l) => l.event === 'service-failed')).toHaveLength(1);

    // Capture triggers are still on sales, filling a buffer nobody reads: doctor fails on it.
    const doctor = await runCli(['doctor', '--database-url', db.url]);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(
      /FAIL\s+capture\s+\d+ capture trigger\(s\) left without a catalog \(on sales\)/,
    );
    const refused = await runCli(['uninstall', '--database-url', db.url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/PGT_USAGE: uninstall would remove .* --yes/);
    const done = await runCli(['uninstall', '--database-url', db.url, '--yes']);
    expect(done.code).toBe(0);
    const triggers = await client.query(
      `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'sales'::regclass AND NOT tgisinternal`,
    );
    expect(Number(triggers.rows[0]?.n)).toBe(0);
    const after = await runCli(['doctor', '--database-url', db.url]);
    expect(after.code).toBe(0);
    expect(after.stdout).not.toMatch(/^\S+\s+capture\s/m);
    // A plain table of the query's columns is left.
    await expect(client.query('SELECT region, n, total FROM dropped_st')).resolves.toBeDefined();
  });
});

describe('run with the database unreachable at start', () => {
  it('retries, logging each attempt, until stopped', async () => {
    const port = await findFreePort();
    const p = startCli(['run', '--database-url', `postgres://u:p@127.0.0.1:${port}/none`]);
    processes.push(p);
    await p.waitForLog('database-unreachable', 30_000, (l) => l.attempt === 2);
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });

  it('gives up after connection.start_retry_s with PGT_CONNECTION', async () => {
    const port = await findFreePort();
    const r = await runCli([
      'run',
      '--database-url',
      `postgres://u:p@127.0.0.1:${port}/none`,
      '--start-retry-s',
      '2',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.match(/"event":"database-unreachable"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(r.stderr).toMatch(/pgtrickle run: PGT_CONNECTION: Cannot connect/);
  });
});

describe('doctor as a role without privileges', () => {
  it('reports each check that cannot run and goes on', async () => {
    const install = await runCli(['migrate', '--database-url', db.url]);
    expect(install.code).toBe(0);
    const role = `nopriv_${Math.random().toString(36).slice(2, 10)}`;
    await client.query(`DROP ROLE IF EXISTS ${role}`);
    await client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'nopriv'`);
    const u = new URL(db.url);
    u.username = role;
    u.password = 'nopriv';
    const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: u.toString(), PGTRICKLE_LOG_LEVEL: 'warn' } });
    const code = await main(['doctor', '--json'], io);
    expect(code).toBe(1);
    const results = JSON.parse(io.stdoutText()) as { check: string; status: string; message: string }[];
    expect(results.find((r) => r.check === 'connection')?.status).toBe('pass');
    const catalog = results.find((r) => r.check === 'catalog');
    expect(catalog?.status).toBe('fail');
    expect(catalog?.message).toMatch(/permission denied/);
    // It went on after the failing check.
    expect(results.map((r) => r.check)).toContain('wal_level');
    expect(io.stderrText()).toMatch(/PGT_DOCTOR_FAILED/);
    await client.query(`DROP ROLE ${role}`);
  });
});
