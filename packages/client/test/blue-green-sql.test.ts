/**
 * Blue-green through the SQL API, as an application role (a member of pgtrickle_user): the
 * functions record requests the sidecar executes as the requesting role; only the stream table's
 * owner may ask (42501 otherwise, nothing recorded); green_status shows the owner's deployment
 * only; promote's options reach the sidecar; a failed request says why; the green is owned by the
 * table's owner and its query runs with the owner's rights.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, processRequests, type Trickle } from '../src/index.js';
import { TestRoles } from './support/roles.js';

const db = useTestDatabase();
const roles = new TestRoles(() => db.url);
const app = roles.name('pgt_bgsql_app');
const other = roles.name('pgt_bgsql_other');
let sidecar: Trickle;
let asApp: pg.Client;
let asOther: pg.Client;

async function lastRequest(): Promise<{ status: string; error: string | null }> {
  const r = await db.query(
    `SELECT status, error FROM pgtrickle.pgt_requests ORDER BY request_id DESC LIMIT 1`,
  );
  return { status: String(r.rows[0]?.status), error: (r.rows[0]?.error as string | null) ?? null };
}

beforeAll(async () => {
  sidecar = await connect({ connectionString: db.url });
  await sidecar.install();
  await db.query(`
    CREATE ROLE ${app} LOGIN PASSWORD '${roles.password}';
    CREATE ROLE ${other} LOGIN PASSWORD '${roles.password}';
    GRANT pgtrickle_user TO ${app}, ${other};
    GRANT CONNECT, TEMPORARY ON DATABASE ${db.name} TO ${app}, ${other};
    CREATE SCHEMA app AUTHORIZATION ${app};
    CREATE TABLE app.src (id int PRIMARY KEY, v int);
    INSERT INTO app.src SELECT g, g FROM generate_series(1, 50) g;
    ALTER TABLE app.src OWNER TO ${app};
    CREATE TABLE app.secret (id int PRIMARY KEY);
  `);
  asApp = await roles.client(app);
  asOther = await roles.client(other);
  await asApp.query(
    `SELECT pgtrickle.create_stream_table('app.evens', 'SELECT id, v FROM app.src WHERE v % 2 = 0', '1s')`,
  );
  await processRequests(sidecar);
});

afterAll(async () => {
  for (const c of [asApp, asOther]) await c?.end().catch(() => undefined);
  await sidecar?.close();
  for (const role of [app, other])
    await db.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`).catch(() => undefined);
});

describe('blue-green through SQL', () => {
  it('only the owner may ask; another role gets 42501 and nothing is recorded', async () => {
    const before = (await db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_requests')).rows[0]?.n;
    for (const call of [
      `SELECT pgtrickle.create_green('app.evens', query => 'SELECT id, v FROM app.src')`,
      `SELECT pgtrickle.promote_green('app.evens')`,
      `SELECT pgtrickle.cancel_green('app.evens')`,
      `SELECT pgtrickle.rollback_green('app.evens')`,
      `SELECT pgtrickle.drop_retired('app.evens')`,
    ])
      await expect(asOther.query(call)).rejects.toMatchObject({ code: '42501' });
    expect((await db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_requests')).rows[0]?.n).toBe(before);
    expect((await asOther.query(`SELECT * FROM pgtrickle.green_status('app.evens')`)).rows).toEqual([]);
  });

  it('the green runs as the owner: a source the owner may not read fails the request, nothing is created', async () => {
    await asApp.query(
      `SELECT pgtrickle.create_green('app.evens', query => 'SELECT id, id AS v FROM app.secret')`,
    );
    await processRequests(sidecar);
    expect(await lastRequest()).toMatchObject({
      status: 'FAILED',
      error: expect.stringContaining('permission denied'),
    });
    expect((await db.query(`SELECT to_regclass('app.evens__pgt_green') AS r`)).rows[0]?.r).toBeNull();
  });

  it('create, status, promote (options passed), rollback and drop_retired, executed by the sidecar as the owner', async () => {
    await asApp.query(
      `SELECT pgtrickle.create_green('app.evens', query => 'SELECT id, v, v * 10 AS v10 FROM app.src WHERE v % 2 = 0', schedule => '2s')`,
    );
    await processRequests(sidecar);
    expect(await lastRequest()).toEqual({ status: 'DONE', error: null });
    const owner = await db.query(
      `SELECT relowner::regrole::text AS o FROM pg_class WHERE oid = 'app.evens__pgt_green'::regclass`,
    );
    expect(owner.rows[0]?.o).toBe(app);
    const st = await asApp.query(`SELECT * FROM pgtrickle.green_status('app.evens')`);
    expect(st.rows[0]).toMatchObject({
      stream_table: 'app.evens',
      green_name: 'app.evens__pgt_green',
      state: 'CONVERGED',
      converged: true,
    });
    const status = await asApp.query(`SELECT name, role, schedule FROM pgtrickle.pgt_status ORDER BY name`);
    expect(status.rows).toEqual([
      { name: 'app.evens', role: 'table', schedule: '1s' },
      { name: 'app.evens__pgt_green', role: 'green', schedule: '2s' },
    ]);

    await asApp.query(`INSERT INTO app.src VALUES (100, 100)`);
    await sidecar.refresh('app.evens');
    await asApp.query(`SELECT pgtrickle.promote_green('app.evens')`);
    await processRequests(sidecar);
    expect(await lastRequest()).toMatchObject({
      status: 'FAILED',
      error: expect.stringContaining('has not converged'),
    });
    await asApp.query(`SELECT pgtrickle.promote_green('app.evens', force => true)`);
    await processRequests(sidecar);
    expect(await lastRequest()).toEqual({ status: 'DONE', error: null });
    const promoted = await asApp.query(`SELECT count(*)::int AS n, sum(v10)::int AS s FROM app.evens`);
    expect(promoted.rows[0]).toEqual({ n: 26, s: 7500 });
    expect(
      (await asApp.query(`SELECT state, retired_name FROM pgtrickle.green_status('app.evens')`)).rows[0],
    ).toEqual({
      state: 'PROMOTED',
      retired_name: 'app.evens__pgt_retired',
    });

    await asApp.query(`SELECT pgtrickle.rollback_green('app.evens')`);
    await processRequests(sidecar);
    expect(await lastRequest()).toEqual({ status: 'DONE', error: null });
    const back = await asApp.query(`SELECT * FROM app.evens LIMIT 0`);
    expect(back.fields.map((f) => f.name).filter((n) => !n.startsWith('__pgt_'))).toEqual(['id', 'v']);
    expect((await asApp.query(`SELECT count(*)::int AS n FROM app.evens`)).rows[0]?.n).toBe(26);

    await asApp.query(`SELECT pgtrickle.create_green('app.evens', refresh_mode => 'FULL')`);
    await processRequests(sidecar);
    await asApp.query(`SELECT pgtrickle.promote_green('app.evens')`);
    await processRequests(sidecar);
    expect(await lastRequest()).toEqual({ status: 'DONE', error: null });
    expect((await sidecar.status()).find((s) => s.name === 'app.evens')?.effectiveMode).toBe('FULL');
    await asApp.query(`SELECT pgtrickle.drop_retired('app.evens')`);
    await processRequests(sidecar);
    expect(await lastRequest()).toEqual({ status: 'DONE', error: null });
    expect((await asApp.query(`SELECT state FROM pgtrickle.green_status('app.evens')`)).rows[0]?.state).toBe(
      'RETIRED',
    );
    expect((await db.query(`SELECT to_regclass('app.evens__pgt_retired') AS r`)).rows[0]?.r).toBeNull();
  });
});
