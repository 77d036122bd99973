/**
 * The fuse end to end: a running service, driven only through the SQL API as a user's ETL job
 * would. A batch above the ceiling blows the fuse, the table keeps its last
 * contents and exactly one `fuse_blown` alert goes out; each reset action does what it says; the
 * ceiling is strict, sensitivity counts consecutive batches, the statistical rule needs its
 * samples, a TRUNCATE blows it, a blown member holds its whole diamond, manual refreshes are
 * refused, and the sidecar's default ceiling applies to fuses without their own.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrickleService } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db } = useTrickle();
let service: TrickleService | null = null;
let listener: pg.Client;
const alerts: Record<string, unknown>[] = [];

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

async function startService(fuseDefaultCeiling: number): Promise<void> {
  await service?.stop();
  service = await TrickleService.start({
    connectionString: db.url,
    pollIntervalMs: 100,
    holder: `fuse-${fuseDefaultCeiling}`,
    fuseDefaultCeiling,
  });
}

/** Creates `name` over `src` (a table of id, v) and waits until it is ACTIVE. */
async function streamTable(name: string, query: string): Promise<void> {
  await db.query(`SELECT pgtrickle.create_stream_table($1, $2, '1s', 'DIFFERENTIAL')`, [name, query]);
  await eventually(async () => {
    const r = await db.query(`SELECT status FROM pgtrickle.pgt_status WHERE name = $1`, [`public.${name}`]);
    expect(r.rows[0]?.status).toBe('ACTIVE');
  });
}

async function source(name: string, rows = 0): Promise<void> {
  await db.query(`CREATE TABLE ${name} (id int PRIMARY KEY, v int)`);
  if (rows > 0) await db.query(`INSERT INTO ${name} SELECT g, g FROM generate_series(1, ${rows}) g`);
}

const agg = (src: string) => `SELECT count(*) AS n, sum(v) AS s FROM ${src}`;

async function fuse(name: string): Promise<Record<string, unknown>> {
  const r = await db.query(`SELECT * FROM pgtrickle.fuse_status() WHERE stream_table = $1`, [
    `public.${name}`,
  ]);
  return r.rows[0] as Record<string, unknown>;
}

async function untilBlown(name: string): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const f = await fuse(name);
    expect(f.fuse_state).toBe('blown');
    return f;
  });
}

/** The visible columns of `name` (aggregates: n, s), in a stable order. */
async function contents(name: string): Promise<unknown[]> {
  const cols = name.startsWith('dia_') && name !== 'dia_d' ? 'id, v' : 'n, s';
  return (await db.query(`SELECT ${cols} FROM ${name} ORDER BY 1`)).rows;
}

let witnessNext = 1;
/** Returns once the scheduler has run at least one whole tick after the call (a witness table refreshed twice). */
async function ticksPassed(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await db.query(`INSERT INTO witness_src VALUES ($1, 0)`, [witnessNext++]);
    await eventually(() => expectTableEqualsQuery(db, 'witness', agg('witness_src')));
  }
}

async function lastActions(name: string, n: number): Promise<string[]> {
  const r = await db.query(
    `SELECT action FROM pgtrickle.pgt_refresh_log WHERE name = $1 AND initiated_by = 'SCHEDULER' AND action <> 'SKIP'
      ORDER BY refresh_id DESC LIMIT $2`,
    [`public.${name}`, n],
  );
  return r.rows.map((x) => String(x.action));
}

beforeAll(async () => {
  listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  listener.on('notification', (n) => {
    if (n.channel === 'pgtrickle_alert') alerts.push(JSON.parse(n.payload ?? '{}'));
  });
  await listener.query('LISTEN pgtrickle_alert');
  await startService(0);
  await source('witness_src');
  await streamTable('witness', agg('witness_src'));
});

afterAll(async () => {
  await service?.stop();
  await listener?.end().catch(() => undefined);
});

describe('a fuse in a running service', () => {
  it('a bulk delete above the ceiling blows it: contents kept, status unchanged, exactly one alert; apply then applies it without re-blowing', async () => {
    await source('orders', 300);
    await streamTable('order_totals', agg('orders'));
    await db.query(`SELECT pgtrickle.alter_stream_table('order_totals', fuse => 'on', fuse_ceiling => 50)`);
    const before = await contents('order_totals');
    await db.query(`DELETE FROM orders WHERE id > 100`);
    const f = await untilBlown('order_totals');
    expect(f.blow_reason).toBe('change count (200) exceeded ceiling (50)');
    expect(f.pending).toBe('200');
    await ticksPassed();
    expect(await contents('order_totals')).toEqual(before);
    const status = await db.query(
      `SELECT status, hold_gate, hold_reason FROM pgtrickle.pgt_status WHERE name = 'public.order_totals'`,
    );
    expect(status.rows[0]).toMatchObject({
      status: 'ACTIVE',
      hold_gate: 'fuse',
      hold_reason: expect.stringMatching(
        /^public\.order_totals: fuse blown .*pgtrickle\.reset_fuse\('public\.order_totals'/,
      ),
    });
    const skips = await db.query(
      `SELECT gate FROM pgtrickle.pgt_refresh_log WHERE name = 'public.order_totals' AND action = 'SKIP'`,
    );
    expect(skips.rows.map((r) => r.gate)).toContain('fuse');
    expect(
      alerts.filter((a) => a.event === 'fuse_blown' && a.stream_table === 'public.order_totals'),
    ).toEqual([expect.objectContaining({ pending: 200, ceiling: 50 })]);

    await db.query(`SELECT pgtrickle.reset_fuse('order_totals')`);
    await eventually(() => expectTableEqualsQuery(db, 'order_totals', agg('orders')));
    await ticksPassed();
    expect((await fuse('order_totals')).fuse_state).toBe('armed');
    expect(
      alerts.filter((a) => a.event === 'fuse_blown' && a.stream_table === 'public.order_totals'),
    ).toHaveLength(1);
    expect(
      alerts.filter((a) => a.event === 'fuse_reset' && a.stream_table === 'public.order_totals'),
    ).toEqual([expect.objectContaining({ action: 'apply' })]);
    // the exemption was the held batch only: a new batch above the ceiling blows it again
    await db.query(`INSERT INTO orders SELECT g, g FROM generate_series(1000, 1099) g`);
    expect((await untilBlown('order_totals')).blow_reason).toBe('change count (100) exceeded ceiling (50)');
    await db.query(`SELECT pgtrickle.reset_fuse('order_totals')`);
  });

  it('a fuse that is off (the default) lets 10,000 changes through', async () => {
    await source('bulk');
    await streamTable('bulk_totals', agg('bulk'));
    await db.query(`INSERT INTO bulk SELECT g, g FROM generate_series(1, 10000) g`);
    await eventually(() => expectTableEqualsQuery(db, 'bulk_totals', agg('bulk')));
    expect(await fuse('bulk_totals')).toMatchObject({ fuse_mode: 'off', fuse_state: 'armed' });
  });

  it("the ceiling is strict: exactly the ceiling's worth of changes is applied", async () => {
    await source('exact');
    await streamTable('exact_totals', agg('exact'));
    await db.query(`SELECT pgtrickle.alter_stream_table('exact_totals', fuse => 'on', fuse_ceiling => 50)`);
    await db.query(`INSERT INTO exact SELECT g, g FROM generate_series(1, 50) g`);
    await eventually(() => expectTableEqualsQuery(db, 'exact_totals', agg('exact')));
    expect((await fuse('exact_totals')).fuse_state).toBe('armed');
  });

  it('skip_changes: the table keeps its contents and later changes flow; another table on the same source receives the batch', async () => {
    await source('events', 20);
    await streamTable('events_guarded', agg('events'));
    await streamTable('events_open', agg('events'));
    await db.query(`SELECT pgtrickle.alter_stream_table('events_guarded', fuse => 'on', fuse_ceiling => 50)`);
    const before = await contents('events_guarded');
    await db.query(`INSERT INTO events SELECT g, g FROM generate_series(100, 299) g`);
    await untilBlown('events_guarded');
    await eventually(() => expectTableEqualsQuery(db, 'events_open', agg('events')));
    await db.query(`SELECT pgtrickle.reset_fuse('events_guarded', 'skip_changes')`);
    await db.query(`INSERT INTO events VALUES (1000, 7)`);
    // the guarded table got the new row but never the skipped 200
    await eventually(async () =>
      expect(await contents('events_guarded')).toEqual([{ n: '21', s: String(210 + 7) }]),
    );
    expect(before).toEqual([{ n: '20', s: '210' }]);
    await eventually(() => expectTableEqualsQuery(db, 'events_open', agg('events')));
    expect((await fuse('events_guarded')).fuse_state).toBe('armed');
  });

  it('reinitialize: the next refresh is FULL', async () => {
    await source('ledger', 10);
    await streamTable('ledger_totals', agg('ledger'));
    await db.query(`SELECT pgtrickle.alter_stream_table('ledger_totals', fuse => 'on', fuse_ceiling => 5)`);
    await db.query(`INSERT INTO ledger SELECT g, g FROM generate_series(11, 30) g`);
    await untilBlown('ledger_totals');
    await db.query(`SELECT pgtrickle.reset_fuse('ledger_totals', 'reinitialize')`);
    await eventually(() => expectTableEqualsQuery(db, 'ledger_totals', agg('ledger')));
    expect(await lastActions('ledger_totals', 1)).toEqual(['FULL']);
    expect((await fuse('ledger_totals')).fuse_state).toBe('armed');
  });

  it('refuses bad resets and bad settings, and a manual refresh of a blown table naming the fuse', async () => {
    const armed = await db.query(`SELECT pgtrickle.reset_fuse('exact_totals')`).catch((e) => e);
    expect(armed.message).toMatch(/fuse is not blown \(current state: armed\)/);
    await db.query(`SELECT pgtrickle.alter_stream_table('ledger_totals', fuse_ceiling => 1)`);
    await db.query(`INSERT INTO ledger VALUES (31, 31), (32, 32)`);
    await untilBlown('ledger_totals');
    const bogus = await db.query(`SELECT pgtrickle.reset_fuse('ledger_totals', 'bogus')`).catch((e) => e);
    expect(bogus.code).toBe('22023');
    for (const bad of [`fuse => 'maybe'`, 'fuse_ceiling => 0', 'fuse_sensitivity => 0']) {
      const e = await db
        .query(`SELECT pgtrickle.alter_stream_table('ledger_totals', ${bad})`)
        .catch((x) => x);
      expect(e.code).toBe('22023');
    }
    const refresh = await db.query(`SELECT pgtrickle.refresh_stream_table('ledger_totals')`).catch((e) => e);
    expect(refresh.message).toMatch(/fuse of stream table public\.ledger_totals is blown/);
    expect(refresh.hint).toMatch(/pgtrickle\.reset_fuse/);
  });

  it('a TRUNCATE in the window blows it, whatever the count', async () => {
    await source('staging', 5);
    await streamTable('staging_totals', agg('staging'));
    await db.query(
      `SELECT pgtrickle.alter_stream_table('staging_totals', fuse => 'on', fuse_ceiling => 1000)`,
    );
    await db.query(`TRUNCATE staging`);
    expect((await untilBlown('staging_totals')).blow_reason).toMatch(/TRUNCATE/);
    expect(await contents('staging_totals')).toEqual([{ n: '5', s: '15' }]);
  });

  it('sensitivity 3: two batches over the ceiling and one under do not blow it; three in a row do', async () => {
    await source('clicks');
    await streamTable('click_totals', agg('clicks'));
    await db.query(
      `SELECT pgtrickle.alter_stream_table('click_totals', fuse => 'on', fuse_ceiling => 50, fuse_sensitivity => 3)`,
    );
    let next = 1;
    const batch = async (n: number) => {
      await db.query(`INSERT INTO clicks SELECT g, 1 FROM generate_series(${next}, ${next + n - 1}) g`);
      next += n;
    };
    for (const n of [60, 60, 10, 60, 60]) {
      await batch(n);
      await eventually(() => expectTableEqualsQuery(db, 'click_totals', agg('clicks')));
      expect((await fuse('click_totals')).fuse_state).toBe('armed');
    }
    await batch(60);
    expect((await untilBlown('click_totals')).blow_reason).toBe(
      'change count (60) exceeded ceiling (50) on 3 consecutive checks',
    );
  });

  it('statistical: below min samples only the ceiling applies; then a batch far above μ + 3σ blows it', async () => {
    await source('metrics');
    await streamTable('metric_totals', agg('metrics'));
    await db.query(`SELECT pgtrickle.alter_stream_table('metric_totals', fuse => 'auto')`);
    let next = 1;
    const batch = async (n: number) => {
      await db.query(`INSERT INTO metrics SELECT g, 1 FROM generate_series(${next}, ${next + n - 1}) g`);
      next += n;
    };
    const sizes = [80, 160, 120, 75, 165, 100, 140, 90, 150, 120];
    // a big batch before any sample: no baseline yet, no ceiling → applied
    await batch(3000);
    await eventually(() => expectTableEqualsQuery(db, 'metric_totals', agg('metrics')));
    for (const n of sizes) {
      await batch(n);
      await eventually(() => expectTableEqualsQuery(db, 'metric_totals', agg('metrics')));
    }
    expect((await fuse('metric_totals')).fuse_state).toBe('armed');
    // the baseline now holds 11 samples (3000 and the ten), window 20: σ is large; narrow the window
    await db.query(`SELECT pgtrickle.alter_stream_table('metric_totals', fuse_window => 10)`);
    await batch(50_000);
    const f = await untilBlown('metric_totals');
    expect(Number(f.baseline_mean)).toBeCloseTo(120, 5);
    expect(f.blow_reason).toMatch(
      /^change count \(50000\) exceeded μ \+ k·σ = \d+(\.\d)? \(μ 120, σ \d+(\.\d)?, k 3, over the last 10 applied refreshes\)$/,
    );
    const alert = alerts.find((a) => a.event === 'fuse_blown' && a.stream_table === 'public.metric_totals');
    expect(alert).toMatchObject({ pending: 50000, trigger: 'z-score', baseline_mean: 120, sigma: 3 });
  });

  it('a blown member holds its whole diamond; after the reset every member refreshes', async () => {
    await source('base', 10);
    await streamTable('dia_b', `SELECT id, v FROM base WHERE v % 2 = 0`);
    await streamTable('dia_c', `SELECT id, v FROM base`);
    await streamTable('dia_d', `SELECT count(*) AS n, sum(b.v) AS s FROM dia_b b JOIN dia_c c USING (id)`);
    await db.query(`SELECT pgtrickle.alter_stream_table('dia_c', fuse => 'on', fuse_ceiling => 20)`);
    const before = { b: await contents('dia_b'), c: await contents('dia_c'), d: await contents('dia_d') };
    await db.query(`INSERT INTO base SELECT g, g FROM generate_series(11, 60) g`);
    await untilBlown('dia_c');
    await ticksPassed();
    expect({ b: await contents('dia_b'), c: await contents('dia_c'), d: await contents('dia_d') }).toEqual(
      before,
    );
    // the blow reached the tick twice (C's own check, and B's through the group): one alert
    expect(alerts.filter((a) => a.event === 'fuse_blown' && a.stream_table === 'public.dia_c')).toHaveLength(
      1,
    );
    await db.query(`SELECT pgtrickle.reset_fuse('dia_c')`);
    await eventually(async () => {
      await expectTableEqualsQuery(db, 'dia_b', `SELECT id, v FROM base WHERE v % 2 = 0`);
      await expectTableEqualsQuery(db, 'dia_c', `SELECT id, v FROM base`);
      await expectTableEqualsQuery(
        db,
        'dia_d',
        `SELECT count(*) AS n, sum(b.v) AS s FROM (SELECT id, v FROM base WHERE v % 2 = 0) b JOIN base c USING (id)`,
      );
    });
  });

  it("the sidecar's default ceiling applies to fuses without their own; with none, an 'on' fuse is inert", async () => {
    await source('plain');
    await streamTable('plain_totals', agg('plain'));
    await db.query(`SELECT pgtrickle.alter_stream_table('plain_totals', fuse => 'on')`);
    expect((await fuse('plain_totals')).effective_ceiling).toBeNull();
    await db.query(`INSERT INTO plain SELECT g, g FROM generate_series(1, 10000) g`);
    await eventually(() => expectTableEqualsQuery(db, 'plain_totals', agg('plain')));
    expect((await fuse('plain_totals')).fuse_state).toBe('armed');

    await startService(100);
    await eventually(async () => expect((await fuse('plain_totals')).effective_ceiling).toBe('100'));
    await db.query(`INSERT INTO plain SELECT g, g FROM generate_series(10001, 10150) g`);
    expect((await untilBlown('plain_totals')).blow_reason).toBe('change count (150) exceeded ceiling (100)');
  });
});
