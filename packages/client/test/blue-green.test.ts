/**
 * Blue-green deployments through the TypeScript API (docs/blue-green.md): a green copy with a new
 * query is populated and refreshes on its own while blue keeps refreshing; green_status reports
 * convergence; promote refuses a green that has not converged (unless forced), swaps in one
 * transaction and carries grants, comments, owner and user indexes over; the retired blue is
 * suspended and a rollback restores it exactly; cancel leaves nothing behind; a green reading a new
 * source gets capture; readers that no longer fit refuse the promote (or go to ERROR with cascade);
 * a downstream stream table keeps equalling its query across the swap; views over the table refuse
 * it; normal alter and drop of a green or retired copy are refused.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, processRequests, type Trickle } from '../src/index.js';
import { TestRoles } from './support/roles.js';

const db = useTestDatabase();
const roles = new TestRoles(() => db.url);
const reader = roles.name('pgt_bg_reader');
let trickle: Trickle;

beforeAll(async () => {
  await db.query(`CREATE ROLE ${reader} LOGIN PASSWORD '${roles.password}'`);
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL, amount int NOT NULL)');
  await db.query(
    `INSERT INTO orders SELECT g, (ARRAY['north','south','east'])[1 + g % 3], g % 50 FROM generate_series(1, 300) g`,
  );
  await db.query('CREATE TABLE regions (region text PRIMARY KEY, label text NOT NULL)');
  await db.query(`INSERT INTO regions VALUES ('north', 'N'), ('south', 'S'), ('east', 'E')`);
  trickle = await connect(db.url);
  await trickle.install();
});
afterAll(async () => {
  await trickle?.close();
});

/** Rows of `sql` as sorted JSON lines (a multiset, for equality). */
async function rowsOf(sql: string): Promise<string[]> {
  const res = await db.query(sql);
  return res.rows.map((r) => JSON.stringify(r)).sort();
}

async function equalsQuery(table: string, query: string): Promise<void> {
  const cols = (await db.query(`SELECT * FROM ${table} LIMIT 0`)).fields
    .map((f) => f.name)
    .filter((n) => !n.startsWith('__pgt_'));
  const list = cols.map((c) => `"${c}"`).join(', ');
  expect(await rowsOf(`SELECT ${list} FROM ${table}`)).toEqual(
    await rowsOf(`SELECT ${list} FROM (${query}) q`),
  );
}

async function catalogIds(): Promise<number[]> {
  const r = await db.query('SELECT pgt_id FROM pgtrickle.pgt_stream_tables ORDER BY 1');
  return r.rows.map((x) => Number(x.pgt_id));
}

async function changeObjects(): Promise<string[]> {
  const r = await db.query(
    `SELECT c.relname::text AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'pgtrickle_changes' AND c.relkind = 'r' ORDER BY 1`,
  );
  return r.rows.map((x) => String(x.n));
}

const BLUE_Q = `SELECT region, sum(amount) AS total FROM orders WHERE amount > 10 GROUP BY region`;
const GREEN_Q = `SELECT region, sum(amount) AS total, count(*) AS n FROM orders WHERE amount > 20 GROUP BY region`;

describe('blue-green', () => {
  it('create_green populates a green that refreshes on its own while blue keeps refreshing; status converges', async () => {
    await trickle.createStreamTable({ name: 'totals', query: BLUE_Q, schedule: '1s' });
    const d = await trickle.createGreen('totals', { query: GREEN_Q });
    expect(d).toMatchObject({ state: 'CATCHING_UP', greenName: 'totals__pgt_green' });
    await equalsQuery('totals__pgt_green', GREEN_Q);
    const status = await trickle.status();
    expect(status.find((s) => s.table === 'totals__pgt_green')?.role).toBe('green');
    expect(status.find((s) => s.table === 'totals')?.role).toBe('table');
    expect((await trickle.greenStatus('totals'))?.converged).toBe(true);

    // Blue refreshes past the green: not converged, and promote refuses with a coded error.
    await db.query(`UPDATE orders SET amount = amount + 1 WHERE id <= 30`);
    await trickle.refresh('totals');
    await equalsQuery('totals', BLUE_Q);
    const behind = await trickle.greenStatus('totals');
    expect(behind).toMatchObject({
      state: 'CATCHING_UP',
      converged: false,
      greenName: 'public.totals__pgt_green',
    });
    expect(behind?.frontierLagXids).toBeGreaterThan(0);
    await expect(trickle.promoteGreen('totals')).rejects.toMatchObject({ code: 'PGT_NOT_CONVERGED' });
    expect((await db.query(`SELECT to_regclass('totals__pgt_green') IS NOT NULL AS e`)).rows[0]?.e).toBe(
      true,
    );

    // The green refreshes on its own and catches up.
    await trickle.refresh('totals__pgt_green');
    await equalsQuery('totals__pgt_green', GREEN_Q);
    expect(await trickle.greenStatus('totals')).toMatchObject({
      state: 'CONVERGED',
      converged: true,
      etaMs: 0,
    });
  });

  it('normal alter and drop of a green, or drop of a blue under deployment, are refused with what to do', async () => {
    await expect(trickle.alterStreamTable('totals__pgt_green', { schedule: '5s' })).rejects.toMatchObject({
      code: 'PGT_INVALID_STATE',
      message: expect.stringContaining("pgtrickle.promote_green('public.totals')"),
    });
    await expect(trickle.dropStreamTable('totals__pgt_green')).rejects.toMatchObject({
      code: 'PGT_INVALID_STATE',
    });
    await expect(trickle.dropStreamTable('totals')).rejects.toMatchObject({
      code: 'PGT_INVALID_STATE',
      message: expect.stringContaining('cancel_green'),
    });
    await expect(trickle.createGreen('totals', { query: BLUE_Q })).rejects.toMatchObject({
      code: 'PGT_INVALID_STATE',
    });
  });

  it('cancel drops the green with no catalog, buffer or capture leftovers', async () => {
    const idsBefore = await catalogIds();
    const buffersBefore = await changeObjects();
    // A green reading a source blue does not read gets capture for it.
    await trickle.cancelGreen('totals');
    const idsAfterCancel = await catalogIds();
    await trickle.createGreen('totals', {
      query: `SELECT o.region, r.label, sum(o.amount) AS total FROM orders o JOIN regions r USING (region) GROUP BY o.region, r.label`,
    });
    const regionsOid = Number((await db.query(`SELECT 'regions'::regclass::oid AS o`)).rows[0]?.o);
    expect(await changeObjects()).toContain(`changes_${regionsOid}`);
    expect(
      (await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'regions'::regclass`))
        .rows[0]?.n,
    ).toBeGreaterThan(0);
    await trickle.cancelGreen('totals');
    expect(await catalogIds()).toEqual(idsAfterCancel);
    expect(idsAfterCancel.length).toBe(idsBefore.length - 1);
    expect(await changeObjects()).toEqual(buffersBefore);
    expect(
      (await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'regions'::regclass`))
        .rows[0]?.n,
    ).toBe(0);
    for (const t of ['pgt_dependencies', 'pgt_green_lag']) {
      const col = t === 'pgt_green_lag' ? 'green_id' : 'pgt_id';
      const n = await db.query(
        `SELECT count(*)::int AS n FROM pgtrickle.${t} WHERE ${col} <> ALL ($1::bigint[])`,
        [idsAfterCancel],
      );
      expect(n.rows[0]?.n).toBe(0);
    }
    expect((await db.query(`SELECT to_regclass('totals__pgt_green') AS r`)).rows[0]?.r).toBeNull();
    expect((await trickle.greenStatus('totals'))?.state).toBe('ROLLED_BACK');
    await expect(trickle.promoteGreen('totals')).rejects.toMatchObject({ code: 'PGT_INVALID_STATE' });
  });

  it('promote swaps in one transaction: columns, contents, grants, comments, owner, user indexes; blue retired; downstream rebuilt', async () => {
    await db.query(`GRANT SELECT ON totals TO ${reader}`);
    await db.query(`GRANT SELECT (region) ON totals TO PUBLIC`);
    // Privileges a view holds beyond reading are carried too (the copy is view to view).
    await db.query(`GRANT TRUNCATE, REFERENCES ON totals TO ${reader}`);
    await db.query(`COMMENT ON VIEW totals IS 'totals per region'`);
    await db.query(`COMMENT ON COLUMN totals.total IS 'the sum'`);
    // Indexes go on the storage table, behind the view of the name.
    await db.query(`CREATE INDEX totals_total_idx ON totals__pgt_storage (total)`);
    await trickle.createStreamTable({ name: 'grand', query: `SELECT sum(total) AS all_total FROM totals` });
    const ownerBefore = (
      await db.query(`SELECT relowner::regrole::text AS o FROM pg_class WHERE oid = 'totals'::regclass`)
    ).rows[0]?.o;
    const aclBefore = (
      await db.query(`SELECT relacl::text AS a FROM pg_class WHERE oid = 'totals'::regclass`)
    ).rows[0]?.a;
    const blueContents = await rowsOf('SELECT region, total FROM totals');

    await trickle.createGreen('totals', { query: GREEN_Q });
    // Grants given to the green before the promote give way to the blue's.
    await db.query(`GRANT SELECT ON totals__pgt_green TO ${reader} WITH GRANT OPTION`);
    await db.query(`GRANT INSERT ON totals__pgt_green TO PUBLIC`);
    await db.query(`UPDATE orders SET amount = amount + 2 WHERE id BETWEEN 100 AND 140`);
    const promoted = await trickle.promoteGreen('totals', { force: true });
    expect(promoted).toMatchObject({
      name: 'public.totals',
      retired: 'public.totals__pgt_retired',
      rebuilt: ['public.grand'],
      broken: [],
      indexesNotCarried: [],
    });

    // The public name now has the green's columns and contents, equal to its query (the final catch-up ran).
    const cols = (await db.query('SELECT * FROM totals LIMIT 0')).fields.map((f) => f.name);
    expect(cols).toContain('n');
    await equalsQuery('totals', GREEN_Q);
    await equalsQuery('grand', 'SELECT sum(total) AS all_total FROM totals');
    expect(
      (await db.query(`SELECT relowner::regrole::text AS o FROM pg_class WHERE oid = 'totals'::regclass`))
        .rows[0]?.o,
    ).toBe(ownerBefore);
    expect(
      (await db.query(`SELECT relacl::text AS a FROM pg_class WHERE oid = 'totals'::regclass`)).rows[0]?.a,
    ).toBe(aclBefore);
    expect(
      (await db.query(`SELECT has_column_privilege('public', 'totals', 'region', 'SELECT') AS p`)).rows[0]?.p,
    ).toBe(true);
    expect((await db.query(`SELECT obj_description('totals'::regclass, 'pg_class') AS c`)).rows[0]?.c).toBe(
      'totals per region',
    );
    expect(
      (
        await db.query(
          `SELECT col_description('totals'::regclass, 2) AS c, attname FROM pg_attribute WHERE attrelid = 'totals'::regclass AND attname = 'total'`,
        )
      ).rows.length,
    ).toBe(1);
    expect(
      (
        await db.query(
          `SELECT col_description('totals'::regclass, attnum) AS c FROM pg_attribute WHERE attrelid = 'totals'::regclass AND attname = 'total'`,
        )
      ).rows[0]?.c,
    ).toBe('the sum');
    const idx = await db.query(
      `SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = pgtrickle.storage_of('totals')`,
    );
    expect(idx.rows.map((r) => r.i)).toContain('totals_total_idx');

    // The reader role reads the new version.
    const asReader = await roles.client(reader);
    try {
      const r = await asReader.query('SELECT count(*)::int AS n, sum(n)::int AS s FROM totals');
      expect(r.rows[0]?.n).toBe(3);
    } finally {
      await asReader.end();
    }

    // The retired blue: suspended, old contents, its own index renamed, its grants untouched.
    const status = await trickle.status();
    expect(status.find((s) => s.table === 'totals__pgt_retired')).toMatchObject({
      status: 'SUSPENDED',
      role: 'retired',
    });
    expect(status.find((s) => s.table === 'totals')).toMatchObject({ status: 'ACTIVE', role: 'table' });
    expect(await rowsOf('SELECT region, total FROM totals__pgt_retired')).toEqual(blueContents);
    // The green is the table now; the row figures are counts (small tables never analyzed).
    expect(await trickle.greenStatus('totals')).toMatchObject({
      state: 'PROMOTED',
      greenName: 'public.totals',
      retiredName: 'public.totals__pgt_retired',
      blueRows: blueContents.length,
      greenRows: 3,
    });

    // The downstream table keeps refreshing from the new version.
    await db.query(`UPDATE orders SET amount = amount + 5 WHERE id BETWEEN 1 AND 60`);
    await trickle.refresh('totals');
    await trickle.refresh('grand');
    await equalsQuery('totals', GREEN_Q);
    await equalsQuery('grand', 'SELECT sum(total) AS all_total FROM totals');
    await expect(trickle.dropStreamTable('totals__pgt_retired')).rejects.toMatchObject({
      code: 'PGT_INVALID_STATE',
      message: expect.stringContaining('drop_retired'),
    });
  });

  it('rollback after a promote restores the old version exactly, with its grants, and drops the green', async () => {
    const aclRetired = (
      await db.query(`SELECT relacl::text AS a FROM pg_class WHERE oid = 'totals__pgt_retired'::regclass`)
    ).rows[0]?.a;
    const retiredOid = Number(
      (await db.query(`SELECT 'totals__pgt_retired'::regclass::oid AS o`)).rows[0]?.o,
    );
    await trickle.rollbackGreen('totals');
    expect(Number((await db.query(`SELECT 'totals'::regclass::oid AS o`)).rows[0]?.o)).toBe(retiredOid);
    expect(
      (await db.query(`SELECT relacl::text AS a FROM pg_class WHERE oid = 'totals'::regclass`)).rows[0]?.a,
    ).toBe(aclRetired);
    const cols = (await db.query('SELECT * FROM totals LIMIT 0')).fields.map((f) => f.name);
    expect(cols).not.toContain('n');
    await equalsQuery('totals', BLUE_Q);
    await equalsQuery('grand', 'SELECT sum(total) AS all_total FROM totals');
    const idx = await db.query(
      `SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = pgtrickle.storage_of('totals')`,
    );
    expect(idx.rows.map((r) => r.i)).toContain('totals_total_idx');
    expect((await db.query(`SELECT to_regclass('totals__pgt_green') AS r`)).rows[0]?.r).toBeNull();
    const status = await trickle.status();
    expect(status.find((s) => s.table === 'totals')).toMatchObject({ status: 'ACTIVE', role: 'table' });
    expect(status.map((s) => s.table)).not.toContain('totals__pgt_green');
    expect(await trickle.greenStatus('totals')).toMatchObject({ state: 'ROLLED_BACK', greenName: null });
    await db.query(`UPDATE orders SET amount = amount + 1 WHERE id BETWEEN 200 AND 220`);
    await trickle.refresh('totals');
    await trickle.refresh('grand');
    await equalsQuery('totals', BLUE_Q);
    await equalsQuery('grand', 'SELECT sum(total) AS all_total FROM totals');
  });

  it('a downstream table reading a column the green lacks refuses the promote (nothing changed); cascade puts it in ERROR', async () => {
    await trickle.createGreen('totals', {
      query: `SELECT region, count(*) AS n FROM orders GROUP BY region`,
    });
    const before = await rowsOf(`SELECT table_name, status FROM pgtrickle.pgt_stream_tables`);
    await expect(trickle.promoteGreen('totals', { force: true })).rejects.toMatchObject({
      code: 'PGT_HAS_DEPENDENTS',
      dependents: ['public.grand'],
    });
    expect(await rowsOf(`SELECT table_name, status FROM pgtrickle.pgt_stream_tables`)).toEqual(before);
    await equalsQuery('totals', BLUE_Q);
    const r = await trickle.promoteGreen('totals', { force: true, cascade: true });
    expect(r.broken).toEqual(['public.grand']);
    expect((await trickle.status()).find((s) => s.table === 'grand')?.status).toBe('ERROR');
    await trickle.dropStreamTable('grand');
    expect(await trickle.dropRetired('totals')).toEqual({
      state: 'RETIRED',
      dropped: 'public.totals__pgt_retired',
    });
    expect((await db.query(`SELECT to_regclass('totals__pgt_retired') AS r`)).rows[0]?.r).toBeNull();
    expect((await trickle.greenStatus('totals'))?.state).toBe('RETIRED');
  });

  it("green_status's row figures: the planner's estimate once analyzed, a count for a small table never analyzed, else unknown", async () => {
    await db.query(
      `CREATE TABLE re_small WITH (autovacuum_enabled = false) AS SELECT generate_series(1, 5) AS x`,
    );
    await db.query(
      `CREATE TABLE re_big WITH (autovacuum_enabled = false) AS SELECT generate_series(1, 100000) AS x`,
    );
    const est = async (t: string) =>
      (await db.query(`SELECT pgtrickle.rows_estimate('${t}'::regclass) AS n`)).rows[0]?.n;
    expect(await est('re_small')).toBe('5');
    expect(await est('re_big')).toBeNull();
    await db.query('ANALYZE re_big');
    expect(Number(await est('re_big'))).toBeGreaterThan(90_000);
    await db.query('DROP TABLE re_small, re_big');
  });

  it('views over the table refuse the promote, naming them', async () => {
    await db.query('CREATE VIEW totals_view AS SELECT region FROM totals');
    await trickle.createGreen('totals', { query: BLUE_Q });
    await expect(trickle.promoteGreen('totals', { force: true })).rejects.toMatchObject({
      code: 'PGT_HAS_DEPENDENTS',
      dependents: ['totals_view'],
    });
    await db.query('DROP VIEW totals_view');
    await expect(trickle.promoteGreen('totals')).resolves.toMatchObject({ forced: false });
    await equalsQuery('totals', BLUE_Q);
    await trickle.dropRetired('totals');
  });

  it('IMMEDIATE, a green reading its own blue and row-level security are refused with PGT_UNSUPPORTED, nothing changed', async () => {
    await expect(trickle.createGreen('totals', { refreshMode: 'IMMEDIATE' })).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
    });
    expect((await db.query(`SELECT to_regclass('totals__pgt_green') AS r`)).rows[0]?.r).toBeNull();
    await expect(
      trickle.createGreen('totals', { query: 'SELECT region, total FROM totals WHERE total > 0' }),
    ).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
      message: expect.stringContaining('would read itself'),
    });
    expect((await db.query(`SELECT to_regclass('totals__pgt_green') AS r`)).rows[0]?.r).toBeNull();
    await trickle.createGreen('totals', { query: GREEN_Q });
    await db.query('ALTER TABLE totals__pgt_storage ENABLE ROW LEVEL SECURITY');
    await expect(trickle.promoteGreen('totals', { force: true })).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
    });
    expect((await db.query('SELECT * FROM totals LIMIT 0')).fields.map((f) => f.name)).not.toContain('n');
    await db.query('ALTER TABLE totals__pgt_storage DISABLE ROW LEVEL SECURITY');
    await trickle.cancelGreen('totals');
  });

  it('green_status estimates the time to convergence from the lag trend; a refresh group follows the public name; alerts', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const alerts: string[] = [];
    listener.on('notification', (n) => alerts.push(String(JSON.parse(n.payload ?? '{}').event)));
    await listener.query('LISTEN pgtrickle_alert');
    try {
      await trickle.createStreamTable({
        name: 'by_region',
        query: 'SELECT region, count(*) AS n FROM orders GROUP BY region',
      });
      await trickle.createRefreshGroup('pair', ['totals', 'by_region']);
      await trickle.createGreen('totals', { query: GREEN_Q });
      const greenId = Number(
        (
          await db.query(
            `SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'totals__pgt_green'`,
          )
        ).rows[0]?.pgt_id,
      );
      await db.query(`UPDATE orders SET amount = amount + 1 WHERE id <= 10`);
      await trickle.refresh('totals');
      // Two lag samples 10 s apart, the lag halved: at that rate it is gone in 10 s more.
      await db.query(`DELETE FROM pgtrickle.pgt_green_lag WHERE green_id = $1`, [greenId]);
      await db.query(
        `INSERT INTO pgtrickle.pgt_green_lag (green_id, sampled_at, lag_xids)
         VALUES ($1, clock_timestamp() - interval '10 seconds', 100), ($1, clock_timestamp(), 50)`,
        [greenId],
      );
      const s = await trickle.greenStatus('totals');
      expect(s).toMatchObject({ state: 'CATCHING_UP', converged: false });
      expect(Math.round((s?.etaMs ?? 0) / 100)).toBe(100);
      await trickle.promoteGreen('totals', { force: true });
      expect((await trickle.refreshGroups()).find((g) => g.name === 'pair')?.members).toEqual([
        'public.totals',
        'public.by_region',
      ]);
      await trickle.rollbackGreen('totals');
      expect((await trickle.refreshGroups()).find((g) => g.name === 'pair')?.members).toEqual([
        'public.totals',
        'public.by_region',
      ]);
      await listener.query('SELECT 1');
      expect(alerts).toEqual(['green_created', 'green_promoted', 'green_rolled_back']);
    } finally {
      await listener.end();
    }
  });
});

describe('promote options', () => {
  const Q1 = 'SELECT sku, sum(qty) AS qty FROM stock GROUP BY sku';
  const Q2 = 'SELECT sku, sum(qty) AS qty, count(*) AS n FROM stock GROUP BY sku';

  beforeAll(async () => {
    await db.query(`CREATE TABLE stock (id int PRIMARY KEY, sku text NOT NULL, qty int NOT NULL);
      INSERT INTO stock SELECT g, 'sku' || (g % 7), g % 13 FROM generate_series(1, 200) g`);
  });

  it('maxLagMs: a green whose data is close enough counts as converged, and the promote brings it up to date', async () => {
    await trickle.createStreamTable({ name: 'stock_totals', query: Q1, schedule: '1m' });
    await trickle.createGreen('stock_totals', { query: Q2 });
    await db.query('UPDATE stock SET qty = qty + 1 WHERE id <= 20');
    await trickle.refresh('stock_totals');
    await expect(trickle.promoteGreen('stock_totals')).rejects.toMatchObject({ code: 'PGT_NOT_CONVERGED' });
    await expect(trickle.promoteGreen('stock_totals', { maxLagMs: -1 })).rejects.toMatchObject({
      code: 'PGT_INVALID_ARGUMENT',
    });
    const r = await trickle.promoteGreen('stock_totals', { maxLagMs: 3_600_000 });
    expect(r.forced).toBe(false);
    await equalsQuery('stock_totals', Q2);
    await trickle.dropRetired('stock_totals');
  });

  it('verify: a green of the same query is compared row for row with the table, both refreshed with their sources locked', async () => {
    await trickle.createStreamTable({ name: 'stock_by_sku', query: Q1, schedule: '1m' });
    await trickle.createGreen('stock_by_sku', { schedule: '5s' });
    await db.query('UPDATE stock SET qty = qty + 2 WHERE id BETWEEN 30 AND 40');
    const r = await trickle.promoteGreen('stock_by_sku', { verify: true });
    expect(r.forced).toBe(false);
    await equalsQuery('stock_by_sku', Q1);
    expect((await trickle.status()).find((s) => s.table === 'stock_by_sku')?.schedule).toBe('5s');
    await trickle.dropRetired('stock_by_sku');

    // A green whose rows differ (one removed behind pgtrickle's back): refused, nothing changed.
    await trickle.createGreen('stock_by_sku', { schedule: '10s' });
    const c = await db.client();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL session_replication_role = replica');
      await c.query(`DELETE FROM stock_by_sku__pgt_green WHERE sku = 'sku1'`);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    await db.query('UPDATE stock SET qty = qty + 1 WHERE id = 2'); // sku2: read by both refreshes
    await expect(trickle.promoteGreen('stock_by_sku', { verify: true })).rejects.toMatchObject({
      code: 'PGT_CONTENTS_DIFFER',
      onlyGreen: 0,
      onlyBlue: 1,
    });
    expect((await trickle.greenStatus('stock_by_sku'))?.state).toMatch(/^(CATCHING_UP|CONVERGED)$/);
    expect((await trickle.status()).find((s) => s.table === 'stock_by_sku')?.role).toBe('table');
    await trickle.refresh('stock_by_sku'); // the promote's refreshes were rolled back with it
    await equalsQuery('stock_by_sku', Q1);
    await trickle.cancelGreen('stock_by_sku');

    // With a new query there is nothing to compare with: refused.
    await trickle.createGreen('stock_by_sku', { query: Q2 });
    await expect(trickle.promoteGreen('stock_by_sku', { verify: true })).rejects.toMatchObject({
      code: 'PGT_INVALID_ARGUMENT',
    });
    await trickle.cancelGreen('stock_by_sku');
  });

  it('takes max_lag and verify through the SQL API', async () => {
    await trickle.createGreen('stock_by_sku', { schedule: '7s' });
    await db.query('UPDATE stock SET qty = qty + 1 WHERE id = 3');
    await trickle.refresh('stock_by_sku');
    await db.query(
      `SELECT pgtrickle.promote_green('stock_by_sku', max_lag => interval '1 hour', verify => true)`,
    );
    expect(await processRequests(trickle)).toEqual({ done: 1, failed: 0 });
    expect((await trickle.greenStatus('stock_by_sku'))?.state).toBe('PROMOTED');
    await equalsQuery('stock_by_sku', Q1);
    await expect(
      db.query(`SELECT pgtrickle.promote_green('stock_by_sku', max_lag => interval '-1 second')`),
    ).rejects.toMatchObject({ code: '22023' });
  });
});
