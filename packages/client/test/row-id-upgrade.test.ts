/**
 * Upgrading across the row-id formula change (docs/dvm-design.md §2): stream tables whose storage
 * holds ids of the earlier formula (a hash of the row's text form) are rebuilt by a FULL refresh
 * at their next refresh once the catalog migration "row id formula 2" is applied, and are
 * maintained differentially, exactly, from then on; the same for migration "row id signs" (a
 * numeric part carries its sign) and "row ids of integer keys" (a scan of a source keyed by one
 * integer column takes the key as its id).
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';
import { upgradeAcross } from './support/upgrade.js';

const { db, trickle } = useTrickle();

const QUERIES: Record<string, { query: string; columns: string }> = {
  'up.agg': { query: 'SELECT g, count(*) AS n, sum(v) AS s FROM up.t GROUP BY g', columns: 'g' },
  'up.dist': { query: 'SELECT DISTINCT g FROM up.t', columns: 'g' },
  'up.keyless': { query: 'SELECT g, v FROM up.k', columns: 'g, v' },
};

it('rebuilds stream tables stored under the earlier row-id formula, then maintains them differentially', async () => {
  await db.query(`CREATE SCHEMA up;
    CREATE TABLE up.t (id int PRIMARY KEY, g numeric, v int);
    CREATE TABLE up.k (g numeric, v int);
    INSERT INTO up.t SELECT i, (i % 3)::numeric / 2, i FROM generate_series(1, 12) i;
    INSERT INTO up.k SELECT (i % 3)::numeric / 2, i % 2 FROM generate_series(1, 12) i`);
  for (const [name, { query }] of Object.entries(QUERIES)) {
    await trickle().createStreamTable({ name, query, refreshMode: 'DIFFERENTIAL' });
  }

  // As an earlier version left them: ids by the earlier formula, catalog one migration behind.
  await upgradeAcross(db, 'row id formula 2', async (conn) => {
    await conn.query(`SET LOCAL session_replication_role = replica`);
    for (const [name, { columns }] of Object.entries(QUERIES)) {
      await conn.query(
        `UPDATE ${name}__pgt_storage SET __pgt_row_id = pg_catalog.hashtextextended((ROW(${columns}))::text, 0)`,
      );
    }
    await conn.query(`UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = false`);
  });
  const flagged = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pgtrickle.pgt_stream_tables WHERE needs_reinit`,
  );
  expect(flagged.rows[0]?.n).toBe(Object.keys(QUERIES).length);

  await db.query(`UPDATE up.t SET g = g * 2 WHERE id <= 4; DELETE FROM up.t WHERE id = 12;
    DELETE FROM up.k WHERE ctid = (SELECT min(ctid) FROM up.k); INSERT INTO up.k VALUES (0.50, 1)`);
  for (const [name, { query }] of Object.entries(QUERIES)) {
    const first = await trickle().refresh(name);
    expect(first.action).toBe('FULL');
    await expectTableEqualsQuery(db, name, query);
  }

  await db.query(`UPDATE up.t SET g = 1.00 WHERE id IN (5, 6); DELETE FROM up.k WHERE v = 0;
    INSERT INTO up.t VALUES (40, 0.5, 1), (41, 0.50, 2)`);
  for (const [name, { query }] of Object.entries(QUERIES)) {
    const next = await trickle().refresh(name);
    expect(next.action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, name, query);
  }
});

it('rebuilds stream tables stored before numeric row id parts carried their sign', async () => {
  const query = 'SELECT DISTINCT n FROM sg.t';
  await db.query(`CREATE SCHEMA sg; CREATE TABLE sg.t (id int PRIMARY KEY, n numeric);
    INSERT INTO sg.t VALUES (1, 1), (2, 2.5), (3, 'NaN')`);
  await trickle().createStreamTable({ name: 'sg.st', query, refreshMode: 'DIFFERENTIAL' });
  // As an earlier version left it: ids by the sign-blind numeric hash, catalog one migration behind.
  await upgradeAcross(db, 'row id signs', async (conn) => {
    await conn.query(`SET LOCAL session_replication_role = replica`);
    await conn.query(
      `UPDATE sg.st__pgt_storage SET __pgt_row_id = pg_catalog.hash_record_extended(ROW(n), 7919)`,
    );
    await conn.query(`UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = false`);
  });
  await db.query(`INSERT INTO sg.t VALUES (4, -1), (5, -2.50), (6, 'Infinity'), (7, '-Infinity')`);
  const first = await trickle().refresh('sg.st');
  expect(first.action).toBe('FULL');
  await expectTableEqualsQuery(db, 'sg.st', query);
  await db.query(`DELETE FROM sg.t WHERE id IN (1, 6); INSERT INTO sg.t VALUES (8, 1.0), (9, -2.5)`);
  expect((await trickle().refresh('sg.st')).action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'sg.st', query);
});

it('rebuilds stream tables stored before a key of one integer column was its own row id', async () => {
  const query = 'SELECT o.id, o.v, c.name FROM ik.o AS o JOIN ik.c AS c ON c.id = o.cid';
  await db.query(`CREATE SCHEMA ik;
    CREATE TABLE ik.c (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE ik.o (id bigint PRIMARY KEY, cid int NOT NULL, v int NOT NULL);
    INSERT INTO ik.c SELECT g, 'c' || g FROM generate_series(1, 5) g;
    INSERT INTO ik.o SELECT g, 1 + g % 5, g FROM generate_series(1, 20) g`);
  await trickle().createStreamTable({ name: 'ik.st', query, refreshMode: 'DIFFERENTIAL' });
  // As an earlier version left it: each scan's id a hash of its key, the join's a hash of the two.
  await upgradeAcross(db, 'row ids of integer keys', async (conn) => {
    await conn.query(`SET LOCAL session_replication_role = replica`);
    await conn.query(`UPDATE ik.st__pgt_storage AS s SET __pgt_row_id = pg_catalog.hashtextextended((ROW(
        pg_catalog.hashtextextended((ROW(o.id))::text, 7919), pg_catalog.hashtextextended((ROW(o.cid))::text, 7919)))::text, 7919)
      FROM ik.o AS o WHERE o.id = s.id`);
    await conn.query(`UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = false`);
  });
  await db.query(`UPDATE ik.o SET v = v + 100 WHERE id <= 5; DELETE FROM ik.o WHERE id = 20`);
  const first = await trickle().refresh('ik.st');
  expect(first.action).toBe('FULL');
  await expectTableEqualsQuery(db, 'ik.st', query);
  await db.query(`UPDATE ik.o SET cid = 1 WHERE id IN (6, 7); DELETE FROM ik.o WHERE id = 8;
    INSERT INTO ik.o VALUES (30, 2, 1); UPDATE ik.c SET name = 'renamed' WHERE id = 3`);
  expect((await trickle().refresh('ik.st')).action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'ik.st', query);
});
