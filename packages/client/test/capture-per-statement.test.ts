/**
 * Capture per statement (docs/capture.md, "What a captured row holds"): a capture function takes
 * one change id and the transaction id per statement (per half of an UPDATE), the base buffer has
 * no index, and typed capture functions run without a pinned search_path because every name in
 * them is qualified. Checked here: an upgrade from capture that wrote ids per row (with an (xid)
 * index) keeps the pending changes and their order, so the next refresh is DIFFERENTIAL and exact;
 * a writer's search_path cannot reach anything a capture function calls; columns named like the
 * functions' variables are captured like any other.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { expect, it } from 'vitest';
import { cleanupBuffers, MIGRATIONS } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

async function oidOf(table: string): Promise<number> {
  return Number((await db.query(`SELECT $1::regclass::oid::int AS o`, [table])).rows[0]?.o);
}

async function formatOf(oid: number): Promise<string> {
  const res = await db.query(`SELECT format FROM pgtrickle_changes.capture_state WHERE source_oid = $1`, [
    oid,
  ]);
  return String(res.rows[0]?.format);
}

/**
 * The insert, update and delete capture functions of `oid` as the previous catalog version wrote
 * them (change id and xid from column defaults, one per row; search_path pinned), and its index.
 */
function perRowCapture(oid: number, format: string, columns: readonly string[]): string {
  const buf = `pgtrickle_changes.changes_${oid}`;
  const targets = format === 'typed' ? columns.map((_, i) => `c${i + 1}`).join(', ') : 'data';
  const vals = format === 'typed' ? columns.map((c) => `n.${c}`).join(', ') : '(n.*)::text';
  const ins = (action: string, rel: string) =>
    `INSERT INTO ${buf} (action, ${targets}) SELECT '${action}', ${vals} FROM ${rel} AS n;`;
  const fn = (ev: string, body: string) => `
    CREATE OR REPLACE FUNCTION pgtrickle_changes.capture_${ev}_${oid}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
      SET search_path = pg_catalog, pg_temp AS $f$ BEGIN ${body} PERFORM pg_catalog.pg_notify('pgtrickle_wake', ''); RETURN NULL; END $f$;`;
  return `
    CREATE INDEX changes_${oid}_window ON ${buf} (xid);
    ${fn('ins', ins('I', '__pgt_new'))}
    ${fn('upd', ins('D', '__pgt_old') + ins('I', '__pgt_new'))}
    ${fn('del', ins('D', '__pgt_old'))}`;
}

it('upgrades per-row capture in place: pending changes kept in order, the next refresh differential and exact', async () => {
  const migration = MIGRATIONS.find((m) => m.name === 'capture per statement');
  expect(migration).toBeDefined();
  const query = 'SELECT g, count(*) AS n, sum(v) AS s FROM ps.t GROUP BY g';
  await db.query(`CREATE SCHEMA ps; CREATE TABLE ps.t (id int PRIMARY KEY, g text, v numeric);
    INSERT INTO ps.t SELECT i, 'g' || (i % 3), i * 1.5 FROM generate_series(1, 12) i`);
  await trickle().createStreamTable({ name: 'ps.st', query, refreshMode: 'DIFFERENTIAL' });
  const oid = await oidOf('ps.t');
  const format = await formatOf(oid);

  // As the previous version left it: ids per row, an (xid) index, the catalog one migration behind.
  await db.query(perRowCapture(oid, format, ['id', 'g', 'v']));
  await db.query(`DELETE FROM pgtrickle.pgt_schema_version WHERE version = ${migration?.version}`);
  // Pending writes captured the old way: key 200 inserted, keys 1–3 updated.
  await db.query(`INSERT INTO ps.t VALUES (200, 'g1', 7); UPDATE ps.t SET v = v + 1 WHERE id < 4`);
  const before = await db.query(`SELECT max(change_id)::int8 AS m FROM pgtrickle_changes.changes_${oid}`);

  const upgrade = await trickle().install();
  expect(upgrade.applied).toEqual([migration?.version]);
  const index = await db.query(`SELECT to_regclass($1) AS i`, [`pgtrickle_changes.changes_${oid}_window`]);
  expect(index.rows[0]?.i).toBeNull();
  const fns = await db.query(
    `SELECT proname::text AS name, prosrc LIKE '%(SELECT pg_catalog.nextval(%' AS per_statement, proconfig IS NULL AS unpinned
       FROM pg_catalog.pg_proc WHERE pronamespace = 'pgtrickle_changes'::regnamespace AND proname = ANY ($1) ORDER BY 1`,
    [['ins', 'upd', 'del'].map((e) => `capture_${e}_${oid}`)],
  );
  expect(fns.rows).toEqual(
    ['del', 'ins', 'upd'].map((e) => ({
      name: `capture_${e}_${oid}`,
      per_statement: true,
      unpinned: format === 'typed',
    })),
  );

  // The same keys written again under the new capture: the window mixes both numberings.
  await db.query(`DELETE FROM ps.t WHERE id = 200; INSERT INTO ps.t VALUES (200, 'g2', 9);
    UPDATE ps.t SET v = v * 2, g = 'g0' WHERE id IN (2, 3); DELETE FROM ps.t WHERE id = 3`);
  const after = await db.query(
    `SELECT min(change_id)::int8 AS lo, count(DISTINCT change_id)::int AS ids, count(*)::int AS n
       FROM pgtrickle_changes.changes_${oid} WHERE change_id > $1`,
    [before.rows[0]?.m],
  );
  // Four statements, the UPDATE in two halves: five ids for 1 + 1 + 2 + 2 + 1 rows.
  expect(after.rows[0]).toMatchObject({ ids: 5, n: 7 });
  expect(BigInt(String(after.rows[0]?.lo))).toBeGreaterThan(BigInt(String(before.rows[0]?.m)));

  expect((await trickle().refresh('ps.st')).action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'ps.st', query);
});

it("a writer's search_path reaches nothing a capture function calls", async () => {
  const query = 'SELECT id, v FROM sp.t';
  await db.query(`CREATE SCHEMA sp; CREATE TABLE sp.t (id int PRIMARY KEY, v int);
    CREATE SCHEMA evil;
    CREATE FUNCTION evil.boom() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'evil code ran'; END $$;
    CREATE FUNCTION evil.nextval(regclass) RETURNS bigint LANGUAGE sql AS $$ SELECT evil.boom() $$;
    CREATE FUNCTION evil.pg_current_xact_id() RETURNS xid8 LANGUAGE sql AS $$ SELECT evil.boom()::text::xid8 $$;
    CREATE FUNCTION evil.pg_notify(text, text) RETURNS void LANGUAGE sql AS $$ SELECT evil.boom(); $$;
    CREATE FUNCTION evil.plus(bigint, bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT evil.boom() $$;
    CREATE OPERATOR evil.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.plus);
    CREATE TABLE evil.__pgt_new (id int, v int);
    GRANT USAGE ON SCHEMA evil TO PUBLIC`);
  await trickle().createStreamTable({ name: 'sp.st', query, refreshMode: 'DIFFERENTIAL' });
  const conn = await db.pool.connect();
  try {
    await conn.query(`SET search_path = evil, pg_catalog, public`);
    await conn.query(`INSERT INTO sp.t VALUES (1, 10), (2, 20)`);
    await conn.query(`UPDATE sp.t SET v = v + 1 WHERE id = 1`);
    await conn.query(`DELETE FROM sp.t WHERE id = 2`);
    await conn.query(`TRUNCATE sp.t`);
    await conn.query(`INSERT INTO sp.t VALUES (3, 30)`);
  } finally {
    conn.release();
  }
  const oid = await oidOf('sp.t');
  const rows = await db.query(
    `SELECT action::text AS a, count(*)::int AS n FROM pgtrickle_changes.changes_${oid} GROUP BY 1 ORDER BY 1`,
  );
  expect(rows.rows).toEqual([
    { a: 'D', n: 2 },
    { a: 'I', n: 4 },
    { a: 'T', n: 1 },
  ]);
  await trickle().refresh('sp.st');
  await expectTableEqualsQuery(db, 'sp.st', query);
});

it("captures columns named like the capture functions' variables and label", async () => {
  const query = 'SELECT x, s, pgt, k, sum(n) AS n FROM vn.t GROUP BY x, s, pgt, k';
  await db.query(
    `CREATE SCHEMA vn; CREATE TABLE vn.t (id int PRIMARY KEY, x int, s text, pgt bigint, n int, k int)`,
  );
  await trickle().createStreamTable({ name: 'vn.st', query, refreshMode: 'DIFFERENTIAL' });
  await db.query(`INSERT INTO vn.t SELECT i, i % 2, 's' || (i % 3), i % 4, i, i % 5 FROM generate_series(1, 20) i;
    UPDATE vn.t SET x = x + 1, n = n * 2 WHERE id % 5 = 0; DELETE FROM vn.t WHERE id % 7 = 0`);
  expect((await trickle().refresh('vn.st')).action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'vn.st', query);
});

it('gives a buffer its xid index while a lagging consumer keeps it large, and drops it once caught up', async () => {
  const fastQuery = 'SELECT v % 3 AS g, count(*) AS n, sum(v) AS s FROM lg.t GROUP BY 1';
  const slowQuery = 'SELECT id, v FROM lg.t';
  await db.query(`CREATE SCHEMA lg; CREATE TABLE lg.t (id int PRIMARY KEY, v int)`);
  await trickle().createStreamTable({ name: 'lg.fast', query: fastQuery, refreshMode: 'DIFFERENTIAL' });
  await trickle().createStreamTable({ name: 'lg.slow', query: slowQuery, refreshMode: 'DIFFERENTIAL' });
  const oid = await oidOf('lg.t');
  const index = `pgtrickle_changes.changes_${oid}_window`;
  const indexed = async () => (await db.query(`SELECT to_regclass($1) IS NOT NULL AS i`, [index])).rows[0]?.i;
  const target = { kind: 'table' as const, oid, pgtId: null };

  await db.query(`INSERT INTO lg.t SELECT i, i FROM generate_series(1, 60) i`);
  await trickle().refresh('lg.fast');
  // The slow consumer keeps all 60 rows: under the default bound no index, over a bound of 50 one.
  await cleanupBuffers(trickle().db, [target]);
  expect(await indexed()).toBe(false);
  await cleanupBuffers(trickle().db, [target], { create: 50, drop: 10 });
  expect(await indexed()).toBe(true);
  // Re-running the generator (as source DDL does) leaves the index alone.
  await db.query(`SELECT pgtrickle_changes.capture_sync($1::oid, NULL)`, [oid]);
  expect(await indexed()).toBe(true);

  // Capture and refreshes work the same with the index.
  await db.query(`UPDATE lg.t SET v = v * 2 WHERE id % 4 = 0; DELETE FROM lg.t WHERE id % 5 = 0`);
  expect((await trickle().refresh('lg.fast')).action).toBe('DIFFERENTIAL');
  await cleanupBuffers(trickle().db, [target], { create: 50, drop: 10 });
  expect(await indexed()).toBe(true);
  expect((await trickle().refresh('lg.slow')).action).toBe('DIFFERENTIAL');
  // Both caught up: the refresh's own cleanup emptied the buffer and dropped the index.
  const left = await db.query(`SELECT count(*)::int AS n FROM pgtrickle_changes.changes_${oid}`);
  expect(left.rows[0]?.n).toBe(0);
  expect(await indexed()).toBe(false);
  await expectTableEqualsQuery(db, 'lg.fast', fastQuery);
  await expectTableEqualsQuery(db, 'lg.slow', slowQuery);
});
