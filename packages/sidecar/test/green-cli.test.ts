/**
 * `pgtrickle green create|status|promote|cancel|rollback|drop-retired`, in-process against the test
 * database: each step as text and JSON, the green and retired copies marked in `pgtrickle status`,
 * coded errors (a promote that has not converged exits 1 with PGT_NOT_CONVERGED) and wrong command
 * lines exit 2.
 */
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { captureIo } from './support/io.js';

const db = useTestDatabase();

async function cli(argv: string[]) {
  const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_LOG_LEVEL: 'warn' } });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

const NEW_QUERY = 'SELECT sum(amount) AS s, count(*) AS n FROM orders';

beforeAll(async () => {
  await db.query(
    `CREATE TABLE orders (id int PRIMARY KEY, amount int); INSERT INTO orders VALUES (1, 10), (2, 20)`,
  );
  expect((await cli(['migrate'])).code).toBe(0);
  const created = await cli(['create', 'totals', '--query', 'SELECT sum(amount) AS s FROM orders']);
  expect(created.code, created.stderr).toBe(0);
});

describe('pgtrickle green', () => {
  it('create, status (text and JSON), status marking the green, promote, drop-retired', async () => {
    const created = await cli(['green', 'create', 'totals', '--query', NEW_QUERY, '--schedule', '5s']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('created public.totals__pgt_green, the green copy of totals');
    const text = await cli(['green', 'status', 'totals']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^NAME\s+GREEN\s+STATE\s+CONVERGED/m);
    expect(text.stdout).toMatch(/public\.totals\s+public\.totals__pgt_green\s+CONVERGED\s+yes/);
    const json = await cli(['green', 'status', 'totals', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      streamTable: 'public.totals',
      state: 'CONVERGED',
      converged: true,
    });
    const status = await cli(['status']);
    expect(status.stdout).toMatch(/^public\.totals__pgt_green \(green\)\s+ACTIVE/m);

    await db.query('INSERT INTO orders VALUES (3, 30)');
    expect((await cli(['refresh', 'totals'])).code).toBe(0);
    const refused = await cli(['green', 'promote', 'totals']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('PGT_NOT_CONVERGED');
    const promoted = await cli(['green', 'promote', 'totals', '--force', '--json']);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(JSON.parse(promoted.stdout)).toMatchObject({
      name: 'public.totals',
      forced: true,
      retired: 'public.totals__pgt_retired',
    });
    await expectTableEqualsQuery(db, 'totals', NEW_QUERY);
    expect((await cli(['status'])).stdout).toMatch(/^public\.totals__pgt_retired \(retired\)\s+SUSPENDED/m);
    const done = await cli(['green', 'drop-retired', 'totals']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('dropped public.totals__pgt_retired');
  });

  it('cancel and rollback', async () => {
    expect((await cli(['green', 'create', 'totals', '--mode', 'full'])).code).toBe(0);
    const cancelled = await cli(['green', 'cancel', 'totals', '--json']);
    expect(JSON.parse(cancelled.stdout)).toEqual({ name: 'totals', state: 'ROLLED_BACK' });
    expect(
      (await cli(['green', 'create', 'totals', '--query', 'SELECT sum(amount) AS s FROM orders'])).code,
    ).toBe(0);
    expect((await cli(['green', 'promote', 'totals'])).code).toBe(0);
    const back = await cli(['green', 'rollback', 'totals']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain('rolled back the blue-green deployment of totals');
    await expectTableEqualsQuery(db, 'totals', NEW_QUERY);
  });

  it('wrong command lines exit 2', async () => {
    for (const argv of [
      ['green', 'launch', 'totals'],
      ['green', 'status'],
      ['green', 'create', 'totals'],
      ['green', 'promote', 'totals', '--query', 'SELECT 1'],
      ['green', 'cancel', 'totals', '--force'],
      ['green', 'status', 'totals', '--verify'],
      ['green', 'promote', 'totals', '--max-lag', 'soon'],
    ]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
    }
  });
});
