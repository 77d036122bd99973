/**
 * Upgrading across the capture change (catalog migration "capture by capture_sync"): a source
 * captured the way catalog version 4 did it (a jsonb buffer `changes_<oid>` filled by four
 * statement triggers calling `to_jsonb(row)`) gets its capture rebuilt by `capture_sync` in the
 * upgrade's transaction; its stream tables recompute once (the pending jsonb rows are not read) and
 * are maintained differentially, exactly, from then on.
 */
import { SOURCE_DDL_EVENT_TRIGGER } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { expect, it } from 'vitest';
import { MIGRATIONS } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

const QUERY = 'SELECT g, count(*) AS n, sum(v) AS s FROM cu.t GROUP BY g';

/** Capture of `table` (oid `oid`) as catalog version 4 installed it. */
function legacyCapture(oid: number, table: string): string {
  const fn = (ev: string, body: string) => `
    CREATE FUNCTION pgtrickle_changes.capture_${ev}_${oid}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
      SET search_path = pg_catalog, pg_temp AS $f$ BEGIN ${body} PERFORM pg_catalog.pg_notify('pgtrickle_wake', ''); RETURN NULL; END $f$;`;
  const ins = (action: string, rel: string) =>
    `INSERT INTO pgtrickle_changes.changes_${oid} (action, data) SELECT '${action}', pg_catalog.to_jsonb(r.*) FROM ${rel} AS r;`;
  return `
    CREATE TABLE pgtrickle_changes.changes_${oid} (change_id bigserial NOT NULL,
      xid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(), action "char" NOT NULL, data jsonb);
    CREATE INDEX changes_${oid}_window ON pgtrickle_changes.changes_${oid} (xid);
    ${fn('ins', ins('I', '__pgt_new'))}
    ${fn('upd', ins('D', '__pgt_old') + ins('I', '__pgt_new'))}
    ${fn('del', ins('D', '__pgt_old'))}
    ${fn('trunc', `INSERT INTO pgtrickle_changes.changes_${oid} (action) VALUES ('T');`)}
    CREATE TRIGGER pgtrickle_ins_${oid} AFTER INSERT ON ${table} REFERENCING NEW TABLE AS __pgt_new
      FOR EACH STATEMENT EXECUTE FUNCTION pgtrickle_changes.capture_ins_${oid}();
    CREATE TRIGGER pgtrickle_upd_${oid} AFTER UPDATE ON ${table} REFERENCING OLD TABLE AS __pgt_old NEW TABLE AS __pgt_new
      FOR EACH STATEMENT EXECUTE FUNCTION pgtrickle_changes.capture_upd_${oid}();
    CREATE TRIGGER pgtrickle_del_${oid} AFTER DELETE ON ${table} REFERENCING OLD TABLE AS __pgt_old
      FOR EACH STATEMENT EXECUTE FUNCTION pgtrickle_changes.capture_del_${oid}();
    CREATE TRIGGER pgtrickle_trunc_${oid} AFTER TRUNCATE ON ${table}
      FOR EACH STATEMENT EXECUTE FUNCTION pgtrickle_changes.capture_trunc_${oid}();`;
}

it('rebuilds capture installed by catalog version 4, recomputes once, then stays exact and differential', async () => {
  const migration = MIGRATIONS.find((m) => m.name.startsWith('capture by capture_sync'));
  expect(migration).toBeDefined();
  await db.query(`CREATE SCHEMA cu; CREATE TABLE cu.t (id int PRIMARY KEY, g text, v numeric);
    INSERT INTO cu.t SELECT i, 'g' || (i % 3), i * 1.5 FROM generate_series(1, 12) i`);
  await trickle().createStreamTable({ name: 'cu.st', query: QUERY, refreshMode: 'DIFFERENTIAL' });
  const oid = Number((await db.query(`SELECT 'cu.t'::regclass::oid::int AS o`)).rows[0]?.o);

  // As version 4 left it: jsonb capture, no capture_state, the catalog one migration behind.
  await db.query(`SELECT pgtrickle_changes.capture_drop(${oid})`);
  await db.query(legacyCapture(oid, 'cu.t'));
  await db.query(`DELETE FROM pgtrickle.pgt_schema_version WHERE version = ${migration?.version}`);
  await db.query(`UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = false`);
  // Writes captured the old way, not yet refreshed.
  await db.query(`INSERT INTO cu.t VALUES (100, 'g1', 7); UPDATE cu.t SET v = v + 1 WHERE id < 4`);
  const legacyRows = await db.query(`SELECT count(*)::int AS n FROM pgtrickle_changes.changes_${oid}`);
  expect(legacyRows.rows[0]?.n).toBeGreaterThan(0);

  const upgrade = await trickle().install();
  expect(upgrade.applied).toEqual([migration?.version]);
  const state = await db.query(`SELECT format FROM pgtrickle_changes.capture_state WHERE source_oid = $1`, [
    oid,
  ]);
  const typed = await db.query('SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = $1', [
    SOURCE_DDL_EVENT_TRIGGER,
  ]);
  expect(state.rows).toEqual([{ format: typed.rows.length === 1 ? 'typed' : 'text' }]);
  const jsonbLeft = await db.query(
    `SELECT count(*)::int AS n FROM pg_catalog.pg_proc WHERE pronamespace = 'pgtrickle_changes'::regnamespace AND prosrc LIKE '%to_jsonb%'`,
  );
  expect(jsonbLeft.rows[0]?.n).toBe(0);

  const first = await trickle().refresh('cu.st');
  expect(first.action).toMatch(/FULL|REINITIALIZE/);
  await expectTableEqualsQuery(db, 'cu.st', QUERY);
  await db.query(
    `INSERT INTO cu.t VALUES (101, 'g2', 1); DELETE FROM cu.t WHERE id = 5; UPDATE cu.t SET g = 'g9' WHERE id = 6`,
  );
  expect((await trickle().refresh('cu.st')).action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'cu.st', QUERY);
});
