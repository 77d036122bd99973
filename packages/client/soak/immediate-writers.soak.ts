/**
 * IMMEDIATE under concurrent writers (`pnpm test:soak`, never part of `pnpm test`): six sessions
 * write the sources of seven IMMEDIATE stream tables — a join + aggregate, a filtered scan (no
 * lock: its writers proceed concurrently), an outer join aggregated, a window, a DISTINCT over a
 * keyless table, a cascade over the first and a diamond over the cascade and the scan — in random
 * transactions of one to four statements (single-row and bulk inserts, updates moving rows between
 * groups, deletes, a writable CTE writing two sources, a savepoint rolled back now and then, a
 * transaction rolled back now and then), at READ COMMITTED, REPEATABLE READ and SERIALIZABLE.
 * A writer that fails with a serialization failure or a deadlock (retryable: 40001, 40P01)
 * rolls back and goes on; any other error fails the test. Every few seconds a checker compares
 * every stream table with its query inside one REPEATABLE READ snapshot (IMMEDIATE maintenance
 * commits with the write, so each snapshot must show them equal), and once more at the end.
 * Duration: `PGTRICKLE_SOAK_IMMEDIATE_S` seconds of writes (default 60). It prints its figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareTableWithQuery, formatComparison } from '@pgtrickle/testkit';
import { type EmbeddedPostgres, findFreePort, startEmbeddedPostgres } from '@pgtrickle/testkit/embedded';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';

const WRITE_S = Number(process.env.PGTRICKLE_SOAK_IMMEDIATE_S ?? 60);
const WRITERS = 6;

/** The stream tables in creation order (the cascade and the diamond read earlier ones). */
const TABLES: readonly (readonly [string, string])[] = [
  [
    'st_region',
    'SELECT c.region, count(*) AS n, sum(o.amount) AS total FROM orders o JOIN cust c ON c.id = o.cid GROUP BY c.region',
  ],
  ['st_big', 'SELECT o.id, o.cid, o.amount FROM orders o WHERE o.amount > 50'],
  [
    'st_left',
    'SELECT c.id, c.tier, count(o.id) AS n, max(o.amount) AS top FROM cust c LEFT JOIN orders o ON o.cid = c.id GROUP BY c.id, c.tier',
  ],
  [
    'st_rank',
    'SELECT o.id, o.cid, rank() OVER (PARTITION BY o.cid ORDER BY o.amount, o.id) AS r FROM orders o',
  ],
  ['st_kinds', 'SELECT DISTINCT e.k FROM events e'],
  ['st_cascade', 'SELECT count(*) AS regions, sum(r.n) AS orders, sum(r.total) AS total FROM st_region r'],
  [
    'st_diamond',
    'SELECT x.regions, x.orders, y.big FROM st_cascade x CROSS JOIN (SELECT count(*) AS big FROM st_big) y',
  ],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;

/** One random statement on the sources. */
function randomStatement(): string {
  const cid = 1 + rand(40);
  const id = 1 + rand(1200);
  switch (rand(11)) {
    case 0:
      return `INSERT INTO orders (cid, amount) VALUES (${cid}, ${rand(100)})`;
    case 1:
      return `INSERT INTO orders (cid, amount) SELECT ${cid} + g % 3, (g * 7) % 100 FROM generate_series(1, ${1 + rand(20)}) g`;
    case 2:
      return `UPDATE orders SET amount = amount + ${rand(30) - 15} WHERE id = ${id}`;
    case 3:
      return `UPDATE orders SET cid = ${cid} WHERE id BETWEEN ${id} AND ${id + rand(10)}`;
    case 4:
      return `DELETE FROM orders WHERE id = ${id}`;
    case 5:
      return `DELETE FROM orders WHERE cid = ${cid} AND amount < ${rand(30)}`;
    case 6:
      return `UPDATE cust SET region = ${rand(6)}, tier = ${pick(["'gold'", "'silver'", 'NULL'])} WHERE id = ${cid}`;
    case 7:
      return `INSERT INTO events VALUES (${rand(15)}, ${rand(5)}), (${rand(15)}, ${rand(5)})`;
    case 8:
      return `DELETE FROM events WHERE ctid IN (SELECT ctid FROM events WHERE k = ${rand(15)} LIMIT 2)`;
    case 9:
      return `WITH m AS (UPDATE cust SET region = (region + 1) % 6 WHERE id = ${cid} RETURNING id) UPDATE orders SET amount = amount + 1 WHERE cid IN (SELECT m.id FROM m)`;
    default:
      return `WITH d AS (DELETE FROM orders WHERE id = ${id} RETURNING cid) INSERT INTO events SELECT d.cid % 15, 9 FROM d`;
  }
}

/** Retryable failures of a writer: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);

let server: EmbeddedPostgres | null = null;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'pgtrickle-soak-immediate-'));

afterAll(async () => {
  await server?.stop({ mode: 'fast' }).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every stream table against its query in one REPEATABLE READ snapshot; the mismatches. */
async function mismatches(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const out: string[] = [];
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const [name, query] of TABLES) {
      const cmp = await compareTableWithQuery(c, name, query);
      if (!cmp.equal) out.push(`${name}: ${formatComparison(cmp)}`);
    }
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
  return out;
}

describe('IMMEDIATE soak', () => {
  it('keeps every IMMEDIATE table equal to its query in every snapshot under six concurrent writers', {
    timeout: (WRITE_S + 300) * 1000,
  }, async () => {
    server = await startEmbeddedPostgres({ dataDir, port: await findFreePort() });
    const url = server.url;
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query(`CREATE TABLE cust (id int PRIMARY KEY, region int NOT NULL, tier text);
      CREATE TABLE orders (id bigserial PRIMARY KEY, cid int NOT NULL, amount int NOT NULL);
      CREATE INDEX ON orders (cid);
      CREATE TABLE events (k int, v int);
      INSERT INTO cust SELECT g, g % 6, CASE WHEN g % 3 = 0 THEN 'gold' END FROM generate_series(1, 40) g;
      INSERT INTO orders (cid, amount) SELECT 1 + g % 40, (g * 13) % 100 FROM generate_series(1, 1000) g;
      INSERT INTO events SELECT g % 15, g % 5 FROM generate_series(1, 200) g;`);
    await setup.end();
    const trickle = await connect(url);
    await trickle.install();
    for (const [name, query] of TABLES)
      await trickle.createStreamTable({ name, query, refreshMode: 'IMMEDIATE' });
    await trickle.close();
    expect(await mismatches(url)).toEqual([]);

    const figures = {
      writeS: WRITE_S,
      commits: 0,
      rollbacks: 0,
      savepointRollbacks: 0,
      retryable: {} as Record<string, number>,
      byLevel: { 'READ COMMITTED': 0, 'REPEATABLE READ': 0, SERIALIZABLE: 0 } as Record<string, number>,
      checks: 0,
    };
    const unexpected: string[] = [];
    const snapshotMismatches: string[] = [];
    const end = Date.now() + WRITE_S * 1000;
    const writer = async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      try {
        while (Date.now() < end && unexpected.length === 0) {
          const level = pick([
            'READ COMMITTED',
            'READ COMMITTED',
            'READ COMMITTED',
            'REPEATABLE READ',
            'SERIALIZABLE',
          ]);
          try {
            await c.query(`BEGIN ISOLATION LEVEL ${level}`);
            const n = 1 + rand(4);
            const savepointAt = rand(5) === 0 ? rand(n) : -1;
            for (let i = 0; i < n; i++) {
              if (i === savepointAt) await c.query('SAVEPOINT sp');
              await c.query(randomStatement());
            }
            if (savepointAt >= 0) {
              await c.query('ROLLBACK TO SAVEPOINT sp');
              figures.savepointRollbacks++;
            }
            if (rand(10) === 0) {
              await c.query('ROLLBACK');
              figures.rollbacks++;
            } else {
              await c.query('COMMIT');
              figures.commits++;
              figures.byLevel[level] = (figures.byLevel[level] ?? 0) + 1;
            }
          } catch (error) {
            await c.query('ROLLBACK').catch(() => undefined);
            const code = (error as { code?: string }).code ?? '';
            if (RETRYABLE.has(code)) {
              const k = `${level} ${code}`;
              figures.retryable[k] = (figures.retryable[k] ?? 0) + 1;
            } else
              unexpected.push(`${level}: ${code} ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      } finally {
        await c.end().catch(() => undefined);
      }
    };
    const checker = async () => {
      while (Date.now() < end && unexpected.length === 0) {
        await sleep(3000);
        snapshotMismatches.push(...(await mismatches(url)));
        figures.checks++;
      }
    };
    await Promise.all([...Array.from({ length: WRITERS }, writer), checker()]);
    const final = await mismatches(url);
    console.log(JSON.stringify({ ...figures, unexpected: unexpected.length }, null, 2));
    expect(unexpected).toEqual([]);
    expect(snapshotMismatches).toEqual([]);
    expect(final).toEqual([]);
    expect(figures.checks).toBeGreaterThan(0);
    expect(figures.commits).toBeGreaterThan(WRITE_S);
    expect(figures.byLevel['REPEATABLE READ']).toBeGreaterThan(0);
    expect(figures.byLevel.SERIALIZABLE).toBeGreaterThan(0);
  });
});
