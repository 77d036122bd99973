/**
 * Watermark gating through the real `pgtrickle run` process, configured with
 * `--watermark-holdback-timeout-ms`, driven only through the SQL API: a join over two sources whose
 * watermarks are two hours apart is held; both sources go stuck and each sends one
 * `watermark_stuck` alert; one load transaction advancing both within the tolerance resumes them
 * (`watermark_resumed`) and the join refreshes.
 */
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, eventually, killAll, startCli } from './support/process.js';

const db = useTestDatabase();
const processes: CliProcess[] = [];
const alerts: Record<string, unknown>[] = [];
let listener: pg.Client;

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

describe('pgtrickle run with watermark groups', () => {
  it('holds a misaligned join, alerts on stuck sources, and refreshes once one load aligns them', async () => {
    const run = startCli([
      'run',
      '--database-url',
      db.url,
      '--poll-interval-ms',
      '200',
      '--log-level',
      'debug',
      '--log-format',
      'json',
      '--watermark-holdback-timeout-ms',
      '3000',
    ]);
    processes.push(run);
    await run.waitForLog('leadership-acquired');
    await db.query(`CREATE TABLE orders (id int PRIMARY KEY, amount int);
                    CREATE TABLE shipments (id int PRIMARY KEY, carrier text);
                    INSERT INTO orders VALUES (1, 10); INSERT INTO shipments VALUES (1, 'ups');
                    SELECT pgtrickle.advance_watermark('orders', '2024-01-01 14:00:00+00');
                    SELECT pgtrickle.advance_watermark('shipments', '2024-01-01 12:00:00+00');
                    SELECT pgtrickle.create_watermark_group('fulfilment', ARRAY['orders', 'shipments'], 60);`);
    const query = 'SELECT o.id, o.amount, s.carrier FROM orders o JOIN shipments s ON s.id = o.id';
    await db.query(`SELECT pgtrickle.create_stream_table('order_shipments', $1, '1s', 'DIFFERENTIAL')`, [
      query,
    ]);
    await eventually(async () => {
      const r = await db.query(
        `SELECT status FROM pgtrickle.pgt_status WHERE table_name = 'order_shipments'`,
      );
      expect(r.rows[0]?.status).toBe('ACTIVE');
    });
    await db.query(`INSERT INTO orders VALUES (2, 20); INSERT INTO shipments VALUES (2, 'dhl')`);
    const ticks = () => run.logs().filter((l) => l.event === 'tick').length;
    const from = ticks();
    await eventually(async () => expect(ticks()).toBeGreaterThanOrEqual(from + 8));
    expect(Number((await db.query('SELECT count(*) AS n FROM order_shipments')).rows[0]?.n)).toBe(1);

    await eventually(async () =>
      expect(alerts.filter((a) => a.event === 'watermark_stuck').map((a) => a.source)).toEqual(
        expect.arrayContaining(['public.orders', 'public.shipments']),
      ),
    );
    const stuckFrom = ticks();
    await eventually(async () => expect(ticks()).toBeGreaterThanOrEqual(stuckFrom + 3));
    expect(alerts.filter((a) => a.event === 'watermark_stuck')).toHaveLength(2);

    await db.query(`BEGIN; INSERT INTO orders VALUES (3, 30); INSERT INTO shipments VALUES (3, 'fedex');
                    SELECT pgtrickle.advance_watermark('orders', '2024-01-01 14:05:00+00');
                    SELECT pgtrickle.advance_watermark('shipments', '2024-01-01 14:04:30+00'); COMMIT`);
    await eventually(() => expectTableEqualsQuery(db, 'order_shipments', query));
    expect(Number((await db.query('SELECT count(*) AS n FROM order_shipments')).rows[0]?.n)).toBe(3);
    await eventually(async () =>
      expect(alerts.filter((a) => a.event === 'watermark_resumed').map((a) => a.source)).toEqual(
        expect.arrayContaining(['public.orders', 'public.shipments']),
      ),
    );
  });
});
