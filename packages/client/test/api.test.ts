import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Trickle } from '../src/index.js';

const db = useTestDatabase();
let trickle: Trickle;

beforeAll(async () => {
  trickle = await connect({ connectionString: db.url });
  await trickle.install();
  await db.query(`
    CREATE SCHEMA analytics;
    CREATE TABLE orders (id int PRIMARY KEY, customer int, amount numeric, region text);
    INSERT INTO orders SELECT g, g % 7, g * 1.5, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 50) g;
  `);
});
afterAll(async () => {
  await trickle?.close();
});

describe('the public API', () => {
  it('creates, refreshes, explains, alters and drops a stream table', async () => {
    const st = await trickle.createStreamTable({
      name: 'analytics."Big Orders"',
      query: 'SELECT id, amount, region FROM orders WHERE amount > 30',
      refreshMode: 'DIFFERENTIAL',
      schedule: '30s',
    });
    expect(st).toMatchObject({
      name: 'analytics."Big Orders"',
      status: 'ACTIVE',
      effectiveMode: 'DIFFERENTIAL',
      schedule: '30s',
    });
    await expectTableEqualsQuery(
      db,
      'analytics."Big Orders"',
      'SELECT id, amount, region FROM orders WHERE amount > 30',
    );
    await db.query(
      `UPDATE orders SET amount = 100 WHERE id = 2; DELETE FROM orders WHERE id = 40; INSERT INTO orders VALUES (100, 1, 99, 'eu')`,
    );
    const r = await trickle.refresh('analytics."Big Orders"');
    expect(r.action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(
      db,
      'analytics."Big Orders"',
      'SELECT id, amount, region FROM orders WHERE amount > 30',
    );
    expect((await trickle.refresh('analytics."Big Orders"')).action).toBe('NO_DATA');
    const ex = await trickle.explain('analytics."Big Orders"');
    expect(ex.mode).toBe('DIFFERENTIAL');
    expect(ex.sql.delta).toContain('pg_snapshot');
    await trickle.alterStreamTable('analytics."Big Orders"', {
      query: 'SELECT id, amount FROM orders WHERE amount > 60',
    });
    await expectTableEqualsQuery(
      db,
      'analytics."Big Orders"',
      'SELECT id, amount FROM orders WHERE amount > 60',
    );
    const status = await trickle.status();
    expect(status.map((s) => s.name)).toContain('analytics."Big Orders"');
    await trickle.dropStreamTable('analytics."Big Orders"');
    expect((await db.query(`SELECT to_regclass('analytics."Big Orders"') AS r`)).rows[0]?.r).toBeNull();
    const capture = await db.query(`SELECT count(*)::int AS n FROM pgtrickle.pgt_change_tracking`);
    expect(capture.rows[0]?.n).toBe(0);
  });

  it('AUTO refreshes FULL when the pending change ratio makes it cheaper, and records why', async () => {
    await db.query(
      'CREATE TABLE wide (id int PRIMARY KEY, v int); INSERT INTO wide SELECT g, g FROM generate_series(1, 4000) g; ANALYZE wide',
    );
    await trickle.createStreamTable({ name: 'wide_st', query: 'SELECT id, v FROM wide WHERE v % 2 = 0' });
    await db.query('UPDATE wide SET v = v + 1 WHERE id <= 2000');
    const big = await trickle.refresh('wide_st');
    expect(big.action).toBe('FULL');
    // Counted only as far as the choice needs: up to the least cap, 1,001 of its 4,000 records.
    expect(big.reason).toMatch(
      /AUTO: at least 1001 pending change records \(an update is two\) on wide exceed 0.15/,
    );
    await expectTableEqualsQuery(db, 'wide_st', 'SELECT id, v FROM wide WHERE v % 2 = 0');
    await db.query('UPDATE wide SET v = v + 1 WHERE id <= 20');
    expect((await trickle.refresh('wide_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'wide_st', 'SELECT id, v FROM wide WHERE v % 2 = 0');
    const history = await db.query(
      `SELECT action, reason FROM pgtrickle.pgt_refresh_history h JOIN pgtrickle.pgt_stream_tables s USING (pgt_id) WHERE s.table_name = 'wide_st' ORDER BY refresh_id`,
    );
    expect(history.rows.map((r) => r.action)).toEqual(['FULL', 'FULL', 'DIFFERENTIAL']);
    expect(history.rows[1]?.reason).toMatch(/AUTO/);
    // A tighter threshold per client.
    const strict = await connect({ connectionString: db.url, autoFullRatio: 0.001 });
    await db.query('UPDATE wide SET v = v + 1 WHERE id <= 20');
    expect((await strict.refresh('wide_st')).action).toBe('FULL');
    await strict.close();
    await trickle.dropStreamTable('wide_st');
  });

  it('refuses writes to a stream table', async () => {
    await trickle.createStreamTable({ name: 'guarded', query: 'SELECT id FROM orders' });
    await expect(db.query('DELETE FROM guarded')).rejects.toThrow(/maintained by pgtrickle/);
    await trickle.dropStreamTable('guarded');
  });
});
