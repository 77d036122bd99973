/**
 * Health and freshness in SQL (the migration "health and freshness"): `pgtrickle.schedule_period`,
 * the view `pgt_stream_table_stats` with its stale flag — an idle table the leader keeps checking
 * is fresh however long ago its data changed; a table nobody checks past its period plus the grace
 * is stale — and `pgtrickle.health()`: CRITICAL for a silent leader or a SUSPENDED table, WARNING
 * for a stale table or large buffers, one OK row otherwise; both filtered by ownership for
 * members of pgtrickle_user, like pgt_status.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readHealth,
  readStreamTableStats,
  recordChecked,
  type StreamTableStats,
  TrickleService,
  worstSeverity,
} from '../src/index.js';
import { TestRoles } from './support/roles.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const roles = new TestRoles(() => db.url);
const app = roles.name('pgt_health_app');
let asApp: pg.Client;
let service: TrickleService | null = null;

async function eventually(check: () => Promise<void>, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() - start > timeoutMs) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function stats(): Promise<Map<string, StreamTableStats>> {
  return new Map((await readStreamTableStats(db)).map((s) => [s.table, s]));
}

/** Makes the tables look refreshed an hour ago, with no check since (as after an hour without a leader). */
async function agedAnHour(names: string[]): Promise<void> {
  await db.query(
    `UPDATE pgtrickle.pgt_stream_tables SET last_refresh_at = now() - interval '1 hour',
            data_timestamp = now() - interval '1 hour' WHERE table_name = ANY($1)`,
    [names],
  );
  await db.query(
    `DELETE FROM pgtrickle.pgt_freshness WHERE pgt_id IN
       (SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = ANY($1))`,
    [names],
  );
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE orders (id int PRIMARY KEY, region text, amount int);
    INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 50) g;
    CREATE ROLE ${app} LOGIN PASSWORD '${roles.password}';
    GRANT pgtrickle_user TO ${app};
    GRANT CONNECT ON DATABASE ${db.name} TO ${app};
    CREATE SCHEMA app AUTHORIZATION ${app};
    GRANT SELECT ON orders TO ${app};
  `);
  const t = trickle();
  await t.createStreamTable({
    name: 'by_region',
    query: 'SELECT region, sum(amount) AS total FROM orders GROUP BY region',
    schedule: '1s',
    refreshMode: 'DIFFERENTIAL',
  });
  await t.createStreamTable({ name: 'big', query: 'SELECT region, total FROM by_region WHERE total > 10' });
  await t.createStreamTable({
    name: 'big_slow',
    query: 'SELECT region FROM big',
    schedule: '5m',
  });
  await t.createStreamTable({
    name: 'app.mine',
    query: 'SELECT id FROM public.orders WHERE amount > 40',
    schedule: '1s',
    owner: app,
  });
  asApp = await roles.client(app);
});

afterAll(async () => {
  await service?.stop();
  await asApp?.end().catch(() => undefined);
  await db.query(`DROP OWNED BY ${app} CASCADE; DROP ROLE ${app}`).catch(() => undefined);
});

describe('schedule periods', () => {
  it('reads intervals, plain seconds and cron macros; cron expressions and calculated have none', async () => {
    const r = await db.query(
      `SELECT s, extract(epoch FROM pgtrickle.schedule_period(s))::float8 AS p
         FROM unnest(ARRAY['30s', '1h30m', '500ms', '1m500ms', '10', '@hourly', '*/5 * * * *', 'calculated', NULL]) AS s`,
    );
    expect(r.rows.map((x) => x.p)).toEqual([30, 5400, 0.5, 60.5, 10, 3600, null, null, null]);
  });

  it('resolves a CALCULATED schedule from its most frequent consumer', async () => {
    const s = await stats();
    expect(s.get('by_region')?.schedulePeriodSeconds).toBe(1);
    expect(s.get('big_slow')?.schedulePeriodSeconds).toBe(300);
    expect(s.get('big')?.schedule).toBe('calculated');
    expect(s.get('big')?.schedulePeriodSeconds).toBe(300);
  });
});

describe('the stale flag', () => {
  it('is set for a table last known fresh longer ago than its period plus the grace', async () => {
    await agedAnHour(['by_region', 'big', 'big_slow']);
    const s = await stats();
    for (const name of ['by_region', 'big', 'big_slow']) {
      expect(s.get(name)?.stale).toBe(true);
      expect(s.get(name)?.stalenessSeconds).toBeGreaterThanOrEqual(3600);
    }
    const health = await readHealth(db, { leaseMs: 3_600_000 });
    expect(health.filter((h) => h.severity === 'WARNING').map((h) => h.component)).toEqual(
      expect.arrayContaining(['public.by_region', 'public.big', 'public.big_slow']),
    );
    expect(health.find((h) => h.component === 'public.by_region')?.reason).toMatch(/behind schedule/);
  });

  it('is not set for an idle table the leader finds with nothing to apply, however old its data', async () => {
    service = await TrickleService.start({
      connectionString: db.url,
      pollIntervalMs: 100,
      holder: 'health-a',
    });
    await eventually(async () => {
      const s = await stats();
      for (const name of ['by_region', 'big', 'big_slow']) {
        expect(s.get(name)?.lastCheckedAt).not.toBeNull();
        expect(s.get(name)?.stale).toBe(false);
      }
    });
    const s = await stats();
    // the data did not change for an hour: that is its age, not its staleness
    expect(s.get('by_region')?.dataAgeSeconds).toBeGreaterThanOrEqual(3600);
    expect(s.get('by_region')?.stalenessSeconds).toBeLessThan(3600);
    expect(s.get('by_region')?.lastRefreshAt).toBe(
      (
        await db.query(
          `SELECT last_refresh_at FROM pgtrickle.pgt_stream_tables WHERE table_name = 'by_region'`,
        )
      ).rows[0]?.last_refresh_at.toISOString(),
    );
    await eventually(async () => {
      const health = await readHealth(db);
      expect(health).toEqual([
        { severity: 'OK', component: 'pgtrickle', reason: 'leader alive, every stream table fresh' },
      ]);
    });
  });

  it('counts a change applied by a refresh as fresh, with its refresh counted', async () => {
    const before = (await stats()).get('by_region')?.refreshes ?? 0;
    await db.query(`INSERT INTO orders VALUES (1000, 'apac', 7)`);
    await eventually(async () => {
      const s = (await stats()).get('by_region');
      expect(s?.refreshes).toBeGreaterThan(before);
      expect(s?.dataAgeSeconds).toBeLessThan(3600);
      expect(s?.stale).toBe(false);
      expect(s?.avgDurationSeconds).toBeGreaterThan(0);
    });
  });

  it('never moves a check backwards, and refreshes it only past the granularity', async () => {
    const id = Number(
      (await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'big_slow'`)).rows[0]
        ?.pgt_id,
    );
    const stored = async () =>
      (
        await db.query(`SELECT checked_at FROM pgtrickle.pgt_freshness WHERE pgt_id = $1`, [id])
      ).rows[0]?.checked_at.getTime() as number;
    const now = await stored();
    expect(await recordChecked(db, [id], new Date(now - 60_000))).toBe(0);
    expect(await stored()).toBeGreaterThanOrEqual(now); // (the running leader may record a newer check)
    expect(await recordChecked(db, [id, 999_999], new Date(now + 3_600_000))).toBe(1);
    expect(await stored()).toBe(now + 3_600_000);
  });
});

describe('pgtrickle.health()', () => {
  it('is CRITICAL when the leader heartbeat is older than the lease', async () => {
    const rows = await readHealth(db, { leaseMs: 0 });
    expect(rows[0]).toMatchObject({ severity: 'CRITICAL', component: 'leader' });
    expect(rows[0]?.reason).toMatch(/no leader heartbeat/);
    expect(worstSeverity(rows)).toBe('CRITICAL');
  });

  it('is CRITICAL for a SUSPENDED table, naming how to resume it', async () => {
    await db.query(
      `UPDATE pgtrickle.pgt_stream_tables SET status = 'SUSPENDED', last_error = 'boom' WHERE table_name = 'big_slow'`,
    );
    const rows = await readHealth(db, { leaseMs: 3_600_000 });
    const row = rows.find((r) => r.component === 'public.big_slow');
    expect(row?.severity).toBe('CRITICAL');
    expect(row?.reason).toMatch(/SUSPENDED: boom .*pgtrickle\.resume_stream_table\('public\.big_slow'\)/);
    await db.query(`UPDATE pgtrickle.pgt_stream_tables SET status = 'ACTIVE' WHERE table_name = 'big_slow'`);
  });

  it('warns about large change buffers', async () => {
    await service?.stop();
    service = null;
    await db.query(`INSERT INTO orders SELECT g, 'eu', g FROM generate_series(2000, 2100) g`);
    await eventually(async () => {
      const rows = await readHealth(db, { leaseMs: 3_600_000, bufferRowsWarn: 50 });
      const row = rows.find((r) => r.component === 'public.by_region');
      expect(row?.severity).toBe('WARNING');
      expect(row?.reason).toMatch(/change buffers of its sources hold about \d+ rows/);
    });
  });
});

describe('ownership', () => {
  it('shows a member of pgtrickle_user only the tables it owns, in the view and in health()', async () => {
    const seen = await asApp.query(`SELECT name, owner, stale FROM pgtrickle.pgt_stream_table_stats`);
    expect(seen.rows).toEqual([{ name: 'app.mine', owner: app, stale: expect.any(Boolean) }]);
    await db.query(`UPDATE pgtrickle.pgt_stream_tables SET status = 'ERROR' WHERE table_name <> 'mine'`);
    const health = await asApp.query(`SELECT severity, component FROM pgtrickle.health('1 hour')`);
    expect(health.rows.map((r) => r.component)).not.toContain('public.by_region');
    await db.query(`UPDATE pgtrickle.pgt_stream_tables SET status = 'ACTIVE'`);
  });

  it('does not let it read the rest of the catalog', async () => {
    await expect(asApp.query(`SELECT * FROM pgtrickle.pgt_freshness`)).rejects.toThrow(/permission denied/);
    await expect(asApp.query(`SELECT holder FROM pgtrickle.pgt_leader`)).rejects.toThrow(/permission denied/);
  });
});
