/**
 * End to end with the real process: `pgtrickle run` against the test database; stream tables
 * created through the SQL API from a plain `pg` client; writes to the sources; the tables converge
 * on their schedules. Then the process is SIGKILLed in the middle of a run (while writes go on and,
 * when caught, inside a refresh transaction), a new one is started, and the oracle finds every
 * table equal to its query: nothing lost, nothing applied twice.
 */
import { expectNoNegativeCounts, expectTableEqualsQuery, useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, eventually, killAll, startCli } from './support/process.js';

const db = useTestDatabase();
const processes: CliProcess[] = [];
let client: pg.Client;

const TABLES: { name: string; query: string; schedule: string }[] = [
  {
    name: 'totals_by_owner',
    query: 'SELECT owner, count(*) AS n, sum(balance) AS total FROM accounts GROUP BY owner',
    schedule: '1s',
  },
  {
    name: 'flows',
    query: 'SELECT src, dst, sum(amount) AS amount, count(*) AS n FROM transfers GROUP BY src, dst',
    schedule: '1s',
  },
  { name: 'big_flows', query: 'SELECT src, dst, amount FROM flows WHERE amount > 300', schedule: '1s' },
  {
    name: 'transfer_owners',
    query:
      'SELECT t.id, a.owner AS src_owner, b.owner AS dst_owner, t.amount FROM transfers t JOIN accounts a ON a.id = t.src JOIN accounts b ON b.id = t.dst',
    schedule: '1s',
  },
];

function run(extra: string[] = []): CliProcess {
  const p = startCli(['run', '--database-url', db.url, '--poll-interval-ms', '200', ...extra]);
  processes.push(p);
  return p;
}

let seq = 0;
/** One batch of writes: new transfers, balance changes, a deleted transfer, an owner change. */
async function writeBatch(c: pg.Client): Promise<void> {
  seq++;
  await c.query('BEGIN');
  await c.query(
    `INSERT INTO transfers (src, dst, amount) SELECT 1 + (g * 7 + $1) % 40, 1 + (g * 13 + $1) % 40, 10 + (g * $1) % 90 FROM generate_series(1, 5) g`,
    [seq],
  );
  await c.query('UPDATE accounts SET balance = balance + $1 WHERE id % 9 = $2', [seq % 17, seq % 9]);
  await c.query('DELETE FROM transfers WHERE id = (SELECT min(id) FROM transfers WHERE id % 3 = $1)', [
    seq % 3,
  ]);
  if (seq % 4 === 0)
    await c.query(`UPDATE accounts SET owner = 'owner ' || ((id + $1) % 6) WHERE id = $1 % 40 + 1`, [seq]);
  await c.query('COMMIT');
}

async function expectAllEqual(): Promise<void> {
  for (const t of TABLES) {
    await expectTableEqualsQuery(db, t.name, t.query);
    await expectNoNegativeCounts(db, t.name);
  }
}

beforeAll(async () => {
  client = await db.client();
  await client.query(`CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL);
    INSERT INTO accounts SELECT g, 'owner ' || (g % 6), 100 * g FROM generate_series(1, 40) g;
    CREATE TABLE transfers (id bigserial PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount int NOT NULL);
    INSERT INTO transfers (src, dst, amount) SELECT 1 + g % 40, 1 + (g * 3) % 40, g % 100 FROM generate_series(1, 500) g`);
});

afterAll(async () => {
  await killAll(processes);
});

describe('pgtrickle run, end to end', () => {
  it('installs the catalog, serves the SQL API and keeps the tables converging on schedule', async () => {
    const a = run();
    await a.waitForLog('leadership-acquired');
    for (const t of TABLES) {
      await client.query('SELECT pgtrickle.create_stream_table($1, $2, $3, $4)', [
        t.name,
        t.query,
        t.schedule,
        'DIFFERENTIAL',
      ]);
    }
    await eventually(async () => {
      const res = await client.query(
        `SELECT name, status, last_error FROM pgtrickle.pgt_status ORDER BY name`,
      );
      expect(res.rows.map((r) => `${r.name} ${r.status}`)).toEqual(
        TABLES.map((t) => `public.${t.name} ACTIVE`).sort(),
      );
    }, 60_000);
    await expectAllEqual();

    for (let i = 0; i < 5; i++) await writeBatch(client);
    // Schedules of 1 s, polling every 200 ms: converged within a few seconds.
    const took = await eventually(expectAllEqual, 20_000);
    expect(took).toBeLessThan(10_000);
    const log = await client.query(
      `SELECT DISTINCT name FROM pgtrickle.pgt_refresh_log WHERE initiated_by = 'SCHEDULER' AND action = 'DIFFERENTIAL' AND status = 'COMPLETED'`,
    );
    expect(log.rows.map((r) => r.name).sort()).toEqual(TABLES.map((t) => `public.${t.name}`).sort());
    expect(
      a
        .logs()
        .some((l) => l.event === 'refreshed' && l.table === 'public.flows' && l.action === 'DIFFERENTIAL'),
    ).toBe(true);
  });

  it('loses and duplicates nothing when killed mid-run and started again', async () => {
    const a = processes[0] as CliProcess;
    const before = await client.query('SELECT epoch FROM pgtrickle.pgt_leader');

    // Writes keep coming; the process is SIGKILLed, preferably inside a refresh transaction.
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await writeBatch(client);
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    const watcher = await db.client();
    let inTransaction = false;
    const deadline = Date.now() + 5_000;
    await new Promise((r) => setTimeout(r, 1_000));
    while (Date.now() < deadline) {
      const busy = await watcher.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'pgtrickle sidecar #%' AND xact_start IS NOT NULL AND state <> 'idle'`,
      );
      if (Number(busy.rows[0]?.n) > 0) {
        inTransaction = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    // Changes made while no sidecar runs wait in the change buffers.
    await new Promise((r) => setTimeout(r, 1_500));
    writing = false;
    await writer;
    console.info(
      `killed ${inTransaction ? 'inside a refresh transaction' : 'between refreshes'} after ${seq} batches`,
    );

    const b = run();
    await b.waitForLog('leadership-acquired');
    const took = await eventually(expectAllEqual, 30_000);
    expect(took).toBeLessThan(20_000);
    const after = await client.query('SELECT epoch, holder FROM pgtrickle.pgt_leader');
    expect(Number(after.rows[0]?.epoch)).toBeGreaterThan(Number(before.rows[0]?.epoch));
    expect(String(after.rows[0]?.holder)).toMatch(new RegExp(`:${b.pid}$`));
    const failed = await client.query(
      `SELECT count(*)::int AS n FROM pgtrickle.pgt_stream_tables WHERE status <> 'ACTIVE'`,
    );
    expect(Number(failed.rows[0]?.n)).toBe(0);

    // A clean stop afterwards: exit 0.
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    expect(b.logs().map((l) => l.event)).toEqual(expect.arrayContaining(['stopping', 'stopped']));
  });
});
