/**
 * Watermark gating end to end (docs/watermarks.md): a running service, driven only through the SQL
 * API as an ETL job would drive it — sources loaded with INSERT, watermarks advanced with
 * pgtrickle.advance_watermark() in the load's transaction, groups and stream tables created with
 * the SQL functions. What the scheduler did is read from its tick reports (which gate held a table,
 * and why) and from the stream tables' contents; nothing waits for a fixed time.
 */

import type { TickReport, UnitReport } from '@pgtrickle/scheduler';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Alert, parseAlert, TrickleService } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db } = useTrickle();
const reports: TickReport[] = [];
let service: TrickleService | null = null;

async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() - start > timeoutMs) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function startService(watermarkHoldbackTimeoutMs?: number): Promise<void> {
  service = await TrickleService.start({
    connectionString: db.url,
    pollIntervalMs: 100,
    holder: `wm-${watermarkHoldbackTimeoutMs ?? 0}`,
    onTick: (r) => reports.push(r),
    ...(watermarkHoldbackTimeoutMs === undefined ? {} : { watermarkHoldbackTimeoutMs }),
  });
}

async function stopService(): Promise<void> {
  await service?.stop();
  service = null;
}

async function idOf(table: string): Promise<string> {
  const r = await db.query('SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = $1', [table]);
  return String(r.rows[0]?.pgt_id);
}

/** Creates a stream table through the SQL API and waits until the service made it ACTIVE. */
async function createStreamTable(name: string, query: string): Promise<string> {
  await db.query(`SELECT pgtrickle.create_stream_table($1, $2, '1s', 'DIFFERENTIAL')`, [name, query]);
  await eventually(async () => {
    const r = await db.query('SELECT status FROM pgtrickle.pgt_status WHERE table_name = $1', [name]);
    expect(r.rows[0]?.status).toBe('ACTIVE');
  });
  return idOf(name);
}

/** The unit report of table `id` in `report`, if it was planned. */
function unitOf(report: TickReport, id: string): UnitReport | undefined {
  return report.units.find((u) => u.members.includes(id));
}

/** Waits for `n` more ticks (counting from now); returns the last one. */
async function ticks(n = 2): Promise<TickReport> {
  const from = reports.length;
  return eventually(async () => {
    expect(reports.length).toBeGreaterThanOrEqual(from + n);
    return reports[reports.length - 1] as TickReport;
  });
}

/** Waits until a tick held table `id` in the watermark gate with a reason matching `reason`. */
async function heldByWatermark(id: string, reason: RegExp | string): Promise<UnitReport> {
  const from = reports.length;
  return eventually(async () => {
    const held = reports
      .slice(from)
      .map((r) => unitOf(r, id))
      .find((u) => u?.outcome === 'skipped' && u.gate === 'watermark');
    expect(held?.reason).toMatch(reason);
    return held as UnitReport;
  });
}

/** The watermark decisions of table `id` in the ticks after `from`. */
function watermarkHoldsSince(from: number, id: string): number {
  return reports.slice(from).filter((r) => unitOf(r, id)?.gate === 'watermark').length;
}

async function count(table: string): Promise<number> {
  return Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
}

async function advance(source: string, at: string): Promise<void> {
  await db.query('SELECT pgtrickle.advance_watermark($1, $2)', [source, at]);
}

beforeAll(async () => {
  await startService();
});

afterAll(async () => {
  await stopService();
});

describe('watermark gating through a running service', () => {
  it('holds a join over two sources two hours apart until they align within the tolerance', async () => {
    await db.query(`CREATE TABLE orders (id int PRIMARY KEY, amount int);
                    CREATE TABLE shipments (id int PRIMARY KEY, carrier text);
                    INSERT INTO orders VALUES (1, 10), (2, 20); INSERT INTO shipments VALUES (1, 'ups'), (2, 'dhl')`);
    await advance('orders', '2024-01-01 14:00:00+00');
    await advance('shipments', '2024-01-01 12:00:00+00');
    await db.query(`SELECT pgtrickle.create_watermark_group('fulfilment', ARRAY['orders', 'shipments'], 60)`);
    const query = 'SELECT o.id, o.amount, s.carrier FROM orders o JOIN shipments s ON s.id = o.id';
    const id = await createStreamTable('order_shipments', query);
    expect(await count('order_shipments')).toBe(2);

    await db.query(`BEGIN; INSERT INTO orders VALUES (3, 30); INSERT INTO shipments VALUES (3, 'fedex');
                    SELECT pgtrickle.advance_watermark('orders', '2024-01-01 14:05:00+00'); COMMIT`);
    await heldByWatermark(
      id,
      "watermark group 'fulfilment' misaligned: lag 7500s exceeds tolerance 60s; waiting for public.shipments",
    );
    await ticks(3);
    expect(await count('order_shipments')).toBe(2);
    // The hold is data: one SKIP row in the history, and the hold in pgt_status.
    await eventually(async () => {
      const skips = await db.query(
        `SELECT gate, reason FROM pgtrickle.pgt_refresh_log WHERE name = 'public.order_shipments' AND action = 'SKIP'`,
      );
      expect(skips.rows).toEqual([
        { gate: 'watermark', reason: expect.stringContaining("watermark group 'fulfilment' misaligned") },
      ]);
      const hold = await db.query(
        `SELECT hold_gate FROM pgtrickle.pgt_status WHERE name = 'public.order_shipments'`,
      );
      expect(hold.rows[0]?.hold_gate).toBe('watermark');
    });
    const status = await db.query(
      `SELECT * FROM pgtrickle.watermark_status() WHERE group_name = 'fulfilment'`,
    );
    expect(status.rows[0]).toMatchObject({
      lag_secs: 7500,
      aligned: false,
      sources_with_watermark: 2,
      sources_total: 2,
    });

    // The shipments load catches up (within the tolerance): the next tick refreshes.
    await db.query(`BEGIN; INSERT INTO shipments VALUES (4, 'ups');
                    SELECT pgtrickle.advance_watermark('shipments', '2024-01-01 14:04:30+00'); COMMIT`);
    await eventually(() => expectTableEqualsQuery(db, 'order_shipments', query));
    expect(await count('order_shipments')).toBe(3);
    await eventually(async () => {
      const hold = await db.query(
        `SELECT hold_gate FROM pgtrickle.pgt_status WHERE name = 'public.order_shipments'`,
      );
      expect(hold.rows[0]?.hold_gate).toBeNull();
    });
  });

  it('a watermark advanced in a rolled-back transaction never counts; an open one is not seen', async () => {
    await db.query(`CREATE TABLE clicks (id int PRIMARY KEY, page text);
                    CREATE TABLE views (id int PRIMARY KEY, secs int);
                    INSERT INTO clicks VALUES (1, 'home'); INSERT INTO views VALUES (1, 5)`);
    await advance('clicks', '2024-01-01 12:05:00+00');
    await advance('views', '2024-01-01 11:55:00+00');
    await db.query(`SELECT pgtrickle.create_watermark_group('web', ARRAY['clicks', 'views'])`);
    const query = 'SELECT c.id, c.page, v.secs FROM clicks c JOIN views v ON v.id = c.id';
    const id = await createStreamTable('click_views', query);
    await db.query(`INSERT INTO clicks VALUES (2, 'cart'); INSERT INTO views VALUES (2, 9)`);
    await heldByWatermark(id, "watermark group 'web' misaligned: lag 600s exceeds tolerance 0s");

    const etl = new pg.Client({ connectionString: db.url });
    await etl.connect();
    try {
      await etl.query('BEGIN');
      await etl.query(`SELECT pgtrickle.advance_watermark('views', '2024-01-01 12:05:00+00')`);
      await etl.query('ROLLBACK');
      let from = reports.length;
      await ticks(3);
      expect(watermarkHoldsSince(from, id)).toBeGreaterThanOrEqual(2);
      const wm = await db.query(`SELECT watermark FROM pgtrickle.watermarks() WHERE source_table = 'views'`);
      expect(wm.rows[0]?.watermark).toEqual(new Date('2024-01-01T11:55:00Z'));

      // Data and watermark published together: nothing of it is seen before the COMMIT.
      await etl.query('BEGIN');
      await etl.query(`INSERT INTO views VALUES (3, 1); INSERT INTO clicks VALUES (3, 'pay')`);
      await etl.query(`SELECT pgtrickle.advance_watermark('views', '2024-01-01 12:05:00+00')`);
      from = reports.length;
      await ticks(3);
      expect(watermarkHoldsSince(from, id)).toBeGreaterThanOrEqual(2);
      expect(await count('click_views')).toBe(1);
      await etl.query('COMMIT');
    } finally {
      await etl.end();
    }
    await eventually(() => expectTableEqualsQuery(db, 'click_views', query));
    expect(await count('click_views')).toBe(3);
  });

  it('tolerance 120 s: lag 30 s refreshes, lag 180 s is held, lag exactly 120 s refreshes', async () => {
    await db.query(`CREATE TABLE bids (id int PRIMARY KEY, price int); CREATE TABLE asks (id int PRIMARY KEY, price int);
                    INSERT INTO bids VALUES (1, 10); INSERT INTO asks VALUES (1, 11)`);
    await advance('bids', '2024-01-01 12:00:30+00');
    await advance('asks', '2024-01-01 12:00:00+00');
    await db.query(`SELECT pgtrickle.create_watermark_group('book', ARRAY['bids', 'asks'], 120)`);
    const query = 'SELECT b.id, b.price AS bid, a.price AS ask FROM bids b JOIN asks a ON a.id = b.id';
    const id = await createStreamTable('spread', query);
    await db.query(`INSERT INTO bids VALUES (2, 20); INSERT INTO asks VALUES (2, 21)`);
    await eventually(() => expectTableEqualsQuery(db, 'spread', query));

    await db.query(`BEGIN; INSERT INTO bids VALUES (3, 30); INSERT INTO asks VALUES (3, 31);
                    SELECT pgtrickle.advance_watermark('bids', '2024-01-01 12:03:00+00'); COMMIT`);
    await heldByWatermark(id, "watermark group 'book' misaligned: lag 180s exceeds tolerance 120s");
    expect(await count('spread')).toBe(2);

    await advance('asks', '2024-01-01 12:01:00+00');
    await eventually(() => expectTableEqualsQuery(db, 'spread', query));
    expect(await count('spread')).toBe(3);
  });

  it('a source without a watermark yet does not gate; once it reports, the group gates', async () => {
    await db.query(`CREATE TABLE users (id int PRIMARY KEY, name text); CREATE TABLE logins (id int PRIMARY KEY, n int);
                    INSERT INTO users VALUES (1, 'ann'); INSERT INTO logins VALUES (1, 3)`);
    await advance('users', '2024-01-01 12:00:00+00');
    await db.query(`SELECT pgtrickle.create_watermark_group('people', ARRAY['users', 'logins'])`);
    const query = 'SELECT u.id, u.name, l.n FROM users u JOIN logins l ON l.id = u.id';
    const id = await createStreamTable('user_logins', query);
    await db.query(`INSERT INTO users VALUES (2, 'bob'); INSERT INTO logins VALUES (2, 1)`);
    await eventually(() => expectTableEqualsQuery(db, 'user_logins', query));

    await db.query(`BEGIN; INSERT INTO users VALUES (3, 'cy'); INSERT INTO logins VALUES (3, 7);
                    SELECT pgtrickle.advance_watermark('logins', '2024-01-01 11:00:00+00'); COMMIT`);
    await heldByWatermark(id, "watermark group 'people' misaligned: lag 3600s");
    expect(await count('user_logins')).toBe(2);
  });

  it('a table reading one source of a misaligned group refreshes while the join is held', async () => {
    await db.query(`CREATE TABLE trades (id int PRIMARY KEY, qty int); CREATE TABLE quotes (id int PRIMARY KEY, px int);
                    INSERT INTO trades VALUES (1, 5); INSERT INTO quotes VALUES (1, 100)`);
    await advance('trades', '2024-01-01 12:05:00+00');
    await advance('quotes', '2024-01-01 11:55:00+00');
    await db.query(`SELECT pgtrickle.create_watermark_group('market', ARRAY['trades', 'quotes'])`);
    const joinQuery = 'SELECT t.id, t.qty, q.px FROM trades t JOIN quotes q ON q.id = t.id';
    const onlyQuery = 'SELECT id, qty FROM trades';
    const joinId = await createStreamTable('trade_quotes', joinQuery);
    await createStreamTable('trade_only', onlyQuery);
    await db.query(`INSERT INTO trades VALUES (2, 6); INSERT INTO quotes VALUES (2, 101)`);
    await heldByWatermark(joinId, "watermark group 'market' misaligned");
    await eventually(() => expectTableEqualsQuery(db, 'trade_only', onlyQuery));
    expect(await count('trade_only')).toBe(2);
    expect(await count('trade_quotes')).toBe(1);
  });

  it('transitive sources: a table over stream tables over both sources is held, the intermediates are not', async () => {
    await db.query(`CREATE TABLE inv (id int PRIMARY KEY, qty int); CREATE TABLE prices (id int PRIMARY KEY, px int);
                    INSERT INTO inv VALUES (1, 5); INSERT INTO prices VALUES (1, 100)`);
    await advance('inv', '2024-01-01 12:05:00+00');
    await advance('prices', '2024-01-01 11:55:00+00');
    await db.query(`SELECT pgtrickle.create_watermark_group('stock', ARRAY['inv', 'prices'])`);
    const invQuery = 'SELECT id, qty FROM inv';
    const priceQuery = 'SELECT id, px FROM prices';
    const valueQuery = 'SELECT i.id, i.qty * p.px AS value FROM inv_st i JOIN price_st p ON p.id = i.id';
    await createStreamTable('inv_st', invQuery);
    await createStreamTable('price_st', priceQuery);
    const valueId = await createStreamTable('stock_value', valueQuery);
    await db.query(`INSERT INTO inv VALUES (2, 6); INSERT INTO prices VALUES (2, 50)`);
    await heldByWatermark(valueId, "watermark group 'stock' misaligned: lag 600s exceeds tolerance 0s");
    await eventually(() => expectTableEqualsQuery(db, 'inv_st', invQuery));
    await eventually(() => expectTableEqualsQuery(db, 'price_st', priceQuery));
    expect(await count('stock_value')).toBe(1);
    await advance('prices', '2024-01-01 12:05:00+00');
    await eventually(() => expectTableEqualsQuery(db, 'stock_value', valueQuery));
  });

  it('a manual refresh of a held table succeeds', async () => {
    await db.query(`CREATE TABLE left_src (id int PRIMARY KEY); CREATE TABLE right_src (id int PRIMARY KEY);
                    INSERT INTO left_src VALUES (1); INSERT INTO right_src VALUES (1)`);
    await advance('left_src', '2024-01-01 12:05:00+00');
    await advance('right_src', '2024-01-01 11:55:00+00');
    await db.query(`SELECT pgtrickle.create_watermark_group('lr', ARRAY['left_src', 'right_src'])`);
    const query = 'SELECT l.id FROM left_src l JOIN right_src r ON r.id = l.id';
    const id = await createStreamTable('left_right', query);
    await db.query(`INSERT INTO left_src VALUES (2); INSERT INTO right_src VALUES (2)`);
    await heldByWatermark(id, "watermark group 'lr' misaligned");
    expect(await count('left_right')).toBe(1);
    const req = await db.query(`SELECT pgtrickle.refresh_stream_table('left_right') AS id`);
    await eventually(async () => {
      const r = await db.query('SELECT status, error FROM pgtrickle.pgt_request_log WHERE request_id = $1', [
        req.rows[0]?.id,
      ]);
      expect(r.rows[0]).toEqual({ status: 'DONE', error: null });
    });
    await expectTableEqualsQuery(db, 'left_right', query);
    // The scheduler still holds it afterwards.
    await db.query(`INSERT INTO left_src VALUES (3); INSERT INTO right_src VALUES (3)`);
    await heldByWatermark(id, "watermark group 'lr' misaligned");
  });
});

describe('watermark × diamond', () => {
  it('a watermark hold on one member of a diamond holds the whole consistency group', async () => {
    await db.query(`CREATE TABLE dx (id int PRIMARY KEY, v int); CREATE TABLE dy (id int PRIMARY KEY, w int);
                    INSERT INTO dx VALUES (1, 1); INSERT INTO dy VALUES (1, 10)`);
    await advance('dx', '2024-01-01 12:05:00+00');
    await advance('dy', '2024-01-01 11:55:00+00');
    await db.query(`SELECT pgtrickle.create_watermark_group('dxy', ARRAY['dx', 'dy'])`);
    const leftQuery = 'SELECT id, v FROM dx';
    const rightQuery = 'SELECT dx.id, dy.w FROM dx JOIN dy ON dy.id = dx.id';
    const apexQuery = 'SELECT l.id, l.v, r.w FROM d_left l JOIN d_right r ON r.id = l.id';
    const left = await createStreamTable('d_left', leftQuery);
    const right = await createStreamTable('d_right', rightQuery);
    const apex = await createStreamTable('d_apex', apexQuery);
    await db.query(`INSERT INTO dx VALUES (2, 2); INSERT INTO dy VALUES (2, 20)`);
    // d_left reads dx only, but refreshes only with its group, which d_right's hold keeps back.
    const held = await heldByWatermark(left, "watermark group 'dxy' misaligned");
    expect(held.kind).toBe('group');
    expect([...held.members].sort()).toEqual([left, right, apex].sort());
    await ticks(2);
    expect(await count('d_left')).toBe(1);
    expect(await count('d_apex')).toBe(1);
    await advance('dy', '2024-01-01 12:05:00+00');
    await eventually(async () => {
      await expectTableEqualsQuery(db, 'd_left', leftQuery);
      await expectTableEqualsQuery(db, 'd_right', rightQuery);
      await expectTableEqualsQuery(db, 'd_apex', apexQuery);
    });
  });
});

describe('stuck sources', () => {
  const alerts: Alert[] = [];
  let listener: pg.Client;
  const query = 'SELECT f.id, f.v, g.w FROM feed f JOIN gauge g ON g.id = f.id';

  beforeAll(async () => {
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (n) => {
      const a = parseAlert(n.payload);
      // (the sources of the other tests' groups, not advanced for a while, are stuck too)
      if (a?.event.startsWith('watermark_') && a.source === 'public.feed') alerts.push(a);
    });
    await listener.query('LISTEN pgtrickle_alert');
    await db.query(`CREATE TABLE feed (id int PRIMARY KEY, v int); CREATE TABLE gauge (id int PRIMARY KEY, w int);
                    INSERT INTO feed VALUES (1, 1); INSERT INTO gauge VALUES (1, 1)`);
    // Only feed reports watermarks: the group never gates on alignment, only on feed being stuck.
    await db.query(`SELECT pgtrickle.advance_watermark('feed', now())`);
    await db.query(`SELECT pgtrickle.create_watermark_group('telemetry', ARRAY['feed', 'gauge'])`);
    await createStreamTable('feed_gauge', query);
  });

  afterAll(async () => {
    await listener?.end();
  });

  const age = async () =>
    Number(
      (
        await db.query(`SELECT EXTRACT(EPOCH FROM clock_timestamp() - updated_at)::float8 AS a
                         FROM pgtrickle.watermarks() WHERE source_table = 'feed'`)
      ).rows[0]?.a,
    );

  it('timeout 0 (the default): never stuck; timeout 2 s: a source not advanced for longer holds the table with one watermark_stuck alert, and advancing it resumes', async () => {
    await eventually(async () => expect(await age()).toBeGreaterThan(2.5));
    await db.query(`INSERT INTO feed VALUES (2, 2); INSERT INTO gauge VALUES (2, 2)`);
    await eventually(() => expectTableEqualsQuery(db, 'feed_gauge', query));
    expect(alerts).toEqual([]);

    // The same source, with a timeout of 2 s:
    await stopService();
    await startService(2000);
    const id = await idOf('feed_gauge');
    await db.query(`INSERT INTO feed VALUES (3, 3); INSERT INTO gauge VALUES (3, 3)`);
    const held = await heldByWatermark(
      id,
      /watermark group 'telemetry' holds: the watermark of public\.feed is stuck/,
    );
    expect(held.reason).toMatch(/not advanced for [\d.]+s, timeout 2s/);
    await ticks(3);
    expect(await count('feed_gauge')).toBe(2);
    const feedOid = Number((await db.query(`SELECT 'feed'::regclass::oid AS o`)).rows[0]?.o);
    expect(alerts).toEqual([
      expect.objectContaining({
        event: 'watermark_stuck',
        group: 'telemetry',
        source: 'public.feed',
        source_oid: feedOid,
        age_secs: expect.any(Number),
      }),
    ]);
    expect(alerts[0]?.age_secs as number).toBeGreaterThan(2);

    await db.query(`SELECT pgtrickle.advance_watermark('feed', now())`);
    await eventually(async () =>
      expect(alerts.map((a) => a.event)).toEqual(['watermark_stuck', 'watermark_resumed']),
    );
    expect(alerts[1]).toMatchObject({ source: 'public.feed', source_oid: feedOid });
    await eventually(() => expectTableEqualsQuery(db, 'feed_gauge', query));
  });
});
