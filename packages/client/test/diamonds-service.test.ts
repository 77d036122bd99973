/**
 * Diamonds end to end (docs/refresh-control.md, "Diamonds"): a running service driven
 * only through the SQL API. Detected groups are visible in `pgtrickle.diamond_groups()` with their
 * convergence points and an epoch that advances on each atomic commit and survives DAG rebuilds;
 * a failing member rolls back every member of an atomic group; `diamond_consistency = 'none'`
 * makes members refresh independently (and says so); `diamond_schedule_policy` decides when a
 * group is due. No timed assertions: every wait is on a condition.
 */
import type { TickReport } from '@pgtrickle/scheduler';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrickleService } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db } = useTrickle();
let service: TrickleService;
const reports: TickReport[] = [];

async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() - start > timeoutMs) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function create(name: string, query: string, schedule = '1s', mode = 'AUTO'): Promise<void> {
  await db.query('SELECT pgtrickle.create_stream_table($1, $2, $3, $4)', [name, query, schedule, mode]);
  await eventually(async () => {
    const r = await db.query('SELECT status FROM pgtrickle.pgt_status WHERE name = $1', [`public.${name}`]);
    expect(r.rows[0]?.status).toBe('ACTIVE');
  });
}

async function ids(table: string): Promise<number[]> {
  return (await db.query(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => Number(r.id));
}

async function groupsOf(): Promise<
  Map<
    number,
    { members: string[]; convergence: string[]; epoch: number; policy: string; consistency: string }
  >
> {
  const rows = (await db.query('SELECT * FROM pgtrickle.diamond_groups()')).rows;
  const out = new Map<
    number,
    { members: string[]; convergence: string[]; epoch: number; policy: string; consistency: string }
  >();
  for (const r of rows) {
    const g = out.get(r.group_id) ?? {
      members: [] as string[],
      convergence: [] as string[],
      epoch: Number(r.epoch),
      policy: r.schedule_policy,
      consistency: r.consistency,
    };
    g.members.push(r.member_name);
    if (r.is_convergence) g.convergence.push(r.member_name);
    out.set(r.group_id, g);
  }
  return out;
}

async function groupWith(member: string) {
  const g = [...(await groupsOf()).values()].find((x) => x.members.includes(member));
  if (g === undefined) throw new Error(`no diamond group with ${member} yet`);
  return g;
}

async function pgtId(name: string): Promise<string> {
  return String(
    (await db.query('SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = $1', [name])).rows[0]
      ?.pgt_id,
  );
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE flags (name text PRIMARY KEY);
    CREATE FUNCTION guard(flag text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM flags WHERE name = flag) THEN RAISE EXCEPTION 'guard % is up', flag; END IF;
      RETURN true;
    END $$;
  `);
  service = await TrickleService.start({
    connectionString: db.url,
    pollIntervalMs: 100,
    holder: 'diamonds',
    retry: { baseMs: 100, maxMs: 400, suspendAfter: 1000 },
    onTick: (r) => {
      reports.push(r);
      if (reports.length > 500) reports.splice(0, 250);
    },
  });
});

afterAll(async () => {
  await service?.stop();
});

describe('diamond groups are visible (§6.5.1, 6, 7)', () => {
  it('lists B, C and D of A→B, A→C, B+C→D in one group with D as convergence, and no linear chain', async () => {
    await db.query(`CREATE TABLE a1 (id int PRIMARY KEY, v int); INSERT INTO a1 VALUES (1, 10), (2, 20);
                    CREATE TABLE l0 (id int PRIMARY KEY)`);
    await create('b1', 'SELECT id, v FROM a1');
    await create('c1', 'SELECT id, v * 2 AS w FROM a1');
    await create('d1', 'SELECT b1.id, b1.v, c1.w FROM b1 JOIN c1 USING (id)');
    await create('l1', 'SELECT id FROM l0');
    await create('l2', 'SELECT id FROM l1');
    const g = await eventually(() => groupWith('d1'));
    expect(g).toMatchObject({
      members: ['b1', 'c1', 'd1'],
      convergence: ['d1'],
      policy: 'fastest',
      consistency: 'atomic',
    });
    const all = [...(await groupsOf()).values()].flatMap((x) => x.members);
    expect(all).not.toContain('l1');
    expect(all).not.toContain('l2');
  });

  it('advances the epoch on each atomic commit and keeps it across DAG rebuilds', async () => {
    const before = (await groupWith('d1')).epoch;
    await db.query('INSERT INTO a1 VALUES (3, 30)');
    await eventually(async () => expect(await ids('d1')).toEqual([1, 2, 3]));
    const after = await eventually(async () => {
      const e = (await groupWith('d1')).epoch;
      expect(e).toBeGreaterThan(before);
      return e;
    });
    // A DAG change rewrites the groups; the epoch of an unchanged group survives it.
    await create('l3', 'SELECT id FROM l0');
    await eventually(async () => {
      const rows = await db.query(`SELECT count(*)::int AS n FROM pgtrickle.pgt_consistency_groups`);
      expect(rows.rows[0]?.n).toBeGreaterThan(0);
    });
    expect((await groupWith('d1')).epoch).toBeGreaterThanOrEqual(after);
  });

  it('makes D reading A and B = f(A) directly a group {B, D}', async () => {
    await db.query(`CREATE TABLE a6 (id int PRIMARY KEY, v int); INSERT INTO a6 VALUES (1, 1)`);
    await create('b6', 'SELECT id, v FROM a6');
    await create('d6', 'SELECT a6.id, a6.v, b6.v AS bv FROM a6 JOIN b6 USING (id)');
    expect(await eventually(() => groupWith('d6'))).toMatchObject({
      members: ['b6', 'd6'],
      convergence: ['d6'],
    });
  });

  it('merges two diamonds sharing an intermediate into one group', async () => {
    await db.query(`CREATE TABLE a7 (id int PRIMARY KEY, v int); INSERT INTO a7 VALUES (1, 1)`);
    await create('b7', 'SELECT id, v FROM a7');
    await create('c7', 'SELECT id, v + 1 AS w FROM a7');
    await create('d7', 'SELECT b7.id, b7.v, c7.w FROM b7 JOIN c7 USING (id)');
    await create('g7', 'SELECT id, v + 2 AS x FROM a7');
    await create('f7', 'SELECT b7.id, g7.x FROM b7 JOIN g7 USING (id)');
    const g = await eventually(async () => {
      const x = await groupWith('f7');
      expect(x.members).toHaveLength(5);
      return x;
    });
    expect([...g.members].sort()).toEqual(['b7', 'c7', 'd7', 'f7', 'g7']);
    expect([...g.convergence].sort()).toEqual(['d7', 'f7']);
    expect((await groupWith('d7')).members).toEqual(g.members);
  });
});

describe('an atomic group is all or nothing (§6.5.2)', () => {
  it('rolls back B and D when C fails after B in the same unit, then converges', async () => {
    await db.query(`CREATE TABLE a2 (id int PRIMARY KEY, v int); INSERT INTO a2 VALUES (1, 10)`);
    await create('b2', 'SELECT id, v FROM a2');
    await create('c2', `SELECT id, v * 2 AS w FROM a2 WHERE guard('c2')`, '1s', 'FULL');
    await create('d2', 'SELECT b2.id, b2.v, c2.w FROM b2 JOIN c2 USING (id)');
    await eventually(() => groupWith('d2'));
    // B refreshes before C in the unit.
    const order = await db.query(
      `SELECT member_ids::text[] AS m FROM pgtrickle.pgt_consistency_groups WHERE $1::bigint = ANY (member_ids)`,
      [await pgtId('d2')],
    );
    const members: string[] = order.rows[0]?.m;
    expect(members.indexOf(await pgtId('b2'))).toBeLessThan(members.indexOf(await pgtId('c2')));

    await db.query(`INSERT INTO flags VALUES ('c2')`);
    await db.query('INSERT INTO a2 VALUES (2, 20)');
    await eventually(async () => {
      const r = await db.query(
        `SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_log WHERE name = 'public.c2' AND status = 'FAILED' AND error LIKE '%guard c2 is up%'`,
      );
      expect(r.rows[0]?.n).toBeGreaterThan(1); // failed, and failed again on retry
    });
    expect(await ids('b2')).toEqual([1]);
    expect(await ids('c2')).toEqual([1]);
    expect(await ids('d2')).toEqual([1]);
    await db.query(`DELETE FROM flags WHERE name = 'c2'`);
    await eventually(async () => expect(await ids('d2')).toEqual([1, 2]));
    expect(await ids('b2')).toEqual([1, 2]);
    expect(await ids('c2')).toEqual([1, 2]);
    await expectTableEqualsQuery(db, 'd2', 'SELECT b2.id, b2.v, c2.w FROM b2 JOIN c2 USING (id)');
  });
});

describe("diamond_consistency = 'none' (§6.5.3)", () => {
  it('says so, shows the group as not atomic, and lets B keep its new state when C fails', async () => {
    await db.query(`CREATE TABLE a3 (id int PRIMARY KEY, v int); INSERT INTO a3 VALUES (1, 10)`);
    await create('b3', 'SELECT id, v FROM a3');
    await create('c3', `SELECT id, v * 2 AS w FROM a3 WHERE guard('c3')`, '1s', 'FULL');
    await create('d3', 'SELECT b3.id, b3.v, c3.w FROM b3 JOIN c3 USING (id)');
    await eventually(() => groupWith('d3'));
    const client = new pg.Client(db.url);
    await client.connect();
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    try {
      await client.query(`SELECT pgtrickle.alter_stream_table('d3', diamond_consistency => 'none')`);
    } finally {
      await client.end();
    }
    expect(notices).toEqual([
      expect.stringContaining("convergence point: with diamond_consistency = 'none'"),
    ]);
    await eventually(async () => expect((await groupWith('d3')).consistency).toBe('none'));

    await db.query(`INSERT INTO flags VALUES ('c3')`);
    await db.query('INSERT INTO a3 VALUES (2, 20)');
    await eventually(async () => expect(await ids('b3')).toEqual([1, 2]));
    await eventually(async () => {
      const r = await db.query(
        `SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_log WHERE name = 'public.c3' AND status = 'FAILED'`,
      );
      expect(r.rows[0]?.n).toBeGreaterThan(0);
    });
    expect(await ids('c3')).toEqual([1]);
    await db.query(`DELETE FROM flags WHERE name = 'c3'`);
    await eventually(async () => expect(await ids('d3')).toEqual([1, 2]));
  });
});

describe('diamond_schedule_policy (§6.5.4, 5)', () => {
  it("'fastest' refreshes C more often than its schedule; 'slowest' waits for every member", async () => {
    await db.query(`CREATE TABLE a4 (id int PRIMARY KEY, v int); INSERT INTO a4 VALUES (1, 10)`);
    await create('b4', 'SELECT id, v FROM a4', '1s');
    await create('c4', 'SELECT id, v * 2 AS w FROM a4', '1h');
    await create('d4', 'SELECT b4.id, b4.v, c4.w FROM b4 JOIN c4 USING (id)', '1s');
    await eventually(() => groupWith('d4'));
    // fastest (the default): B is due, so the whole group refreshes, C long before its hour.
    await db.query('INSERT INTO a4 VALUES (2, 20)');
    await eventually(async () => expect(await ids('c4')).toEqual([1, 2]));
    expect(await ids('d4')).toEqual([1, 2]);

    await db.query(`SELECT pgtrickle.alter_stream_table('d4', diamond_schedule_policy => 'slowest')`);
    await eventually(async () => expect((await groupWith('d4')).policy).toBe('slowest'));
    const b4 = await pgtId('b4');
    const seen = reports.length;
    await db.query('INSERT INTO a4 VALUES (3, 30)');
    // A tick in which B was due with the change pending, and the group was held for C's schedule.
    await eventually(async () => {
      const held = reports
        .slice(seen)
        .some((r) =>
          r.units.some(
            (u) =>
              u.members.includes(b4) &&
              u.outcome === 'skipped' &&
              u.gate === 'schedule' &&
              /slowest/.test(u.reason ?? '') &&
              u.verdicts.some((v) => v.streamTable === b4 && v.decision.kind === 'proceed'),
          ),
        );
      expect(held).toBe(true);
    });
    expect(await ids('b4')).toEqual([1, 2]);
    expect(await ids('c4')).toEqual([1, 2]);

    // 'slowest' requires 'atomic'; bad values are refused.
    await expect(
      db.query(`SELECT pgtrickle.alter_stream_table('d4', diamond_consistency => 'none')`),
    ).rejects.toThrow("diamond_schedule_policy = 'slowest' requires diamond_consistency = 'atomic'");
    await expect(
      db.query(`SELECT pgtrickle.alter_stream_table('d4', diamond_schedule_policy => 'sometimes')`),
    ).rejects.toThrow("diamond_schedule_policy must be 'fastest' or 'slowest'");
    await expect(
      db.query(`SELECT pgtrickle.alter_stream_table('d4', diamond_consistency => 'maybe')`),
    ).rejects.toThrow("diamond_consistency must be 'none' or 'atomic'");

    await db.query(`SELECT pgtrickle.alter_stream_table('d4', diamond_schedule_policy => 'fastest')`);
    await eventually(async () => expect(await ids('d4')).toEqual([1, 2, 3]));
    expect(await ids('c4')).toEqual([1, 2, 3]);
  });
});
