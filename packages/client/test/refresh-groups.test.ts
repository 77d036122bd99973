/**
 * Declared refresh groups through the SQL API: `create_refresh_group` validates (≥ 2 members, each
 * an existing stream table the caller owns, isolation read_committed | repeatable_read, a member in
 * one group at most, unique names) in the caller's transaction, stores pgt ids, `refresh_groups()`
 * lists them, `drop_refresh_group` drops them, and dropping a member stream table removes it from
 * its group (a group left with fewer than 2 members is dropped). The TypeScript API maps the same
 * errors to coded client errors.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdsAdvisoryLock } from '../src/catalog/leader-lease.js';
import { classifyFailure } from '../src/failures.js';
import { connect, processRequests, type Trickle } from '../src/index.js';
import { inSnapshot, TickSnapshot } from '../src/service/tick-bound.js';
import { TestRoles } from './support/roles.js';

const db = useTestDatabase();
const roles = new TestRoles(() => db.url);
const app = roles.name('pgt_grp_app');
const other = roles.name('pgt_grp_other');
let sidecar: Trickle;
let asApp: pg.Client;
let asOther: pg.Client;

async function sqlError(client: pg.Client, statement: string): Promise<{ code: string; message: string }> {
  try {
    await client.query(statement);
  } catch (error) {
    const e = error as { code: string; message: string };
    return { code: e.code, message: e.message };
  }
  throw new Error(`expected an error from: ${statement}`);
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
    CREATE TABLE app.b1 (id int PRIMARY KEY, v int);
    CREATE TABLE app.c1 (id int PRIMARY KEY, v int);
    ALTER TABLE app.b1 OWNER TO ${app};
    ALTER TABLE app.c1 OWNER TO ${app};
    CREATE SCHEMA oth AUTHORIZATION ${other};
    GRANT USAGE ON SCHEMA app TO ${other};
    GRANT SELECT ON app.b1 TO ${other};
  `);
  asApp = await roles.client(app);
  asOther = await roles.client(other);
  for (const [name, src] of [
    ['b2', 'b1'],
    ['c2', 'c1'],
    ['e2', 'b1'],
    ['f2', 'c1'],
  ])
    await asApp.query(
      `SELECT pgtrickle.create_stream_table('app.${name}', 'SELECT id, v FROM app.${src}', '1s')`,
    );
  await asOther.query(`SELECT pgtrickle.create_stream_table('oth.theirs', 'SELECT id, v FROM app.b1', '1s')`);
  await processRequests(sidecar);
});

afterAll(async () => {
  await asApp?.end().catch(() => undefined);
  await asOther?.end().catch(() => undefined);
  await sidecar?.close();
  for (const role of [app, other])
    await db.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`).catch(() => undefined);
});

describe('create_refresh_group', () => {
  it('creates a group of stream tables the caller owns and lists it, storing pgt ids', async () => {
    const id = await asApp.query(
      `SELECT pgtrickle.create_refresh_group('pair', ARRAY['app.b2', 'app.c2'], ' Repeatable_Read ') AS id`,
    );
    expect(Number(id.rows[0]?.id)).toBeGreaterThan(0);
    const list = await asApp.query('SELECT * FROM pgtrickle.refresh_groups()');
    expect(list.rows).toEqual([
      expect.objectContaining({
        group_id: Number(id.rows[0]?.id),
        group_name: 'pair',
        member_count: 2,
        isolation: 'repeatable_read',
        members: ['app.b2', 'app.c2'],
      }),
    ]);
    const stored = await db.query(
      `SELECT g.member_ids::text[] AS ids,
              ARRAY(SELECT pgt_id::text FROM pgtrickle.pgt_stream_tables WHERE table_name IN ('b2', 'c2') ORDER BY table_name) AS expected
         FROM pgtrickle.pgt_refresh_groups g WHERE group_name = 'pair'`,
    );
    expect(stored.rows[0]?.ids).toEqual(stored.rows[0]?.expected);
    // Another role sees no group it has no member of.
    expect((await asOther.query('SELECT * FROM pgtrickle.refresh_groups()')).rows).toEqual([]);
  });

  it('refuses fewer than 2 members, an unknown member, a bad isolation, a member already grouped, a duplicate name', async () => {
    expect(
      await sqlError(asApp, `SELECT pgtrickle.create_refresh_group('one', ARRAY['app.e2'])`),
    ).toMatchObject({
      code: '22023',
      message: expect.stringContaining('at least 2 members'),
    });
    expect(
      await sqlError(asApp, `SELECT pgtrickle.create_refresh_group('ghost', ARRAY['app.e2', 'app.nope'])`),
    ).toMatchObject({ code: '42P01', message: 'stream table app.nope does not exist' });
    expect(
      await sqlError(
        asApp,
        `SELECT pgtrickle.create_refresh_group('bad', ARRAY['app.e2', 'app.f2'], 'serializable')`,
      ),
    ).toMatchObject({
      code: '22023',
      message: expect.stringContaining("'read_committed' or 'repeatable_read'"),
    });
    expect(
      await sqlError(asApp, `SELECT pgtrickle.create_refresh_group('again', ARRAY['app.e2', 'app.b2'])`),
    ).toMatchObject({ code: '22023', message: "stream table app.b2 is already in refresh group 'pair'" });
    expect(
      await sqlError(asApp, `SELECT pgtrickle.create_refresh_group('pair', ARRAY['app.e2', 'app.f2'])`),
    ).toMatchObject({ code: '42710', message: "refresh group 'pair' already exists" });
    expect(
      await sqlError(asApp, `SELECT pgtrickle.create_refresh_group('twice', ARRAY['app.e2', 'app.e2'])`),
    ).toMatchObject({ code: '22023', message: 'stream table app.e2 is listed twice' });
    expect(await sqlError(asApp, `SELECT pgtrickle.drop_refresh_group('nope')`)).toMatchObject({
      code: '42704',
      message: "refresh group 'nope' does not exist",
    });
  });

  it('requires the caller to own every member, to create and to drop', async () => {
    expect(
      await sqlError(
        asOther,
        `SELECT pgtrickle.create_refresh_group('mixed', ARRAY['oth.theirs', 'app.e2'])`,
      ),
    ).toMatchObject({ code: '42501', message: 'must be owner of stream table app.e2' });
    expect(await sqlError(asOther, `SELECT pgtrickle.drop_refresh_group('pair')`)).toMatchObject({
      code: '42501',
    });
    // The command table cannot be used to forge the requester, nor read.
    expect(
      await sqlError(
        asOther,
        `INSERT INTO pgtrickle.pgt_group_commands (kind, group_name, member_schemas, member_names, requester)
         VALUES ('create', 'forged', ARRAY['app', 'app'], ARRAY['e2', 'f2'], 10)`,
      ),
    ).toMatchObject({ code: '42501' });
    expect(await sqlError(asOther, 'SELECT * FROM pgtrickle.pgt_refresh_groups')).toMatchObject({
      code: '42501',
    });
  });

  it('is transactional with the caller', async () => {
    await asApp.query('BEGIN');
    await asApp.query(`SELECT pgtrickle.create_refresh_group('rolled', ARRAY['app.e2', 'app.f2'])`);
    await asApp.query('ROLLBACK');
    const names = (await asApp.query('SELECT group_name FROM pgtrickle.refresh_groups()')).rows.map(
      (r) => r.group_name,
    );
    expect(names).toEqual(['pair']);
  });

  it('drops a group, and forgets a dropped member (a group left with one member is dropped)', async () => {
    await asApp.query(`SELECT pgtrickle.drop_refresh_group('pair')`);
    expect((await asApp.query('SELECT * FROM pgtrickle.refresh_groups()')).rows).toEqual([]);
    await asApp.query(`SELECT pgtrickle.create_refresh_group('three', ARRAY['app.b2', 'app.c2', 'app.e2'])`);
    await sidecar.dropStreamTable('app.e2');
    expect((await asApp.query('SELECT member_count, members FROM pgtrickle.refresh_groups()')).rows).toEqual([
      { member_count: 2, members: ['app.b2', 'app.c2'] },
    ]);
    await sidecar.dropStreamTable('app.c2');
    expect((await asApp.query('SELECT * FROM pgtrickle.refresh_groups()')).rows).toEqual([]);
  });
});

describe('the TypeScript API', () => {
  it('creates, lists and drops groups with coded errors', async () => {
    const id = await sidecar.createRefreshGroup('ts_pair', ['app.b2', 'app.f2'], {
      isolation: 'repeatable_read',
    });
    expect(await sidecar.refreshGroups()).toEqual([
      expect.objectContaining({ groupId: id, name: 'ts_pair', memberCount: 2, isolation: 'repeatable_read' }),
    ]);
    await expect(sidecar.createRefreshGroup('ts_pair', ['app.b2', 'app.f2'])).rejects.toMatchObject({
      code: 'PGT_ALREADY_EXISTS',
    });
    await expect(sidecar.createRefreshGroup('solo', ['app.b2'])).rejects.toMatchObject({
      code: 'PGT_INVALID_ARGUMENT',
    });
    await expect(sidecar.createRefreshGroup('ghost', ['app.nope', 'app.b2'])).rejects.toMatchObject({
      code: 'PGT_NOT_FOUND',
    });
    await sidecar.dropRefreshGroup('ts_pair');
    await expect(sidecar.dropRefreshGroup('ts_pair')).rejects.toMatchObject({ code: 'PGT_NOT_FOUND' });
    expect(await sidecar.refreshGroups()).toEqual([]);
  });
});

describe('the tick bound’s snapshot import', () => {
  it('fails transiently (PGT_BUSY) when the tick’s snapshot is gone, and leaves the connection clean', async () => {
    const error = await inSnapshot(sidecar.db, '00000003-0000000A-1', async () => 1).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PGT_BUSY' });
    expect(classifyFailure(error)).toBe('transient');
    const snap = new TickSnapshot(sidecar.db);
    await snap.begin();
    const id = snap.id as string;
    expect(
      await inSnapshot(sidecar.db, id, async (conn) => (await conn.query('SELECT 1 AS one')).rows[0]?.one),
    ).toBe(1);
    await snap.end();
    expect(snap.id).toBeNull();
    await expect(inSnapshot(sidecar.db, id, async () => 1)).rejects.toMatchObject({ code: 'PGT_BUSY' });
    expect((await sidecar.db.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
  });
});

describe('fencing under the tick bound', () => {
  it('reads the leadership lock currently, even in a transaction reading an older snapshot', async () => {
    const holder = new pg.Client(db.url);
    await holder.connect();
    try {
      const pid = Number((await holder.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
      const key = '8098715542962809956';
      await holder.query(`SELECT pg_advisory_lock(${key})`);
      const snap = new TickSnapshot(sidecar.db);
      await snap.begin();
      try {
        await inSnapshot(sidecar.db, snap.id as string, async (conn) => {
          expect(await holdsAdvisoryLock(conn, pid, key)).toBe(true);
          await holder.query(`SELECT pg_advisory_unlock(${key})`); // lost after the snapshot was taken
          expect(await holdsAdvisoryLock(conn, pid, key)).toBe(false);
          expect(await holdsAdvisoryLock(conn, pid, '42')).toBe(false);
        });
      } finally {
        await snap.end();
      }
    } finally {
      await holder.end();
    }
  });
});
