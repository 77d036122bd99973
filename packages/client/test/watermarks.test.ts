/**
 * The watermark SQL API against a real PostgreSQL (docs/watermarks.md): advance_watermark is
 * monotonic, idempotent and transactional with the caller; groups are validated with the documented
 * SQLSTATEs; watermark_status() computes min, max, lag and alignment; the rights are PostgreSQL's
 * (write the table to advance it, own the sources to group them); a dropped source leaves its groups.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Trickle } from '../src/index.js';
import { TestRoles } from './support/roles.js';

const db = useTestDatabase();
const roles = new TestRoles(() => db.url);
const writer = roles.name('pgt_wm_writer');
const reader = roles.name('pgt_wm_reader');
let trickle: Trickle;
let asWriter: pg.Client;
let asReader: pg.Client;

async function watermarkOf(table: string): Promise<{ watermark: Date; updated_at: Date } | undefined> {
  const r = await db.query(
    `SELECT watermark, updated_at FROM pgtrickle.watermarks() WHERE schema_name || '.' || source_table = $1`,
    [table],
  );
  return r.rows[0] as { watermark: Date; updated_at: Date } | undefined;
}

async function plainClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  return c;
}

async function status(group: string): Promise<Record<string, unknown> | undefined> {
  const r = await db.query('SELECT * FROM pgtrickle.watermark_status() WHERE group_name = $1', [group]);
  return r.rows[0] as Record<string, unknown> | undefined;
}

beforeAll(async () => {
  trickle = await connect({ connectionString: db.url });
  await trickle.install();
  await db.query(`
    CREATE TABLE public.orders (id int PRIMARY KEY, at timestamptz);
    CREATE TABLE public.lines (id int PRIMARY KEY, order_id int);
    CREATE TABLE public.refunds (id int PRIMARY KEY);
    CREATE TABLE public.doomed (id int PRIMARY KEY);
    CREATE ROLE ${writer} LOGIN PASSWORD '${roles.password}';
    CREATE ROLE ${reader} LOGIN PASSWORD '${roles.password}';
    GRANT pgtrickle_user TO ${writer}, ${reader};
    GRANT CONNECT ON DATABASE ${db.name} TO ${writer}, ${reader};
    GRANT INSERT ON public.orders TO ${writer};
    GRANT SELECT ON public.orders TO ${reader};
  `);
  asWriter = await roles.client(writer);
  asReader = await roles.client(reader);
});

afterAll(async () => {
  await asWriter?.end().catch(() => undefined);
  await asReader?.end().catch(() => undefined);
  await trickle?.close();
  for (const role of [writer, reader]) {
    await db.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`).catch(() => undefined);
  }
});

describe('advance_watermark', () => {
  it('records the first watermark with who, when and the WAL position', async () => {
    await db.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 12:00:00+00')`);
    const r = await db.query(
      `SELECT source_table, schema_name, watermark, advanced_by, wal_lsn FROM pgtrickle.watermarks() WHERE source_table = 'orders'`,
    );
    expect(r.rows).toEqual([
      {
        source_table: 'orders',
        schema_name: 'public',
        watermark: new Date('2024-01-01T12:00:00Z'),
        advanced_by: expect.any(String),
        wal_lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/),
      },
    ]);
  });

  it('advanced twice to the same value: one row, no error, not even updated_at changes', async () => {
    const before = await watermarkOf('public.orders');
    await db.query(`SELECT pgtrickle.advance_watermark('public.orders', '2024-01-01 12:00:00+00')`);
    const after = await watermarkOf('public.orders');
    expect(after).toEqual(before);
    const rows = await db.query(
      `SELECT count(*)::int AS n FROM pgtrickle.pgt_watermarks WHERE source_relid = 'public.orders'::regclass`,
    );
    expect(rows.rows[0]?.n).toBe(1);
  });

  it('refuses to move backward (22000) and keeps the value', async () => {
    await expect(
      db.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 11:00:00+00')`),
    ).rejects.toMatchObject({ code: '22000', message: expect.stringContaining('watermark moved backward') });
    expect((await watermarkOf('public.orders'))?.watermark).toEqual(new Date('2024-01-01T12:00:00Z'));
  });

  it('moves forward, updating updated_at', async () => {
    const c = await plainClient();
    let txStart: Date;
    try {
      await c.query('BEGIN');
      await c.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 12:05:00+00')`);
      txStart = (await c.query('SELECT now() AS t')).rows[0]?.t as Date;
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    expect(await watermarkOf('public.orders')).toEqual({
      watermark: new Date('2024-01-01T12:05:00Z'),
      updated_at: txStart,
    });
  });

  it('is part of the caller transaction: a rollback leaves the watermark as it was', async () => {
    const c = await roles.client(writer);
    try {
      await c.query('BEGIN');
      await c.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 13:00:00+00')`);
      // Another session does not see it while the transaction is open.
      expect((await watermarkOf('public.orders'))?.watermark).toEqual(new Date('2024-01-01T12:05:00Z'));
      await c.query('ROLLBACK');
    } finally {
      await c.end();
    }
    expect((await watermarkOf('public.orders'))?.watermark).toEqual(new Date('2024-01-01T12:05:00Z'));
  });

  it('serializes concurrent advancers of one source on its row', async () => {
    const a = await plainClient();
    const b = await plainClient();
    try {
      await a.query('BEGIN');
      await a.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 12:30:00+00')`);
      await b.query('BEGIN');
      const bPid = (await b.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
      const late = b.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 12:20:00+00')`);
      late.catch(() => undefined);
      // b waits on a's row lock until a ends.
      for (;;) {
        const w = await db.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [bPid]);
        if (w.rows[0]?.wait_event_type === 'Lock') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await a.query('COMMIT');
      // Then it sees a's value: 12:20 is before 12:30.
      await expect(late).rejects.toMatchObject({ code: '22000' });
      await b.query('ROLLBACK');
    } finally {
      await a.end();
      await b.end();
    }
    expect((await watermarkOf('public.orders'))?.watermark).toEqual(new Date('2024-01-01T12:30:00Z'));
  });

  it('wakes the scheduler at commit (NOTIFY pgtrickle_wake), never for a rollback or an equal value', async () => {
    const listener = await plainClient();
    const payloads: string[] = [];
    listener.on('notification', (n) => payloads.push(`${n.channel} ${n.payload}`));
    await listener.query('LISTEN pgtrickle_wake');
    const oid = (await db.query(`SELECT 'public.orders'::regclass::oid AS o`)).rows[0]?.o as number;
    const c = await plainClient();
    try {
      await c.query('BEGIN');
      await c.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 12:35:00+00')`);
      await c.query('ROLLBACK');
      await c.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 12:30:00+00')`); // equal: no-op
      await c.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 12:31:00+00')`);
      // a marker after the advance, so its notification has arrived when the marker's has
      await c.query(`NOTIFY pgtrickle_wake, 'marker'`);
      for (;;) {
        if (payloads.includes('pgtrickle_wake marker')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(payloads).toEqual([`pgtrickle_wake wm:${oid}`, 'pgtrickle_wake marker']);
    } finally {
      await c.end();
      await listener.end();
    }
  });

  it('refuses an unknown table (42P01), a view, NULL and infinity (22023)', async () => {
    await expect(
      db.query(`SELECT pgtrickle.advance_watermark('nope', '2024-01-01 12:00:00+00')`),
    ).rejects.toMatchObject({ code: '42P01' });
    await db.query('CREATE VIEW public.orders_v AS SELECT * FROM public.orders');
    await expect(
      db.query(`SELECT pgtrickle.advance_watermark('orders_v', '2024-01-01 12:00:00+00')`),
    ).rejects.toMatchObject({ code: '42P01', message: expect.stringContaining('is not a table') });
    await expect(db.query(`SELECT pgtrickle.advance_watermark('lines', NULL)`)).rejects.toMatchObject({
      code: '22023',
    });
    await expect(db.query(`SELECT pgtrickle.advance_watermark('lines', 'infinity')`)).rejects.toMatchObject({
      code: '22023',
    });
    expect(await watermarkOf('public.lines')).toBeUndefined();
  });

  it('needs the right to write the table: INSERT or UPDATE on it, or owning it', async () => {
    await asWriter.query(`SELECT pgtrickle.advance_watermark('public.orders', '2024-01-01 12:40:00+00')`);
    const r = await db.query(`SELECT advanced_by FROM pgtrickle.watermarks() WHERE source_table = 'orders'`);
    expect(r.rows[0]?.advanced_by).toBe(writer);
    await expect(
      asReader.query(`SELECT pgtrickle.advance_watermark('public.orders', '2024-01-01 12:50:00+00')`),
    ).rejects.toMatchObject({ code: '42501' });
    // The operations table keeps nothing and its caller column cannot be forged.
    await expect(
      asReader.query(
        `INSERT INTO pgtrickle.pgt_watermark_ops (op, source_relid, watermark, caller) VALUES ('advance', 'public.orders'::regclass, now(), 10)`,
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(asReader.query('SELECT * FROM pgtrickle.pgt_watermarks')).rejects.toMatchObject({
      code: '42501',
    });
    expect((await db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_watermark_ops')).rows[0]?.n).toBe(0);
    // Everyone with pgtrickle_user reads them.
    expect((await asReader.query('SELECT * FROM pgtrickle.watermarks()')).rows.length).toBeGreaterThan(0);
  });
});

describe('watermark groups', () => {
  it('refuses one source (even named twice), a negative tolerance, a duplicate name (42710); drop of an unknown group is 42704', async () => {
    await expect(
      db.query(`SELECT pgtrickle.create_watermark_group('g1', ARRAY['orders'])`),
    ).rejects.toMatchObject({ code: '22023', message: expect.stringContaining('at least two') });
    await expect(
      db.query(`SELECT pgtrickle.create_watermark_group('g1', ARRAY['orders', 'public.orders'])`),
    ).rejects.toMatchObject({ code: '22023' });
    await expect(
      db.query(`SELECT pgtrickle.create_watermark_group('g1', ARRAY['orders', 'lines'], -1)`),
    ).rejects.toMatchObject({ code: '22023', message: expect.stringContaining('tolerance_secs') });
    await expect(
      db.query(`SELECT pgtrickle.create_watermark_group('g1', ARRAY['orders', 'ghost'])`),
    ).rejects.toMatchObject({ code: '42P01' });
    const id = await db.query(
      `SELECT pgtrickle.create_watermark_group('g1', ARRAY['orders', 'lines']) AS id`,
    );
    expect(id.rows[0]?.id).toEqual(expect.any(Number));
    await expect(
      db.query(`SELECT pgtrickle.create_watermark_group('g1', ARRAY['orders', 'refunds'])`),
    ).rejects.toMatchObject({ code: '42710' });
    await expect(db.query(`SELECT pgtrickle.drop_watermark_group('nope')`)).rejects.toMatchObject({
      code: '42704',
    });
    const groups = await db.query('SELECT * FROM pgtrickle.watermark_groups()');
    expect(groups.rows).toEqual([
      { group_name: 'g1', source_count: 2, tolerance_secs: 0, created_at: expect.any(Date) },
    ]);
  });

  it('watermark_status: min, max, lag_secs, aligned and the counts', async () => {
    // lines has no watermark yet: fewer than two watermarked sources → aligned, lag 0.
    expect(await status('g1')).toEqual({
      group_name: 'g1',
      min_watermark: new Date('2024-01-01T12:40:00Z'),
      max_watermark: new Date('2024-01-01T12:40:00Z'),
      lag_secs: 0,
      aligned: true,
      sources_with_watermark: 1,
      sources_total: 2,
    });
    await db.query(`SELECT pgtrickle.advance_watermark('lines', '2024-01-01 12:30:00+00')`);
    expect(await status('g1')).toMatchObject({
      min_watermark: new Date('2024-01-01T12:30:00Z'),
      max_watermark: new Date('2024-01-01T12:40:00Z'),
      lag_secs: 600,
      aligned: false,
      sources_with_watermark: 2,
      sources_total: 2,
    });
    await db.query(`SELECT pgtrickle.create_watermark_group('g120', ARRAY['orders', 'lines'], 120)`);
    await db.query(`SELECT pgtrickle.advance_watermark('lines', '2024-01-01 12:38:00+00')`);
    // lag exactly the tolerance is aligned
    expect(await status('g120')).toMatchObject({ lag_secs: 120, aligned: true });
    await db.query(`SELECT pgtrickle.advance_watermark('lines', '2024-01-01 12:39:30+00')`);
    expect(await status('g120')).toMatchObject({ lag_secs: 30, aligned: true });
    await db.query(`SELECT pgtrickle.advance_watermark('orders', '2024-01-01 12:42:30+00')`);
    expect(await status('g120')).toMatchObject({ lag_secs: 180, aligned: false });
    expect(await status('g1')).toMatchObject({ lag_secs: 180, aligned: false });
  });

  it('group rights: owning every source or being a member of the installing role', async () => {
    await db.query(`CREATE TABLE public.w_own (id int); ALTER TABLE public.w_own OWNER TO ${writer}`);
    await db.query(`CREATE TABLE public.w_own2 (id int); ALTER TABLE public.w_own2 OWNER TO ${writer}`);
    await expect(
      asWriter.query(
        `SELECT pgtrickle.create_watermark_group('mixed', ARRAY['public.w_own', 'public.orders'])`,
      ),
    ).rejects.toMatchObject({
      code: '42501',
      message: expect.stringContaining('must be owner of table public.orders'),
    });
    await asWriter.query(
      `SELECT pgtrickle.create_watermark_group('mine', ARRAY['public.w_own', 'public.w_own2'])`,
    );
    await expect(asReader.query(`SELECT pgtrickle.drop_watermark_group('mine')`)).rejects.toMatchObject({
      code: '42501',
    });
    // The installing role administers every group.
    await db.query(`SELECT pgtrickle.drop_watermark_group('mine')`);
    await asWriter.query(
      `SELECT pgtrickle.create_watermark_group('mine', ARRAY['public.w_own', 'public.w_own2'])`,
    );
    await asWriter.query(`SELECT pgtrickle.drop_watermark_group('mine')`);
    expect(
      (await db.query(`SELECT * FROM pgtrickle.watermark_groups() WHERE group_name = 'mine'`)).rows,
    ).toEqual([]);
  });

  it('a dropped source leaves its groups and its watermark goes', async () => {
    await db.query(`SELECT pgtrickle.advance_watermark('doomed', '2024-01-01 00:00:00+00')`);
    await db.query(`SELECT pgtrickle.create_watermark_group('gd', ARRAY['doomed', 'refunds', 'orders'])`);
    await db.query('DROP TABLE public.doomed');
    // Reads ignore it at once…
    expect(await status('gd')).toMatchObject({ sources_total: 2, sources_with_watermark: 1 });
    expect(
      (await db.query(`SELECT source_count FROM pgtrickle.watermark_groups() WHERE group_name = 'gd'`)).rows,
    ).toEqual([{ source_count: 2 }]);
    expect(
      (await db.query(`SELECT * FROM pgtrickle.watermarks() WHERE source_table = 'doomed'`)).rows,
    ).toEqual([]);
    // …and the next watermark call removes it from the catalog.
    await db.query(`SELECT pgtrickle.advance_watermark('refunds', '2024-01-01 00:00:00+00')`);
    const rows = await db.query(
      `SELECT cardinality(source_relids) AS n, (SELECT count(*)::int FROM pgtrickle.pgt_watermarks) AS w FROM pgtrickle.pgt_watermark_groups WHERE group_name = 'gd'`,
    );
    expect(rows.rows[0]).toEqual({ n: 2, w: 3 });
  });
});

describe('the TypeScript API', () => {
  it('calls the SQL functions and turns their errors into client errors with stable codes', async () => {
    await db.query('CREATE TABLE public.ts_a (id int); CREATE TABLE public.ts_b (id int)');
    await trickle.advanceWatermark('ts_a', new Date('2024-01-01T12:00:00Z'));
    await trickle.advanceWatermark('public.ts_b', '2024-01-01 11:59:00+00');
    await expect(trickle.advanceWatermark('ts_a', new Date('2024-01-01T11:00:00Z'))).rejects.toMatchObject({
      code: 'PGT_WATERMARK_REGRESSION',
      message: expect.stringContaining('watermarks() shows the current ones'),
      cause: expect.objectContaining({ code: '22000' }),
    });
    await expect(trickle.advanceWatermark('ts_nope', new Date())).rejects.toMatchObject({
      code: 'PGT_INVALID_ARGUMENT',
    });
    const id = await trickle.createWatermarkGroup('ts', ['ts_a', 'ts_b'], { toleranceSecs: 30 });
    expect(id).toBeGreaterThan(0);
    await expect(trickle.createWatermarkGroup('ts', ['ts_a', 'ts_b'])).rejects.toMatchObject({
      code: 'PGT_ALREADY_EXISTS',
    });
    await expect(trickle.createWatermarkGroup('ts1', ['ts_a'])).rejects.toMatchObject({
      code: 'PGT_INVALID_ARGUMENT',
    });
    expect((await trickle.watermarkGroups()).find((g) => g.groupName === 'ts')).toEqual({
      groupName: 'ts',
      sourceCount: 2,
      toleranceSecs: 30,
      createdAt: expect.any(Date),
    });
    expect((await trickle.watermarkStatus()).find((g) => g.groupName === 'ts')).toEqual({
      groupName: 'ts',
      minWatermark: new Date('2024-01-01T11:59:00Z'),
      maxWatermark: new Date('2024-01-01T12:00:00Z'),
      lagSecs: 60,
      aligned: false,
      sourcesWithWatermark: 2,
      sourcesTotal: 2,
    });
    expect((await trickle.watermarks()).find((w) => w.sourceTable === 'ts_a')).toMatchObject({
      schemaName: 'public',
      watermark: new Date('2024-01-01T12:00:00Z'),
      walLsn: expect.stringMatching(/\//),
    });
    await trickle.dropWatermarkGroup('ts');
    await expect(trickle.dropWatermarkGroup('ts')).rejects.toMatchObject({ code: 'PGT_NOT_FOUND' });
    const asTrickle = await connect({ connectionString: roles.url(reader) });
    try {
      await expect(asTrickle.advanceWatermark('public.orders', new Date())).rejects.toMatchObject({
        code: 'PGT_PERMISSION_DENIED',
        message: expect.stringContaining('permission denied to advance the watermark of public.orders'),
      });
    } finally {
      await asTrickle.close();
    }
  });
});
