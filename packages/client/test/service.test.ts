/**
 * The service in-process: the SQL API (requests recorded, executed by the leader, PENDING →
 * ACTIVE or ERROR), tables converging on their schedules, wake-ups, leadership with fencing and
 * takeover.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Leadership, TrickleService } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db } = useTrickle();
const services: TrickleService[] = [];

async function eventually(check: () => Promise<void>, timeoutMs = 15_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await check();
      return Date.now() - start;
    } catch (error) {
      if (Date.now() - start > timeoutMs) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function statusOf(name: string): Promise<{ status: string; last_error: string | null } | undefined> {
  const res = await db.query<{ status: string; last_error: string | null }>(
    'SELECT status, last_error FROM pgtrickle.pgt_status WHERE name = $1',
    [name],
  );
  return res.rows[0];
}

beforeAll(async () => {
  await db.query(`CREATE TABLE sales (id int PRIMARY KEY, region text, amount int);
                  INSERT INTO sales SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 100) g`);
});
afterAll(async () => {
  for (const s of services) await s.stop();
});

describe('the SQL API and the scheduler', () => {
  it('creates a stream table requested in SQL and keeps it fresh on schedule', async () => {
    const svc = await TrickleService.start({
      connectionString: db.url,
      pollIntervalMs: 200,
      holder: 'svc-a',
    });
    services.push(svc);
    const id = await db.query(
      `SELECT pgtrickle.create_stream_table('public.by_region', 'SELECT region, sum(amount) AS total, count(*) AS n FROM sales GROUP BY region', '1s', 'DIFFERENTIAL') AS id`,
    );
    expect(Number(id.rows[0]?.id)).toBeGreaterThan(0);
    await eventually(async () => expect((await statusOf('public.by_region'))?.status).toBe('ACTIVE'));
    const oracle = 'SELECT region, sum(amount) AS total, count(*) AS n FROM sales GROUP BY region';
    await expectTableEqualsQuery(db, 'by_region', oracle);
    await db.query(
      `UPDATE sales SET amount = amount * 2 WHERE id % 3 = 0; INSERT INTO sales VALUES (1000, 'apac', 5)`,
    );
    await eventually(() => expectTableEqualsQuery(db, 'by_region', oracle));
    const log = await db.query(
      `SELECT action FROM pgtrickle.pgt_refresh_log WHERE name = 'public.by_region' AND initiated_by = 'SCHEDULER'`,
    );
    expect(log.rows.some((r) => r.action === 'DIFFERENTIAL')).toBe(true);
  });

  it('reports a request that fails as FAILED with the message, and never as a stream table', async () => {
    await db.query(`SELECT pgtrickle.create_stream_table('broken_st', 'SELECT nope FROM sales')`);
    const logged = async () =>
      (await db.query(`SELECT status, error FROM pgtrickle.pgt_request_log WHERE name = 'public.broken_st'`))
        .rows[0];
    await eventually(async () => expect((await logged())?.status).toBe('FAILED'));
    expect((await logged())?.error).toMatch(/"nope" does not exist/);
    // status shows stream tables (and pending creates), not a create that failed: drop would say NOT_FOUND.
    expect(await statusOf('public.broken_st')).toBeUndefined();
  });

  it('validates what it can right away', async () => {
    await expect(db.query(`SELECT pgtrickle.create_stream_table('sales', 'SELECT 1')`)).rejects.toThrow(
      /already exists/,
    );
    await expect(
      db.query(`SELECT pgtrickle.create_stream_table('x1', 'SELECT 1 FROM sales', 'soon')`),
    ).rejects.toThrow(/not a schedule/);
    await expect(
      db.query(`SELECT pgtrickle.create_stream_table('x3', 'SELECT 1 FROM sales', '-1s')`),
    ).rejects.toThrow(/not a schedule/);
    await expect(
      db.query(`SELECT pgtrickle.create_stream_table('x2', 'SELECT 1 FROM sales', '5s', 'SOMETIMES')`),
    ).rejects.toThrow(/refresh mode must be/);
    await expect(db.query(`SELECT pgtrickle.drop_stream_table('ghost')`)).rejects.toThrow(/no stream table/);
    await expect(db.query(`SELECT pgtrickle.create_stream_table('a.b.c', 'SELECT 1')`)).rejects.toThrow(
      /invalid stream table name/,
    );
  });

  it('keeps sub-second and as-soon-as-possible schedules', async () => {
    const q = 'SELECT region, count(*) AS n FROM sales GROUP BY region';
    for (const [name, schedule] of [
      ['asap', '0s'],
      ['quarter', '250ms'],
    ] as const) {
      await db.query(`SELECT pgtrickle.create_stream_table($1, $2, $3, 'DIFFERENTIAL')`, [name, q, schedule]);
      await eventually(async () => expect((await statusOf(`public.${name}`))?.status).toBe('ACTIVE'));
      const r = await db.query(`SELECT schedule FROM pgtrickle.pgt_status WHERE name = $1`, [
        `public.${name}`,
      ]);
      expect(r.rows[0]?.schedule).toBe(schedule);
    }
    // Several writes in a row, each applied: the table follows every one of them.
    for (let i = 0; i < 3; i++) {
      await db.query(`INSERT INTO sales VALUES (${5000 + i}, 'r${i}', 1)`);
      await eventually(() => expectTableEqualsQuery(db, 'asap', q));
      await eventually(() => expectTableEqualsQuery(db, 'quarter', q));
    }
    await db.query(`SELECT pgtrickle.drop_stream_table('asap'), pgtrickle.drop_stream_table('quarter')`);
  });

  it('alters, refreshes and drops through SQL', async () => {
    await db.query(`SELECT pgtrickle.alter_stream_table('by_region', schedule => '2s')`);
    await eventually(async () => {
      const r = await db.query(`SELECT schedule FROM pgtrickle.pgt_status WHERE name = 'public.by_region'`);
      expect(r.rows[0]?.schedule).toBe('2s');
    });
    await db.query(`SELECT pgtrickle.refresh_stream_table('by_region')`);
    await db.query(`SELECT pgtrickle.drop_stream_table('by_region')`);
    await eventually(async () => expect(await statusOf('public.by_region')).toBeUndefined());
  });
});

describe('leadership', () => {
  it('lets exactly one service lead, and a new epoch leads when the leader dies', async () => {
    const a = services[0] as TrickleService;
    const b = await TrickleService.start({ connectionString: db.url, pollIntervalMs: 200, holder: 'svc-b' });
    services.push(b);
    await new Promise((r) => setTimeout(r, 600));
    expect([a.leading, b.leading].filter(Boolean)).toHaveLength(1);
    const leader = a.leading ? a : b;
    const before = Number((await db.query('SELECT epoch FROM pgtrickle.pgt_leader')).rows[0]?.epoch);

    // The leader's lock connection dies. Both services poll: the standby, or the old leader on a new
    // connection, takes the lead under a new epoch (which one wins is a race the services may run
    // either way; the Leadership test below pins the standby's takeover without the dead one).
    await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [
      `pgtrickle leader #${leader.tag}`,
    ]);
    await eventually(async () => {
      const now = await db.query('SELECT epoch, holder FROM pgtrickle.pgt_leader');
      expect(Number(now.rows[0]?.epoch)).toBeGreaterThan(before);
      const leading = [a, b].filter((s) => s.leading);
      expect(leading).toHaveLength(1);
      expect(now.rows[0]?.holder).toBe(leading[0] === a ? 'svc-a' : 'svc-b');
    });

    // The new leader keeps tables fresh.
    await db.query(
      `SELECT pgtrickle.create_stream_table('after_failover', 'SELECT id, amount FROM sales WHERE amount > 50', '1s', 'DIFFERENTIAL')`,
    );
    await eventually(async () => expect((await statusOf('public.after_failover'))?.status).toBe('ACTIVE'));
    await db.query('UPDATE sales SET amount = 51 WHERE id = 1');
    await eventually(() =>
      expectTableEqualsQuery(db, 'after_failover', 'SELECT id, amount FROM sales WHERE amount > 50'),
    );
  });

  it('hands the lead to a standby when the leader dies without releasing it', async () => {
    for (const s of services.splice(0)) await s.stop();
    const dead = new Leadership({ connectionString: db.url, holder: 'dead' });
    const standby = new Leadership({ connectionString: db.url, holder: 'standby' });
    let lost = false;
    dead.onLost = () => {
      lost = true;
    };
    try {
      expect(await dead.tryAcquire()).toBe(true);
      const first = dead.epoch as number;
      expect(await standby.tryAcquire()).toBe(false);
      // The leader's process dies: its dedicated connection is terminated and it never tries again.
      await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [
        `pgtrickle leader #${dead.tag}`,
      ]);
      await eventually(async () => expect(await standby.tryAcquire()).toBe(true));
      expect(standby.epoch).toBeGreaterThan(first);
      const row = await db.query('SELECT epoch, holder FROM pgtrickle.pgt_leader');
      expect(row.rows[0]).toMatchObject({ holder: 'standby' });
      expect(Number(row.rows[0]?.epoch)).toBe(standby.epoch);
      await eventually(async () => expect(lost).toBe(true));
      expect(dead.leading).toBe(false);
    } finally {
      await standby.release();
      await dead.release();
    }
  });

  it('fences a leader whose epoch was superseded: it cannot commit', async () => {
    const l1 = new Leadership({ connectionString: db.url, holder: 'l1' });
    expect(await l1.tryAcquire()).toBe(true);
    const mine = l1.epoch as number;
    const conn = await db.pool.connect();
    try {
      await conn.query('BEGIN');
      await l1.fence(conn); // still the leader
      await conn.query('COMMIT');
      await db.query('UPDATE pgtrickle.pgt_leader SET epoch = epoch + 1'); // a new leader took over
      await conn.query('BEGIN');
      await expect(l1.fence(conn)).rejects.toThrow(new RegExp(`epoch ${mine} was superseded`));
      await conn.query('ROLLBACK');
      expect(l1.leading).toBe(false);
    } finally {
      conn.release();
      await l1.release();
    }
  });
});
