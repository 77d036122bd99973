/**
 * Declared refresh groups and the tick bound end to end (docs/refresh-control.md, "Refresh groups" and
 * "The tick bound"): a running service driven only through the SQL API (the
 * tick reports are only read, to know which refreshes ran in one unit or one tick). A slow member
 * is made slow by a lock the test holds, never by timing: a commit lands while the unit (or the
 * tick) is provably under way, and the test checks who saw it.
 */
import type { TickReport, UnitReport } from '@pgtrickle/scheduler';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrickleService } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
let service: TrickleService | null = null;
let reports: TickReport[] = [];
let locker: pg.Client;

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

async function startService(options: { tickBound: boolean; concurrency?: number }): Promise<void> {
  await service?.stop();
  reports = [];
  service = await TrickleService.start({
    connectionString: db.url,
    pollIntervalMs: 100,
    holder: `groups-${options.tickBound}`,
    tickBound: options.tickBound,
    concurrency: options.concurrency ?? 4,
    retry: { baseMs: 100, maxMs: 400, suspendAfter: 1000 },
    onTick: (r) => reports.push(r),
  });
}

async function create(name: string, query: string, mode = 'AUTO'): Promise<string> {
  await db.query('SELECT pgtrickle.create_stream_table($1, $2, $3, $4)', [name, query, '1s', mode]);
  return eventually(async () => {
    const r = await db.query(
      `SELECT s.pgt_id FROM pgtrickle.pgt_status p JOIN pgtrickle.pgt_stream_tables s USING (schema_name, table_name)
        WHERE p.name = $1 AND p.status = 'ACTIVE'`,
      [`public.${name}`],
    );
    expect(r.rows).toHaveLength(1);
    return String(r.rows[0]?.pgt_id);
  });
}

async function ids(table: string): Promise<number[]> {
  return (await db.query(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => Number(r.id));
}

/** Waits until a session waits for advisory lock `key` (the slow member's statement is under way). */
async function waiterOn(key: number): Promise<void> {
  await eventually(async () => {
    const r = await db.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`,
      [key],
    );
    expect(r.rows[0]?.n).toBeGreaterThan(0);
  });
}

/** The refreshed unit (and its tick) in which `member` refreshed inserting `rows` rows. */
function refreshedUnit(member: string, rows: number): { tick: TickReport; unit: UnitReport } {
  for (const tick of reports) {
    for (const unit of tick.units) {
      if (unit.outcome !== 'refreshed') continue;
      if (unit.results?.some((r) => r.id === member && r.rowsInserted === rows)) return { tick, unit };
    }
  }
  throw new Error(`no refresh of ${member} inserting ${rows} rows yet`);
}

function inserted(unit: UnitReport, member: string): number | undefined {
  return unit.results?.find((r) => r.id === member)?.rowsInserted;
}

async function declaredGroupPlanned(name: string): Promise<void> {
  await eventually(async () => {
    const r = await db.query(`SELECT 1 FROM pgtrickle.pgt_consistency_groups WHERE group_key = $1`, [
      `declared:${name}`,
    ]);
    expect(r.rows).toHaveLength(1);
  });
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE flags (name text PRIMARY KEY);
    CREATE FUNCTION guard(flag text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM flags WHERE name = flag) THEN RAISE EXCEPTION 'guard % is up', flag; END IF;
      RETURN true;
    END $$;
    CREATE FUNCTION slow(k int) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      PERFORM pg_advisory_lock_shared(k);
      PERFORM pg_advisory_unlock_shared(k);
      RETURN true;
    END $$;
  `);
  locker = new pg.Client(db.url);
  await locker.connect();
});

afterAll(async () => {
  await service?.stop();
  await locker?.end();
});

describe('declared refresh groups (§7.5.1, 2, 4), without the tick bound', () => {
  beforeAll(() => startService({ tickBound: false }));

  it('repeatable_read: a commit landing after the unit began is visible to no member; the next tick picks it up', async () => {
    await db.query('CREATE TABLE rb1 (id int PRIMARY KEY); CREATE TABLE rc1 (id int PRIMARY KEY)');
    const b = await create('rb2', 'SELECT id FROM rb1 WHERE slow(71)', 'FULL');
    const c = await create('rc2', 'SELECT id FROM rc1');
    await db.query(`SELECT pgtrickle.create_refresh_group('rr', ARRAY['rb2', 'rc2'], 'repeatable_read')`);
    await declaredGroupPlanned('rr');
    await locker.query('SELECT pg_advisory_lock(71)');
    await db.query('INSERT INTO rb1 VALUES (1); INSERT INTO rc1 VALUES (1)');
    await waiterOn(71);
    await db.query('INSERT INTO rc1 VALUES (2)'); // lands after the unit began
    await locker.query('SELECT pg_advisory_unlock(71)');
    const { unit } = await eventually(async () => refreshedUnit(b, 1));
    expect(unit.members).toEqual([b, c]);
    expect(inserted(unit, c)).toBe(1); // row 1 only
    await eventually(async () => expect(await ids('rc2')).toEqual([1, 2]));
  });

  it('read_committed: the same commit is visible to the later member', async () => {
    await db.query('CREATE TABLE kb1 (id int PRIMARY KEY); CREATE TABLE kc1 (id int PRIMARY KEY)');
    const b = await create('kb2', 'SELECT id FROM kb1 WHERE slow(72)', 'FULL');
    const c = await create('kc2', 'SELECT id FROM kc1');
    await db.query(`SELECT pgtrickle.create_refresh_group('rc', ARRAY['kb2', 'kc2'])`);
    await declaredGroupPlanned('rc');
    await locker.query('SELECT pg_advisory_lock(72)');
    await db.query('INSERT INTO kb1 VALUES (1); INSERT INTO kc1 VALUES (1)');
    await waiterOn(72);
    await db.query('INSERT INTO kc1 VALUES (2)');
    await locker.query('SELECT pg_advisory_unlock(72)');
    const { unit } = await eventually(async () => refreshedUnit(b, 1));
    expect(unit.members).toEqual([b, c]);
    expect(inserted(unit, c)).toBe(2);
  });

  it('a failing member rolls back the other; both retry and converge', async () => {
    await db.query('CREATE TABLE fb1 (id int PRIMARY KEY); CREATE TABLE fc1 (id int PRIMARY KEY)');
    await create('fb2', 'SELECT id FROM fb1');
    await create('fc2', `SELECT id FROM fc1 WHERE guard('fc2')`, 'FULL');
    await db.query(`SELECT pgtrickle.create_refresh_group('fail', ARRAY['fb2', 'fc2'], 'repeatable_read')`);
    await declaredGroupPlanned('fail');
    await db.query(`INSERT INTO flags VALUES ('fc2')`);
    await db.query('INSERT INTO fb1 VALUES (1); INSERT INTO fc1 VALUES (1)');
    await eventually(async () => {
      const r = await db.query(
        `SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_log WHERE name = 'public.fc2' AND status = 'FAILED'`,
      );
      expect(r.rows[0]?.n).toBeGreaterThan(1);
    });
    expect(await ids('fb2')).toEqual([]);
    await db.query(`DELETE FROM flags WHERE name = 'fc2'`);
    await eventually(async () => expect(await ids('fc2')).toEqual([1]));
    expect(await ids('fb2')).toEqual([1]);
  });

  it('merges a repeatable_read group overlapping a detected diamond into one unit at repeatable read', async () => {
    await db.query(
      'CREATE TABLE ma (id int PRIMARY KEY, v int); CREATE TABLE me (id int PRIMARY KEY); INSERT INTO ma VALUES (1, 1)',
    );
    const b = await create('mb', 'SELECT id, v FROM ma');
    const c = await create('mc', 'SELECT id, v + 1 AS w FROM ma');
    const d = await create('md', 'SELECT mb.id, mb.v, mc.w FROM mb JOIN mc USING (id)');
    const e = await create('mee', 'SELECT id FROM me');
    await db.query(`SELECT pgtrickle.create_refresh_group('m', ARRAY['md', 'mee'], 'repeatable_read')`);
    const stored = await eventually(async () => {
      const r = await db.query(
        `SELECT origin, isolation, member_ids::text[] AS m FROM pgtrickle.pgt_consistency_groups WHERE $1::bigint = ANY (member_ids)`,
        [e],
      );
      expect(r.rows[0]?.origin).toBe('merged');
      return r.rows[0] as { isolation: string; m: string[] };
    });
    expect(stored.isolation).toBe('repeatable_read');
    expect([...stored.m].sort()).toEqual([b, c, d, e].sort());
    const listed = (
      await db.query('SELECT group_id, member_name FROM pgtrickle.diamond_groups()')
    ).rows.filter((r) => ['mb', 'mc', 'md', 'mee'].includes(r.member_name));
    expect(new Set(listed.map((r) => r.group_id)).size).toBe(1);
    expect(listed).toHaveLength(4);
    await db.query('INSERT INTO ma VALUES (2, 2); INSERT INTO me VALUES (1)');
    const { unit } = await eventually(async () => refreshedUnit(e, 1));
    expect([...unit.members].sort()).toEqual([b, c, d, e].sort());
  });
});

describe('the tick bound (§7.5.5)', () => {
  beforeAll(() => startService({ tickBound: true, concurrency: 1 }));

  it('makes a commit landing mid-tick visible to no refresh of that tick; the next tick picks it up', async () => {
    await db.query('CREATE TABLE tp (id int PRIMARY KEY); CREATE TABLE tq (id int PRIMARY KEY)');
    const x = await create('tx', 'SELECT id FROM tp WHERE slow(75)', 'FULL');
    const y = await create('ty', 'SELECT id FROM tq');
    // Both are due (their schedules passed; only "nothing pending" holds them).
    const seen = reports.length;
    await eventually(async () => {
      const due = (id: string) =>
        reports
          .slice(seen)
          .some((r) => r.units.some((u) => u.members.includes(id) && u.gate === 'upstream-changes'));
      expect(due(x) && due(y)).toBe(true);
    });
    await locker.query('SELECT pg_advisory_lock(75)');
    await db.query('INSERT INTO tp VALUES (1); INSERT INTO tq VALUES (1)');
    await waiterOn(75);
    await db.query('INSERT INTO tq VALUES (2)'); // lands mid-tick
    await locker.query('SELECT pg_advisory_unlock(75)');
    const { tick } = await eventually(async () => refreshedUnit(x, 1));
    // y refreshed in the same tick, after x's slow refresh (concurrency 1), and saw only row 1.
    const yUnit = tick.units.find((u) => u.members.includes(y) && u.outcome === 'refreshed');
    expect(yUnit).toBeDefined();
    expect(tick.units.indexOf(yUnit as UnitReport)).toBeGreaterThan(
      tick.units.findIndex((u) => u.members.includes(x)),
    );
    expect(inserted(yUnit as UnitReport, y)).toBe(1);
    // Both history rows record the tick's snapshot: one snapshot for the whole tick.
    const snaps = await db.query(
      `SELECT DISTINCT read_snapshot::text AS s FROM pgtrickle.pgt_refresh_log
        WHERE name IN ('public.tx', 'public.ty') AND initiated_by = 'SCHEDULER' AND rows_inserted = 1`,
    );
    expect(snaps.rows).toHaveLength(1);
    expect(snaps.rows[0]?.s).toMatch(/^\d+:\d+:/);
    await eventually(async () => expect(await ids('ty')).toEqual([1, 2]));
  });

  it('classifies the serialization failure of a table refreshed by hand mid-tick as transient', async () => {
    await db.query('CREATE TABLE up (id int PRIMARY KEY); CREATE TABLE uq (id int PRIMARY KEY)');
    const x = await create('ux', 'SELECT id FROM up WHERE slow(76)', 'FULL');
    const y = await create('uy', 'SELECT id FROM uq');
    const seen = reports.length;
    await eventually(async () => {
      const due = (id: string) =>
        reports
          .slice(seen)
          .some((r) => r.units.some((u) => u.members.includes(id) && u.gate === 'upstream-changes'));
      expect(due(x) && due(y)).toBe(true);
    });
    await locker.query('SELECT pg_advisory_lock(76)');
    await db.query('INSERT INTO up VALUES (1); INSERT INTO uq VALUES (1)');
    await waiterOn(76);
    await trickle().refresh('uy'); // an application refreshing by hand, committed mid-tick
    await locker.query('SELECT pg_advisory_unlock(76)');
    await eventually(async () => {
      const r = await db.query(
        `SELECT reason FROM pgtrickle.pgt_refresh_log WHERE name = 'public.uy' AND status = 'FAILED'`,
      );
      expect(r.rows.map((row) => row.reason)).toEqual(['transient (SQLSTATE 40001): retried']);
    });
    const status = await db.query(
      `SELECT consecutive_errors, status FROM pgtrickle.pgt_status WHERE name = 'public.uy'`,
    );
    expect(status.rows[0]).toEqual({ consecutive_errors: 0, status: 'ACTIVE' });
    await db.query('INSERT INTO uq VALUES (2)');
    await eventually(async () => expect(await ids('uy')).toEqual([1, 2]));
  });
});
