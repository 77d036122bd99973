/**
 * `pgtrickle run --http`: the endpoints on a real PostgreSQL. /health answers; /ready is 200 for
 * the leader and 503 with reasons when the catalog cannot be read (connections refused, or no
 * server at all); /metrics counts this process's refreshes with the right labels and shows the
 * catalog's gauges (freshness, status, pending changes, the leader and its epoch); /api/status
 * has the DAG; the listen address defaults to loopback.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, main, nullLogger, parseListenAddress, startOperatorView } from '../src/index.js';
import { captureIo } from './support/io.js';
import { eventually } from './support/process.js';

const db = useTestDatabase();
let client: pg.Client;
const stop = new AbortController();
let exit: Promise<number>;
let base = '';

async function get(path: string): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

/** The value of one sample of `/metrics` (`name{labels}`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{ ]+)(?:\{(.*)\})? (.+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

beforeAll(async () => {
  client = await db.client();
  await client.query(`CREATE TABLE orders (id int PRIMARY KEY, region text, amount int);
    INSERT INTO orders SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 40) g`);
  const io = captureIo({ stop: stop.signal });
  exit = main(
    [
      'run',
      '--database-url',
      db.url,
      '--http',
      '127.0.0.1:0',
      '--poll-interval-ms',
      '100',
      '--log-format',
      'json',
    ],
    io,
  );
  await eventually(async () => {
    const line = io
      .stderrText()
      .split('\n')
      .find((l) => l.includes('"http-listening"'));
    expect(line).toBeDefined();
    base = `http://${JSON.parse(line as string).address}`;
    expect(io.stderrText()).toContain('"event":"started"');
  }, 60_000);
  await client.query(
    `SELECT pgtrickle.create_stream_table('public.by_region', 'SELECT region, sum(amount) AS total FROM orders GROUP BY region', '1s', 'DIFFERENTIAL')`,
  );
  await client.query(
    `SELECT pgtrickle.create_stream_table('public.big_regions', 'SELECT region FROM by_region WHERE total > 100')`,
  );
});

afterAll(async () => {
  stop.abort('test');
  await exit?.catch(() => 1);
  await client?.end();
});

describe('the listen address', () => {
  it('binds loopback for a port alone or :port, and takes a named host', () => {
    expect(parseListenAddress('9187')).toEqual({ host: '127.0.0.1', port: 9187 });
    expect(parseListenAddress(':9187')).toEqual({ host: '127.0.0.1', port: 9187 });
    expect(parseListenAddress('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseListenAddress('[::1]:9187')).toEqual({ host: '::1', port: 9187 });
    expect(parseListenAddress('localhost')).toBeNull();
    expect(parseListenAddress('1:70000')).toBeNull();
  });

  it('is off by default, http.listen in the file, --http on the command line', () => {
    expect(loadConfig({ env: {}, cwd: '/' }).config.http.listen).toBeNull();
    expect(loadConfig({ env: {}, cwd: '/', flags: { http: ':9187' } }).config.http.listen).toBe(
      '127.0.0.1:9187',
    );
    expect(() => loadConfig({ env: { PGTRICKLE_HTTP_LISTEN: 'everywhere' }, cwd: '/' })).toThrow(
      /http.listen must be a port, :port or host:port/,
    );
  });
});

describe('the endpoints of a leader', () => {
  it('answers /health', async () => {
    const r = await get('/health');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ status: 'ok' });
  });

  it('is ready once it leads', async () => {
    await eventually(async () => {
      const r = await get('/ready');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text)).toEqual({ ready: true, role: 'leader', reasons: [] });
    }, 30_000);
  });

  it('counts refreshes by table, mode and outcome, with rows, durations and the catalog gauges', async () => {
    await eventually(async () => {
      const s = JSON.parse((await get('/api/status')).text);
      expect(s.tables.map((t: { name: string }) => t.name)).toEqual([
        'public.big_regions',
        'public.by_region',
      ]);
    }, 30_000);
    await client.query(`INSERT INTO orders VALUES (100, 'apac', 500), (101, 'apac', 7)`);
    let text = '';
    await eventually(async () => {
      const r = await get('/metrics');
      expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
      text = r.text;
      const ok = { table: 'public.by_region', mode: 'DIFFERENTIAL', outcome: 'success' };
      expect(sample(text, 'pgtrickle_refreshes_total', ok)).toBeGreaterThanOrEqual(1);
      expect(
        sample(text, 'pgtrickle_rows_applied_total', { table: 'public.by_region', op: 'inserted' }),
      ).toBe(1);
      expect(
        sample(text, 'pgtrickle_refreshes_total', { table: 'public.big_regions', outcome: 'success' }),
      ).toBeGreaterThanOrEqual(1);
      // idle ticks: held by the schedule (not due) or found with nothing to apply
      expect(
        sample(text, 'pgtrickle_gate_decisions_total', {
          table: 'public.by_region',
          gate: 'upstream-changes',
        }),
      ).toBeGreaterThan(0);
    }, 30_000);
    expect(
      sample(text, 'pgtrickle_refresh_duration_seconds_count', {
        table: 'public.by_region',
        mode: 'DIFFERENTIAL',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('# TYPE pgtrickle_refresh_duration_seconds histogram');
    expect(sample(text, 'pgtrickle_leader')).toBe(1);
    expect(sample(text, 'pgtrickle_leader_epoch')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'pgtrickle_catalog_up')).toBe(1);
    expect(
      sample(text, 'pgtrickle_stream_table_status', { table: 'public.by_region', status: 'ACTIVE' }),
    ).toBe(1);
    expect(sample(text, 'pgtrickle_stale', { table: 'public.by_region' })).toBe(0);
    expect(sample(text, 'pgtrickle_staleness_seconds', { table: 'public.by_region' })).toBeGreaterThanOrEqual(
      0,
    );
    expect(sample(text, 'pgtrickle_ticks_total')).toBeGreaterThan(0);
    expect(sample(text, 'pgtrickle_has_pending_changes', { table: 'public.by_region' })).toBeDefined();
  });

  it('calls a standby behind a live leader ready, and one behind a silent leader not', async () => {
    const standby = await startOperatorView({
      listen: { host: '127.0.0.1', port: 0 },
      connectionString: db.url,
      holder: 'standby:2',
      leaseMs: 10_000,
      logger: nullLogger,
    });
    try {
      standby.live.running = true;
      const r = await fetch(`http://${standby.server.address}/ready`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ ready: true, role: 'standby', reasons: [] });
      const metrics = await (await fetch(`http://${standby.server.address}/metrics`)).text();
      expect(sample(metrics, 'pgtrickle_leader')).toBe(0);
    } finally {
      await standby.close();
    }
    const strict = await startOperatorView({
      listen: { host: '127.0.0.1', port: 0 },
      connectionString: db.url,
      holder: 'standby:3',
      leaseMs: 0,
      logger: nullLogger,
    });
    try {
      strict.live.running = true;
      const r = await fetch(`http://${strict.server.address}/ready`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { reasons: string[] }).reasons.join(' ')).toMatch(
        /standing by, and the leader .* has not renewed its lease/,
      );
    } finally {
      await strict.close();
    }
  });

  it('shows the DAG and where each table stands in /api/status', async () => {
    const s = JSON.parse((await get('/api/status')).text);
    expect(s.catalog).toEqual({ ok: true, error: null });
    expect(s.leader).toMatchObject({ leading: true });
    expect(s.sources.map((x: { name: string }) => x.name)).toEqual(['public.orders']);
    expect(s.edges).toEqual(
      expect.arrayContaining([
        { from: s.sources[0].id, to: 'public.by_region' },
        { from: 'public.by_region', to: 'public.big_regions' },
      ]),
    );
    expect(s.tables.find((t: { name: string }) => t.name === 'public.by_region')).toMatchObject({
      status: 'ACTIVE',
      stale: false,
    });
    // (a snapshot is reused for a second: the refreshes may be in the next one)
    await eventually(async () =>
      expect(JSON.parse((await get('/api/status')).text).recent.length).toBeGreaterThan(0),
    );
    const page = await get('/');
    expect(page.type).toMatch(/^text\/html/);
    expect(page.text).toContain('api/status');
    expect((await get('/nope')).status).toBe(404);
  });

  it('is not ready while the catalog cannot be read, and ready again after', async () => {
    const admin = new pg.Client({
      connectionString: Object.assign(new URL(db.url), { pathname: '/postgres' }).toString(),
    });
    await admin.connect();
    await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
    try {
      await client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgtrickle-http'`,
      );
      await eventually(async () => {
        const r = await get('/ready');
        expect(r.status).toBe(503);
        const body = JSON.parse(r.text);
        expect(body.ready).toBe(false);
        expect(body.reasons.join(' ')).toMatch(/the catalog cannot be read/);
        expect(sample((await get('/metrics')).text, 'pgtrickle_catalog_up')).toBe(0);
      }, 30_000);
    } finally {
      await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await eventually(async () => expect((await get('/ready')).status).toBe(200), 30_000);
  });
});

describe('pgtrickle status', () => {
  it('shows the time since a table was known fresh, not since its data changed, and flags one behind schedule', async () => {
    await client.query(
      `UPDATE pgtrickle.pgt_stream_tables SET last_refresh_at = now() - interval '1 hour',
              data_timestamp = now() - interval '1 hour' WHERE table_name = 'by_region'`,
    );
    await client.query(
      `UPDATE pgtrickle.pgt_stream_tables SET status = 'SUSPENDED', last_refresh_at = now() - interval '1 hour'
        WHERE table_name = 'big_regions'`,
    );
    await client.query(
      `DELETE FROM pgtrickle.pgt_freshness WHERE pgt_id IN (SELECT pgt_id FROM pgtrickle.pgt_stream_tables)`,
    );
    try {
      await eventually(async () => {
        const io = captureIo();
        expect(await main(['status', '--json', '--database-url', db.url], io)).toBe(0);
        const rows = JSON.parse(io.stdoutText()) as {
          name: string;
          stalenessSeconds: number;
          stale: boolean;
        }[];
        const fresh = rows.find((r) => r.name === 'public.by_region');
        expect(fresh?.stale).toBe(false);
        expect(fresh?.stalenessSeconds).toBeLessThan(60);
        expect(rows.find((r) => r.name === 'public.big_regions')?.stale).toBe(true);
      }, 30_000);
      const io = captureIo();
      expect(await main(['status', '--database-url', db.url], io)).toBe(0);
      expect(io.stdoutText()).toMatch(/public\.big_regions\s+SUSPENDED.* \(behind schedule\)/);
      expect(io.stdoutText()).not.toMatch(/public\.by_region .*behind schedule/);
    } finally {
      await client.query(
        `UPDATE pgtrickle.pgt_stream_tables SET status = 'ACTIVE' WHERE table_name = 'big_regions'`,
      );
    }
  });
});

describe('without a database server', () => {
  it('answers /health, and /ready with 503 and the reason', async () => {
    const view = await startOperatorView({
      listen: { host: '127.0.0.1', port: 0 },
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
      holder: 'test:1',
      leaseMs: 10_000,
      logger: nullLogger,
    });
    try {
      view.live.running = true;
      const url = `http://${view.server.address}`;
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const r = await fetch(`${url}/ready`);
      expect(r.status).toBe(503);
      const body = (await r.json()) as { reasons: string[]; role: string };
      expect(body.role).toBe('standby');
      expect(body.reasons.join(' ')).toMatch(/the catalog cannot be read: .*ECONNREFUSED/);
    } finally {
      await view.close();
    }
  });

  it('refuses an address in use with PGT_HTTP_LISTEN', async () => {
    const first = await startOperatorView({
      listen: { host: '127.0.0.1', port: 0 },
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
      holder: 'test:1',
      leaseMs: 10_000,
      logger: nullLogger,
    });
    try {
      await expect(
        startOperatorView({
          listen: { host: '127.0.0.1', port: first.server.port },
          connectionString: 'postgres://nobody@127.0.0.1:1/none',
          holder: 'test:2',
          leaseMs: 10_000,
          logger: nullLogger,
        }),
      ).rejects.toMatchObject({ code: 'PGT_HTTP_LISTEN' });
    } finally {
      await first.close();
    }
  });
});
