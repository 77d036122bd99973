/**
 * A stream table's name is a view of its visible columns (docs/dvm-design.md §5): outside readers
 * (`SELECT *`, `t.*`, NATURAL JOIN, `row_to_json(t)`, their own views) never see the hidden
 * `__pgt_` columns, which live in the storage table `<name>__pgt_storage`. Covered here: every
 * mode and the SQL API, grants for a reader role, stream tables reading stream tables by their
 * public name (IMMEDIATE cascades too), alter (columns added, dropped, reordered; user views over
 * the name), drop (by oid; a view dropped behind pgtrickle's back), blue-green, a stream table of
 * another owner reading this one, and the upgrade from catalog 17 (the storage under the name).
 */
import { expectNoNegativeCounts, expectTableEqualsQuery } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processRequests, storageTableName } from '../src/index.js';
import { TestRoles } from './support/roles.js';
import { useTrickle } from './support/setup.js';
import { upgradeAcross } from './support/upgrade.js';

const { db, trickle } = useTrickle();
const roles = new TestRoles(() => db.url);
const reader = roles.name('pgt_pv_reader');
const alice = roles.name('pgt_pv_alice');
const bob = roles.name('pgt_pv_bob');
let asReader: pg.Client;

const MODES = ['FULL', 'DIFFERENTIAL', 'AUTO', 'IMMEDIATE'] as const;

beforeAll(async () => {
  await db.query(`
    CREATE ROLE ${reader} LOGIN PASSWORD '${roles.password}';
    CREATE ROLE ${alice} LOGIN PASSWORD '${roles.password}';
    CREATE ROLE ${bob} LOGIN PASSWORD '${roles.password}';
    GRANT pgtrickle_user TO ${alice}, ${bob};
    GRANT CONNECT, TEMPORARY ON DATABASE ${db.name} TO ${alice}, ${bob};
    CREATE SCHEMA pv;
    GRANT USAGE ON SCHEMA pv TO ${reader};
    CREATE TABLE pv.orders (id int PRIMARY KEY, region text NOT NULL, amount numeric(10, 2) NOT NULL);
    INSERT INTO pv.orders SELECT g, (ARRAY['north','south','east'])[1 + g % 3], g % 7 FROM generate_series(1, 30) g;
    CREATE TABLE pv.regions (region text PRIMARY KEY, label text COLLATE "C" NOT NULL);
    INSERT INTO pv.regions VALUES ('north', 'N'), ('south', 'S'), ('east', 'E');
    GRANT SELECT ON pv.regions TO ${reader};
    GRANT USAGE ON SCHEMA pv TO ${alice}, ${bob};`);
  asReader = await roles.client(reader);
});

afterAll(async () => {
  await asReader?.end().catch(() => undefined);
  for (const role of [reader, alice, bob])
    await db.query(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`).catch(() => undefined);
});

async function relation(name: string): Promise<{ kind: string; owner: string } | undefined> {
  const r = await db.query(
    `SELECT relkind::text AS kind, relowner::regrole::text AS owner FROM pg_class WHERE oid = to_regclass($1)`,
    [name],
  );
  return r.rows[0] as { kind: string; owner: string } | undefined;
}

async function columnsOf(name: string): Promise<string[]> {
  const r = await db.query(
    `SELECT attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attcollation::regcollation::text AS c
       FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [name],
  );
  return r.rows.map((x) => String(x.c));
}

async function codeOf(p: Promise<unknown>): Promise<{ code?: unknown; message?: unknown } | null> {
  return p.then(
    () => null,
    (e: unknown) => e as { code?: unknown; message?: unknown },
  );
}

describe('the public name is a view of the visible columns', () => {
  for (const mode of MODES) {
    it(`in ${mode}: storage and view owned by the owner; outside readers see only the visible columns`, async () => {
      const st = `pv.agg_${mode.toLowerCase()}`;
      const query =
        'SELECT o.region, r.label, count(*) AS n, sum(o.amount) AS total FROM pv.orders o JOIN pv.regions r USING (region) GROUP BY o.region, r.label';
      await trickle().createStreamTable({ name: st, query, refreshMode: mode, schedule: '1h' });
      const storage = `${st}__pgt_storage`;
      expect(await relation(st)).toEqual({ kind: 'v', owner: 'postgres' });
      expect(await relation(storage)).toEqual({ kind: 'r', owner: 'postgres' });
      // The view has the storage's visible columns, with their types and collations, in order.
      const stored = (await columnsOf(storage)).filter((c) => !c.startsWith('__pgt_'));
      expect(await columnsOf(st)).toEqual(stored);
      expect(stored).toEqual(['region text "default"', 'label text "C"', 'n bigint -', 'total numeric -']);
      expect((await columnsOf(storage)).some((c) => c.startsWith('__pgt_row_id'))).toBe(true);

      // A reader granted SELECT on the name needs nothing on the storage.
      await db.query(`GRANT SELECT ON ${st} TO ${reader}`);
      await db.query(`REVOKE ALL ON ${storage} FROM ${reader}`);
      const star = await asReader.query(`SELECT * FROM ${st} LIMIT 0`);
      expect(star.fields.map((f) => f.name)).toEqual(['region', 'label', 'n', 'total']);
      const tstar = await asReader.query(`SELECT t.* FROM ${st} AS t LIMIT 0`);
      expect(tstar.fields.map((f) => f.name)).toEqual(['region', 'label', 'n', 'total']);
      const natural = await asReader.query(`SELECT * FROM ${st} NATURAL JOIN pv.regions ORDER BY region`);
      expect(natural.fields.map((f) => f.name)).toEqual(['region', 'label', 'n', 'total']);
      expect(natural.rows).toHaveLength(3);
      const json = await asReader.query(`SELECT row_to_json(t)::text AS j FROM ${st} AS t ORDER BY region`);
      expect(json.rows.map((r) => Object.keys(JSON.parse(String(r.j))))).toEqual([
        ['region', 'label', 'n', 'total'],
        ['region', 'label', 'n', 'total'],
        ['region', 'label', 'n', 'total'],
      ]);
      await expect(asReader.query(`SELECT * FROM ${storage}`)).rejects.toThrow(/permission denied/);

      // Writes through the view reach the storage's guard: refused.
      await expect(db.query(`DELETE FROM ${st}`)).rejects.toThrow(/pgtrickle/i);

      // Maintained as before, through the storage.
      await db.query(`INSERT INTO pv.orders VALUES (100 + ${MODES.indexOf(mode)}, 'north', 3)`);
      if (mode !== 'IMMEDIATE') await trickle().refresh(st);
      await expectTableEqualsQuery(db, st, query);
      await expectNoNegativeCounts(db, st);
      await db.query(`DELETE FROM pv.orders WHERE id = 100 + ${MODES.indexOf(mode)}`);
      if (mode !== 'IMMEDIATE') await trickle().refresh(st);
      await expectTableEqualsQuery(db, st, query);
      await trickle().dropStreamTable(st);
      expect(await relation(st)).toBeUndefined();
      expect(await relation(storage)).toBeUndefined();
    }, 120_000);
  }

  it('through the SQL API, owned by the caller; status, explain and storage_of name the storage', async () => {
    const asAlice = await roles.client(alice);
    try {
      await db.query(
        `CREATE SCHEMA pva AUTHORIZATION ${alice}; GRANT SELECT ON pv.orders TO ${alice}, ${bob}`,
      );
      await asAlice.query(
        `SELECT pgtrickle.create_stream_table('pva.totals', 'SELECT region, sum(amount) AS total FROM pv.orders GROUP BY region', '1h', 'DIFFERENTIAL')`,
      );
      await processRequests(trickle());
      expect(await relation('pva.totals')).toEqual({ kind: 'v', owner: alice });
      expect(await relation('pva.totals__pgt_storage')).toEqual({ kind: 'r', owner: alice });
      const of = await asAlice.query(`SELECT pgtrickle.storage_of('pva.totals')::text AS s`);
      expect(of.rows[0]?.s).toBe('pva.totals__pgt_storage');
      expect((await db.query(`SELECT pgtrickle.storage_of('pv.orders') AS s`)).rows[0]?.s).toBeNull();
      const status = (await trickle().status()).find((s) => s.name === 'pva.totals');
      expect(status?.storage).toBe('pva.totals__pgt_storage');
      const explained = await trickle().explain('pva.totals');
      expect(explained.storage).toBe('pva.totals__pgt_storage');
      // Indexes: not on the view; on the storage, by its owner.
      await expect(asAlice.query('CREATE INDEX ON pva.totals (total)')).rejects.toThrow(
        /not a table|cannot create index/,
      );
      await asAlice.query('CREATE INDEX totals_total_idx ON pva.totals__pgt_storage (total)');
    } finally {
      await asAlice.end();
    }
  });
});

describe('stream tables reading stream tables by their public name', () => {
  for (const mode of ['FULL', 'DIFFERENTIAL', 'AUTO', 'IMMEDIATE'] as const) {
    it(`in ${mode}: a chain and a diamond are stream-table sources, maintained exactly`, async () => {
      const s = `pvc_${mode.toLowerCase()}`;
      await db.query(`CREATE SCHEMA ${s};
        CREATE TABLE ${s}.t (id int PRIMARY KEY, g int NOT NULL, v int NOT NULL);
        INSERT INTO ${s}.t SELECT i, i % 4, i FROM generate_series(1, 20) i`);
      const up = `${s}.up`;
      await trickle().createStreamTable({
        name: up,
        query: `SELECT g, sum(v) AS s, count(*) AS n FROM ${s}.t GROUP BY g`,
        refreshMode: mode,
        schedule: '1h',
      });
      const left = `SELECT * FROM ${up} WHERE g < 3`;
      const right = `SELECT u.* FROM ${up} AS u WHERE u.s > 10`;
      await trickle().createStreamTable({ name: `${s}.l`, query: left, refreshMode: mode, schedule: '1h' });
      await trickle().createStreamTable({ name: `${s}.r`, query: right, refreshMode: mode, schedule: '1h' });
      const bottom = `SELECT l.g, l.s, r.n FROM ${s}.l AS l JOIN ${s}.r AS r USING (g)`;
      await trickle().createStreamTable({ name: `${s}.b`, query: bottom, refreshMode: mode, schedule: '1h' });
      const deps = await db.query(
        `SELECT d.source_name, d.source_kind FROM pgtrickle.pgt_dependencies d JOIN pgtrickle.pgt_stream_tables st USING (pgt_id)
          WHERE st.schema_name = $1 AND st.table_name = 'l'`,
        [s],
      );
      expect(deps.rows).toEqual([{ source_name: 'up', source_kind: 'streamTable' }]);
      // SELECT * over the public name never carries the hidden columns downstream.
      expect(await columnsOf(`${s}.l`)).toEqual(await columnsOf(up));
      for (const step of [
        `INSERT INTO ${s}.t VALUES (100, 1, 50), (101, 2, 1)`,
        `UPDATE ${s}.t SET v = v + 10 WHERE g = 0`,
        `DELETE FROM ${s}.t WHERE id <= 5`,
      ]) {
        await db.query(step);
        if (mode !== 'IMMEDIATE') for (const n of ['up', 'l', 'r', 'b']) await trickle().refresh(`${s}.${n}`);
        await expectTableEqualsQuery(
          db,
          `${s}.l`,
          left.replace(up, `(SELECT g, sum(v) AS s, count(*) AS n FROM ${s}.t GROUP BY g) AS x`),
        );
        await expectTableEqualsQuery(db, `${s}.b`, bottom);
      }
      await trickle().dropStreamTable(up, { cascade: true });
    }, 120_000);
  }
});

describe('alter', () => {
  it('re-creates the view when the visible columns change, keeping grants and comments; refuses when user views read it', async () => {
    await db.query('CREATE SCHEMA pvl');
    const st = 'pvl.st';
    await trickle().createStreamTable({
      name: st,
      query: 'SELECT region, sum(amount) AS total FROM pv.orders GROUP BY region',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query(`GRANT SELECT ON ${st} TO ${reader}; GRANT USAGE ON SCHEMA pvl TO ${reader};
      COMMENT ON VIEW ${st} IS 'totals'; COMMENT ON COLUMN ${st}.region IS 'where'`);
    const viewOid = async () => Number((await db.query(`SELECT to_regclass('${st}')::oid AS o`)).rows[0]?.o);
    const first = await viewOid();

    // A column added at the end: the view is replaced in place.
    await trickle().alterStreamTable(st, {
      query: 'SELECT region, sum(amount) AS total, count(*) AS n FROM pv.orders GROUP BY region',
    });
    expect(await viewOid()).toBe(first);
    expect((await asReader.query(`SELECT * FROM ${st} LIMIT 0`)).fields.map((f) => f.name)).toEqual([
      'region',
      'total',
      'n',
    ]);

    // Columns dropped and reordered: a new view, with the grants and comments of the old one.
    const query = 'SELECT count(*) AS n, region FROM pv.orders GROUP BY region';
    await trickle().alterStreamTable(st, { query });
    expect(await viewOid()).not.toBe(first);
    expect((await asReader.query(`SELECT * FROM ${st} LIMIT 0`)).fields.map((f) => f.name)).toEqual([
      'n',
      'region',
    ]);
    expect((await db.query(`SELECT obj_description('${st}'::regclass, 'pg_class') AS c`)).rows[0]?.c).toBe(
      'totals',
    );
    expect((await db.query(`SELECT col_description('${st}'::regclass, 2) AS c`)).rows[0]?.c).toBe('where');
    const status = (await trickle().status()).find((s) => s.name === st);
    expect(status?.storageMissing).toBe(false);
    await db.query(`INSERT INTO pv.orders VALUES (500, 'east', 1)`);
    await trickle().refresh(st);
    await expectTableEqualsQuery(db, st, query);

    // A user's view over the name: a change that needs a new view is refused, naming it; nothing changed.
    await db.query(`CREATE VIEW pvl.mine AS SELECT region FROM ${st}`);
    const refused = await codeOf(
      trickle().alterStreamTable(st, { query: 'SELECT region FROM pv.orders GROUP BY region' }),
    );
    expect(refused).toMatchObject({
      code: 'PGT_HAS_DEPENDENTS',
      message: expect.stringContaining('pvl.mine'),
    });
    expect((await db.query(`SELECT * FROM ${st} LIMIT 0`)).fields.map((f) => f.name)).toEqual([
      'n',
      'region',
    ]);
    // Adding a column at the end still works under it.
    await trickle().alterStreamTable(st, {
      query: 'SELECT count(*) AS n, region, max(amount) AS top FROM pv.orders GROUP BY region',
    });
    expect((await db.query('SELECT * FROM pvl.mine LIMIT 0')).fields.map((f) => f.name)).toEqual(['region']);
    await db.query('DROP VIEW pvl.mine');
  });
});

describe('drop', () => {
  it('drops view and storage by oid; a view dropped behind pgtrickle is PGT_STORAGE_MISSING and drop still works', async () => {
    await db.query('CREATE SCHEMA pvd');
    const st = 'pvd.st';
    await trickle().createStreamTable({
      name: st,
      query: 'SELECT region, count(*) AS n FROM pv.orders GROUP BY region',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query(`DROP VIEW ${st}`);
    expect((await trickle().status()).find((s) => s.name === st)?.storageMissing).toBe(true);
    // A relation created under the name is the user's.
    await db.query(`CREATE TABLE ${st} (x int); INSERT INTO ${st} VALUES (7)`);
    await db.query(`INSERT INTO pv.orders VALUES (600, 'north', 1)`);
    const error = await codeOf(trickle().refresh(st));
    expect(error?.code).toBe('PGT_STORAGE_MISSING');
    expect(String(error?.message)).toContain(`pgtrickle.drop_stream_table('${st}')`);
    expect((await trickle().status()).find((s) => s.name === st)?.status).toBe('ERROR');
    await trickle().dropStreamTable(st);
    expect((await db.query(`SELECT x FROM ${st}`)).rows).toEqual([{ x: 7 }]);
    expect(await relation('pvd.st__pgt_storage')).toBeUndefined();
  });

  it('the storage name is unique after 63-byte truncation', async () => {
    const a = `${'l'.repeat(55)}_one`;
    const b = `${'l'.repeat(55)}_two`;
    expect(storageTableName(a)).not.toBe(storageTableName(b));
    expect(Buffer.byteLength(storageTableName(a))).toBeLessThanOrEqual(63);
    await db.query('CREATE SCHEMA pvn');
    for (const n of [a, b])
      await trickle().createStreamTable({ name: `pvn.${n}`, query: 'SELECT region FROM pv.regions' });
    for (const n of [a, b]) await expectTableEqualsQuery(db, `pvn.${n}`, 'SELECT region FROM pv.regions');
    // A relation already holding the storage's name refuses the create, naming it; nothing is made.
    await db.query('CREATE TABLE pvn.taken__pgt_storage (x int)');
    const refused = await codeOf(
      trickle().createStreamTable({ name: 'pvn.taken', query: 'SELECT region FROM pv.regions' }),
    );
    expect(refused).toMatchObject({
      code: 'PGT_ALREADY_EXISTS',
      message: expect.stringContaining('pvn.taken__pgt_storage'),
    });
    expect(await relation('pvn.taken')).toBeUndefined();
  });
});

describe('another owner reading the stream table', () => {
  it('reads it through its view once granted SELECT on it, in DIFFERENTIAL, and refreshes', async () => {
    const asAlice = await roles.client(alice);
    const asBob = await roles.client(bob);
    try {
      await db.query(`CREATE SCHEMA pvb AUTHORIZATION ${bob}`);
      await asAlice.query(
        `SELECT pgtrickle.create_stream_table('pva.counts', 'SELECT region, count(*) AS n FROM pv.orders GROUP BY region', '1h', 'DIFFERENTIAL')`,
      );
      await processRequests(trickle());
      await asAlice.query(`GRANT USAGE ON SCHEMA pva TO ${bob}; GRANT SELECT ON pva.counts TO ${bob}`);
      await asBob.query(
        `SELECT pgtrickle.create_stream_table('pvb.big', 'SELECT region, n FROM pva.counts WHERE n > 1', '1h', 'DIFFERENTIAL')`,
      );
      await processRequests(trickle());
      const made = (await trickle().status()).find((s) => s.name === 'pvb.big');
      expect(made).toMatchObject({ status: 'ACTIVE', effectiveMode: 'DIFFERENTIAL' });
      await db.query(`INSERT INTO pv.orders VALUES (700, 'south', 1), (701, 'south', 2)`);
      await trickle().refresh('pva.counts');
      await trickle().refresh('pvb.big');
      await expectTableEqualsQuery(
        db,
        'pvb.big',
        'SELECT region, count(*) AS n FROM pv.orders GROUP BY region HAVING count(*) > 1',
      );
    } finally {
      await asAlice.end();
      await asBob.end();
    }
  });
});

describe('blue-green', () => {
  it('promote and rollback swap view and storage together, carrying the view grants', async () => {
    await db.query('CREATE SCHEMA pvg');
    const st = 'pvg.st';
    await trickle().createStreamTable({
      name: st,
      query: 'SELECT region, sum(amount) AS total FROM pv.orders GROUP BY region',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query(`GRANT USAGE ON SCHEMA pvg TO ${reader}; GRANT SELECT ON ${st} TO ${reader}`);
    const green = 'SELECT region, sum(amount) AS total, count(*) AS n FROM pv.orders GROUP BY region';
    await trickle().createGreen(st, { query: green });
    expect(await relation('pvg.st__pgt_green')).toMatchObject({ kind: 'v' });
    expect(await relation(`pvg.${storageTableName('st__pgt_green')}`)).toMatchObject({ kind: 'r' });
    await trickle().promoteGreen(st, { force: true });
    expect((await asReader.query(`SELECT * FROM ${st} LIMIT 0`)).fields.map((f) => f.name)).toEqual([
      'region',
      'total',
      'n',
    ]);
    await expectTableEqualsQuery(db, st, green);
    expect(await relation('pvg.st__pgt_retired')).toMatchObject({ kind: 'v' });
    expect(await relation('pvg.st__pgt_retired__pgt_storage')).toMatchObject({ kind: 'r' });
    await trickle().rollbackGreen(st);
    expect((await asReader.query(`SELECT * FROM ${st} LIMIT 0`)).fields.map((f) => f.name)).toEqual([
      'region',
      'total',
    ]);
    expect(await relation('pvg.st__pgt_storage')).toMatchObject({ kind: 'r' });
    await db.query(`INSERT INTO pv.orders VALUES (800, 'east', 4)`);
    await trickle().refresh(st);
    await expectTableEqualsQuery(
      db,
      st,
      'SELECT region, sum(amount) AS total FROM pv.orders GROUP BY region',
    );
    await trickle().createGreen(st, { query: green });
    await trickle().promoteGreen(st, { force: true });
    await trickle().dropRetired(st);
    expect(await relation('pvg.st__pgt_retired')).toBeUndefined();
    expect(await relation('pvg.st__pgt_retired__pgt_storage')).toBeUndefined();
  });
});

describe('upgrade from catalog 17', () => {
  it('converts a stream table stored under its name at its next refresh, in its owner’s sandbox', async () => {
    const asAlice = await roles.client(alice);
    try {
      await db.query(`CREATE SCHEMA pvu AUTHORIZATION ${alice}; GRANT USAGE ON SCHEMA pvu TO ${reader}`);
      const query = 'SELECT region, sum(amount) AS total FROM pv.orders GROUP BY region';
      await asAlice.query(`SELECT pgtrickle.create_stream_table('pvu.up', $1, '1h', 'DIFFERENTIAL')`, [
        query,
      ]);
      await asAlice.query(
        `SELECT pgtrickle.create_stream_table('pvu.down', 'SELECT region FROM pvu.up WHERE total > 10', '1h', 'DIFFERENTIAL')`,
      );
      await processRequests(trickle());

      // As catalog 17 left them: the storage under the public name, no view, no public_oid column.
      await upgradeAcross(db, 'public views', async (conn) => {
        for (const n of ['up', 'down']) {
          await conn.query(`DROP VIEW pvu.${n} CASCADE`);
          await conn.query(`ALTER TABLE pvu.${n}__pgt_storage RENAME TO ${n}`);
          await conn.query(
            `ALTER INDEX pvu.${n}__pgt_storage__pgt_row_id_idx RENAME TO ${n}__pgt_row_id_idx`,
          );
        }
        await conn.query(`GRANT SELECT ON pvu.up TO ${reader}`);
        await conn.query(`COMMENT ON TABLE pvu.up IS 'per region'`);
        await conn.query('ALTER TABLE pgtrickle.pgt_stream_tables DROP COLUMN public_oid');
        await conn.query('DROP FUNCTION pgtrickle.storage_of(regclass)');
      });
      // Before the next refresh readers still see the table as it was.
      expect(await relation('pvu.up')).toEqual({ kind: 'r', owner: alice });

      await db.query(`INSERT INTO pv.orders VALUES (900, 'north', 9)`);
      await trickle().refresh('pvu.up');
      expect(await relation('pvu.up')).toEqual({ kind: 'v', owner: alice });
      expect(await relation('pvu.up__pgt_storage')).toEqual({ kind: 'r', owner: alice });
      expect((await asReader.query('SELECT * FROM pvu.up LIMIT 0')).fields.map((f) => f.name)).toEqual([
        'region',
        'total',
      ]);
      expect((await db.query(`SELECT obj_description('pvu.up'::regclass, 'pg_class') AS c`)).rows[0]?.c).toBe(
        'per region',
      );
      await expectTableEqualsQuery(db, 'pvu.up', query);
      // Its reader rebuilds against the renamed storage, then is converted too.
      await trickle().refresh('pvu.down');
      expect(await relation('pvu.down')).toEqual({ kind: 'v', owner: alice });
      await expectTableEqualsQuery(db, 'pvu.down', `SELECT region FROM (${query}) AS q WHERE total > 10`);
      await db.query(`INSERT INTO pv.orders VALUES (901, 'east', 50)`);
      await trickle().refresh('pvu.up');
      const next = await trickle().refresh('pvu.down');
      expect(next.action).toBe('DIFFERENTIAL');
      await expectTableEqualsQuery(db, 'pvu.down', `SELECT region FROM (${query}) AS q WHERE total > 10`);
    } finally {
      await asAlice.end();
    }
  });
});
