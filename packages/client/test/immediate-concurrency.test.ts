/**
 * IMMEDIATE under concurrency and with several roles: writers from several sessions stay
 * correct (a join + aggregate table serialises them; a scan-only table lets them proceed),
 * REPEATABLE READ and SERIALIZABLE writers either work or fail with a retryable 40001 naming the
 * table (never diverge), and maintenance runs with the owner's rights: a writer that may not read
 * the other sources can still write, and nobody but the table's own maintenance passes the guard.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRoles } from './support/roles.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const roles = new TestRoles(() => db.url);
const owner = roles.name('pgt_imm_owner');
const writer = roles.name('pgt_imm_writer');

beforeAll(async () => {
  await db.query(`
    CREATE ROLE ${owner} LOGIN PASSWORD '${roles.password}';
    CREATE ROLE ${writer} LOGIN PASSWORD '${roles.password}';
    GRANT CONNECT ON DATABASE ${db.name} TO ${owner}, ${writer};`);
});

afterAll(async () => {
  await db
    .query(`DROP OWNED BY ${owner}, ${writer} CASCADE; DROP ROLE ${owner}; DROP ROLE ${writer}`)
    .catch(() => undefined);
});

/** Waits until session `pid` waits for a lock (no timing: polls the lock table). */
async function waitsForLock(pid: number): Promise<void> {
  for (;;) {
    const r = await db.query('SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND NOT granted', [pid]);
    if (Number(r.rows[0]?.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function pidOf(c: pg.Client): Promise<number> {
  return Number((await c.query('SELECT pg_backend_pid() AS p')).rows[0]?.p);
}

const JOIN = `
  CREATE TABLE {s}.a (id int PRIMARY KEY, k int, v int);
  CREATE TABLE {s}.b (id int PRIMARY KEY, k int, w int);
  INSERT INTO {s}.a SELECT i, i % 7, i FROM generate_series(1, 200) i;
  INSERT INTO {s}.b SELECT i, i % 7, i * 10 FROM generate_series(1, 50) i;`;
const joinQuery = (s: string) =>
  `SELECT a.k, count(*) AS n, sum(a.v) AS sv, sum(b.w) AS sw FROM ${s}.a AS a JOIN ${s}.b AS b ON b.k = a.k GROUP BY a.k`;

describe('IMMEDIATE with concurrent writers', () => {
  it('four sessions writing both sources of a join + aggregate table leave it equal to its query', async () => {
    await db.query(`CREATE SCHEMA w1; ${JOIN.replaceAll('{s}', 'w1')}`);
    const query = joinQuery('w1');
    await trickle().createStreamTable({ name: 'w1.st', query, refreshMode: 'IMMEDIATE' });
    const sessions = await Promise.all([0, 1, 2, 3].map(() => db.client()));
    await Promise.all(
      sessions.map(async (c, n) => {
        for (let i = 0; i < 15; i++) {
          const base = 1000 + n * 1000 + i * 10;
          await c.query('BEGIN');
          await c.query(`INSERT INTO w1.a SELECT g, g % 7, g FROM generate_series(${base}, ${base + 4}) g`);
          await c.query(`INSERT INTO w1.b VALUES (${base}, ${(n + i) % 7}, ${i})`);
          await c.query(`UPDATE w1.a SET v = v + 1 WHERE id BETWEEN ${base} AND ${base + 2}`);
          if (i % 3 === 0) await c.query(`DELETE FROM w1.b WHERE id = ${base}`);
          await c.query(i % 5 === 4 ? 'ROLLBACK' : 'COMMIT');
        }
      }),
    );
    await Promise.all(sessions.map((c) => c.end()));
    await expectTableEqualsQuery(db, 'w1.st', query);
  });

  it('a join + aggregate writer waits for the other; a scan-only writer does not', async () => {
    await db.query(`CREATE SCHEMA w2; ${JOIN.replaceAll('{s}', 'w2')}`);
    const query = joinQuery('w2');
    await trickle().createStreamTable({ name: 'w2.st', query, refreshMode: 'IMMEDIATE' });
    const scan = 'SELECT id, v FROM w2.a WHERE v > 100';
    await trickle().createStreamTable({ name: 'w2.scan', query: scan, refreshMode: 'IMMEDIATE' });
    const one = await db.client();
    const two = await db.client();
    // scan-only: both sessions insert into w2.a's scan table without waiting for each other
    // (w2.st reads w2.a too, so the test writes a table only w2.scan reads: a copy of a)
    await db.query(`CREATE TABLE w2.c (id int PRIMARY KEY, v int)`);
    const scanC = 'SELECT id, v FROM w2.c WHERE v > 1';
    await trickle().createStreamTable({ name: 'w2.scanc', query: scanC, refreshMode: 'IMMEDIATE' });
    const twoPid = await pidOf(two);
    await one.query('BEGIN');
    await one.query('INSERT INTO w2.c VALUES (1, 5)');
    await two.query(`SET lock_timeout = '30s'`);
    await two.query('INSERT INTO w2.c VALUES (2, 6)'); // completes while `one` is open
    await one.query('COMMIT');
    await expectTableEqualsQuery(db, 'w2.scanc', scanC);
    // join + aggregate: the second writer waits until the first commits, then sees its rows
    await one.query('BEGIN');
    await one.query('INSERT INTO w2.a VALUES (9001, 3, 1)');
    const second = two.query('INSERT INTO w2.b VALUES (9001, 3, 1)');
    await waitsForLock(twoPid);
    await one.query('COMMIT');
    await second;
    await expectTableEqualsQuery(db, 'w2.st', query);
    await expectTableEqualsQuery(db, 'w2.scan', scan);
    await one.end();
    await two.end();
  });
  it('a writer waits for the lock before it changes a row: writers of the same rows queue, never deadlock', async () => {
    await db.query(`CREATE SCHEMA w3; ${JOIN.replaceAll('{s}', 'w3')}`);
    const query = joinQuery('w3');
    await trickle().createStreamTable({ name: 'w3.st', query, refreshMode: 'IMMEDIATE' });
    const one = await db.client();
    const two = await db.client();
    const twoPid = await pidOf(two);
    await one.query('BEGIN');
    await one.query('UPDATE w3.a SET v = v + 1 WHERE id = 1');
    // The second writer, on the other side of the join, waits for the table's lock (an advisory
    // lock) before its UPDATE has changed its row ...
    const second = two.query('UPDATE w3.b SET w = w + 1, k = 3 WHERE id = 2');
    await waitsForLock(twoPid);
    const waits = await db.query(`SELECT locktype FROM pg_locks WHERE pid = $1 AND NOT granted`, [twoPid]);
    expect(waits.rows).toEqual([{ locktype: 'advisory' }]);
    // ... so the first can still write that row (had the second changed it before waiting, this
    // would wait for the second, which waits for the first: a deadlock, 40P01).
    await one.query('UPDATE w3.b SET w = w + 100 WHERE id = 2');
    await one.query('COMMIT');
    await second;
    // The second maintained from the first's committed rows (fresh snapshots after the lock).
    await expectTableEqualsQuery(db, 'w3.st', query);
    const row = await db.query('SELECT k, w FROM w3.b WHERE id = 2');
    expect(row.rows).toEqual([{ k: 3, w: 121 }]);
    await one.end();
    await two.end();
  });
});

describe('IMMEDIATE with REPEATABLE READ and SERIALIZABLE writers', () => {
  for (const level of ['REPEATABLE READ', 'SERIALIZABLE'] as const) {
    it(`${level}: works alone; fails with a retryable 40001 naming the table when another writer got there first`, async () => {
      const s = level === 'SERIALIZABLE' ? 'i2' : 'i1';
      await db.query(`CREATE SCHEMA ${s}; ${JOIN.replaceAll('{s}', s)}`);
      const query = joinQuery(s);
      await trickle().createStreamTable({ name: `${s}.st`, query, refreshMode: 'IMMEDIATE' });
      const t1 = await db.client();
      const t2 = await db.client();
      const t1Pid = await pidOf(t1);
      // alone: works
      await t1.query(`BEGIN ISOLATION LEVEL ${level}`);
      await t1.query(`INSERT INTO ${s}.a VALUES (5001, 1, 1)`);
      await t1.query('COMMIT');
      await expectTableEqualsQuery(db, `${s}.st`, query);
      // a snapshot older than a concurrent committed maintenance: refused, then retried
      await t1.query(`BEGIN ISOLATION LEVEL ${level}`);
      await t1.query('SELECT 1 FROM pg_class LIMIT 1'); // takes the snapshot
      await t2.query(`INSERT INTO ${s}.b VALUES (5002, 1, 7)`);
      const err = await t1.query(`INSERT INTO ${s}.a VALUES (5003, 1, 1)`).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: '40001' });
      expect(String((err as Error).message)).toContain(`${s}.st`);
      expect(String((err as { hint?: string }).hint)).toContain('Retry the transaction');
      await t1.query('ROLLBACK');
      await t1.query(`BEGIN ISOLATION LEVEL ${level}`);
      await t1.query(`INSERT INTO ${s}.a VALUES (5003, 1, 1)`);
      await t1.query('COMMIT');
      await expectTableEqualsQuery(db, `${s}.st`, query);
      // a concurrent writer still open: the second waits, then fails rather than diverge
      await t2.query('BEGIN');
      await t2.query(`INSERT INTO ${s}.b VALUES (5004, 2, 7)`);
      await t1.query(`BEGIN ISOLATION LEVEL ${level}`);
      const pending = t1.query(`INSERT INTO ${s}.a VALUES (5005, 2, 1)`).catch((e: unknown) => e);
      await waitsForLock(t1Pid);
      await t2.query('COMMIT');
      expect(await pending).toMatchObject({ code: '40001' });
      await t1.query('ROLLBACK');
      await expectTableEqualsQuery(db, `${s}.st`, query);
      await t1.end();
      await t2.end();
    });

    it(`${level}: an aborted or rolled-back maintainer hides no committed one; maintaining twice, or again after a savepoint, works`, async () => {
      const s = level === 'SERIALIZABLE' ? 'i4' : 'i3';
      await db.query(`CREATE SCHEMA ${s}; ${JOIN.replaceAll('{s}', s)}`);
      const query = joinQuery(s);
      await trickle().createStreamTable({ name: `${s}.st`, query, refreshMode: 'IMMEDIATE' });
      const [t1, t2, t3] = await Promise.all([db.client(), db.client(), db.client()]);
      let id = 6000;
      const insertA = (c: pg.Client) => c.query(`INSERT INTO ${s}.a VALUES (${++id}, ${id % 7}, 1)`);
      const insertB = (c: pg.Client) => c.query(`INSERT INTO ${s}.b VALUES (${++id}, ${id % 7}, 1)`);
      const snapshot = async () => {
        await t1.query(`BEGIN ISOLATION LEVEL ${level}`);
        await t1.query('SELECT 1 FROM pg_class LIMIT 1');
      };
      // 1. A maintainer committed before the snapshot, then one aborted: the writer works.
      await insertB(t2);
      await snapshot();
      await t3.query('BEGIN');
      await insertB(t3);
      await t3.query('ROLLBACK');
      await insertA(t1);
      await insertB(t1); // maintaining twice in one transaction
      await t1.query('COMMIT');
      await expectTableEqualsQuery(db, `${s}.st`, query);
      // 2. A maintainer committed after the snapshot, then one aborted: refused all the same.
      await snapshot();
      await insertB(t2);
      await t3.query('BEGIN');
      await insertB(t3);
      await t3.query('ROLLBACK');
      expect(await insertA(t1).catch((e: unknown) => e)).toMatchObject({ code: '40001' });
      await t1.query('ROLLBACK');
      await expectTableEqualsQuery(db, `${s}.st`, query);
      // 3. A maintainer committed after the snapshot, then one rolled its maintenance back to a
      // savepoint and stays open (the lock released): refused.
      await snapshot();
      await insertB(t2);
      await t3.query('BEGIN');
      await t3.query('SAVEPOINT s');
      await insertB(t3);
      await t3.query('ROLLBACK TO SAVEPOINT s');
      expect(await insertA(t1).catch((e: unknown) => e)).toMatchObject({ code: '40001' });
      await t1.query('ROLLBACK');
      // ... and with the committed one before the snapshot: works, and the open one then waits.
      await snapshot();
      await insertA(t1);
      const t3Pid = await pidOf(t3);
      const later = insertB(t3);
      await waitsForLock(t3Pid);
      await t1.query('COMMIT');
      await later;
      await t3.query('COMMIT');
      await expectTableEqualsQuery(db, `${s}.st`, query);
      // 4. The writer itself maintains, rolls back to a savepoint, maintains again: works (its own
      // rolled-back maintenance is no other's), and its rows are there once.
      await snapshot();
      await t1.query('SAVEPOINT s');
      await insertA(t1);
      await t1.query('ROLLBACK TO SAVEPOINT s');
      await insertA(t1);
      await t1.query(`UPDATE ${s}.a SET v = v + 1 WHERE id = ${id}`);
      await t1.query('COMMIT');
      await expectTableEqualsQuery(db, `${s}.st`, query);
      // 5. Its savepoint rolled back, another maintainer commits meanwhile: refused.
      await snapshot();
      await t1.query('SAVEPOINT s');
      await insertA(t1);
      await t1.query('ROLLBACK TO SAVEPOINT s');
      await insertB(t2);
      expect(await insertA(t1).catch((e: unknown) => e)).toMatchObject({ code: '40001' });
      await t1.query('ROLLBACK');
      await expectTableEqualsQuery(db, `${s}.st`, query);
      await Promise.all([t1.end(), t2.end(), t3.end()]);
    });
  }
});

describe("IMMEDIATE maintenance runs with the owner's rights", () => {
  it('lets a writer that may not read the other source write, and never lets anyone else through the guard', async () => {
    await db.query(`
      CREATE SCHEMA o1 AUTHORIZATION ${owner};
      CREATE TABLE o1.a (id int PRIMARY KEY, k int); CREATE TABLE o1.b (k int PRIMARY KEY, secret text);
      INSERT INTO o1.b VALUES (1, 'one'), (2, 'two');
      GRANT SELECT ON o1.a, o1.b TO ${owner};
      GRANT USAGE ON SCHEMA o1 TO ${writer};
      GRANT INSERT, UPDATE, SELECT ON o1.a TO ${writer};`);
    const query = 'SELECT a.id, b.secret FROM o1.a AS a JOIN o1.b AS b ON b.k = a.k';
    await trickle().createStreamTable({ name: 'o1.st', query, refreshMode: 'IMMEDIATE', owner });
    const fns = await db.query(
      `SELECT DISTINCT pg_get_userbyid(proowner) AS o FROM pg_proc WHERE pronamespace = 'pgtrickle_changes'::regnamespace
        AND proname LIKE 'ivm\\_' || (SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE schema_name = 'o1') || '\\_%'`,
    );
    expect(fns.rows).toEqual([{ o: owner }]);
    const w = await roles.client(writer);
    await expect(w.query('SELECT * FROM o1.b')).rejects.toMatchObject({ code: '42501' });
    await w.query('INSERT INTO o1.a VALUES (1, 1), (2, 2), (3, 3)');
    await w.query('UPDATE o1.a SET k = 1 WHERE id = 2');
    await expectTableEqualsQuery(db, 'o1.st', query);
    // The owner grants the writer INSERT on the storage: the guard still refuses it, even with
    // the setting IMMEDIATE maintenance runs under.
    const o = await roles.client(owner);
    await o.query(`GRANT INSERT ON o1.st__pgt_storage TO ${writer}`);
    const oid = String((await db.query(`SELECT 'o1.st__pgt_storage'::regclass::oid AS o`)).rows[0]?.o);
    await w.query(`SET pgtrickle.immediate_storage = '${oid}'`);
    await expect(
      w.query(`INSERT INTO o1.st__pgt_storage (__pgt_row_id, id, secret) VALUES (1, 9, 'x')`),
    ).rejects.toMatchObject({
      code: '42501',
    });
    // nor its owner, outside its maintenance
    await expect(
      o.query(`INSERT INTO o1.st__pgt_storage (__pgt_row_id, id, secret) VALUES (1, 9, 'x')`),
    ).rejects.toMatchObject({
      code: '42501',
    });
    await w.end();
    await o.end();
    await expectTableEqualsQuery(db, 'o1.st', query);
  });
});
