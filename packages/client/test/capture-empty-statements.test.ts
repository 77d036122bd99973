/**
 * A statement that touches no row costs capture only its trigger call (docs/capture.md, "The triggers"): its
 * capture function takes no change id, assigns the writer's transaction no id (so a transaction
 * that wrote nothing stays read-only) and wakes nobody — in typed and text buffers, through a
 * child written by column name too. A statement that writes rows is captured as before (ids per
 * statement, the old half of an UPDATE before the new one). An upgrade from the previous capture
 * functions keeps the pending changes, and the next refresh is DIFFERENTIAL and exact.
 */

import { SOURCE_DDL_EVENT_TRIGGER } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';
import { upgradeAcross } from './support/upgrade.js';

const { db, trickle } = useTrickle();

async function oidOf(table: string): Promise<number> {
  return Number((await db.query(`SELECT $1::regclass::oid::int AS o`, [table])).rows[0]?.o);
}

/** The last value of the change-id sequence of base table `oid`'s buffer. */
async function lastId(oid: number): Promise<bigint> {
  const res = await db.query(
    `SELECT last_value::text AS v FROM pgtrickle_changes.changes_${oid}_change_id_seq`,
  );
  return BigInt(String(res.rows[0]?.v));
}

/** A LISTEN connection on the wake-up channel, collecting payloads in arrival (commit) order. */
async function listener(): Promise<{ client: pg.Client; next: () => Promise<string> }> {
  const client = await db.client();
  const queue: string[] = [];
  const waiting: ((p: string) => void)[] = [];
  client.on('notification', (n) => {
    const p = n.payload ?? '';
    const w = waiting.shift();
    if (w) w(p);
    else queue.push(p);
  });
  await client.query('LISTEN pgtrickle_wake');
  return {
    client,
    next: () => {
      const p = queue.shift();
      return p !== undefined ? Promise.resolve(p) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/**
 * Runs statements touching no row of each table in `tables` in one transaction and checks that
 * the transaction got no id; the caller checks ids and wake-ups.
 */
async function emptyStatements(tables: readonly string[]): Promise<void> {
  const conn = await db.client();
  try {
    await conn.query('BEGIN');
    for (const t of tables) {
      await conn.query(`INSERT INTO ${t} SELECT * FROM ${t} WHERE false`);
      await conn.query(`UPDATE ${t} SET v = v + 1 WHERE false`);
      await conn.query(`DELETE FROM ${t} WHERE id < 0`);
      await conn.query(`MERGE INTO ${t} AS d USING (SELECT 1 AS id WHERE false) AS s ON d.id = s.id
        WHEN MATCHED THEN UPDATE SET v = d.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, 0)`);
    }
    const xid = await conn.query('SELECT pg_current_xact_id_if_assigned() AS x');
    expect(xid.rows[0]?.x).toBeNull();
    await conn.query('COMMIT');
  } finally {
    await conn.end();
  }
}

async function checkFormat(schema: string, format: 'typed' | 'text'): Promise<void> {
  const query = `SELECT id, v FROM ${schema}.t`;
  await db.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int PRIMARY KEY, v int);
    INSERT INTO ${schema}.t SELECT i, i FROM generate_series(1, 5) i;
    CREATE TABLE ${schema}.p (id int, v int); CREATE TABLE ${schema}.c (extra text) INHERITS (${schema}.p);
    INSERT INTO ${schema}.c VALUES (1, 1, 'x')`);
  await trickle().createStreamTable({ name: `${schema}.st`, query, refreshMode: 'DIFFERENTIAL' });
  const pquery = `SELECT id, v FROM ${schema}.p`;
  await trickle().createStreamTable({ name: `${schema}.sp`, query: pquery, refreshMode: 'DIFFERENTIAL' });
  const oid = await oidOf(`${schema}.t`);
  const poid = await oidOf(`${schema}.p`);
  const formats = await db.query(
    `SELECT DISTINCT format FROM pgtrickle_changes.capture_state WHERE source_oid = ANY ($1)`,
    [[oid, poid]],
  );
  expect(formats.rows).toEqual([{ format }]);
  const before = [await lastId(oid), await lastId(poid)];
  const wake = await listener();
  try {
    // The inheritance child is written by column name in text buffers.
    await emptyStatements([`${schema}.t`, `${schema}.p`, `${schema}.c`]);
    expect([await lastId(oid), await lastId(poid)]).toEqual(before);
    // Wake-ups arrive in commit order: the first one is the marker sent after the empty statements.
    await db.query(`NOTIFY pgtrickle_wake, 'marker'`);
    expect(await wake.next()).toBe('marker');

    // Statements that write rows are captured (and wake the scheduler) as before.
    await db.query(`UPDATE ${schema}.t SET v = v * 10 WHERE id <= 2`);
    expect(await wake.next()).toBe('');
    await db.query(`UPDATE ${schema}.c SET v = v + 1`);
    expect(await wake.next()).toBe('');
  } finally {
    await wake.client.end();
  }
  const halves = await db.query(
    `SELECT action::text AS a, count(*)::int AS n, min(change_id)::text AS lo, max(change_id)::text AS hi
       FROM pgtrickle_changes.changes_${oid} GROUP BY 1 ORDER BY 1`,
  );
  expect(halves.rows.map((r) => [r.a, r.n])).toEqual([
    ['D', 2],
    ['I', 2],
  ]);
  // One id per half, the old rows' before the new rows'.
  const [d, i] = halves.rows;
  expect(d?.lo).toBe(d?.hi);
  expect(i?.lo).toBe(i?.hi);
  expect(BigInt(String(d?.hi)) < BigInt(String(i?.lo))).toBe(true);
  expect((await trickle().refresh(`${schema}.st`)).action).toBe('DIFFERENTIAL');
  expect((await trickle().refresh(`${schema}.sp`)).action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, `${schema}.st`, query);
  await expectTableEqualsQuery(db, `${schema}.sp`, pquery);
}

/** The statement capture functions of `oid` as the previous catalog version wrote them. */
function previousCapture(oid: number): string {
  const buf = `pgtrickle_changes.changes_${oid}`;
  const seq = `pg_catalog.nextval('pgtrickle_changes.changes_${oid}_change_id_seq'::pg_catalog.regclass)`;
  const ins = (action: string, rel: string) =>
    `pgt.s := ${seq}; INSERT INTO ${buf} (change_id, xid, action, c1, c2) SELECT pgt.s, pgt.x, '${action}', n.id, n.v FROM "${rel}" AS n;`;
  const fn = (ev: string, body: string) => `
    CREATE OR REPLACE FUNCTION pgtrickle_changes.capture_${ev}_${oid}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $f$
    <<pgt>> DECLARE x pg_catalog.xid8 := pg_catalog.pg_current_xact_id(); s pg_catalog.int8;
    BEGIN ${body} PERFORM pg_catalog.pg_notify('pgtrickle_wake', ''); RETURN NULL; END $f$;`;
  return `${fn('ins', ins('I', '__pgt_new'))}
    ${fn('upd', ins('D', '__pgt_old') + ins('I', '__pgt_new'))}
    ${fn('del', ins('D', '__pgt_old'))}`;
}

describe('statements touching no row', () => {
  it('cost typed capture no id, no transaction id and no wake-up', async () => {
    await checkFormat('et', 'typed');
  });

  it('upgrade: the capture functions are rewritten in place, pending changes kept', async () => {
    const query = 'SELECT id, v FROM eu.t';
    await db.query(`CREATE SCHEMA eu; CREATE TABLE eu.t (id int PRIMARY KEY, v int);
      INSERT INTO eu.t SELECT i, i FROM generate_series(1, 6) i`);
    await trickle().createStreamTable({ name: 'eu.st', query, refreshMode: 'DIFFERENTIAL' });
    const oid = await oidOf('eu.t');
    const shape = async () =>
      (
        await db.query(
          `SELECT shape_version::int AS v FROM pgtrickle_changes.capture_state WHERE source_oid = $1`,
          [oid],
        )
      ).rows[0]?.v;
    const shapeBefore = await shape();
    await upgradeAcross(db, 'capture skips empty statements', async (conn) => {
      await conn.query(previousCapture(oid));
      // Pending changes written by the previous functions.
      await conn.query(
        `INSERT INTO eu.t VALUES (100, 1); UPDATE eu.t SET v = v + 1 WHERE id <= 3; DELETE FROM eu.t WHERE id = 6`,
      );
    });
    const fns = await db.query(
      `SELECT count(*)::int AS n FROM pg_catalog.pg_proc
        WHERE pronamespace = 'pgtrickle_changes'::regnamespace AND proname = ANY ($1)
          AND prosrc LIKE '%(SELECT pg_catalog.nextval(%' AND prosrc LIKE '%IF pgt.k > 0 THEN%'`,
      [['ins', 'upd', 'del'].map((e) => `capture_${e}_${oid}`)],
    );
    expect(fns.rows[0]?.n).toBe(3);
    expect(await shape()).toBe(shapeBefore);
    const before = await lastId(oid);
    await emptyStatements(['eu.t']);
    expect(await lastId(oid)).toBe(before);
    await db.query(`UPDATE eu.t SET v = v * 2 WHERE id IN (2, 100); DELETE FROM eu.t WHERE id = 3`);
    expect((await trickle().refresh('eu.st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'eu.st', query);
  });

  it('cost text capture no id, no transaction id and no wake-up', async () => {
    await db.query(`DROP EVENT TRIGGER IF EXISTS "${SOURCE_DDL_EVENT_TRIGGER}"`);
    await checkFormat('ex', 'text');
  });
});
