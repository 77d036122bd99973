/**
 * Nothing stuck (issue 11), on a real PostgreSQL: cancelled refreshes are retried and never
 * suspend a table, deterministic failures suspend it with the reason and `alterStreamTable(…,
 * { status: 'ACTIVE' })` resumes it; a suspended table past the pinned-row bound releases the
 * shared buffer (and is rebuilt FULL when resumed); retention trims history and finished requests
 * in batches; a create whose population fails is a coded error; names fold only ASCII; uninstall
 * leaves storage as plain tables (or drops them) and only the catalog's owner may run it.
 */
import { Scheduler } from '@pgtrickle/scheduler';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  applyRetention,
  captureTriggers,
  classifyFailure,
  connect,
  DEFAULT_RETENTION,
  maintain,
  PgSchedulerStore,
  PgUnitExecutor,
  PopulationFailedError,
  parseName,
  pinnedBuffers,
  systemClock,
} from '../src/index.js';
import { TestRoles } from './support/roles.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const roles = new TestRoles(() => db.url);

function scheduler(): Scheduler {
  const store = new PgSchedulerStore(trickle().db);
  const executor = new PgUnitExecutor(trickle().db, trickle().engineState, store);
  return new Scheduler({
    store,
    executor,
    clock: systemClock,
    retry: { baseMs: 1, maxMs: 1, jitter: 0, suspendAfter: 3 },
  });
}

async function row(name: string) {
  const res = await db.query(
    `SELECT status, consecutive_errors, last_error, needs_reinit FROM pgtrickle.pgt_stream_tables WHERE table_name = $1`,
    [name],
  );
  return res.rows[0] as
    | { status: string; consecutive_errors: number; last_error: string | null; needs_reinit: boolean }
    | undefined;
}

async function waitFor<T>(probe: () => Promise<T | null | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await probe();
    if (v !== null && v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await db.query('CREATE TABLE src (id int PRIMARY KEY, v int NOT NULL)');
  await db.query('INSERT INTO src SELECT g, g FROM generate_series(1, 50) g');
});

describe('failure classes', () => {
  it('retries cancels, deadlocks, serialization and lost connections; counts deterministic errors', () => {
    const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    for (const code of ['40001', '40P01', '57014', '55P03', '57P01', '08006', '53300'])
      expect(classifyFailure(pgError(code))).toBe('transient');
    expect(classifyFailure(pgError('XX000', 'tuple concurrently updated'))).toBe('transient');
    expect(classifyFailure(pgError('XX000', 'cache lookup failed for relation 1'))).toBe('deterministic');
    expect(classifyFailure(pgError('22012', 'division by zero'))).toBe('deterministic');
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toBe('transient');
  });
});

describe('a refresh cancelled again and again (pg_cancel_backend from another session)', () => {
  it('is retried, never suspended, and catches up', async () => {
    const q = 'SELECT id, v FROM src WHERE v % 2 = 0';
    await trickle().createStreamTable({
      name: 'st_cancel',
      query: q,
      schedule: '1s',
      refreshMode: 'DIFFERENTIAL',
    });
    const s = scheduler();
    await sleep(1100);
    for (let i = 0; i < 4; i++) {
      await db.query('UPDATE src SET v = v + 2 WHERE id = $1', [i + 1]);
      const locker = await db.client();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE st_cancel IN ACCESS EXCLUSIVE MODE');
      const lockerPid = (await locker.query('SELECT pg_backend_pid() AS p')).rows[0]?.p;
      const ticking = s.tick();
      const pid = await waitFor(async () => {
        const r = await db.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
          [lockerPid],
        );
        return r.rows[0]?.pid as number | undefined;
      }, 'a refresh blocked on the storage lock');
      await db.query('SELECT pg_cancel_backend($1)', [pid]);
      const report = await ticking;
      await locker.query('COMMIT');
      await locker.end();
      const unit = report.units.find((u) => u.members.length === 1);
      expect(unit?.outcome).toBe('failed');
      expect(String(unit?.reason)).toMatch(/cancel/);
      await sleep(5);
    }
    const after = await row('st_cancel');
    expect(after?.status).toBe('ACTIVE');
    expect(Number(after?.consecutive_errors)).toBe(0);
    const failed = await db.query(
      `SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_log WHERE name = 'public.st_cancel' AND status = 'FAILED' AND reason LIKE 'transient (SQLSTATE 57014)%'`,
    );
    expect(Number(failed.rows[0]?.n)).toBe(4);
    const report = await s.tick();
    expect(report.units.find((u) => u.outcome === 'refreshed')).toBeDefined();
    await expectTableEqualsQuery(db, 'st_cancel', q);
    await trickle().dropStreamTable('st_cancel');
  });
});

describe('a deterministic failure', () => {
  it('suspends after three tries with the reason; alterStreamTable(…, { status: ACTIVE }) resumes it', async () => {
    await db.query('CREATE TABLE divisors (id int PRIMARY KEY, d int NOT NULL)');
    await db.query('INSERT INTO divisors VALUES (1, 1), (2, 2)');
    const q = 'SELECT id, 100 / d AS q FROM divisors';
    await trickle().createStreamTable({
      name: 'st_div',
      query: q,
      schedule: '1s',
      refreshMode: 'DIFFERENTIAL',
    });
    const s = scheduler();
    await sleep(1100);
    await db.query('INSERT INTO divisors VALUES (3, 0)');
    for (let i = 0; i < 3; i++) {
      await s.tick();
      await sleep(5);
    }
    const suspended = await row('st_div');
    expect(suspended?.status).toBe('SUSPENDED');
    expect(suspended?.last_error).toMatch(/suspended after 3 consecutive failed refreshes.*division by zero/);
    await db.query('DELETE FROM divisors WHERE d = 0');
    const resumed = await trickle().alterStreamTable('st_div', { status: 'ACTIVE' });
    expect(resumed.status).toBe('ACTIVE');
    expect(resumed.needsReinit).toBe(true);
    await s.tick();
    await expectTableEqualsQuery(db, 'st_div', q);
    const last = await db.query(
      `SELECT action FROM pgtrickle.pgt_refresh_log WHERE name = 'public.st_div' AND status = 'COMPLETED' ORDER BY refresh_id DESC LIMIT 1`,
    );
    expect(last.rows[0]?.action).toBe('FULL');
  });
});

describe('a suspended table and the shared buffer', () => {
  it('holds rows until the bound, then releases them; doctor-side it is reported; resume rebuilds FULL', async () => {
    await db.query('CREATE TABLE shared (id int PRIMARY KEY, v int NOT NULL)');
    await db.query('INSERT INTO shared SELECT g, g FROM generate_series(1, 20) g');
    const qa = 'SELECT id, v FROM shared';
    const qb = 'SELECT v % 3 AS k, count(*) AS n FROM shared GROUP BY v % 3';
    await trickle().createStreamTable({ name: 'st_live', query: qa, refreshMode: 'DIFFERENTIAL' });
    await trickle().createStreamTable({ name: 'st_stuck', query: qb, refreshMode: 'DIFFERENTIAL' });
    await db.query(
      `UPDATE pgtrickle.pgt_stream_tables SET status = 'SUSPENDED', last_error = 'test' WHERE table_name = 'st_stuck'`,
    );
    await db.query('INSERT INTO shared SELECT g, g FROM generate_series(21, 120) g');
    await trickle().refresh('st_live');
    const oid = (await db.query(`SELECT 'shared'::regclass::oid AS o`)).rows[0]?.o;
    const bufferRows = async () =>
      Number((await db.query(`SELECT count(*)::int AS n FROM pgtrickle_changes.changes_${oid}`)).rows[0]?.n);
    // The live consumer has read everything; the suspended one pins the 100 rows.
    expect(await bufferRows()).toBe(100);
    const pinned = await pinnedBuffers(trickle().db, 0, 1000);
    expect(pinned.map((p) => [p.name, p.status, p.sourceName, p.rows])).toEqual([
      ['st_stuck', 'SUSPENDED', 'shared', 100],
    ]);
    // Under the bound nothing changes; past it the table is released and the buffer trimmed.
    expect((await maintain(trickle().db, { maxPinnedRows: 500 })).released).toEqual([]);
    expect(await bufferRows()).toBe(100);
    const r = await maintain(trickle().db, { maxPinnedRows: 50 });
    expect(r.released).toEqual(['public.st_stuck']);
    expect(await bufferRows()).toBe(0);
    expect((await row('st_stuck'))?.needs_reinit).toBe(true);
    expect(await pinnedBuffers(trickle().db, 0, 1000)).toEqual([]);
    // Nothing lost: resumed, it is rebuilt FULL and equals its query.
    await trickle().alterStreamTable('st_stuck', { status: 'ACTIVE' });
    await trickle().refresh('st_stuck');
    await expectTableEqualsQuery(db, 'st_stuck', qb);
    await trickle().refresh('st_live');
    await expectTableEqualsQuery(db, 'st_live', qa);
  });
});

describe('retention', () => {
  it('trims history by age and per-table rows, and finished requests by age, in batches; pending requests stay', async () => {
    await trickle().createStreamTable({ name: 'st_hist', query: 'SELECT id FROM src' });
    const pgtId = (
      await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'st_hist'`)
    ).rows[0]?.pgt_id;
    await db.query(
      `INSERT INTO pgtrickle.pgt_refresh_history (pgt_id, action, status, initiated_by, started_at, finished_at)
       SELECT $1, 'NO_DATA', 'COMPLETED', 'SCHEDULER', now() - g * interval '1 hour', now() - g * interval '1 hour'
       FROM generate_series(1, 300) g`,
      [pgtId],
    );
    const count = async () =>
      Number(
        (
          await db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_history WHERE pgt_id = $1', [
            pgtId,
          ])
        ).rows[0]?.n,
      );
    expect(await count()).toBe(301);
    // Older than 100 hours: 200 rows go (batches of 30), then at most 50 rows are kept.
    const r1 = await applyRetention(trickle().db, {
      ...DEFAULT_RETENTION,
      historyMaxAgeMs: 100.5 * 3600_000,
      batch: 30,
      maxBatches: 100,
    });
    expect(r1.historyRows).toBe(200);
    expect(await count()).toBe(101);
    await applyRetention(trickle().db, {
      ...DEFAULT_RETENTION,
      historyMaxRowsPerTable: 50,
      batch: 7,
      maxBatches: 100,
    });
    expect(await count()).toBe(50);
    // A call deletes at most batch × maxBatches rows.
    const limited = await applyRetention(trickle().db, {
      ...DEFAULT_RETENTION,
      historyMaxRowsPerTable: 10,
      batch: 5,
      maxBatches: 2,
    });
    expect(limited.historyRows).toBe(10);

    for (const t of ['gone1', 'gone2', 'recent', 'waiting'])
      await db.query(`SELECT pgtrickle.create_stream_table($1, 'SELECT 1 AS one')`, [t]);
    await db.query(
      `UPDATE pgtrickle.pgt_requests SET status = CASE table_name WHEN 'gone2' THEN 'DONE' ELSE 'FAILED' END, error = 'boom',
         done_at = now() - CASE table_name WHEN 'recent' THEN interval '1 hour' ELSE interval '2 days' END
       WHERE table_name <> 'waiting'`,
    );
    const r2 = await applyRetention(trickle().db, DEFAULT_RETENTION);
    expect(r2.requests).toBe(2);
    const left = await db.query(`SELECT table_name FROM pgtrickle.pgt_requests ORDER BY table_name`);
    expect(left.rows.map((x) => x.table_name)).toEqual(['recent', 'waiting']);
    await db.query(`DELETE FROM pgtrickle.pgt_requests`);
    await trickle().dropStreamTable('st_hist');
  });
});

describe('smaller points', () => {
  it('folds only ASCII letters in unquoted names, as PostgreSQL does', async () => {
    expect(parseName('Ventes_ÉTÉ')).toEqual({ schema: null, name: 'ventes_ÉtÉ' });
    expect(parseName('Public.Ventes_ÉTÉ')).toEqual({ schema: 'public', name: 'ventes_ÉtÉ' });
    const folded = await db.query(`SELECT (pg_catalog.parse_ident('Ventes_ÉTÉ'))[1] AS n`);
    expect(parseName('Ventes_ÉTÉ').name).toBe(folded.rows[0]?.n);
    const st = await trickle().createStreamTable({ name: 'Ventes_ÉTÉ', query: 'SELECT id FROM src' });
    expect(st.table).toBe('ventes_ÉtÉ');
    // The same unquoted name in SQL reaches the same table.
    const n = await db.query('SELECT count(*)::int AS n FROM Ventes_ÉTÉ');
    expect(Number(n.rows[0]?.n)).toBe(50);
    await trickle().dropStreamTable('Ventes_ÉTÉ');
  });

  it('reports a failed population as PGT_POPULATION_FAILED with the SQLSTATE, the message and the table', async () => {
    await db.query('CREATE TABLE zeros (id int PRIMARY KEY, d int NOT NULL)');
    await db.query('INSERT INTO zeros VALUES (1, 0)');
    const error = await trickle()
      .createStreamTable({ name: 'st_pop', query: 'SELECT id, 1 / d AS x FROM zeros' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PopulationFailedError);
    const e = error as PopulationFailedError;
    expect(e.code).toBe('PGT_POPULATION_FAILED');
    expect(e.sqlState).toBe('22012');
    expect(e.table).toBe('public.st_pop');
    expect(e.message).toMatch(/public\.st_pop.*22012.*division by zero/);
    expect((e.cause as { code?: string }).code).toBe('22012');
    expect(await row('st_pop')).toBeUndefined();
  });
});

describe('uninstall', () => {
  it('refuses a role that does not own the catalog', async () => {
    const role = roles.name('not_owner');
    await db.query(`CREATE ROLE ${role} LOGIN PASSWORD '${roles.password}'`);
    await db.query(`GRANT pgtrickle_user TO ${role}`);
    const c = await roles.client(role);
    await expect(c.query('SELECT pgtrickle.uninstall()')).rejects.toThrow(/permission denied/);
    await c.end();
  });

  it('removes capture, buffers and catalog; storage tables stay as plain, writable tables', async () => {
    await trickle().createStreamTable({ name: 'kept', query: 'SELECT id, v FROM src WHERE v > 10' });
    expect((await captureTriggers(trickle().db)).length).toBeGreaterThan(0);
    const result = await trickle().uninstall();
    expect(result.hadCatalog).toBe(true);
    const schemas = await db.query(
      `SELECT nspname FROM pg_namespace WHERE nspname IN ('pgtrickle', 'pgtrickle_changes')`,
    );
    expect(schemas.rows).toEqual([]);
    expect(await captureTriggers(trickle().db)).toEqual([]);
    const triggers = await db.query(
      `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN ('kept__pgt_storage'::regclass, 'src'::regclass)`,
    );
    expect(triggers.rows).toEqual([]);
    // A plain table of the query's columns, no bookkeeping left, behind the view of the name.
    for (const rel of ['kept', 'kept__pgt_storage']) {
      const columns = await db.query(
        `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [rel],
      );
      expect(columns.rows.map((c) => c.attname)).toEqual(['id', 'v']);
    }
    await db.query('INSERT INTO kept (id, v) VALUES (-1, -1)');
    await db.query('INSERT INTO src VALUES (1000, 1000)');
    await expect(trickle().status()).resolves.toEqual([]);
    // And again, from scratch, with dropTables.
    await trickle().install();
    await trickle().createStreamTable({ name: 'gone', query: 'SELECT id FROM src' });
    await trickle().uninstall({ dropTables: true });
    expect((await db.query(`SELECT to_regclass('gone') AS r`)).rows[0]?.r).toBeNull();
    expect((await db.query(`SELECT to_regclass('gone__pgt_storage') AS r`)).rows[0]?.r).toBeNull();
    // A client whose catalog is gone says so.
    const other = await connect(db.url);
    await expect(other.createStreamTable({ name: 'x', query: 'SELECT 1 AS one' })).rejects.toMatchObject({
      code: 'PGT_NOT_INSTALLED',
    });
    await other.close();
    await trickle().install();
  });
});
