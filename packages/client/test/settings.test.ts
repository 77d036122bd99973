/**
 * Feature settings (fuse, diamond consistency): written by `alter_stream_table(…, fuse => …)` in
 * the caller's transaction, validated once by `pgtrickle.check_settings` for the SQL and the
 * TypeScript API alike, refused for a role that does not own the table, carried by a create
 * request.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, processRequests, type Trickle } from '../src/index.js';
import { TestRoles } from './support/roles.js';

const db = useTestDatabase();
const roles = new TestRoles(() => db.url);
const app = roles.name('pgt_set_app');
const other = roles.name('pgt_set_other');
let sidecar: Trickle;
let asApp: pg.Client;
let asOther: pg.Client;

async function settings(name: string): Promise<Record<string, unknown>> {
  const r = await db.query(
    `SELECT fuse_mode, fuse_state, fuse_ceiling::int, fuse_sensitivity, fuse_sigma, fuse_window, fuse_min_samples,
            diamond_consistency, diamond_schedule_policy
       FROM pgtrickle.pgt_stream_tables WHERE table_name = $1`,
    [name],
  );
  return r.rows[0] as Record<string, unknown>;
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
    ALTER TABLE app.src OWNER TO ${app};
  `);
  asApp = await roles.client(app);
  asOther = await roles.client(other);
  await asApp.query(
    `SELECT pgtrickle.create_stream_table('app.totals', 'SELECT sum(v) AS s FROM app.src', '1s')`,
  );
  await processRequests(sidecar);
});

afterAll(async () => {
  await asApp?.end().catch(() => undefined);
  await asOther?.end().catch(() => undefined);
  await sidecar?.close();
  for (const role of [app, other])
    await db.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`).catch(() => undefined);
});

describe('alter_stream_table settings', () => {
  it('start at the defaults', async () => {
    expect(await settings('totals')).toEqual({
      fuse_mode: 'off',
      fuse_state: 'armed',
      fuse_ceiling: null,
      fuse_sensitivity: null,
      fuse_sigma: null,
      fuse_window: null,
      fuse_min_samples: null,
      diamond_consistency: 'atomic',
      diamond_schedule_policy: 'fastest',
    });
  });

  it('are written in the caller transaction, queue no request, and roll back with it', async () => {
    await asApp.query('BEGIN');
    const r = await asApp.query(
      `SELECT pgtrickle.alter_stream_table('app.totals', fuse => ' ON ', fuse_ceiling => 50, fuse_sensitivity => 2) AS id`,
    );
    expect(r.rows[0].id).toBeNull();
    await asApp.query('ROLLBACK');
    expect((await settings('totals')).fuse_mode).toBe('off');
    await asApp.query(
      `SELECT pgtrickle.alter_stream_table('app.totals', fuse => 'on', fuse_ceiling => 50, fuse_sensitivity => 2)`,
    );
    expect(await settings('totals')).toMatchObject({
      fuse_mode: 'on',
      fuse_ceiling: 50,
      fuse_sensitivity: 2,
    });
    // Only the given settings change.
    await asApp.query(`SELECT pgtrickle.alter_stream_table('app.totals', fuse_ceiling => 80)`);
    expect(await settings('totals')).toMatchObject({
      fuse_mode: 'on',
      fuse_ceiling: 80,
      fuse_sensitivity: 2,
    });
  });

  it.each([
    [`fuse => 'maybe'`, /fuse must be 'off', 'on' or 'auto', not 'maybe'/],
    [`fuse_ceiling => 0`, /fuse_ceiling must be greater than 0/],
    [`fuse_sensitivity => 0`, /fuse_sensitivity must be greater than 0/],
    [`fuse_window => 1`, /fuse_window must be at least 2/],
    [`diamond_consistency => 'some'`, /diamond_consistency must be 'none' or 'atomic'/],
    [`diamond_schedule_policy => 'fast'`, /diamond_schedule_policy must be 'fastest' or 'slowest'/],
    [
      `diamond_consistency => 'none', diamond_schedule_policy => 'slowest'`,
      /'slowest' requires diamond_consistency = 'atomic'/,
    ],
  ])('refuses %s with 22023, changing nothing', async (args, message) => {
    const before = await settings('totals');
    const err = await asApp
      .query(`SELECT pgtrickle.alter_stream_table('app.totals', ${args})`)
      .catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('22023');
    expect(err.message).toMatch(message);
    expect(await settings('totals')).toEqual(before);
  });

  it('refuses a role that does not own the stream table, and an unknown table', async () => {
    const denied = await asOther
      .query(`SELECT pgtrickle.alter_stream_table('app.totals', fuse => 'off')`)
      .catch((e) => e);
    expect(denied.code).toBe('42501');
    expect(denied.message).toMatch(/must be owner of stream table app\.totals/);
    const missing = await asApp
      .query(`SELECT pgtrickle.alter_stream_table('app.nope', fuse => 'on')`)
      .catch((e) => e);
    expect(missing.code).toBe('42P01');
    // pgt_commands stores nothing, and its requester cannot be forged.
    const forged = await asOther
      .query(`INSERT INTO pgtrickle.pgt_commands (kind, schema_name, table_name, args, requester)
              VALUES ('settings', 'app', 'totals', '{"fuse":"off"}', (SELECT oid FROM pg_roles WHERE rolname = '${app}'))`)
      .catch((e) => e);
    expect(forged.code).toBe('42501');
    expect((await db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_commands')).rows[0]?.n).toBe(0);
    const direct = await asApp.query(`SELECT pgtrickle.apply_settings(1, '{"fuse":"off"}')`).catch((e) => e);
    expect(direct.code).toBe('42501');
  });

  it('a query change and settings in one call: settings now, the query as a request', async () => {
    const r = await asApp.query(
      `SELECT pgtrickle.alter_stream_table('app.totals', query => 'SELECT sum(v) AS s, count(*) AS n FROM app.src', diamond_schedule_policy => 'slowest') AS id`,
    );
    expect(r.rows[0].id).not.toBeNull();
    expect((await settings('totals')).diamond_schedule_policy).toBe('slowest');
    await processRequests(sidecar);
    const q = await db.query(
      `SELECT defining_query FROM pgtrickle.pgt_stream_tables WHERE table_name = 'totals'`,
    );
    expect(q.rows[0]?.defining_query).toMatch(/count/);
  });
});

describe('create_stream_table settings', () => {
  it('carries diamond settings through the request', async () => {
    await asApp.query(
      `SELECT pgtrickle.create_stream_table('app.d', 'SELECT id FROM app.src', '1s', 'AUTO', diamond_consistency => 'none')`,
    );
    await processRequests(sidecar);
    expect(await settings('d')).toMatchObject({
      diamond_consistency: 'none',
      diamond_schedule_policy: 'fastest',
    });
  });

  it('refuses a bad value when the request is made', async () => {
    const err = await asApp
      .query(
        `SELECT pgtrickle.create_stream_table('app.e', 'SELECT id FROM app.src', '1s', 'AUTO', diamond_consistency => 'x')`,
      )
      .catch((e) => e);
    expect(err.code).toBe('22023');
  });
});

describe('the TypeScript API', () => {
  it('alterStreamTable writes the same settings, null restoring a default', async () => {
    await sidecar.alterStreamTable('app.totals', {
      fuse: { mode: 'auto', sigma: 2.5, window: 30, ceiling: 1000 },
    });
    expect(await settings('totals')).toMatchObject({
      fuse_mode: 'auto',
      fuse_sigma: 2.5,
      fuse_window: 30,
      fuse_ceiling: 1000,
    });
    await sidecar.alterStreamTable('app.totals', { fuse: { ceiling: null } });
    expect((await settings('totals')).fuse_ceiling).toBeNull();
    await expect(sidecar.alterStreamTable('app.totals', { fuse: { ceiling: -1 } })).rejects.toThrow(
      /fuse_ceiling must be greater than 0/,
    );
  });

  it('createStreamTable takes diamond settings, refusing bad ones before creating anything', async () => {
    await sidecar.createStreamTable({
      name: 'app.ts_d',
      query: 'SELECT id FROM app.src',
      diamond: { consistency: 'atomic', schedulePolicy: 'slowest' },
    });
    expect(await settings('ts_d')).toMatchObject({ diamond_schedule_policy: 'slowest' });
    await expect(
      sidecar.createStreamTable({
        name: 'app.ts_bad',
        query: 'SELECT id FROM app.src',
        diamond: { consistency: 'none', schedulePolicy: 'slowest' },
      }),
    ).rejects.toThrow(/requires diamond_consistency/);
    expect(await db.query(`SELECT to_regclass('app.ts_bad') AS r`).then((r) => r.rows[0]?.r)).toBeNull();
  });
});
