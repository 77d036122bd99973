/**
 * The fuse's catalog side, without a running service: the count it checks is a table's own unread
 * change rows (not a shared buffer's), a TRUNCATE is flagged, a blow is recorded once with one
 * alert and leaves the status alone, a blown table refuses manual refreshes, `reset_fuse` is
 * owner-checked and transactional and each action does what it says, `fuse_status` shows the
 * caller's tables, reminders are throttled, and the baseline holds applied scheduler refreshes only.
 */

import { useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remindBlownFuses } from '../src/catalog/fuse.js';
import {
  connect,
  FuseBlownError,
  PgSchedulerStore,
  processRequests,
  refreshInTransaction,
  type Trickle,
} from '../src/index.js';
import { TestRoles } from './support/roles.js';

const db = useTestDatabase();
const roles = new TestRoles(() => db.url);
const app = roles.name('pgt_fuse_app');
const other = roles.name('pgt_fuse_other');
let sidecar: Trickle;
let asApp: pg.Client;
let asOther: pg.Client;
let listener: pg.Client;
const alerts: Record<string, unknown>[] = [];

async function idOf(name: string): Promise<number> {
  const r = await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = $1`, [name]);
  return Number(r.rows[0]?.pgt_id);
}

async function unread(name: string): Promise<{ pending: number; checked: number; truncated: boolean }> {
  const r = await db.query(
    `SELECT COALESCE(u.pending, 0) AS pending, COALESCE(u.checked, 0) AS checked, COALESCE(u.truncated, false) AS truncated
       FROM (SELECT 1) x LEFT JOIN pgtrickle.unread_changes(ARRAY[$1::bigint]) u ON true`,
    [await idOf(name)],
  );
  const row = r.rows[0];
  return { pending: Number(row?.pending), checked: Number(row?.checked), truncated: row?.truncated === true };
}

async function fuseRow(name: string): Promise<Record<string, unknown>> {
  const r = await db.query(
    `SELECT fuse_mode, fuse_state, blown_at, blow_reason, status, needs_reinit, frontier_snapshot::text AS frontier
       FROM pgtrickle.pgt_stream_tables WHERE table_name = $1`,
    [name],
  );
  return r.rows[0] as Record<string, unknown>;
}

async function schedulerRefresh(name: string): Promise<void> {
  const id = await idOf(name);
  await sidecar.db.transaction((conn) =>
    refreshInTransaction(conn, sidecar.engineState, id, { initiatedBy: 'SCHEDULER' }),
  );
}

async function blow(name: string, reason = 'change count (500) exceeded ceiling (50)'): Promise<void> {
  await new PgSchedulerStore(sidecar.db).applyEffect({
    kind: 'blow-fuse',
    streamTable: String(await idOf(name)),
    reason,
    changeCount: 500,
    trigger: 'ceiling',
    ceiling: 50,
  });
}

/** Waits for notifications sent before now to arrive (a round trip on the listening connection). */
async function drain(): Promise<void> {
  await listener.query('SELECT 1');
}

beforeAll(async () => {
  sidecar = await connect({ connectionString: db.url });
  await sidecar.install();
  await db.query(`
    CREATE ROLE ${app} LOGIN PASSWORD '${roles.password}';
    CREATE ROLE ${other} LOGIN PASSWORD '${roles.password}';
    GRANT pgtrickle_user TO ${app}, ${other};
    GRANT CONNECT, TEMPORARY ON DATABASE ${db.name} TO ${app}, ${other};
    CREATE SCHEMA app AUTHORIZATION ${app};
    CREATE TABLE app.src (id int PRIMARY KEY, v int);
    INSERT INTO app.src SELECT g, g FROM generate_series(1, 10) g;
    ALTER TABLE app.src OWNER TO ${app};
  `);
  asApp = await roles.client(app);
  asOther = await roles.client(other);
  for (const t of ['t1', 't2', 't3'])
    await asApp.query(
      `SELECT pgtrickle.create_stream_table('app.${t}', 'SELECT id, v FROM app.src', '1s', 'DIFFERENTIAL')`,
    );
  await processRequests(sidecar);
  listener = await roles.client(app);
  listener.on('notification', (n) => {
    if (n.channel === 'pgtrickle_alert') alerts.push(JSON.parse(n.payload ?? '{}'));
  });
  await listener.query('LISTEN pgtrickle_alert');
});

afterAll(async () => {
  for (const c of [asApp, asOther, listener]) await c?.end().catch(() => undefined);
  await sidecar?.close();
  for (const role of [app, other])
    await db.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`).catch(() => undefined);
});

describe('the count a fuse checks', () => {
  it("is this table's unread rows, not the shared buffer's: another reader's backlog does not count", async () => {
    await asApp.query(`INSERT INTO app.src SELECT g, g FROM generate_series(11, 40) g`);
    expect(await unread('t1')).toEqual({ pending: 30, checked: 30, truncated: false });
    await sidecar.refresh('app.t1');
    await sidecar.refresh('app.t3');
    // t2 has not read them: they stay in the shared buffer, but only t2 counts them
    expect((await unread('t1')).pending).toBe(0);
    expect((await unread('t2')).pending).toBe(30);
    const bound = (await db.query(`SELECT pg_current_snapshot()::text AS s`)).rows[0]?.s;
    await asApp.query(`INSERT INTO app.src VALUES (41, 41), (42, 42)`);
    expect((await unread('t1')).pending).toBe(2);
    expect((await unread('t2')).pending).toBe(32);
    // bounded by a snapshot taken before the last insert (a tick's bound): that insert is not counted
    const upto = await db.query(
      `SELECT pending FROM pgtrickle.unread_changes(ARRAY[$1::bigint], $2::pg_snapshot)`,
      [await idOf('t2'), bound],
    );
    expect(upto.rows[0]?.pending).toBe('30');
    await sidecar.refresh('app.t1');
    await sidecar.refresh('app.t2');
    await sidecar.refresh('app.t3');
  });

  it('flags a TRUNCATE in the window (the marker itself is not a row)', async () => {
    await db.query(
      `CREATE TABLE app.other_src (id int PRIMARY KEY); ALTER TABLE app.other_src OWNER TO ${app}`,
    );
    await asApp.query(
      `SELECT pgtrickle.create_stream_table('app.tt', 'SELECT id FROM app.other_src', '1s', 'DIFFERENTIAL')`,
    );
    await processRequests(sidecar);
    await asApp.query(`INSERT INTO app.other_src VALUES (1), (2)`);
    await sidecar.refresh('app.tt');
    await asApp.query(`TRUNCATE app.other_src`);
    expect(await unread('tt')).toEqual({ pending: 0, checked: 0, truncated: true });
    await sidecar.refresh('app.tt');
    expect((await unread('tt')).truncated).toBe(false);
  });
});

describe('a blow', () => {
  it('is recorded once, with one fuse_blown alert, and leaves the status alone', async () => {
    await asApp.query(`SELECT pgtrickle.alter_stream_table('app.t1', fuse => 'on', fuse_ceiling => 50)`);
    const before = alerts.length;
    await blow('t1');
    await blow('t1');
    await drain();
    const row = await fuseRow('t1');
    expect(row).toMatchObject({
      fuse_state: 'blown',
      blow_reason: 'change count (500) exceeded ceiling (50)',
      status: 'ACTIVE',
    });
    expect(row.blown_at).toBeInstanceOf(Date);
    const blown = alerts.slice(before).filter((a) => a.event === 'fuse_blown');
    expect(blown).toEqual([
      expect.objectContaining({ stream_table: 'app.t1', pending: 500, ceiling: 50, trigger: 'ceiling' }),
    ]);
  });

  it('refuses manual refreshes, in SQL and in TypeScript, naming the reset', async () => {
    const sqlRefresh = await asApp.query(`SELECT pgtrickle.refresh_stream_table('app.t1')`).catch((e) => e);
    expect(sqlRefresh.code).toBe('55000');
    expect(sqlRefresh.message).toMatch(/fuse of stream table app\.t1 is blown/);
    expect(sqlRefresh.hint).toMatch(/pgtrickle\.reset_fuse/);
    const ts = await sidecar.refresh('app.t1').catch((e) => e);
    expect(ts).toBeInstanceOf(FuseBlownError);
    expect(ts.code).toBe('PGT_FUSE_BLOWN');
    expect(ts.message).toMatch(/pgtrickle\.reset_fuse\('app\.t1'/);
    expect(ts.message).toMatch(/pgtrickle fuse reset app\.t1/);
  });

  it('is not undone by a new ceiling, or by a reset rolled back', async () => {
    await asApp.query(`SELECT pgtrickle.alter_stream_table('app.t1', fuse_ceiling => 1000000)`);
    expect((await fuseRow('t1')).fuse_state).toBe('blown');
    await asApp.query('BEGIN');
    await asApp.query(`SELECT pgtrickle.reset_fuse('app.t1')`);
    await asApp.query('ROLLBACK');
    expect((await fuseRow('t1')).fuse_state).toBe('blown');
  });

  it('is reminded of at most every 60 s', async () => {
    await db.query(
      `UPDATE pgtrickle.pgt_stream_tables SET blown_at = now() - interval '61 seconds' WHERE table_name = 't1'`,
    );
    const before = alerts.length;
    expect(await sidecar.db.transaction((c) => remindBlownFuses(c))).toBe(1);
    expect(await sidecar.db.transaction((c) => remindBlownFuses(c))).toBe(0);
    await drain();
    expect(alerts.slice(before)).toEqual([
      expect.objectContaining({ event: 'fuse_blown_reminder', stream_table: 'app.t1', blown_seconds: 61 }),
    ]);
  });
});

describe('reset_fuse', () => {
  it('refuses an armed fuse, an unknown action and a role that does not own the table', async () => {
    const armed = await asApp.query(`SELECT pgtrickle.reset_fuse('app.t2')`).catch((e) => e);
    expect(armed.message).toMatch(/fuse is not blown \(current state: armed\)/);
    const bogus = await asApp.query(`SELECT pgtrickle.reset_fuse('app.t1', 'bogus')`).catch((e) => e);
    expect(bogus.code).toBe('22023');
    const denied = await asOther.query(`SELECT pgtrickle.reset_fuse('app.t1')`).catch((e) => e);
    expect(denied.code).toBe('42501');
    const direct = await asApp
      .query(`SELECT pgtrickle.command_reset_fuse(1, '{"action":"apply"}')`)
      .catch((e) => e);
    expect(direct.code).toBe('42501');
    await expect(sidecar.resetFuse('app.t2')).rejects.toMatchObject({ code: 'PGT_INVALID_ARGUMENT' });
    expect((await fuseRow('t1')).fuse_state).toBe('blown');
  });

  it("'apply' re-arms and exempts exactly the held batch: later changes are still checked", async () => {
    await asApp.query(`INSERT INTO app.src SELECT g, g FROM generate_series(100, 199) g`);
    expect(await unread('t1')).toMatchObject({ pending: 100, checked: 100 });
    const before = alerts.length;
    await asApp.query(`SELECT pgtrickle.reset_fuse('app.t1')`);
    await drain();
    expect(await fuseRow('t1')).toMatchObject({ fuse_state: 'armed', blown_at: null, blow_reason: null });
    expect(alerts.slice(before)).toEqual([
      expect.objectContaining({ event: 'fuse_reset', stream_table: 'app.t1', action: 'apply' }),
    ]);
    expect(await unread('t1')).toMatchObject({ pending: 100, checked: 0 });
    await asApp.query(`INSERT INTO app.src VALUES (200, 200), (201, 201), (202, 202)`);
    expect(await unread('t1')).toMatchObject({ pending: 103, checked: 3 });
    await schedulerRefresh('t1');
    expect(await unread('t1')).toMatchObject({ pending: 0, checked: 0 });
  });

  it("'skip_changes' moves only this table's frontier: the other readers keep the batch, the buffer keeps its rows", async () => {
    await sidecar.refresh('app.t2');
    await sidecar.refresh('app.t3');
    await blow('t1');
    await asApp.query(`DELETE FROM app.src WHERE id >= 100`);
    const bufferRows = async () => {
      const oid = (await db.query(`SELECT 'app.src'::regclass::oid AS o`)).rows[0]?.o;
      return Number(
        (await db.query(`SELECT count(*) AS n FROM pgtrickle_changes.changes_${oid}`)).rows[0]?.n,
      );
    };
    const rowsBefore = await bufferRows();
    const contents = async (t: string) =>
      Number((await db.query(`SELECT count(*) AS n FROM app.${t}`)).rows[0]?.n);
    const t1Before = await contents('t1');
    expect((await unread('t1')).pending).toBe(103);
    await asApp.query(`SELECT pgtrickle.reset_fuse('app.t1', 'skip_changes')`);
    expect((await fuseRow('t1')).fuse_state).toBe('armed');
    expect((await unread('t1')).pending).toBe(0);
    expect((await unread('t2')).pending).toBe(103);
    expect(await bufferRows()).toBe(rowsBefore);
    await schedulerRefresh('t1');
    await sidecar.refresh('app.t2');
    // t1 kept the rows it skipped; t2 received the delete
    expect(await contents('t1')).toBe(t1Before);
    expect(await contents('t2')).toBe(42);
  });

  it("'reinitialize' re-arms, accepts the held batch and asks for a FULL refresh", async () => {
    await blow('t1');
    await asApp.query(`INSERT INTO app.src VALUES (500, 500)`);
    await asApp.query(`SELECT pgtrickle.reset_fuse('app.t1', 'reinitialize')`);
    expect(await fuseRow('t1')).toMatchObject({ fuse_state: 'armed', needs_reinit: true });
    expect(await unread('t1')).toMatchObject({ pending: 1, checked: 0 });
    await asApp.query(`DELETE FROM app.src WHERE id = 500`);
    await schedulerRefresh('t1');
    const last = await db.query(
      `SELECT action FROM pgtrickle.pgt_refresh_log WHERE name = 'app.t1' ORDER BY refresh_id DESC LIMIT 1`,
    );
    expect(last.rows[0]?.action).toBe('FULL');
    expect(Number((await db.query(`SELECT count(*) AS n FROM app.t1`)).rows[0]?.n)).toBe(42);
  });
});

describe('fuse_status and the baseline', () => {
  it("shows every table its caller owns, fuses off included, with the sidecar's default ceiling", async () => {
    await db.query(`UPDATE pgtrickle.pgt_service_settings SET fuse_default_ceiling = 77`);
    await asApp.query(`SELECT pgtrickle.alter_stream_table('app.t2', fuse => 'auto', fuse_sigma => 2.5)`);
    await asApp.query(`INSERT INTO app.src VALUES (300, 300)`);
    const rows = (await asApp.query(`SELECT * FROM pgtrickle.fuse_status()`)).rows;
    expect(rows.map((r) => r.stream_table)).toEqual(['app.t1', 'app.t2', 'app.t3', 'app.tt']);
    expect(rows[0]).toMatchObject({
      fuse_mode: 'on',
      fuse_state: 'armed',
      effective_ceiling: '1000000',
      pending: '1',
    });
    expect(rows[1]).toMatchObject({
      fuse_mode: 'auto',
      fuse_ceiling: null,
      effective_ceiling: '77',
      fuse_sensitivity: 1,
      fuse_sigma: 2.5,
      fuse_window: 20,
    });
    expect(rows[2]).toMatchObject({ fuse_mode: 'off', fuse_state: 'armed' });
    expect((await asOther.query(`SELECT * FROM pgtrickle.fuse_status()`)).rows).toEqual([]);
    const forged = await asOther
      .query(`SELECT * FROM pgtrickle.fuse_status_of((SELECT oid FROM pg_roles WHERE rolname = '${app}'))`)
      .catch((e) => e);
    expect(forged.code).toBe('42501');
    const ts = await sidecar.fuseStatus();
    expect(ts.find((r) => r.streamTable === 'app.t2')).toMatchObject({
      mode: 'auto',
      effectiveCeiling: 77,
      sigma: 2.5,
    });
    await db.query(`UPDATE pgtrickle.pgt_service_settings SET fuse_default_ceiling = 0`);
  });

  it('the baseline is the applied scheduler refreshes only, without the one that applied an accepted batch', async () => {
    await db.query(`CREATE TABLE app.b_src (id int PRIMARY KEY); ALTER TABLE app.b_src OWNER TO ${app}`);
    await asApp.query(
      `SELECT pgtrickle.create_stream_table('app.b', 'SELECT id FROM app.b_src', '1s', 'DIFFERENTIAL')`,
    );
    await processRequests(sidecar);
    let next = 1;
    const batch = async (n: number, how: 'scheduler' | 'manual') => {
      await asApp.query(`INSERT INTO app.b_src SELECT g FROM generate_series(${next}, ${next + n - 1}) g`);
      next += n;
      if (how === 'scheduler') await schedulerRefresh('b');
      else await sidecar.refresh('app.b');
    };
    await batch(10, 'scheduler');
    await batch(20, 'scheduler');
    await batch(999, 'manual');
    await schedulerRefresh('b'); // NO_DATA: not a sample
    const samples = async () =>
      (
        await db.query(`SELECT samples FROM pgtrickle.fuse_samples(ARRAY[$1::bigint])`, [await idOf('b')])
      ).rows[0]?.samples.map(Number);
    expect(await samples()).toEqual([20, 10]);
    await asApp.query(`SELECT pgtrickle.alter_stream_table('app.b', fuse => 'auto')`);
    await blow('b');
    await asApp.query(`SELECT pgtrickle.reset_fuse('app.b', 'apply')`);
    await batch(5000, 'scheduler');
    await batch(30, 'scheduler');
    expect(await samples()).toEqual([30, 20, 10]);
    await asApp.query(`SELECT pgtrickle.alter_stream_table('app.b', fuse_window => 2)`);
    expect(await samples()).toEqual([30, 20]);
    // a sensitivity beyond the window reads more samples for its streak; the baseline stays the window
    await asApp.query(`SELECT pgtrickle.alter_stream_table('app.b', fuse_sensitivity => 4)`);
    expect(await samples()).toEqual([30, 20, 10]);
    const status = (
      await asApp.query(
        `SELECT baseline_mean, baseline_stddev FROM pgtrickle.fuse_status() WHERE stream_table = 'app.b'`,
      )
    ).rows[0];
    expect(status).toEqual({ baseline_mean: 25, baseline_stddev: 5 });
  });
});
