/**
 * Idle ticks (docs/scheduler.md, "Idle ticks"), on a real PostgreSQL: the scheduler store reuses
 * the catalog and "nothing pending" answers between ticks, and still sees every change — a write
 * committed after a tick, a write by a transaction that was open during the previous tick's probe
 * (its change id drawn before that probe's stamps were read), a write to a stream table read by
 * another, and catalog changes (a new stream table, an altered schedule, a dropped one).
 */
import { runTick, Scheduler, type TickReport } from '@pgtrickle/scheduler';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PgSchedulerStore, PgUnitExecutor, systemClock } from '../src/index.js';
import { nothingCommitted, parseSnapshot, stillInProgress } from '../src/service/pending-probe.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

function scheduler(): Scheduler {
  const store = new PgSchedulerStore(trickle().db);
  const executor = new PgUnitExecutor(trickle().db, trickle().engineState, store);
  return new Scheduler({ store, executor, clock: systemClock });
}

function refreshed(report: TickReport, name: string): boolean {
  return report.units.some(
    (u) =>
      u.outcome === 'refreshed' &&
      (u.results ?? []).some(
        (r) => r.action !== 'NO_DATA' && r.action !== 'SKIPPED' && names.get(r.id) === name,
      ),
  );
}

const names = new Map<string, string>();

async function learnNames(): Promise<void> {
  const res = await db.query('SELECT pgt_id::text AS id, table_name FROM pgtrickle.pgt_stream_tables');
  for (const r of res.rows) names.set(String(r.id), String(r.table_name));
}

describe('snapshots', () => {
  it('tells whether transactions in progress then are still in progress, and whether anything committed', () => {
    const then = parseSnapshot('100:105:100,103');
    expect(stillInProgress(then, parseSnapshot('100:107:100,103,105'))).toBe(true);
    expect(stillInProgress(then, parseSnapshot('100:107:100,105'))).toBe(false);
    expect(stillInProgress(parseSnapshot('100:100:'), parseSnapshot('120:120:'))).toBe(true);
    expect(nothingCommitted(then, parseSnapshot('100:105:100,103'))).toBe(true);
    expect(nothingCommitted(then, parseSnapshot('100:106:100,103'))).toBe(false);
    expect(nothingCommitted(then, parseSnapshot('100:105:100'))).toBe(false);
  });
});

describe('idle ticks', () => {
  it('refresh exactly what changed, tick after tick', async () => {
    await db.query(`CREATE TABLE it_a (id int PRIMARY KEY, v int NOT NULL);
      CREATE TABLE it_b (id int PRIMARY KEY, v int NOT NULL);
      CREATE TABLE it_plain (id int);
      INSERT INTO it_a VALUES (1, 1); INSERT INTO it_b VALUES (1, 1)`);
    const t = trickle();
    await t.createStreamTable({
      name: 'it_sa',
      query: 'SELECT id, v FROM it_a',
      refreshMode: 'DIFFERENTIAL',
      schedule: '0s',
    });
    await t.createStreamTable({
      name: 'it_sb',
      query: 'SELECT id, v FROM it_b',
      refreshMode: 'DIFFERENTIAL',
      schedule: '0s',
    });
    await t.createStreamTable({
      name: 'it_down',
      query: 'SELECT id, v * 2 AS w FROM it_sa',
      refreshMode: 'DIFFERENTIAL',
      schedule: '0s',
    });
    await learnNames();
    const s = scheduler();
    await s.tick();
    // Idle: nothing refreshes, again and again.
    for (let i = 0; i < 3; i++) {
      const r = await s.tick();
      expect(r.units.filter((u) => u.outcome === 'refreshed')).toEqual([]);
    }
    // A committed write: its table and the one reading it refresh, the other does not.
    await db.query('INSERT INTO it_a VALUES (2, 2)');
    const r1 = await s.tick();
    expect(refreshed(r1, 'it_sa')).toBe(true);
    expect(refreshed(r1, 'it_sb')).toBe(false);
    // The downstream refreshes in the same tick or the next one.
    const r2 = await s.tick();
    expect(refreshed(r1, 'it_down') || refreshed(r2, 'it_down')).toBe(true);
    await expectTableEqualsQuery(db, 'it_down', 'SELECT id, v * 2 AS w FROM it_a');
    expect(refreshed(await s.tick(), 'it_sa')).toBe(false);

    // A transaction that writes before a tick and commits after it: its rows are pending only
    // once it commits, although nothing else moved the buffer's stamp in between.
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await writer.query('INSERT INTO it_b VALUES (2, 2)');
      // Another commit, so the next tick probes again (with the writer still open).
      await db.query('INSERT INTO it_plain VALUES (1)');
      const during = await s.tick();
      expect(refreshed(during, 'it_sb')).toBe(false);
      await writer.query('COMMIT');
    } finally {
      await writer.end();
    }
    expect(refreshed(await s.tick(), 'it_sb')).toBe(true);
    await expectTableEqualsQuery(db, 'it_sb', 'SELECT id, v FROM it_b');
    expect(refreshed(await s.tick(), 'it_sb')).toBe(false);

    // Catalog changes are seen at the next tick: a new table, a paused schedule, a dropped one.
    await db.query('CREATE TABLE it_c (id int PRIMARY KEY); INSERT INTO it_c VALUES (1)');
    await t.createStreamTable({
      name: 'it_sc',
      query: 'SELECT id FROM it_c',
      refreshMode: 'DIFFERENTIAL',
      schedule: '0s',
    });
    await learnNames();
    await db.query('INSERT INTO it_c VALUES (2)');
    expect(refreshed(await s.tick(), 'it_sc')).toBe(true);
    await expectTableEqualsQuery(db, 'it_sc', 'SELECT id FROM it_c');
    await t.alterStreamTable('it_sb', { schedule: '1h' });
    await db.query('INSERT INTO it_b VALUES (3, 3)');
    const held = await s.tick();
    expect(refreshed(held, 'it_sb')).toBe(false);
    expect(held.units.find((u) => u.members.some((m) => names.get(m) === 'it_sb'))?.gate).toBe('schedule');
    await t.dropStreamTable('it_sc');
    const after = await s.tick();
    expect(after.units.some((u) => u.members.some((m) => names.get(m) === 'it_sc'))).toBe(false);
    await db.query('INSERT INTO it_a VALUES (3, 3)');
    expect(refreshed(await s.tick(), 'it_sa')).toBe(true);
    await expectTableEqualsQuery(db, 'it_sa', 'SELECT id, v FROM it_a');
  });

  it('an idle tick decides what a full evaluation decides; a commit ends the quiet', async () => {
    await db.query(`CREATE TABLE iu_a (id int PRIMARY KEY, v int NOT NULL); INSERT INTO iu_a VALUES (1, 1)`);
    const t = trickle();
    await t.createStreamTable({
      name: 'iu_due',
      query: 'SELECT id, v FROM iu_a',
      refreshMode: 'DIFFERENTIAL',
      schedule: '0s',
    });
    await t.createStreamTable({
      name: 'iu_later',
      query: 'SELECT id FROM iu_a',
      refreshMode: 'DIFFERENTIAL',
      schedule: '1h',
    });
    const store = new PgSchedulerStore(t.db);
    const s = new Scheduler({
      store,
      executor: new PgUnitExecutor(t.db, t.engineState, store),
      clock: systemClock,
    });
    await s.tick();
    await s.tick();
    // Quiet unless another database of the server committed meanwhile (xids are cluster-wide).
    const quiet = await s.tick();
    // A store of its own, without a memo: every gate runs, and decides the same.
    const other = new PgSchedulerStore(t.db);
    const full = await runTick({
      store: other,
      executor: new PgUnitExecutor(t.db, t.engineState, other),
      clock: systemClock,
    });
    const decided = (r: TickReport) => r.units.map((u) => [u.unit, u.outcome, u.gate, u.reason]);
    expect(decided(quiet)).toEqual(decided(full));
    expect(new Set(quiet.units.map((u) => u.gate))).toEqual(new Set(['upstream-changes', 'schedule']));
    await db.query('INSERT INTO iu_a VALUES (2, 2)');
    await learnNames();
    const busy = await s.tick();
    expect(store.pendingUnchanged(String(busy.units.find((u) => names.get(u.unit) === 'iu_due')?.unit))).toBe(
      false,
    );
    expect(refreshed(busy, 'iu_due')).toBe(true);
    expect(refreshed(busy, 'iu_later')).toBe(false);
    await expectTableEqualsQuery(db, 'iu_due', 'SELECT id, v FROM iu_a');
  });
});
