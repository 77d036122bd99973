/**
 * Status and refresh-mode changes go through @pgtrickle/lifecycle's machines: an event the status
 * machine does not allow is refused with its coded error; a plan compiled by create is handed to
 * the first refresh (cached for the table's id, not compiled again).
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusAfter } from '../src/catalog/set-status.js';
import {
  connect,
  PgSchedulerStore,
  refreshInTransaction,
  SourceChangedError,
  type Trickle,
} from '../src/index.js';
import { modeSwitch } from '../src/stream-tables/modes.js';

const db = useTestDatabase();
let trickle: Trickle;

beforeAll(async () => {
  await db.query('CREATE TABLE things (id int PRIMARY KEY, v int)');
  await db.query('INSERT INTO things SELECT g, g FROM generate_series(1, 20) g');
  trickle = await connect(db.url);
  await trickle.install();
});
afterAll(() => trickle?.close());

async function pgtIdOf(name: string): Promise<number> {
  const res = await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = $1`, [name]);
  return Number(res.rows[0]?.pgt_id);
}

async function statusOf(name: string): Promise<string> {
  return (await trickle.status()).find((s) => s.table === name)?.status ?? 'missing';
}

describe('the status machine', () => {
  it('refuses an event it does not allow, with a coded error', () => {
    expect(() => statusAfter('ERROR', 'refresh_succeeded')).toThrow(
      expect.objectContaining({ code: 'PGT_INVALID_TRANSITION' }),
    );
    expect(() => statusAfter('INITIALIZING', 'resume')).toThrow(/not allowed in state INITIALIZING/);
    expect(statusAfter('SUSPENDED', 'resume')).toBe('ACTIVE');
  });

  it('moves a table ERROR → (resume) ACTIVE, skips refreshing it while in ERROR, and keeps ERROR when suspended', async () => {
    await trickle.createStreamTable({ name: 'lc_err', query: 'SELECT id, v FROM things' });
    const id = await pgtIdOf('lc_err');
    await trickle.recordFailure(id, new SourceChangedError('public.lc_err', 'a test says so'), 'SCHEDULER');
    expect(await statusOf('lc_err')).toBe('ERROR');
    const outcome = await trickle.db.transaction((conn) =>
      refreshInTransaction(conn, trickle.engineState, id, { initiatedBy: 'SCHEDULER', lock: 'skip' }),
    );
    expect(outcome.action).toBe('SKIPPED');
    await new PgSchedulerStore(trickle.db).suspend(String(id), 'too many failures');
    expect(await statusOf('lc_err')).toBe('ERROR');
    const resumed = await trickle.alterStreamTable('lc_err', { status: 'ACTIVE' });
    expect(resumed).toMatchObject({ status: 'ACTIVE', consecutiveErrors: 0, needsReinit: true });
    await new PgSchedulerStore(trickle.db).suspend(String(id), 'too many failures');
    expect(await statusOf('lc_err')).toBe('SUSPENDED');
  });

  it('rebuilds a table in ERROR when its query is altered (reinitialize, then populated)', async () => {
    await trickle.createStreamTable({ name: 'lc_alter', query: 'SELECT id, v FROM things' });
    const id = await pgtIdOf('lc_alter');
    await trickle.recordFailure(id, new SourceChangedError('public.lc_alter', 'a test says so'), 'MANUAL');
    const altered = await trickle.alterStreamTable('lc_alter', {
      query: 'SELECT id, v * 2 AS v FROM things',
    });
    expect(altered).toMatchObject({ status: 'ACTIVE', needsReinit: false, lastError: null });
  });
});

describe('compiling once', () => {
  it('hands the plan create compiled (tagged with the new id) to the first refresh', async () => {
    await trickle.createStreamTable({ name: 'lc_plan', query: 'SELECT id, v FROM things WHERE v > 5' });
    const id = await pgtIdOf('lc_plan');
    const cached = trickle.engineState.plans.get(id);
    expect(cached?.plan.tag).toBe(`st${id}`);
    await db.query('UPDATE things SET v = v + 1 WHERE id = 3');
    await trickle.refresh('lc_plan');
    expect(trickle.engineState.plans.get(id)?.plan).toBe(cached?.plan);
  });
});

describe('the refresh-mode machine', () => {
  it('gives a rebuild the steps of every switch, IMMEDIATE included', () => {
    expect(modeSwitch('FULL', 'DIFFERENTIAL')).toEqual([
      'install_change_capture',
      'seed_frontier',
      'full_refresh',
    ]);
    expect(modeSwitch('DIFFERENTIAL', 'FULL')).toEqual([]);
    expect(modeSwitch('DIFFERENTIAL', 'IMMEDIATE')).toEqual([
      'unregister_change_consumer',
      'install_immediate_triggers',
      'full_refresh',
    ]);
    expect(modeSwitch('IMMEDIATE', 'FULL')).toEqual(['drop_immediate_triggers', 'full_refresh']);
    expect(modeSwitch('IMMEDIATE', 'IMMEDIATE')).toEqual([]);
  });
});
