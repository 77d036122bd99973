/**
 * The features together, end to end through a running service driven only through the SQL API:
 * the gate order (status → schedule → upstream-changes → fuse → watermark → snapshot-coherence),
 * fuse × watermark, and a fuse or a watermark on one member of a declared refresh group holding
 * the whole group. What held a table is read from the catalog (`pgt_status.hold_gate`, the SKIP
 * rows of the history), never from timing.
 */
import { DEFAULT_GATE_ORDER } from '@pgtrickle/gates';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrickleService } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db } = useTrickle();
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

async function createStreamTable(name: string, query: string): Promise<void> {
  await db.query(`SELECT pgtrickle.create_stream_table($1, $2, '1s', 'DIFFERENTIAL')`, [name, query]);
  await eventually(async () => {
    const r = await db.query('SELECT status FROM pgtrickle.pgt_status WHERE table_name = $1', [name]);
    expect(r.rows[0]?.status).toBe('ACTIVE');
  });
}

async function holdOf(name: string): Promise<{ gate: string | null; reason: string | null }> {
  const r = await db.query('SELECT hold_gate, hold_reason FROM pgtrickle.pgt_status WHERE table_name = $1', [
    name,
  ]);
  return { gate: r.rows[0]?.hold_gate ?? null, reason: r.rows[0]?.hold_reason ?? null };
}

async function skipGates(name: string): Promise<string[]> {
  const r = await db.query(
    `SELECT gate FROM pgtrickle.pgt_refresh_log WHERE name = $1 AND action = 'SKIP' ORDER BY refresh_id`,
    [`public.${name}`],
  );
  return r.rows.map((x) => String(x.gate));
}

async function heldBy(name: string, gate: string): Promise<string> {
  return eventually(async () => {
    const h = await holdOf(name);
    expect(h.gate).toBe(gate);
    return h.reason as string;
  });
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, amount int NOT NULL);
    CREATE TABLE lines (id int PRIMARY KEY, order_id int NOT NULL, qty int NOT NULL);
    INSERT INTO orders SELECT g, g % 5, g FROM generate_series(1, 20) g;
    INSERT INTO lines SELECT g, 1 + g % 20, g % 3 + 1 FROM generate_series(1, 40) g;
    CREATE TABLE c1 (id int PRIMARY KEY, v int NOT NULL);
    CREATE TABLE d1 (id int PRIMARY KEY, v int NOT NULL);
    INSERT INTO c1 SELECT g, g FROM generate_series(1, 10) g;
    INSERT INTO d1 SELECT g, g FROM generate_series(1, 10) g;
  `);
  service = await TrickleService.start({
    connectionString: db.url,
    pollIntervalMs: 100,
    holder: 'interactions',
  });
});

afterAll(async () => {
  await service?.stop();
});

describe('the gate order', () => {
  it('is status, schedule, upstream-changes, fuse, watermark, snapshot-coherence', () => {
    expect([...DEFAULT_GATE_ORDER]).toEqual([
      'status',
      'schedule',
      'upstream-changes',
      'fuse',
      'watermark',
      'snapshot-coherence',
    ]);
  });
});

describe('fuse × watermark', () => {
  const q =
    'SELECT o.customer, sum(l.qty) AS qty, count(*) AS n FROM orders o JOIN lines l ON l.order_id = o.id GROUP BY o.customer';

  it('the fuse (before the watermark) blows on a batch while the watermarks are misaligned; after its reset the watermark holds until they align', async () => {
    await createStreamTable('joined', q);
    await db.query(`SELECT pgtrickle.alter_stream_table('joined', fuse => 'on', fuse_ceiling => 10)`);
    await db.query(`SELECT pgtrickle.create_watermark_group('loads', ARRAY['orders', 'lines'], 0)`);
    await db.query(`SELECT pgtrickle.advance_watermark('orders', '2026-01-01 12:00+00')`);
    await db.query(`SELECT pgtrickle.advance_watermark('lines', '2026-01-01 10:00+00')`);
    const before = await db.query('SELECT * FROM joined ORDER BY customer');

    // A load of 30 lines (above the ceiling) while the watermarks are two hours apart.
    await db.query('INSERT INTO lines SELECT g, 1 + g % 20, 1 FROM generate_series(100, 129) g');
    expect(await heldBy('joined', 'fuse')).toMatch(/exceeded ceiling/);
    expect((await db.query('SELECT * FROM joined ORDER BY customer')).rows).toEqual(before.rows);

    // The fuse reset accepts the batch; now the watermark gate holds it.
    await db.query(`SELECT pgtrickle.reset_fuse('joined', 'apply')`);
    expect(await heldBy('joined', 'watermark')).toMatch(/watermark group 'loads' misaligned/);
    expect((await db.query('SELECT * FROM joined ORDER BY customer')).rows).toEqual(before.rows);
    expect(await skipGates('joined')).toEqual(['fuse', 'watermark']);

    // Aligned: refreshed (the accepted batch does not blow the fuse again).
    await db.query(`SELECT pgtrickle.advance_watermark('lines', '2026-01-01 12:00+00')`);
    await eventually(() => expectTableEqualsQuery(db, 'joined', q));
    await eventually(async () => expect((await holdOf('joined')).gate).toBeNull());
    const fuse = await db.query(
      `SELECT fuse_state FROM pgtrickle.fuse_status() WHERE stream_table = 'public.joined'`,
    );
    expect(fuse.rows[0]?.fuse_state).toBe('armed');
    await db.query(`SELECT pgtrickle.drop_watermark_group('loads')`);
  });
});

describe('a declared refresh group', () => {
  const qc = 'SELECT sum(v) AS s, count(*) AS n FROM c1';
  const qd = 'SELECT sum(v) AS s, count(*) AS n FROM d1';

  it('is held whole by a blown fuse on one member (fuse × refresh group)', async () => {
    await createStreamTable('gc', qc);
    await createStreamTable('gd', qd);
    await db.query(`SELECT pgtrickle.create_refresh_group('pair', ARRAY['gc', 'gd'], 'repeatable_read')`);
    await db.query(`SELECT pgtrickle.alter_stream_table('gc', fuse => 'on', fuse_ceiling => 5)`);
    await db.query('INSERT INTO c1 SELECT g, g FROM generate_series(100, 120) g'); // 21 rows: blows gc
    await db.query('INSERT INTO d1 VALUES (100, 100)'); // one row for gd: it must wait with its group
    await heldBy('gc', 'fuse');
    const gdHold = await heldBy('gd', 'fuse');
    expect(gdHold).toMatch(/fuse/);
    expect((await db.query('SELECT n FROM gd')).rows[0]?.n).toBe('10');

    await db.query(`SELECT pgtrickle.reset_fuse('gc')`);
    await eventually(() => expectTableEqualsQuery(db, 'gc', qc));
    await eventually(() => expectTableEqualsQuery(db, 'gd', qd));
  });

  it('is held whole by misaligned watermarks on one member (watermark × refresh group)', async () => {
    await db.query(`SELECT pgtrickle.alter_stream_table('gc', fuse => 'off')`);
    await db.query(`CREATE TABLE c2 (id int PRIMARY KEY, v int NOT NULL); INSERT INTO c2 VALUES (1, 1)`);
    // gc now joins two watermarked sources; its group partner gd reads neither.
    await db.query(
      `SELECT pgtrickle.alter_stream_table('gc', query => 'SELECT sum(c1.v) AS s, count(*) AS n FROM c1 JOIN c2 ON c2.id = 1')`,
    );
    const qc2 = 'SELECT sum(c1.v) AS s, count(*) AS n FROM c1 JOIN c2 ON c2.id = 1';
    await eventually(() => expectTableEqualsQuery(db, 'gc', qc2));
    await db.query(`SELECT pgtrickle.create_watermark_group('cs', ARRAY['c1', 'c2'], 60)`);
    await db.query(`SELECT pgtrickle.advance_watermark('c1', '2026-01-01 12:00+00')`);
    await db.query(`SELECT pgtrickle.advance_watermark('c2', '2026-01-01 11:00+00')`);
    await db.query('INSERT INTO c1 VALUES (500, 5)');
    await db.query('INSERT INTO d1 VALUES (500, 5)');
    await heldBy('gc', 'watermark');
    await heldBy('gd', 'watermark');
    expect((await db.query('SELECT n FROM gd')).rows[0]?.n).toBe('11');

    await db.query(`SELECT pgtrickle.advance_watermark('c2', '2026-01-01 11:59+00')`); // within 60 s
    await eventually(() => expectTableEqualsQuery(db, 'gc', qc2));
    await eventually(() => expectTableEqualsQuery(db, 'gd', qd));
  });
});
