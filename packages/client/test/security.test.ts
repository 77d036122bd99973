/**
 * The security model (docs/security.md), tried as a hostile tenant would: the sidecar runs as the
 * test server's superuser, `app` and `other` are ordinary roles that are members of
 * `pgtrickle_user`. Every attack ends in a permission error with nothing created, changed or
 * escalated.
 */
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, processRequests, type Trickle } from '../src/index.js';
import { TestRoles } from './support/roles.js';

const db = useTestDatabase();
const roles = new TestRoles(() => db.url);
const app = roles.name('pgt_app');
const other = roles.name('pgt_other');
const password = roles.password;
let sidecar: Trickle;
let asApp: pg.Client;
let asOther: pg.Client;
const urlFor = (role: string) => roles.url(role);
const clientFor = (role: string) => roles.client(role);

async function isSuper(role: string): Promise<boolean> {
  const r = await db.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [role]);
  return r.rows[0]?.rolsuper === true;
}

/** Lets the sidecar execute pending SQL API requests; returns the request's final row. */
async function settle(requestId: string): Promise<{ status: string; error: string | null }> {
  await processRequests(sidecar);
  const r = await db.query('SELECT status, error FROM pgtrickle.pgt_requests WHERE request_id = $1', [
    requestId,
  ]);
  return r.rows[0] as { status: string; error: string | null };
}

async function request(c: pg.Client, sql: string, params: unknown[] = []): Promise<string> {
  const r = await c.query(sql, params);
  return String(Object.values(r.rows[0] ?? {})[0]);
}

beforeAll(async () => {
  sidecar = await connect({ connectionString: db.url });
  await sidecar.install();
  await db.query(`
    CREATE ROLE ${app} LOGIN PASSWORD '${password}';
    CREATE ROLE ${other} LOGIN PASSWORD '${password}';
    GRANT pgtrickle_user TO ${app}, ${other};
    GRANT CONNECT, TEMPORARY ON DATABASE ${db.name} TO ${app}, ${other};
    CREATE SCHEMA app AUTHORIZATION ${app};
    CREATE SCHEMA other AUTHORIZATION ${other};
    CREATE TABLE public.secrets (id int PRIMARY KEY, s text);
    INSERT INTO public.secrets VALUES (1, 'hunter2');
    CREATE TABLE public.shared (id int PRIMARY KEY, v int);
    INSERT INTO public.shared SELECT g, g FROM generate_series(1, 10) g;
    GRANT SELECT ON public.shared TO ${app}, ${other};
  `);
  asApp = await clientFor(app);
  asOther = await clientFor(other);
});

afterAll(async () => {
  await asApp?.end().catch(() => undefined);
  await asOther?.end().catch(() => undefined);
  await sidecar?.close();
  for (const role of [app, other]) {
    await db.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`).catch(() => undefined);
  }
});

describe('the SQL API runs with the caller as owner', () => {
  it('refuses a query over a table the caller may not read, creating nothing', async () => {
    const id = await request(
      asApp,
      `SELECT pgtrickle.create_stream_table('app.leak', 'SELECT * FROM public.secrets', '1s', 'FULL')`,
    );
    const done = await settle(id);
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatch(/permission denied/);
    expect(done.error).not.toContain('hunter2');
    expect((await db.query(`SELECT to_regclass('app.leak') AS r`)).rows[0]?.r).toBeNull();
    const cast = await request(
      asApp,
      `SELECT pgtrickle.create_stream_table('app.leak2', 'SELECT s::int FROM public.secrets', '1s', 'FULL')`,
    );
    const failed = await settle(cast);
    expect(failed.error ?? '').not.toContain('hunter2');
    const seen = await asApp.query(`SELECT last_error FROM pgtrickle.pgt_status`);
    expect(JSON.stringify(seen.rows)).not.toContain('hunter2');
  });

  it("runs the query's functions as the caller: a VOLATILE escalation fails", async () => {
    await asApp.query(`
      CREATE FUNCTION app.escalate() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
      BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', current_user); RETURN 1; END $$`);
    const id = await request(
      asApp,
      `SELECT pgtrickle.create_stream_table('app.escalate', 'SELECT app.escalate() AS x', '1s', 'FULL')`,
    );
    const done = await settle(id);
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatch(/permission denied/);
    expect(await isSuper(app)).toBe(false);
  });

  it('records the caller as owner; a forged requester or requested_by is refused', async () => {
    await expect(
      asApp.query(
        `INSERT INTO pgtrickle.pgt_requests (kind, schema_name, table_name, query, requested_by) VALUES ('create', 'app', 'f', 'SELECT 1', 'postgres')`,
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(asApp.query('SELECT * FROM pgtrickle.pgt_requests')).rejects.toMatchObject({
      code: '42501',
    });
    await expect(asApp.query('SELECT * FROM pgtrickle.pgt_stream_tables')).rejects.toMatchObject({
      code: '42501',
    });
    await expect(asApp.query('SELECT * FROM pgtrickle.pending_sources()')).rejects.toMatchObject({
      code: '42501',
    });
    const id = await request(
      asApp,
      `SELECT pgtrickle.create_stream_table('app.mine', 'SELECT id, v FROM public.shared WHERE v > 2', '1s', 'DIFFERENTIAL')`,
    );
    expect((await settle(id)).status).toBe('DONE');
    const owner = await db.query(
      `SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = 'app.mine'::regclass`,
    );
    expect(owner.rows[0]?.o).toBe(app);
    const status = await asApp.query(`SELECT name, owner, status FROM pgtrickle.pgt_status`);
    expect(status.rows).toContainEqual({ name: 'app.mine', owner: app, status: 'ACTIVE' });
    await expectTableEqualsQuery(db, 'app.mine', 'SELECT id, v FROM public.shared WHERE v > 2');
  });

  it("refuses to alter, refresh or drop another role's stream table, and hides it", async () => {
    for (const call of [
      `SELECT pgtrickle.alter_stream_table('app.mine', query => 'SELECT 1 AS x')`,
      `SELECT pgtrickle.refresh_stream_table('app.mine')`,
      `SELECT pgtrickle.drop_stream_table('app.mine')`,
    ]) {
      await expect(asOther.query(call)).rejects.toMatchObject({ code: '42501' });
    }
    const seen = await asOther.query(`SELECT name FROM pgtrickle.pgt_status`);
    expect(seen.rows).toEqual([]);
    const row = await db.query(
      `SELECT defining_query FROM pgtrickle.pgt_stream_tables WHERE table_name = 'mine'`,
    );
    expect(row.rows[0]?.defining_query).toBe('SELECT id, v FROM public.shared WHERE v > 2');
  });

  it('resumes a suspended stream table for its owner, and for no one else', async () => {
    await db.query(
      `UPDATE pgtrickle.pgt_stream_tables SET status = 'SUSPENDED' WHERE schema_name = 'app' AND table_name = 'mine'`,
    );
    await expect(asOther.query(`SELECT pgtrickle.resume_stream_table('app.mine')`)).rejects.toMatchObject({
      code: '42501',
    });
    const id = await request(asApp, `SELECT pgtrickle.resume_stream_table('app.mine')`);
    expect(await settle(id)).toMatchObject({ status: 'DONE' });
    const st = await asApp.query(`SELECT status FROM pgtrickle.pgt_status WHERE name = 'app.mine'`);
    expect(st.rows).toEqual([{ status: 'ACTIVE' }]);
    await expectTableEqualsQuery(db, 'app.mine', 'SELECT id, v FROM public.shared WHERE v > 2');
  });

  it('refuses the TypeScript API on a table the connection does not own', async () => {
    // A role without the catalog's rights is told to use the SQL API.
    const otherTrickle = await connect({ connectionString: urlFor(other) });
    try {
      await expect(otherTrickle.dropStreamTable('app.mine')).rejects.toMatchObject({
        code: 'PGT_PERMISSION_DENIED',
        message: expect.stringContaining('pgtrickle.create_stream_table'),
      });
    } finally {
      await otherTrickle.close();
    }
    // A role with the catalog's rights (a member of the sidecar's role) still needs ownership.
    const sidecarRole = (await db.query('SELECT current_user AS u')).rows[0]?.u as string;
    await db.query(`GRANT ${sidecarRole} TO ${other}`);
    const operator = await connect({ connectionString: urlFor(other) });
    try {
      for (const attempt of [
        () => operator.dropStreamTable('app.mine'),
        () => operator.refresh('app.mine'),
        () => operator.alterStreamTable('app.mine', { query: 'SELECT 1 AS id, 2 AS v' }),
        () => operator.explain('app.mine'),
      ]) {
        await expect(attempt()).rejects.toMatchObject({ code: 'PGT_PERMISSION_DENIED' });
      }
    } finally {
      await operator.close();
      await db.query(`REVOKE ${sidecarRole} FROM ${other}`);
    }
    expect((await db.query(`SELECT to_regclass('app.mine') IS NOT NULL AS e`)).rows[0]?.e).toBe(true);
  });

  it('refuses reserved schemas and names', async () => {
    for (const name of [
      'pgtrickle_changes.changes_1',
      'pgtrickle.x',
      'pg_catalog.x',
      'information_schema.x',
    ]) {
      await expect(
        asApp.query(`SELECT pgtrickle.create_stream_table($1, 'SELECT 1 AS x', '1s', 'FULL')`, [name]),
      ).rejects.toMatchObject({ code: /42939|42501/ });
    }
    await expect(
      sidecar.createStreamTable({ name: 'pgtrickle_changes.changes_9', query: 'SELECT 1 AS x' }),
    ).rejects.toMatchObject({ code: 'PGT_RESERVED_NAME' });
    await expect(
      sidecar.createStreamTable({ name: 'public.__pgt_x', query: 'SELECT 1 AS x' }),
    ).rejects.toMatchObject({
      code: 'PGT_RESERVED_NAME',
    });
  });
});

describe("user code on user data runs with its owner's rights", () => {
  it("a domain check in a DIFFERENTIAL refresh runs as the stream table's owner", async () => {
    await asApp.query(`
      CREATE TABLE app.calls (who text);
      CREATE FUNCTION app.check_positive(v int) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO app.calls VALUES (current_user);
        BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', session_user); EXCEPTION WHEN insufficient_privilege THEN NULL; END;
        RETURN v > 0;
      END $$;
      CREATE DOMAIN app.positive AS int CHECK (app.check_positive(VALUE));
      CREATE TABLE app.src (id int PRIMARY KEY, v app.positive);
      INSERT INTO app.src VALUES (1, 1);
    `);
    const id = await request(
      asApp,
      `SELECT pgtrickle.create_stream_table('app.dom', 'SELECT id, v FROM app.src', '1s', 'DIFFERENTIAL')`,
    );
    expect(await settle(id)).toMatchObject({ status: 'DONE' });
    await asApp.query('INSERT INTO app.src VALUES (2, 5)');
    await asApp.query('TRUNCATE app.calls');
    const r = await request(asApp, `SELECT pgtrickle.refresh_stream_table('app.dom')`);
    expect(await settle(r)).toMatchObject({ status: 'DONE' });
    const calls = await db.query('SELECT DISTINCT who FROM app.calls');
    expect(calls.rows.every((c) => c.who === app)).toBe(true);
    expect(await isSuper(app)).toBe(false);
    await expectTableEqualsQuery(db, 'app.dom', 'SELECT id, v FROM app.src');
  });

  it("a cast to json of the source owner's type runs as the source owner, never as the sidecar", async () => {
    await asApp.query(`
      CREATE TYPE app.mood AS ENUM ('sad', 'happy');
      CREATE FUNCTION app.mood_json(m app.mood) RETURNS json LANGUAGE plpgsql AS $$
      BEGIN
        BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', ${"'"}${app}${"'"}); EXCEPTION WHEN insufficient_privilege THEN NULL; END;
        RETURN to_json(m::text);
      END $$;
      CREATE CAST (app.mood AS json) WITH FUNCTION app.mood_json(app.mood);
      CREATE TABLE app.moods (id int PRIMARY KEY, m text);
    `);
    const id = await request(
      asApp,
      `SELECT pgtrickle.create_stream_table('app.moody', 'SELECT id, m FROM app.moods', '1s', 'DIFFERENTIAL')`,
    );
    expect(await settle(id)).toMatchObject({ status: 'DONE' });
    await asApp.query(`ALTER TABLE app.moods ADD COLUMN mood app.mood`);
    await asApp.query(`INSERT INTO app.moods VALUES (1, 'x', 'happy')`);
    expect(await isSuper(app)).toBe(false);
  });

  it('storage tables accept no direct writes, whatever the session sets', async () => {
    await expect(
      asApp.query(`BEGIN; SET LOCAL pgtrickle.internal = 'on'; INSERT INTO app.mine VALUES (99, 99); COMMIT`),
    ).rejects.toMatchObject({ code: '42501' });
    await asApp.query('ROLLBACK').catch(() => undefined);
    await expect(asApp.query(`DELETE FROM app.mine`)).rejects.toMatchObject({ code: '42501' });
    await expectTableEqualsQuery(db, 'app.mine', 'SELECT id, v FROM public.shared WHERE v > 2');
    // Its owner can switch the guard off (it owns the table): the next refresh restores it and
    // rebuilds the contents, saying why.
    await asApp.query('ALTER TABLE app.mine__pgt_storage DISABLE TRIGGER pgtrickle_guard');
    await asApp.query('INSERT INTO app.mine__pgt_storage (__pgt_row_id, id, v) VALUES (-1, 99, 99)');
    const repaired = await sidecar.refresh('app.mine');
    expect(repaired).toMatchObject({ action: 'FULL', reason: expect.stringContaining('write guard') });
    await expectTableEqualsQuery(db, 'app.mine', 'SELECT id, v FROM public.shared WHERE v > 2');
    await expect(asApp.query(`DELETE FROM app.mine`)).rejects.toMatchObject({ code: '42501' });
  });

  it('row-level security of a source applies alike in FULL and DIFFERENTIAL refreshes', async () => {
    await db.query(`
      CREATE TABLE public.docs (id int PRIMARY KEY, tenant text, body text);
      INSERT INTO public.docs VALUES (1, '${app}', 'a'), (2, 'someone', 'b');
      ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_only ON public.docs FOR SELECT USING (tenant = current_user);
      GRANT SELECT ON public.docs TO ${app};
    `);
    const id = await request(
      asApp,
      `SELECT pgtrickle.create_stream_table('app.mydocs', 'SELECT id, body FROM public.docs', '1s', 'AUTO')`,
    );
    expect(await settle(id)).toMatchObject({ status: 'DONE' });
    await db.query(`INSERT INTO public.docs VALUES (3, '${app}', 'c'), (4, 'someone', 'd')`);
    await processRequests(sidecar);
    const diff = await sidecar.refresh('app.mydocs');
    const afterIncremental = await db.query('SELECT id FROM app.mydocs ORDER BY id');
    await sidecar.refresh('app.mydocs', { action: 'FULL' });
    const afterFull = await db.query('SELECT id FROM app.mydocs ORDER BY id');
    expect(afterIncremental.rows).toEqual([{ id: 1 }, { id: 3 }]);
    expect(afterFull.rows).toEqual(afterIncremental.rows);
    expect(diff.action).not.toBe('DIFFERENTIAL');
    await expect(
      sidecar.createStreamTable({
        name: 'app.docs_diff',
        query: 'SELECT id, body FROM public.docs',
        refreshMode: 'DIFFERENTIAL',
        owner: app,
      }),
    ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED' });
  });
});

describe('stream tables of different owners reading each other', () => {
  it("keeps a chain exact when the downstream table's owner was granted SELECT on the upstream one", async () => {
    await db.query(`
      CREATE TABLE public.sales (id int PRIMARY KEY, region text NOT NULL, amount int NOT NULL);
      INSERT INTO public.sales SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 20) g;
      GRANT SELECT ON public.sales TO ${app};
    `);
    const up = await request(
      asApp,
      `SELECT pgtrickle.create_stream_table('app.big_sales', 'SELECT id, region, amount FROM public.sales WHERE amount > 5', '1s', 'DIFFERENTIAL')`,
    );
    expect(await settle(up)).toMatchObject({ status: 'DONE' });
    await asApp.query(`GRANT USAGE ON SCHEMA app TO ${other}; GRANT SELECT ON app.big_sales TO ${other}`);
    const query = 'SELECT region, count(*) AS n, sum(amount) AS total FROM app.big_sales GROUP BY region';
    const down = await request(
      asOther,
      `SELECT pgtrickle.create_stream_table('other.by_region', $1, '1s', 'DIFFERENTIAL')`,
      [query],
    );
    expect(await settle(down)).toMatchObject({ status: 'DONE', error: null });
    await db.query(
      `UPDATE public.sales SET amount = amount + 10 WHERE id <= 4; DELETE FROM public.sales WHERE id = 20`,
    );
    expect((await sidecar.refresh('app.big_sales')).action).toBe('DIFFERENTIAL');
    expect((await sidecar.refresh('other.by_region')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(
      db,
      'other.by_region',
      query.replace('app.big_sales', '(SELECT * FROM public.sales WHERE amount > 5) AS s'),
    );
    // Without the grant, the downstream owner's next refresh fails with PostgreSQL's own error.
    await asApp.query(`REVOKE SELECT ON app.big_sales FROM ${other}`);
    await db.query('UPDATE public.sales SET amount = amount + 1 WHERE id = 10');
    await sidecar.refresh('app.big_sales');
    await expect(sidecar.refresh('other.by_region')).rejects.toMatchObject({
      message: expect.stringMatching(/permission denied|may not read/),
    });
  });
});

describe('rebuilds keep the relation', () => {
  it('keeps grants, comments, user indexes and dependent views through a query change and a source ADD COLUMN', async () => {
    await db.query(`
      CREATE TABLE public.items (id int PRIMARY KEY, price numeric NOT NULL);
      INSERT INTO public.items SELECT g, g * 10 FROM generate_series(1, 5) g;
    `);
    await sidecar.createStreamTable({
      name: 'public.items_st',
      query: 'SELECT * FROM public.items',
      refreshMode: 'DIFFERENTIAL',
    });
    // Grants and comments on the name (a view); indexes on the storage table behind it.
    await db.query(`
      GRANT SELECT ON public.items_st TO ${other};
      COMMENT ON VIEW public.items_st IS 'priced items';
      CREATE INDEX items_st_price ON public.items_st__pgt_storage (price);
      CREATE VIEW public.items_view AS SELECT id, price FROM public.items_st;
    `);
    const oid = async () =>
      (await db.query(`SELECT pgtrickle.storage_of('public.items_st')::oid::int8 AS o`)).rows[0]?.o;
    const before = await oid();
    const kept = async () => {
      const r = await db.query(`
        SELECT has_table_privilege('${other}', 'public.items_st', 'SELECT') AS granted,
               obj_description('public.items_st'::regclass, 'pg_class') AS comment,
               to_regclass('public.items_st_price') IS NOT NULL AS indexed,
               (SELECT count(*)::int FROM public.items_view) AS through_view`);
      return r.rows[0];
    };
    // A column added at the end: the view over the name is replaced in place, user views stay.
    await sidecar.alterStreamTable('public.items_st', {
      query: 'SELECT id, price, price * 2 AS doubled FROM public.items',
    });
    expect(await kept()).toEqual({ granted: true, comment: 'priced items', indexed: true, through_view: 5 });
    await expectTableEqualsQuery(
      db,
      'public.items_st',
      'SELECT id, price, price * 2 AS doubled FROM public.items',
    );
    // A column dropped needs a new view over the name: refused while a user view reads it, nothing changed.
    await expect(
      sidecar.alterStreamTable('public.items_st', { query: 'SELECT * FROM public.items' }),
    ).rejects.toMatchObject({ code: 'PGT_HAS_DEPENDENTS', message: expect.stringContaining('items_view') });
    await db.query('DROP VIEW public.items_view');
    await sidecar.alterStreamTable('public.items_st', { query: 'SELECT * FROM public.items' });
    await db.query('CREATE VIEW public.items_view AS SELECT id, price FROM public.items_st');
    // A source column added: the view over the name gets it at its end, user views stay.
    await db.query(`ALTER TABLE public.items ADD COLUMN label text DEFAULT 'x'`);
    await db.query(`INSERT INTO public.items VALUES (6, 60, 'six')`);
    await sidecar.refresh('public.items_st');
    expect(await kept()).toEqual({ granted: true, comment: 'priced items', indexed: true, through_view: 6 });
    await expectTableEqualsQuery(db, 'public.items_st', 'SELECT * FROM public.items');
    expect(await oid()).toBe(before);
    // A change that drops a column the view reads is refused by name, and changes nothing.
    await expect(
      sidecar.alterStreamTable('public.items_st', { query: 'SELECT id FROM public.items' }),
    ).rejects.toMatchObject({ code: 'PGT_HAS_DEPENDENTS', message: expect.stringContaining('items_view') });
    await expectTableEqualsQuery(db, 'public.items_st', 'SELECT * FROM public.items');
  });
});

describe('wake-ups', () => {
  it('carry no table identities', async () => {
    const listener = await clientFor(other);
    const payloads: string[] = [];
    listener.on('notification', (n) => payloads.push(`${n.channel}:${n.payload ?? ''}`));
    await listener.query('LISTEN pgtrickle_wake');
    await db.query('UPDATE public.shared SET v = v + 1 WHERE id = 1');
    await new Promise((r) => setTimeout(r, 200));
    await listener.end();
    expect(payloads.length).toBeGreaterThan(0);
    expect(payloads.every((p) => p === 'pgtrickle_wake:')).toBe(true);
  });
});
