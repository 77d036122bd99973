/**
 * Failover with real processes: two `pgtrickle run` on one database, exactly one leads (the lease
 * row's holder is `<hostname>:<pid>`); SIGKILL the leader and the other takes over and keeps the
 * stream tables fresh within 10 s.
 */
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, eventually, killAll, startCli } from './support/process.js';

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
  await killAll(processes);
});

async function holder(): Promise<string | null> {
  const res = await client.query('SELECT holder FROM pgtrickle.pgt_leader WHERE id = 1');
  return (res.rows[0]?.holder as string | null) ?? null;
}

describe('two sidecars', () => {
  it('hand over within 10 s when the leader is killed, and the tables stay fresh', async () => {
    const start = () => {
      const p = startCli(['run', '--database-url', db.url, '--poll-interval-ms', '200']);
      processes.push(p);
      return p;
    };
    const a = start();
    const b = start();
    await Promise.all([a.waitForLog('started'), b.waitForLog('started')]);
    await client.query(`SELECT pgtrickle.create_stream_table('by_region', $1, '1s', 'DIFFERENTIAL')`, [
      QUERY,
    ]);
    await eventually(() => expectTableEqualsQuery(db, 'by_region', QUERY), 60_000);

    // Exactly one leads, and the lease row names it by host and pid.
    const current = await holder();
    const pid = Number(String(current).split(':').at(-1));
    expect([a.pid, b.pid]).toContain(pid);
    const leader = pid === a.pid ? a : b;
    const standby = leader === a ? b : a;
    expect(leader.logs().some((l) => l.event === 'leadership-acquired')).toBe(true);
    expect(standby.logs().some((l) => l.event === 'leadership-acquired')).toBe(false);
    await standby.waitForLog('standby', 10_000);

    leader.child.kill('SIGKILL');
    const killedAt = Date.now();
    await client.query(
      `UPDATE sales SET amount = amount + 1000 WHERE id % 7 = 0; INSERT INTO sales VALUES (1000, 'new region', 5)`,
    );
    await eventually(async () => {
      expect(await holder()).toMatch(new RegExp(`:${standby.pid}$`));
      await expectTableEqualsQuery(db, 'by_region', QUERY);
    }, 10_000);
    const took = Date.now() - killedAt;
    console.info(`the standby took over and refreshed ${took} ms after the leader was killed`);
    expect(took).toBeLessThan(10_000);
    expect(standby.logs().some((l) => l.event === 'leadership-acquired')).toBe(true);
    const refreshedBy = await client.query(
      `SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_log WHERE name = 'public.by_region' AND initiated_by = 'SCHEDULER' AND finished_at > now() - interval '10 seconds'`,
    );
    expect(Number(refreshedBy.rows[0]?.n)).toBeGreaterThan(0);

    standby.child.kill('SIGTERM');
    expect((await standby.exited).code).toBe(0);
  });
});
