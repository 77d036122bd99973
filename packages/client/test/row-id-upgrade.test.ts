/**
 * Upgrading across the row-id formula change (docs/dvm-design.md §2): stream tables whose storage
 * holds ids of the earlier formula (a hash of the row's text form) are rebuilt by a FULL refresh
 * at their next refresh once the catalog migration "row id formula 2" is applied, and are
 * maintained differentially, exactly, from then on; the same for migration "row id signs" (a
 * numeric part carries its sign).
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
