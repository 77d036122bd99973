/**
 * `pgtrickle fuse status|reset` and `pgtrickle refresh` of a blown table, in-process against the
 * test database: the status lists every fuse (off included, JSON too), a blown table's refresh fails
 * with PGT_FUSE_BLOWN naming the reset, each reset action is passed through, and wrong command lines
 * exit 2.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { captureIo } from './support/io.js';

const db = useTestDatabase();

async function cli(argv: string[]) {
  const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_LOG_LEVEL: 'warn' } });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

async function blow(): Promise<void> {
  await db.query(`UPDATE pgtrickle.pgt_stream_tables SET fuse_state = 'blown', blown_at = now(),
                    blow_reason = 'change count (500) exceeded ceiling (5)' WHERE table_name = 'totals'`);
}

beforeAll(async () => {
  await db.query(`CREATE TABLE orders (id int PRIMARY KEY, amount int); INSERT INTO orders VALUES (1, 10)`);
  expect((await cli(['migrate'])).code).toBe(0);
  const created = await cli([
    'create',
    'totals',
    '--query',
    'SELECT sum(amount) AS s FROM orders',
    '--mode',
    'DIFFERENTIAL',
  ]);
  expect(created.code, created.stderr).toBe(0);
});

describe('pgtrickle fuse', () => {
  it('status lists every fuse, those that are off included, as text and JSON', async () => {
    const text = await cli(['fuse', 'status']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^NAME\s+MODE\s+STATE\s+CEILING\s+PENDING\s+BASELINE\s+BLOWN$/m);
    expect(text.stdout).toMatch(/^public\.totals\s+off\s+armed\s+-\s+0\s+-$/m);
    await db.query(`SELECT pgtrickle.alter_stream_table('totals', fuse => 'on', fuse_ceiling => 5)`);
    const json = await cli(['fuse', 'status', 'totals', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        streamTable: 'public.totals',
        mode: 'on',
        state: 'armed',
        ceiling: 5,
        effectiveCeiling: 5,
      }),
    ]);
  });

  it('a blown table refuses pgtrickle refresh, naming pgtrickle fuse reset', async () => {
    await blow();
    const r = await cli(['refresh', 'totals']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^pgtrickle refresh: PGT_FUSE_BLOWN: The fuse of public\.totals is blown/);
    expect(r.stderr).toContain('pgtrickle fuse reset public.totals');
    const status = await cli(['fuse', 'status']);
    expect(status.stdout).toMatch(
      /public\.totals\s+on\s+blown\s+5\s+0\s+-\s+\S+ change count \(500\) exceeded ceiling \(5\)/,
    );
  });

  it('reset passes the action through; an armed fuse or a bad action is refused', async () => {
    const bad = await cli(['fuse', 'reset', 'totals', '--action', 'later']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--action must be one of apply, reinitialize, skip_changes');
    const r = await cli(['fuse', 'reset', 'totals', '--action', 'reinitialize']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('reset the fuse of totals (reinitialize)');
    const row = await db.query(
      `SELECT fuse_state, needs_reinit FROM pgtrickle.pgt_stream_tables WHERE table_name = 'totals'`,
    );
    expect(row.rows[0]).toEqual({ fuse_state: 'armed', needs_reinit: true });
    const again = await cli(['fuse', 'reset', 'totals']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/fuse is not blown \(current state: armed\)/);
    expect((await cli(['refresh', 'totals'])).code).toBe(0);
  });

  it('wrong command lines exit 2', async () => {
    expect((await cli(['fuse', 'frob'])).code).toBe(2);
    expect((await cli(['fuse', 'reset'])).code).toBe(2);
    expect((await cli(['fuse', 'status', '--action', 'apply'])).code).toBe(2);
  });
});
