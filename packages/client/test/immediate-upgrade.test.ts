/**
 * Upgrading across catalog migration "immediate lock columns dropped": pgt_immediate loses the
 * columns the lock of earlier versions wrote (last_xid, maintained_at), and a table whose bodies
 * were compiled before the advisory lock — their BEFORE function calls
 * `pgtrickle_changes.immediate_lock(pgt_id)` — stays exact after the upgrade: READ COMMITTED
 * writers of two sessions are serialised (the second waits for the first's commit), a REPEATABLE
 * READ writer that a concurrent maintainer committed before fails with a retryable 40001, and a
 * refresh recompiles the bodies to the advisory lock.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import pg from 'pg';
import { expect, it } from 'vitest';
import { MIGRATIONS } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

const QUERY =
  'SELECT c.name, count(*) AS n, sum(o.amount) AS total FROM iu.o o JOIN iu.c c ON c.id = o.cid GROUP BY c.name';

/** The columns of pgtrickle.pgt_immediate. */
async function immediateColumns(): Promise<string[]> {
  const res = await db.query(
    `SELECT attname FROM pg_attribute WHERE attrelid = 'pgtrickle.pgt_immediate'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
  );
  return res.rows.map((r) => String(r.attname));
}

/** How many IMMEDIATE trigger functions of stream table `pgtId` call the old lock function. */
async function oldLockCallers(pgtId: number): Promise<number> {
  const res = await db.query(
    `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'pgtrickle_changes'::regnamespace
        AND proname LIKE 'ivm\\_' || $1 || '\\_%' AND prosrc LIKE '%immediate_lock%'`,
    [pgtId],
  );
  return Number(res.rows[0]?.n);
}

it('keeps tables compiled before the advisory lock exact after dropping the lock columns, and a refresh recompiles them', async () => {
  const migration = MIGRATIONS.find((m) => m.name === 'immediate lock columns dropped');
  expect(migration).toBeDefined();
  const version = migration?.version as number;
  const lockFunction = MIGRATIONS.flatMap((m) => (m.version < version ? m.statements : [])).filter((s) =>
    s.startsWith('CREATE OR REPLACE FUNCTION pgtrickle_changes.immediate_lock('),
  );
  expect(lockFunction).toHaveLength(1);
  await db.query(`CREATE SCHEMA iu;
    CREATE TABLE iu.c (id int PRIMARY KEY, name text);
    CREATE TABLE iu.o (id int PRIMARY KEY, cid int, amount int);
    INSERT INTO iu.c VALUES (1, 'a'), (2, 'b');
    INSERT INTO iu.o VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7);`);
  await trickle().createStreamTable({ name: 'iu.st', query: QUERY, refreshMode: 'IMMEDIATE' });
  const pgtId = Number(
    (await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'st'`)).rows[0]
      ?.pgt_id,
  );
  expect(await immediateColumns()).toEqual(['pgt_id', 'storage_oid', 'stale']);

  // As the catalog one migration behind left it: the columns and the lock function of migration
  // 12, and a BEFORE function that takes the table's lock the way bodies compiled before the
  // advisory lock did (the lock function, once per transaction, remembered by the flag 'on').
  await db.query(
    `ALTER TABLE pgtrickle.pgt_immediate ADD COLUMN last_xid pg_catalog.xid8, ADD COLUMN maintained_at timestamptz`,
  );
  await db.query(lockFunction[0] as string);
  const before = `pgtrickle_changes.ivm_${pgtId}_before`;
  const body = (await db.query(`SELECT prosrc FROM pg_proc WHERE oid = '${before}'::regproc`)).rows[0]
    ?.prosrc as string;
  expect(body).toContain('pg_advisory_xact_lock');
  const state = `'pgtrickle.ivm_s_${pgtId}'`;
  const held = `'pgtrickle.ivm_locked_${pgtId}'`;
  const oldBody = `
DECLARE
  __pgt_s text;
BEGIN
  __pgt_s := pg_catalog.set_config(${state}, COALESCE(pg_catalog.current_setting(${state}, true), '') || 'x', false);
  IF pg_catalog.current_setting(${held}, true) IS DISTINCT FROM 'on' THEN
    __pgt_s := pgtrickle_changes.immediate_lock(${pgtId})::text || pg_catalog.set_config(${held}, 'on', true);
  END IF;
  RETURN NULL;
END
`;
  await db.query(
    `CREATE OR REPLACE FUNCTION ${before}() RETURNS trigger LANGUAGE plpgsql AS $b$${oldBody}$b$`,
  );
  await db.query(`DELETE FROM pgtrickle.pgt_schema_version WHERE version = ${version}`);
  expect(await oldLockCallers(pgtId)).toBe(1);
  await db.query('INSERT INTO iu.o VALUES (4, 2, 1)');
  await expectTableEqualsQuery(db, 'iu.st', QUERY);
  const marked = await db.query(
    `SELECT last_xid IS NOT NULL AS m FROM pgtrickle.pgt_immediate WHERE pgt_id = $1`,
    [pgtId],
  );
  expect(marked.rows[0]?.m).toBe(true);

  const upgrade = await trickle().install();
  expect(upgrade.applied).toEqual([version]);
  expect(await immediateColumns()).toEqual(['pgt_id', 'storage_oid', 'stale']);
  expect(await oldLockCallers(pgtId)).toBe(1);

  const a = new pg.Client({ connectionString: db.url });
  const b = new pg.Client({ connectionString: db.url });
  await a.connect();
  await b.connect();
  try {
    // READ COMMITTED: the second writer waits on the first's lock, then maintains from its commit.
    await a.query('BEGIN');
    await a.query('UPDATE iu.o SET amount = amount + 100 WHERE id = 1');
    await b.query('BEGIN');
    const bPid = Number((await b.query('SELECT pg_backend_pid() AS p')).rows[0]?.p);
    let bDone = false;
    const bWrite = b.query('UPDATE iu.c SET name = $1 WHERE id = 1', ['z']).then(() => {
      bDone = true;
    });
    // It waits on a lock (the table's row, updated by the first writer's lock function).
    for (;;) {
      const r = await db.query('SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND NOT granted', [
        bPid,
      ]);
      if (Number(r.rows[0]?.n) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(bDone).toBe(false);
    await a.query('COMMIT');
    await bWrite;
    await b.query('COMMIT');
    await expectTableEqualsQuery(db, 'iu.st', QUERY);

    // REPEATABLE READ: a writer whose snapshot predates a concurrent maintainer's commit fails.
    await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await a.query('SELECT 1 FROM iu.c LIMIT 1');
    await b.query('UPDATE iu.o SET amount = amount + 1 WHERE id = 2');
    const failed = await a.query('UPDATE iu.o SET amount = amount + 1 WHERE id = 3').then(
      () => null,
      (e: { code?: string; message?: string }) => e,
    );
    expect(failed?.code).toBe('40001');
    expect(failed?.message).toContain('iu.st');
    await a.query('ROLLBACK');
    await expectTableEqualsQuery(db, 'iu.st', QUERY);
  } finally {
    await a.end();
    await b.end();
  }

  // A refresh recompiles the bodies to the advisory lock; writes stay exact.
  await trickle().refresh('iu.st');
  expect(await oldLockCallers(pgtId)).toBe(0);
  await db.query('UPDATE iu.o SET cid = 2 WHERE id = 1; DELETE FROM iu.c WHERE id = 1');
  await expectTableEqualsQuery(db, 'iu.st', QUERY);
});
