/**
 * The CLI against the test database, in-process (`main(argv, io)`), plus one run of the real
 * executable: migrate with progress, plan (the pending SQL, which applied by hand gives a catalog
 * migrate accepts), create / status / refresh / explain / drop, doctor (pass, warn, fail), and the
 * one-line errors with their codes and exit codes.
 */
import { CATALOG_VERSION, MIGRATIONS } from '@pgtrickle/client';
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { captureIo } from './support/io.js';
import { runCli } from './support/process.js';

const db = useTestDatabase();

async function cli(argv: string[], env: Record<string, string> = {}) {
  const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_LOG_LEVEL: 'warn', ...env } });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

beforeAll(async () => {
  await db.query(`CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL, amount numeric NOT NULL);
    INSERT INTO orders SELECT g, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'us' END, g * 1.5 FROM generate_series(1, 60) g`);
});

describe('catalog commands', () => {
  it('plan prints every pending migration without running anything', async () => {
    const r = await cli(['plan']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `-- pgtrickle catalog: version 0 → ${CATALOG_VERSION}, ${MIGRATIONS.length} pending migration(s)`,
    );
    expect(r.stdout).toContain('CREATE TABLE pgtrickle.pgt_stream_tables (');
    expect(r.stdout).toContain('CREATE FUNCTION pgtrickle.create_stream_table(');
    expect(r.stdout.match(/^BEGIN;$/gm)).toHaveLength(MIGRATIONS.length);
    expect(r.stdout.match(/^COMMIT;$/gm)).toHaveLength(MIGRATIONS.length);
    const installed = await db.query(`SELECT to_regnamespace('pgtrickle') IS NULL AS none`);
    expect(installed.rows[0]?.none).toBe(true); // nothing was executed
  });

  it('doctor warns that the catalog is missing but passes', async () => {
    const r = await cli(['doctor']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pass\s+connection\s+PostgreSQL 18/m);
    expect(r.stdout).toMatch(/^warn\s+catalog\s+not installed/m);
    expect(r.stdout).toMatch(/^info\s+track_commit_timestamp\s+off: not needed/m);
    expect(r.stdout).toMatch(/^info\s+wal_level\s+logical/m);
    expect(r.stdout).toMatch(/0 failed, 1 warning/);
  });

  it('migrate applies each migration with a line per migration, then has nothing to do', async () => {
    const r = await cli(['migrate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.replace(/ in \d+ ms\n/g, '\n')).toBe(
      `${MIGRATIONS.map((m) => `applied migration ${m.version} (${m.name})\n`).join('')}pgtrickle catalog is at version ${CATALOG_VERSION}\n`,
    );
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(MIGRATIONS.length + 1);
    MIGRATIONS.forEach((m, i) => {
      expect(lines[i]).toMatch(new RegExp(`^applied migration ${m.version} \\(.+\\) in \\d+ ms$`));
    });
    expect(lines.at(-1)).toBe(`pgtrickle catalog is at version ${CATALOG_VERSION}`);
    const again = await cli(['migrate']);
    expect(again.stdout).toBe(`pgtrickle catalog is up to date (version ${CATALOG_VERSION})\n`);
    const plan = await cli(['plan']);
    expect(plan.stdout).toContain('nothing to do');
  });
});

describe('the plan, applied by hand', () => {
  const fresh = useTestDatabase({ label: 'plan' });
  it('gives a catalog that migrate accepts as current', async () => {
    const script = await main(['plan'], captureIo({ env: { PGTRICKLE_DATABASE_URL: fresh.url } }));
    expect(script).toBe(0);
    const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: fresh.url } });
    await main(['plan'], io);
    await fresh.query(io.stdoutText()); // what a DBA would run with psql
    const r = await main(['migrate'], captureIo({ env: { PGTRICKLE_DATABASE_URL: fresh.url } }));
    expect(r).toBe(0);
    const check = captureIo({ env: { PGTRICKLE_DATABASE_URL: fresh.url } });
    await main(['migrate'], check);
    expect(check.stdoutText()).toBe(`pgtrickle catalog is up to date (version ${CATALOG_VERSION})\n`);
    const doctor = captureIo({ env: { PGTRICKLE_DATABASE_URL: fresh.url } });
    expect(await main(['doctor'], doctor)).toBe(0);
    expect(doctor.stdoutText()).toMatch(
      new RegExp(`^pass\\s+catalog\\s+installed, version ${CATALOG_VERSION} \\(current\\)`, 'm'),
    );
  });
});

describe('stream table commands', () => {
  const QUERY = 'SELECT region, count(*) AS n, sum(amount) AS total FROM orders GROUP BY region';

  it('create populates the table and reports its mode', async () => {
    const r = await cli([
      'create',
      'by_region',
      '--query',
      QUERY,
      '--schedule',
      '5s',
      '--mode',
      'differential',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('created public.by_region: DIFFERENTIAL, schedule 5s, reads public.orders\n');
    await expectTableEqualsQuery(db, 'by_region', QUERY);
    // The name is a view of the visible columns over the storage table.
    const kinds = await db.query(
      `SELECT relname, relkind::text AS k FROM pg_class WHERE relname IN ('by_region', 'by_region__pgt_storage') ORDER BY 1`,
    );
    expect(kinds.rows).toEqual([
      { relname: 'by_region', k: 'v' },
      { relname: 'by_region__pgt_storage', k: 'r' },
    ]);
  });

  it('status lists it as a table and as JSON', async () => {
    const r = await cli(['status']);
    expect(r.code).toBe(0);
    const [header, row] = r.stdout.trim().split('\n');
    expect(header).toMatch(/^NAME\s+STATUS\s+MODE\s+SCHEDULE\s+LAST REFRESH\s+STALENESS\s+HELD BY\s+ERRORS$/);
    expect(row).toMatch(
      /^public\.by_region\s+ACTIVE\s+DIFFERENTIAL\s+5s\s+[\d.]+m?s ago\s+[\d.]+m?s\s+-\s+0$/,
    );
    const json = await cli(['status', '--json']);
    const rows = JSON.parse(json.stdout) as {
      name: string;
      status: string;
      effectiveMode: string;
      stalenessSeconds: number;
    }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      name: 'public.by_region',
      status: 'ACTIVE',
      effectiveMode: 'DIFFERENTIAL',
    });
    expect(rows[0]?.stalenessSeconds).toBeGreaterThanOrEqual(0);
  });

  it('refresh applies pending changes', async () => {
    await db.query(
      `UPDATE orders SET amount = amount + 1 WHERE region = 'eu'; INSERT INTO orders VALUES (100, 'apac', 3)`,
    );
    const r = await cli(['refresh', 'by_region']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^refreshed public\.by_region: DIFFERENTIAL, \+\d+ -\d+ rows, \d+ pending changes, \d+ ms/,
    );
    await expectTableEqualsQuery(db, 'by_region', QUERY);
    const full = await cli(['refresh', 'by_region', '--full']);
    expect(full.stdout).toMatch(/^refreshed public\.by_region: FULL/);
  });

  it('alter switches the refresh mode to IMMEDIATE and back, keeping the table equal to its query', async () => {
    const imm = await cli(['alter', 'by_region', '--mode', 'immediate']);
    expect(imm.code, imm.stderr).toBe(0);
    expect(imm.stdout).toBe(
      'altered public.by_region: IMMEDIATE, schedule calculated, reads public.orders\n',
    );
    await db.query(`INSERT INTO orders VALUES (101, 'apac', 4)`); // maintained by its triggers
    await expectTableEqualsQuery(db, 'by_region', QUERY);
    const back = await cli(['alter', 'by_region', '--mode', 'DIFFERENTIAL', '--schedule', '5s']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe('altered public.by_region: DIFFERENTIAL, schedule 5s, reads public.orders\n');
    const none = await cli(['alter', 'by_region']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/PGT_USAGE/);
  });

  it('explain shows mode, sources, row identity and the SQL', async () => {
    const r = await cli(['explain', 'by_region']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^public\.by_region\n {2}mode {10}DIFFERENTIAL\n/);
    expect(r.stdout).toContain('  sources       public.orders (table)');
    expect(r.stdout).toContain('  row identity  __pgt_row_id, unique (one row per id)');
    expect(r.stdout).toContain(
      '  storage       public.by_region__pgt_storage (the table behind the view public.by_region: put indexes for readers on it)',
    );
    expect(r.stdout).toContain('-- storage\nCREATE TABLE "public"."by_region__pgt_storage"');
    expect(r.stdout).toContain('-- differential delta');
    const json = JSON.parse((await cli(['explain', 'by_region', '--json'])).stdout) as {
      mode: string;
      sql: { delta: string };
    };
    expect(json.mode).toBe('DIFFERENTIAL');
    expect(json.sql.delta).toContain('pgtrickle_changes');
  });

  it('group create / list / drop manage refresh groups, and explain shows a table’s groups', async () => {
    expect(
      (await cli(['create', 'eu_orders', '--query', "SELECT id, amount FROM orders WHERE region = 'eu'"]))
        .code,
    ).toBe(0);
    const created = await cli([
      'group',
      'create',
      'daily',
      'by_region',
      'eu_orders',
      '--isolation',
      'repeatable_read',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^created refresh group daily \(id \d+\): by_region, eu_orders\n$/);
    const list = await cli(['group', 'list']);
    expect(list.stdout).toMatch(/^daily\s+repeatable_read\s+public\.by_region, public\.eu_orders$/m);
    expect(list.stdout).toContain('no diamond groups');
    const explained = await cli(['explain', 'eu_orders']);
    expect(explained.stdout).toContain(
      '  refresh group daily: public.by_region, public.eu_orders (repeatable_read)',
    );
    expect(explained.stdout).toContain('  diamond       -');
    const json = JSON.parse((await cli(['explain', 'eu_orders', '--json'])).stdout) as {
      groups: { refresh: { name: string } | null; diamond: unknown };
    };
    expect(json.groups).toMatchObject({ refresh: { name: 'daily' }, diamond: null });
    const duplicate = await cli(['group', 'create', 'daily', 'by_region', 'eu_orders']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/PGT_ALREADY_EXISTS: refresh group 'daily' already exists/);
    const bad = await cli(['group', 'create', 'x', 'by_region', 'eu_orders', '--isolation', 'serializable']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--isolation must be read_committed or repeatable_read');
    expect((await cli(['group', 'drop', 'daily'])).stdout).toBe('dropped refresh group daily\n');
    expect((await cli(['group', 'list'])).stdout).toContain('no refresh groups');
    expect((await cli(['drop', 'eu_orders'])).code).toBe(0);
  });

  it('plan --query prints what creating a stream table would install', async () => {
    const r = await cli([
      'plan',
      '--query',
      'SELECT id, amount FROM orders WHERE amount > 10',
      '--name',
      'big_orders',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('nothing to do');
    expect(r.stdout).toContain('-- stream table public.big_orders: DIFFERENTIAL (requested AUTO)');
    expect(r.stdout).toContain('-- change capture on public.orders');
    expect(r.stdout).toMatch(/CREATE TABLE "public"\."big_orders" AS/);
    const exists = await db.query(`SELECT to_regclass('public.big_orders') IS NULL AS none`);
    expect(exists.rows[0]?.none).toBe(true);
  });

  it('errors are one line with their code: exit 1', async () => {
    const dup = await cli(['create', 'by_region', '--query', QUERY]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(
      /^pgtrickle create: PGT_ALREADY_EXISTS: public\.by_region already exists as a stream table\. .*\n$/,
    );
    const missing = await cli(['refresh', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^pgtrickle refresh: PGT_NOT_FOUND: There is no stream table public\.nope\./,
    );
    const bad = await cli(['create', 'bad', '--query', 'SELECT nothing FROM orders']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^pgtrickle create: PGT_\w+: .*nothing/);
    const mode = await cli(['create', 'x', '--query', QUERY, '--mode', 'sometimes']);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(
      /^pgtrickle create: PGT_USAGE: --mode must be one of AUTO, FULL, DIFFERENTIAL, IMMEDIATE/,
    );
    const down = await cli(['status'], { PGTRICKLE_DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /^pgtrickle status: PGT_CONNECTION: Cannot connect to postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none: .*ECONNREFUSED/,
    );
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('drop removes it (and --cascade its readers)', async () => {
    await cli(['create', 'eu_only', '--query', `SELECT region, total FROM by_region WHERE region = 'eu'`]);
    const refused = await cli(['drop', 'by_region']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/PGT_HAS_DEPENDENTS: public\.by_region is read by public\.eu_only/);
    const r = await cli(['drop', 'by_region', '--cascade']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('dropped public.eu_only, public.by_region\n');
    expect((await cli(['status'])).stdout).toContain('no stream tables');
  });
});

describe('doctor', () => {
  it('warns about tables in ERROR, pending requests and a missing leader', async () => {
    await db.query(`SELECT pgtrickle.create_stream_table('later', 'SELECT id FROM orders')`);
    const r = await cli(['doctor']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^pass\\s+catalog\\s+installed, version ${CATALOG_VERSION}`, 'm'));
    expect(r.stdout).toMatch(/^pass\s+requests\s+1 pending request\(s\)/m);
    expect(r.stdout).toMatch(/^warn\s+leader\s+no sidecar has led this database yet/m);
    expect(r.stdout).toMatch(/^pass\s+change buffers\s+\d+ buffer\(s\)/m);
    // A superuser sidecar while applications use the SQL API: told what least privilege would be.
    await db.query(
      `DO $$ BEGIN CREATE ROLE pgt_doctor_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; GRANT pgtrickle_user TO pgt_doctor_app`,
    );
    expect((await cli(['doctor'])).stdout).toMatch(
      /^warn\s+least privilege\s+\S+ is a superuser while roles use the SQL API \(members of pgtrickle_user: .*pgt_doctor_app.*docs\/security\.md/m,
    );
    await db.query('DROP ROLE pgt_doctor_app');
    await db.query(
      `UPDATE pgtrickle.pgt_requests SET requested_at = now() - interval '5 minutes' WHERE status = 'PENDING'`,
    );
    expect((await cli(['doctor'])).stdout).toMatch(
      /^warn\s+requests\s+1 pending request\(s\), the oldest 5m\d\ds old: is a `pgtrickle run` leading\?/m,
    );
    await db.query(`DELETE FROM pgtrickle.pgt_requests`);
    await cli(['create', 'broken', '--query', 'SELECT id, amount FROM orders']);
    await db.query(
      `UPDATE pgtrickle.pgt_stream_tables SET status = 'ERROR', last_error = 'something broke' WHERE table_name = 'broken'`,
    );
    const json = JSON.parse((await cli(['doctor', '--json'])).stdout) as {
      check: string;
      status: string;
      message: string;
    }[];
    expect(json).toContainEqual({
      check: 'stream tables',
      status: 'warn',
      message: expect.stringContaining('public.broken is ERROR: something broke') as unknown as string,
    });
    expect(json.find((c) => c.check === 'stream tables')?.message).toContain(
      '`pgtrickle resume public.broken`',
    );
    const resumed = await cli(['resume', 'broken']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toBe('resumed public.broken: ACTIVE\n');
  });

  it('fails (exit 1, PGT_DOCTOR_FAILED) for a user without the privileges pgtrickle needs', async () => {
    await db.query(
      `DO $$ BEGIN CREATE ROLE pgt_doctor_weak LOGIN PASSWORD 'weak'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    );
    await db.query(`GRANT USAGE ON SCHEMA pgtrickle TO pgt_doctor_weak; GRANT SELECT ON ALL TABLES IN SCHEMA pgtrickle TO pgt_doctor_weak;
      GRANT EXECUTE ON FUNCTION pgtrickle.pending_sources() TO pgt_doctor_weak`);
    const url = new URL(db.url);
    url.username = 'pgt_doctor_weak';
    url.password = 'weak';
    const r = await cli(['doctor'], { PGTRICKLE_DATABASE_URL: url.toString() });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL\s+privileges\s+pgt_doctor_weak lacks .*TRIGGER on public\.orders/m);
    // Row-level security hides buffered changes from it, and the status view's ownership filter is
    // not granted to it: those checks fail too, saying why.
    expect(r.stdout).toMatch(/^FAIL\s+change buffers\s+could not check: .*row-level security/m);
    expect(r.stdout).toMatch(
      /^FAIL\s+stream tables\s+could not check: permission denied for function acts_as/m,
    );
    expect(r.stderr).toBe(
      'pgtrickle doctor: PGT_DOCTOR_FAILED: 3 check(s) failed: privileges, stream tables, change buffers\n',
    );
    await db.query(`DROP OWNED BY pgt_doctor_weak; DROP ROLE pgt_doctor_weak`);
  });

  it('fails when the database cannot be reached', async () => {
    const r = await cli(['doctor'], { PGTRICKLE_DATABASE_URL: 'postgres://x:y@127.0.0.1:1/none' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^FAIL\s+connection\s+Cannot connect to postgres:\/\/x:\*\*\*@127\.0\.0\.1:1\/none/m,
    );
  });
});

describe('the executable', () => {
  it('runs from source as a real process with the same output and exit codes', async () => {
    const ok = await runCli(['status', '--database-url', db.url]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('public.broken');
    const usage = await runCli(['status', '--bogus']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(
      "pgtrickle status: PGT_USAGE: unknown option '--bogus' (see pgtrickle status --help)\n",
    );
  });
});
