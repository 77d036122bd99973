/**
 * The soak (`pnpm test:soak`, never part of `pnpm test`): minutes of writes and faults, then every
 * stream table must equal its query, none suspended, and no buffer row left after a final refresh
 * and cleanup. On its own embedded PostgreSQL 18 (a persistent data directory, so it can be
 * restarted):
 * - three writers over a plain table, a partitioned one (written through its parent) and a keyless
 *   one, plus a stream table reading another;
 * - two `pgtrickle run` processes, one of them killed with SIGKILL every few seconds and restarted;
 * - one PostgreSQL restart; one burst of cancelled refreshes (a refresh made to wait on its
 *   storage, then pg_cancel_backend, six times in a row); one frozen leader (SIGSTOP, then
 *   SIGCONT after its lease).
 * Duration: `PGTRICKLE_SOAK_S` seconds of chaos (default 150). It prints its figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { allCleanupTargets, cleanupBuffers, connect } from '@pgtrickle/client';
import { compareTableWithQuery, formatComparison } from '@pgtrickle/testkit';
import { type EmbeddedPostgres, findFreePort, startEmbeddedPostgres } from '@pgtrickle/testkit/embedded';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliProcess, startCli } from '../test/support/process.js';

const CHAOS_S = Number(process.env.PGTRICKLE_SOAK_S ?? 150);
const LEASE_MS = 3000;

const TABLES: Record<string, string> = {
  st_orders: 'SELECT k, count(*) AS n, sum(v) AS s FROM orders GROUP BY k',
  st_events: 'SELECT day, count(*) AS n, sum(v) AS s FROM events GROUP BY day',
  st_readings: 'SELECT sensor, count(*) AS n, sum(v) AS s FROM readings GROUP BY sensor',
  st_chain: 'SELECT count(*) AS groups, sum(n) AS total FROM st_orders',
};
/** Creation order: st_chain reads st_orders. */
const ORDER = ['st_orders', 'st_events', 'st_readings', 'st_chain'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (n: number) => Math.floor(Math.random() * n);

let server: EmbeddedPostgres | null = null;
const sidecars: CliProcess[] = [];
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pgtrickle-soak-'));

afterAll(async () => {
  for (const p of sidecars) {
    if (!p.done) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
  }
  await Promise.allSettled(sidecars.map((p) => p.exited));
  await server?.stop({ mode: 'fast' }).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

/** A query on a fresh connection (the server may be restarting: retried). */
async function query(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  for (let i = 0; ; i++) {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return await c.query(text, params);
    } catch (error) {
      if (i > 60) throw error;
      await sleep(500);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

/** A writer: its own connection, re-opened after any error; counts committed transactions. */
function writer(url: string, stop: () => boolean, body: (c: pg.Client) => Promise<void>) {
  const stats = { commits: 0, errors: 0 };
  const done = (async () => {
    let c: pg.Client | null = null;
    while (!stop()) {
      try {
        if (c === null) {
          c = new pg.Client({ connectionString: url });
          c.on('error', () => undefined);
          await c.connect();
        }
        await c.query('BEGIN');
        await body(c);
        await c.query('COMMIT');
        stats.commits++;
      } catch {
        stats.errors++;
        await c?.end().catch(() => undefined);
        c = null;
        await sleep(200);
      }
      await sleep(40);
    }
    await c?.end().catch(() => undefined);
  })();
  return { stats, done };
}

describe('soak', () => {
  it('keeps every stream table equal to its query through kills, a restart, cancels and a frozen leader', {
    timeout: (CHAOS_S + 600) * 1000,
  }, async () => {
    const port = await findFreePort();
    server = await startEmbeddedPostgres({ dataDir, port });
    const url = server.url;
    const figures = {
      chaosS: CHAOS_S,
      sidecarKills: 0,
      sidecarStarts: 0,
      pgRestarts: 0,
      cancels: 0,
      frozen: 0,
    };
    await query(
      url,
      `CREATE TABLE orders (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL);
         CREATE TABLE events (id bigint NOT NULL, day int NOT NULL, v int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
         CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (50);
         CREATE TABLE events_b PARTITION OF events FOR VALUES FROM (50) TO (100);
         CREATE TABLE readings (sensor int NOT NULL, v int NOT NULL);
         INSERT INTO orders (k, v) SELECT g % 20, g FROM generate_series(1, 500) g;
         INSERT INTO events SELECT g, g % 100, g FROM generate_series(1, 500) g;
         INSERT INTO readings SELECT g % 10, g FROM generate_series(1, 500) g;`,
    );
    const trickle = await connect(url);
    await trickle.install();
    for (const name of ORDER)
      await trickle.createStreamTable({
        name,
        query: TABLES[name] as string,
        schedule: '1s',
        refreshMode: 'DIFFERENTIAL',
      });
    await trickle.close();

    const sidecarArgs = [
      'run',
      '--database-url',
      url,
      '--poll-interval-ms',
      '200',
      '--lease-ms',
      String(LEASE_MS),
      '--maintenance-interval-ms',
      '2000',
      '--shutdown-timeout-ms',
      '20000',
    ];
    const slots: (CliProcess | null)[] = [null, null];
    const launch = (i: number) => {
      const p = startCli(sidecarArgs);
      sidecars.push(p);
      slots[i] = p;
      figures.sidecarStarts++;
    };
    launch(0);
    launch(1);

    let stopping = false;
    const stop = () => stopping;
    let nextEvent = 1_000_000;
    const writers = [
      writer(url, stop, async (c) => {
        const k = rand(20);
        await c.query('INSERT INTO orders (k, v) VALUES ($1, $2)', [k, rand(1000)]);
        await c.query('UPDATE orders SET v = v + 1 WHERE id = $1', [1 + rand(500)]);
        if (rand(4) === 0)
          await c.query('DELETE FROM orders WHERE id = (SELECT max(id) FROM orders WHERE k = $1)', [k]);
      }),
      writer(url, stop, async (c) => {
        nextEvent++;
        await c.query('INSERT INTO events VALUES ($1, $2, $3)', [nextEvent, rand(100), rand(1000)]);
        // Moves a row across partitions, through the parent.
        await c.query('UPDATE events SET day = (day + 50) % 100 WHERE id = $1', [1 + rand(500)]);
        if (rand(5) === 0) await c.query('DELETE FROM events WHERE id = $1', [1 + rand(500)]);
      }),
      writer(url, stop, async (c) => {
        const s = rand(10);
        await c.query('INSERT INTO readings VALUES ($1, $2)', [s, rand(1000)]);
        await c.query(
          'UPDATE readings SET v = v + 1 WHERE ctid = (SELECT ctid FROM readings WHERE sensor = $1 LIMIT 1)',
          [s],
        );
        if (rand(4) === 0)
          await c.query(
            'DELETE FROM readings WHERE ctid = (SELECT ctid FROM readings WHERE sensor = $1 LIMIT 1)',
            [s],
          );
      }),
    ];

    const leaderPid = async (): Promise<number | null> => {
      const r = await query(url, 'SELECT holder FROM pgtrickle.pgt_leader WHERE id = 1');
      const pid = Number(
        String(r.rows[0]?.holder ?? '')
          .split(':')
          .at(-1),
      );
      return Number.isFinite(pid) ? pid : null;
    };

    // The chaos: a kill every few seconds, and the three one-off faults at fixed points.
    const started = Date.now();
    const at = (fraction: number) => started + CHAOS_S * 1000 * fraction;
    const done = { restart: false, cancels: false, freeze: false };
    while (Date.now() - started < CHAOS_S * 1000) {
      await sleep(3000 + rand(3000));
      if (!done.restart && Date.now() > at(0.3)) {
        done.restart = true;
        await server.stop({ mode: 'fast' });
        await sleep(2000);
        server = await startEmbeddedPostgres({ dataDir, port });
        figures.pgRestarts++;
        continue;
      }
      if (!done.cancels && Date.now() > at(0.5)) {
        done.cancels = true;
        // Refreshes of st_orders are made to wait on its storage, then cancelled, again and again
        // (more than max_consecutive_errors times: a cancel must never suspend a table).
        for (let round = 0; round < 6; round++) {
          const locker = new pg.Client({ connectionString: url });
          locker.on('error', () => undefined);
          try {
            await locker.connect();
            await locker.query('BEGIN');
            await locker.query('LOCK TABLE st_orders IN ACCESS EXCLUSIVE MODE');
            const until = Date.now() + 4000;
            while (Date.now() < until) {
              const r = await locker.query(
                `SELECT count(*) FILTER (WHERE pg_cancel_backend(pid))::int AS n FROM pg_stat_activity
                  WHERE application_name LIKE 'pgtrickle sidecar #%' AND wait_event_type = 'Lock'`,
              );
              const n = Number(r.rows[0]?.n ?? 0);
              figures.cancels += n;
              if (n > 0) break;
              await sleep(20);
            }
            await locker.query('COMMIT');
          } catch {
            // the server restarted or the lock could not be taken: next round
          } finally {
            await locker.end().catch(() => undefined);
          }
          await sleep(300);
        }
        continue;
      }
      if (!done.freeze && Date.now() > at(0.7)) {
        done.freeze = true;
        const pid = await leaderPid();
        const leader = slots.find((p) => p !== null && !p.done && p.pid === pid);
        if (leader !== undefined && leader !== null) {
          leader.child.kill('SIGSTOP');
          figures.frozen++;
          await sleep(LEASE_MS + 4000);
          leader.child.kill('SIGCONT');
        }
        continue;
      }
      const i = rand(2);
      const victim = slots[i];
      if (victim !== null && victim !== undefined && !victim.done) {
        victim.child.kill('SIGKILL');
        await victim.exited;
        figures.sidecarKills++;
      }
      launch(i);
    }
    stopping = true;
    await Promise.all(writers.map((w) => w.done));

    // Whatever the chaos left, the service converges: equal to the query, nothing suspended.
    for (const [i, p] of slots.entries()) if (p === null || p.done) launch(i);
    const deadline = Date.now() + 180_000;
    let lastProblem = '';
    for (;;) {
      const problems: string[] = [];
      const status = await query(url, 'SELECT name, status, last_error FROM pgtrickle.pgt_status');
      for (const r of status.rows)
        if (r.status !== 'ACTIVE') problems.push(`${r.name} is ${r.status}: ${r.last_error}`);
      for (const name of ORDER) {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          const cmp = await compareTableWithQuery(c, name, TABLES[name] as string);
          if (!cmp.equal) problems.push(formatComparison(cmp));
        } finally {
          await c.end();
        }
      }
      if (problems.length === 0) break;
      lastProblem = problems.join('\n');
      if (Date.now() > deadline) throw new Error(`the stream tables did not converge:\n${lastProblem}`);
      await sleep(1000);
    }
    const convergedMs = Date.now() - started - CHAOS_S * 1000;

    // A clean stop of both (each once its signal handlers are in place).
    for (const p of slots) await p?.waitForLog('started', 60_000);
    for (const p of slots) p?.child.kill('SIGTERM');
    const exits = await Promise.all(slots.map((p) => p?.exited));

    // A final refresh of each, and a cleanup: no buffer row is left behind.
    const final = await connect(url);
    for (const name of ORDER) await final.refresh(name);
    await cleanupBuffers(final.db, await allCleanupTargets(final.db));
    const buffers = await final.db.query(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'pgtrickle_changes' AND c.relkind = 'r' AND c.relname LIKE 'changes\\_%'`,
    );
    let left = 0;
    const leftBy: Record<string, number> = {};
    for (const b of buffers.rows) {
      const n = await final.db.query(
        `SELECT count(*)::int AS n FROM pgtrickle_changes.${pg.escapeIdentifier(String(b.relname))}`,
      );
      left += Number(n.rows[0]?.n);
      if (Number(n.rows[0]?.n) > 0) leftBy[String(b.relname)] = Number(n.rows[0]?.n);
    }
    const history = await final.db.query(
      `SELECT status, count(*)::int AS n FROM pgtrickle.pgt_refresh_history GROUP BY status ORDER BY status`,
    );
    const suspended = await final.db.query(
      `SELECT count(*)::int AS n FROM pgtrickle.pgt_stream_tables WHERE status <> 'ACTIVE'`,
    );
    const epoch = await final.db.query('SELECT epoch FROM pgtrickle.pgt_leader');
    const rows = await final.db.query(
      `SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM readings) AS readings`,
    );
    await final.close();
    console.info(
      JSON.stringify(
        {
          ...figures,
          writerCommits: writers.map((w) => w.stats.commits),
          writerErrors: writers.map((w) => w.stats.errors),
          leaderEpochs: Number(epoch.rows[0]?.epoch),
          refreshHistory: Object.fromEntries(history.rows.map((r) => [r.status, r.n])),
          sourceRows: rows.rows[0],
          convergedAfterChaosMs: convergedMs,
          bufferRowsLeft: left,
          bufferRowsLeftBy: leftBy,
          sidecarExitCodes: exits.map((e) => e?.code ?? e?.signal),
        },
        null,
        2,
      ),
    );
    for (const e of exits) expect(e?.code).toBe(0);
    expect(Number(suspended.rows[0]?.n)).toBe(0);
    expect(left).toBe(0);
    expect(buffers.rows.length).toBeGreaterThanOrEqual(4);
    expect(figures.pgRestarts).toBe(1);
    expect(figures.frozen).toBe(1);
    expect(figures.sidecarKills).toBeGreaterThan(3);
    expect(figures.cancels).toBeGreaterThan(3);
  });
});
