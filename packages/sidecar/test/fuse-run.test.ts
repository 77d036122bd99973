/**
 * The fuse and a diamond through the real `pgtrickle run` process, driven only through the SQL
 * API as an ETL job would: a bulk delete above the ceiling blows the fuse of a diamond member —
 * the member and every other member of its atomic group keep their contents, one `fuse_blown`
 * alert arrives, the holds are in pgt_status and the history; `reset_fuse(…, 'apply')` lets the
 * batch through once and every table equals its query again.
 */
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, eventually, killAll, startCli } from './support/process.js';

const db = useTestDatabase();
const processes: CliProcess[] = [];
const alerts: Record<string, unknown>[] = [];
let listener: pg.Client;

const TABLES = {
  b: 'SELECT id, v FROM src WHERE v % 2 = 0',
  c: 'SELECT id, v FROM src WHERE v % 3 = 0',
  d: 'SELECT b.id, b.v FROM b JOIN c ON c.id = b.id',
} as const;

async function contents(name: string): Promise<unknown[]> {
  return (await db.query(`SELECT * FROM ${name} ORDER BY 1`)).rows;
}

beforeAll(async () => {
  listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  listener.on('notification', (n) => alerts.push(JSON.parse(n.payload ?? '{}') as Record<string, unknown>));
  await listener.query('LISTEN pgtrickle_alert');
});

afterAll(async () => {
  await killAll(processes);
  await listener?.end();
});

describe('pgtrickle run with a fuse on a diamond member', () => {
  it('holds the whole diamond on a blown fuse, alerts once, and applies the batch after reset_fuse', async () => {
    const run = startCli([
      'run',
      '--database-url',
      db.url,
      '--poll-interval-ms',
      '200',
      '--log-format',
      'json',
    ]);
    processes.push(run);
    await run.waitForLog('leadership-acquired');
    await db.query(`CREATE TABLE src (id int PRIMARY KEY, v int NOT NULL);
                    INSERT INTO src SELECT g, g FROM generate_series(1, 600) g`);
    for (const [name, query] of Object.entries(TABLES))
      await db.query(`SELECT pgtrickle.create_stream_table($1, $2, '1s', 'DIFFERENTIAL')`, [name, query]);
    await eventually(async () => {
      const r = await db.query(`SELECT count(*)::int AS n FROM pgtrickle.pgt_status WHERE status = 'ACTIVE'`);
      expect(r.rows[0]?.n).toBe(3);
    });
    await eventually(async () => {
      const groups = await db.query(
        `SELECT member_name FROM pgtrickle.diamond_groups() ORDER BY member_name`,
      );
      expect(groups.rows.map((r) => r.member_name)).toEqual(['b', 'c', 'd']);
    });
    await db.query(`SELECT pgtrickle.alter_stream_table('c', fuse => 'on', fuse_ceiling => 100)`);

    const before = { b: await contents('b'), c: await contents('c'), d: await contents('d') };
    await db.query('DELETE FROM src WHERE id > 100'); // 500 rows: above c's ceiling
    await eventually(async () => {
      const r = await db.query(
        `SELECT table_name, hold_gate FROM pgtrickle.pgt_status WHERE table_name IN ('b', 'c', 'd') ORDER BY 1`,
      );
      expect(r.rows.map((x) => x.hold_gate)).toEqual(['fuse', 'fuse', 'fuse']);
    });
    const fuse = await db.query(
      `SELECT fuse_state, blow_reason FROM pgtrickle.fuse_status() WHERE stream_table = 'public.c'`,
    );
    expect(fuse.rows[0]?.fuse_state).toBe('blown');
    expect(fuse.rows[0]?.blow_reason).toMatch(/exceeded ceiling \(100\)/);
    for (const name of ['b', 'c', 'd'] as const) expect(await contents(name)).toEqual(before[name]);
    await eventually(async () => expect(alerts.filter((a) => a.event === 'fuse_blown')).toHaveLength(1));
    expect(alerts.find((a) => a.event === 'fuse_blown')?.stream_table).toBe('public.c');

    await db.query(`SELECT pgtrickle.reset_fuse('c', 'apply')`);
    await eventually(async () => {
      for (const [name, query] of Object.entries(TABLES)) await expectTableEqualsQuery(db, name, query);
    });
    const after = await db.query(
      `SELECT fuse_state FROM pgtrickle.fuse_status() WHERE stream_table = 'public.c'`,
    );
    expect(after.rows[0]?.fuse_state).toBe('armed');
    expect(alerts.filter((a) => a.event === 'fuse_blown')).toHaveLength(1);
    const skips = await db.query(
      `SELECT name FROM pgtrickle.pgt_refresh_log WHERE action = 'SKIP' AND gate = 'fuse' ORDER BY name`,
    );
    expect([...new Set(skips.rows.map((r) => r.name))]).toEqual(['public.b', 'public.c', 'public.d']);
  });
});
