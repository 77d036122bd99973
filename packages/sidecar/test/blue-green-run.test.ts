/**
 * Blue-green through the real `pgtrickle run` process, driven only through the SQL API:
 * - the test: a 100,000-row source under a continuous writer and a continuous reader
 *   (separate connections) while the table's query changes (a column added, the filter changed)
 *   through create_green → catch-up by the running scheduler → promote_green: the reader never
 *   sees an error, an empty, partial or mixed table (every read is all of one relation, the blue's
 *   or the green's, with that version's row count and rows) and waits at most a short lock (the longest wait is printed, not
 *   asserted); after the writer stops the promoted table equals its new query, and a downstream
 *   stream table kept refreshing and equals its query;
 * - kill -9 of the sidecar during catch-up, then restart: the deployment carries on and promotes;
 * - kill -9 of the sidecar during the promote (held on a lock a reader holds), then restart: the
 *   promote rolled back with the process, green_status says it is still catching up, and the
 *   pending request completes it after the restart.
 */
import { expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliProcess, eventually, killAll, startCli } from './support/process.js';

const db = useTestDatabase();
const processes: CliProcess[] = [];
const clients: pg.Client[] = [];

const BLUE = 'SELECT id, val FROM events WHERE flag';
const GREEN = 'SELECT id, val, grp FROM events WHERE flag OR grp < 10';
const DOWNSTREAM = 'SELECT count(*) AS n, sum(val) AS s FROM ev';
const ROWS = 100_000;
/** Rows of each version: flag is set on even ids; odd ids with grp (id % 100) below 10 are 5 in 100. */
const BLUE_ROWS = ROWS / 2;
const GREEN_ROWS = BLUE_ROWS + ROWS / 20;

function run(): CliProcess {
  const p = startCli(['run', '--database-url', db.url, '--poll-interval-ms', '200', '--log-format', 'json']);
  processes.push(p);
  return p;
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

async function lastRequest(kind: string): Promise<{ status: string; error: string | null } | undefined> {
  const r = await db.query(
    `SELECT status, error FROM pgtrickle.pgt_requests WHERE kind = $1 ORDER BY request_id DESC LIMIT 1`,
    [kind],
  );
  return r.rows[0] as { status: string; error: string | null } | undefined;
}

async function greenState(name: string): Promise<{ state: string; converged: boolean } | undefined> {
  const r = await db.query(`SELECT state, converged FROM pgtrickle.green_status($1)`, [name]);
  return r.rows[0] as { state: string; converged: boolean } | undefined;
}

/** Asks for a promote until one is done (a request refused because the green is behind is asked again). */
async function promote(name: string): Promise<number> {
  let attempts = 0;
  await eventually(
    async () => {
      attempts++;
      await db.query(`SELECT pgtrickle.promote_green($1)`, [name]);
      await eventually(
        async () => expect((await lastRequest('promote_green'))?.status).not.toBe('PENDING'),
        60_000,
      );
      const r = await lastRequest('promote_green');
      expect(r, r?.error ?? '').toMatchObject({ status: 'DONE' });
    },
    90_000,
    500,
  );
  return attempts;
}

afterAll(async () => {
  await killAll(processes);
  for (const c of clients) await c.end().catch(() => undefined);
});

describe('blue-green with pgtrickle run', () => {
  it('changes a 100,000-row table’s query under a writer and a reader with no gap, error or mixed read', async () => {
    run();
    await processes[0]?.waitForLog('leadership-acquired');
    await db.query(`CREATE TABLE events (id int PRIMARY KEY, grp int NOT NULL, val int NOT NULL, flag boolean NOT NULL);
                    INSERT INTO events SELECT g, g % 100, g % 1000, g % 2 = 0 FROM generate_series(1, ${ROWS}) g`);
    await db.query(`SELECT pgtrickle.create_stream_table('ev', $1, '1s', 'DIFFERENTIAL')`, [BLUE]);
    await db.query(`SELECT pgtrickle.create_stream_table('ev_total', $1, '1s', 'DIFFERENTIAL')`, [
      DOWNSTREAM,
    ]);
    await eventually(async () => {
      const r = await db.query(`SELECT count(*)::int AS n FROM pgtrickle.pgt_status WHERE status = 'ACTIVE'`);
      expect(r.rows[0]?.n).toBe(2);
    }, 60_000);

    // The writer: updates values (never which version a row belongs to) and inserts rows both versions leave out.
    const writer = await client();
    let writing = true;
    let writes = 0;
    let nextId = ROWS + 1;
    const writerDone = (async () => {
      while (writing) {
        const at = 1 + Math.floor(Math.random() * (ROWS - 100));
        await writer.query(`UPDATE events SET val = val + 1 WHERE id BETWEEN $1 AND $1 + 40`, [at]);
        await writer.query(`INSERT INTO events VALUES ($1, 95, 1, false)`, [nextId++]);
        writes++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    // The reader: every read (through the view of the name) must be all of one version, the blue
    // (50,000 rows) or the green (55,000 rows), with that version's rows (the even ids are in both).
    const reader = await client();
    let reading = true;
    const bad: string[] = [];
    const seen = { blue: 0, green: 0 };
    let maxWaitMs = 0;
    const readerDone = (async () => {
      while (reading) {
        const started = performance.now();
        try {
          const r = await reader.query(
            `SELECT count(*)::int AS n, count(*) FILTER (WHERE e.id % 2 = 0)::int AS even FROM ev e`,
          );
          maxWaitMs = Math.max(maxWaitMs, performance.now() - started);
          const { n, even } = r.rows[0] as { n: number; even: number };
          if (n === BLUE_ROWS && even === BLUE_ROWS) seen.blue++;
          else if (n === GREEN_ROWS && even === BLUE_ROWS) seen.green++;
          else bad.push(`read ${n} rows (${even} even): neither the blue nor the green version`);
        } catch (error) {
          bad.push(`error: ${(error as Error).message}`);
        }
      }
    })();

    await db.query(`SELECT pgtrickle.create_green('ev', query => $1)`, [GREEN]);
    await eventually(async () => expect((await lastRequest('create_green'))?.status).toBe('DONE'), 120_000);
    // Catch-up by the running scheduler: the green refreshes on its own while the writer writes.
    await eventually(async () => {
      const r = await db.query(
        `SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_history h JOIN pgtrickle.pgt_stream_tables s USING (pgt_id)
          WHERE s.table_name = 'ev__pgt_green' AND h.initiated_by = 'SCHEDULER' AND h.action = 'DIFFERENTIAL'`,
      );
      expect(r.rows[0]?.n).toBeGreaterThanOrEqual(2);
    }, 60_000);
    const attempts = await promote('ev');
    expect(await greenState('ev')).toMatchObject({ state: 'PROMOTED', converged: true });
    // The downstream table keeps refreshing from the new version while the writer goes on.
    const downstreamAt = (
      await db.query(`SELECT last_refresh_at FROM pgtrickle.pgt_status WHERE name = 'public.ev_total'`)
    ).rows[0]?.last_refresh_at as Date;
    await eventually(async () => {
      const r = await db.query(
        `SELECT last_refresh_at FROM pgtrickle.pgt_status WHERE name = 'public.ev_total'`,
      );
      expect(new Date(r.rows[0]?.last_refresh_at as Date).getTime()).toBeGreaterThan(downstreamAt.getTime());
      expect(seen.green).toBeGreaterThan(20);
    }, 60_000);
    writing = false;
    await writerDone;
    reading = false;
    await readerDone;

    console.log(
      `blue-green under load: ${writes} writes, ${seen.blue} blue and ${seen.green} green reads, ` +
        `promoted after ${attempts} request(s), longest read ${maxWaitMs.toFixed(1)} ms`,
    );
    expect(bad).toEqual([]);
    expect(seen.blue).toBeGreaterThan(20);
    await eventually(async () => {
      await expectTableEqualsQuery(db, 'ev', GREEN);
      await expectTableEqualsQuery(db, 'ev_total', DOWNSTREAM);
    }, 60_000);
    await db.query(`SELECT pgtrickle.drop_retired('ev')`);
    await eventually(async () => expect((await greenState('ev'))?.state).toBe('RETIRED'), 60_000);
  }, 400_000);

  it('kill -9 during the catch-up: after a restart the green carries on and is promoted', async () => {
    await db.query(
      `SELECT pgtrickle.create_green('ev', query => 'SELECT id, val, grp FROM events WHERE grp < 20')`,
    );
    await eventually(async () => expect((await lastRequest('create_green'))?.status).toBe('DONE'), 120_000);
    await db.query(`UPDATE events SET val = val + 3 WHERE id <= 2000`);
    const victim = processes[0] as CliProcess;
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect((await greenState('ev'))?.state).toMatch(/^(CATCHING_UP|CONVERGED)$/);
    await db.query(`UPDATE events SET val = val + 3 WHERE id <= 2000`);
    run();
    await eventually(async () => expect(await greenState('ev')).toMatchObject({ converged: true }), 90_000);
    await promote('ev');
    await eventually(async () => {
      await expectTableEqualsQuery(db, 'ev', 'SELECT id, val, grp FROM events WHERE grp < 20');
      await expectTableEqualsQuery(db, 'ev_total', DOWNSTREAM);
    }, 60_000);
    await db.query(`SELECT pgtrickle.drop_retired('ev')`);
    await eventually(async () => expect((await greenState('ev'))?.state).toBe('RETIRED'), 60_000);
  }, 300_000);

  it('kill -9 during the promote: it rolls back with the process; after a restart the pending promote completes', async () => {
    const query = 'SELECT id, val, grp FROM events WHERE grp < 30';
    await db.query(`SELECT pgtrickle.create_green('ev', query => $1)`, [query]);
    await eventually(async () => expect((await lastRequest('create_green'))?.status).toBe('DONE'), 120_000);
    await eventually(async () => expect(await greenState('ev')).toMatchObject({ converged: true }), 90_000);
    // A reader holds the table: the promote's ACCESS EXCLUSIVE lock waits for it.
    const holder = await client();
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM ev');
    await db.query(`SELECT pgtrickle.promote_green('ev', force => true)`);
    await eventually(async () => {
      const r = await db.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'`,
      );
      expect(r.rows[0]?.n).toBe(1);
    }, 60_000);
    const victim = processes[processes.length - 1] as CliProcess;
    victim.child.kill('SIGKILL');
    await victim.exited;
    await holder.query('COMMIT');
    // The promote's transaction dies with its connection: nothing changed.
    await eventually(async () => {
      const r = await db.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LOCK TABLE%' AND pid <> pg_backend_pid()`,
      );
      expect(r.rows[0]?.n).toBe(0);
    }, 60_000);
    expect((await greenState('ev'))?.state).toMatch(/^(CATCHING_UP|CONVERGED)$/);
    expect((await lastRequest('promote_green'))?.status).toBe('PENDING');
    await expectTableEqualsQuery(db, 'ev', 'SELECT id, val, grp FROM events WHERE grp < 20');
    run();
    await eventually(async () => expect((await greenState('ev'))?.state).toBe('PROMOTED'), 90_000);
    expect((await lastRequest('promote_green'))?.status).toBe('DONE');
    await eventually(async () => {
      await expectTableEqualsQuery(db, 'ev', query);
      await expectTableEqualsQuery(db, 'ev_total', DOWNSTREAM);
    }, 60_000);
  }, 300_000);
});
