/**
 * IMMEDIATE apply of linear deltas (dvm plan/immediate-apply.ts): a join of keyed sources is
 * maintained without consolidation — INSERT and DELETE statements apply their rows directly, an
 * UPDATE by one MERGE by id — including updates that change a row's id (a new join partner, a
 * row leaving or entering the filter), statements on either source, and sessions whose first
 * statement is large or small (each size has its own copy of the apply statement and plan). A
 * one-row UPDATE that leaves the columns deciding the row's ids and partners unchanged is applied
 * by an UPDATE of the storage in place (on the stored row's page: the storage keeps room), any
 * other by the MERGE; key columns whose equal values may have other images (numeric) are compared
 * by image. The table equals its query after every statement.
 */
import { IMMEDIATE_LOCK_CLASS, IMMEDIATE_SMALL_ROWS } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { IMMEDIATE_STORAGE_FILLFACTOR } from '../src/stream-tables/immediate.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

const LARGE = IMMEDIATE_SMALL_ROWS * 3;

describe('IMMEDIATE: linear deltas', () => {
  it('keeps a filtered join exact through id-changing updates, deletes and inserts of any size, in sessions starting small or large', async () => {
    await db.query(`CREATE SCHEMA la;
      CREATE TABLE la.d (id int PRIMARY KEY, name text NOT NULL);
      CREATE TABLE la.b (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL);
      INSERT INTO la.d SELECT g, 'n' || g FROM generate_series(1, 50) g;
      INSERT INTO la.b SELECT g, 1 + g % 60, g FROM generate_series(1, ${LARGE * 2}) g;`);
    const query = 'SELECT b.id, b.v, d.name FROM la.b AS b JOIN la.d AS d ON d.id = b.k WHERE b.v % 7 <> 0';
    await trickle().createStreamTable({ name: 'la.st', query, refreshMode: 'IMMEDIATE' });
    await expectTableEqualsQuery(db, 'la.st', query);
    const statements = (round: number) => [
      'UPDATE la.b SET v = v + 1 WHERE id = 5', // same id, new value (or leaves / enters the filter)
      'UPDATE la.b SET k = k + 1 WHERE id = 6', // a new partner: a new id
      'UPDATE la.b SET k = 55 WHERE id = 7', // no partner any more: a lone −1
      'UPDATE la.b SET k = 3 WHERE id = 7', // a partner again: a lone +1
      `UPDATE la.b SET v = v + 1, k = CASE WHEN id % 3 = 0 THEN 1 + (k + 7) % 60 ELSE k END WHERE id <= ${LARGE}`,
      "UPDATE la.d SET name = name || '!' WHERE id = 4",
      "UPDATE la.d SET name = name || '?'",
      'DELETE FROM la.b WHERE id = 9',
      `DELETE FROM la.b WHERE id > ${LARGE * 2 - LARGE / 2}`,
      `INSERT INTO la.b VALUES (${100000 + round}, 2, 3)`,
      `INSERT INTO la.b SELECT g, 1 + g % 60, g FROM generate_series(${200000 * (round + 1)}, ${200000 * (round + 1) + LARGE}) g`,
      'DELETE FROM la.d WHERE id = 2',
      `INSERT INTO la.d VALUES (${55 + round}, 'n')`,
      'UPDATE la.b SET id = id + 1000000 WHERE id BETWEEN 10 AND 12',
    ];
    // One session runs them as listed (small first), another large first.
    const second = statements(1);
    for (const order of [statements(0), [...second.slice(4), ...second.slice(0, 4)]]) {
      const c = await db.client();
      for (const s of order) {
        await c.query(s);
        await expectTableEqualsQuery(db, 'la.st', query);
      }
    }
  });

  it('holds the table lock to the end of the transaction, takes it again after a rollback to a savepoint released it, and marks the maintainer once', async () => {
    await db.query(`CREATE SCHEMA lk;
      CREATE TABLE lk.d (id int PRIMARY KEY, name text);
      CREATE TABLE lk.b (id int PRIMARY KEY, k int);
      INSERT INTO lk.d VALUES (1, 'a'), (2, 'b');
      INSERT INTO lk.b SELECT g, 1 + g % 2 FROM generate_series(1, 10) g;`);
    const query = 'SELECT b.id, d.name FROM lk.b AS b JOIN lk.d AS d ON d.id = b.k';
    await trickle().createStreamTable({ name: 'lk.st', query, refreshMode: 'IMMEDIATE' });
    const c = await db.client();
    const id = Number(
      (
        await db.query(
          `SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'st' AND schema_name = 'lk'`,
        )
      ).rows[0]?.pgt_id,
    );
    // The table's advisory lock as this session holds it, and the flag that remembers it.
    const held = async () =>
      (
        await c.query(
          `SELECT (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
                     AND classid = $1::oid AND objid = $2::oid AND objsubid = 2 AND granted) AS locks,
                  COALESCE(current_setting('pgtrickle.ivm_locked_' || $2, true), '') AS flag,
                  pg_sequence_last_value(format('pgtrickle_changes.ivm_%s_last', $2)::regclass) = pg_current_xact_id()::text::bigint AS marked`,
          [IMMEDIATE_LOCK_CLASS, id],
        )
      ).rows[0];
    await c.query('BEGIN');
    await c.query('SAVEPOINT s');
    await c.query('UPDATE lk.b SET k = 2 WHERE id = 1');
    expect(await held()).toEqual({ locks: 1, flag: 'marked', marked: true });
    await c.query('ROLLBACK TO SAVEPOINT s');
    // the rollback released the lock and the flag; the marker (not transactional) stays
    expect(await held()).toEqual({ locks: 0, flag: '', marked: true });
    for (let i = 2; i <= 6; i++) await c.query(`UPDATE lk.b SET k = 1 WHERE id = ${i}`);
    await c.query(`UPDATE lk.d SET name = 'z' WHERE id = 1`);
    expect(await held()).toEqual({ locks: 1, flag: 'marked', marked: true });
    await expectTableEqualsQuery(c, 'lk.st', query);
    await c.query('COMMIT');
    await expectTableEqualsQuery(db, 'lk.st', query);
  });

  it('applies a one-row UPDATE that keeps its key, join and filter columns in place, any other by the MERGE', async () => {
    await db.query(`CREATE SCHEMA ip;
      CREATE TABLE ip.d (id int PRIMARY KEY, name text NOT NULL);
      CREATE TABLE ip.b (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL, f boolean NOT NULL, note text);
      INSERT INTO ip.d SELECT g, 'n' || g FROM generate_series(1, 20) g;
      INSERT INTO ip.b SELECT g, 1 + g % 20, g, g % 5 <> 0, NULL FROM generate_series(1, 100) g;`);
    // The join column reaches the join through a projection (kk), the filter reads f.
    const query =
      'SELECT x.id, x.w, d.name FROM (SELECT b.id, b.k + 0 AS kk, b.v * 2 AS w, b.f FROM ip.b AS b) AS x JOIN ip.d AS d ON d.id = x.kk WHERE x.f';
    await trickle().createStreamTable({ name: 'ip.st', query, refreshMode: 'IMMEDIATE' });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const plans: string[] = [];
    c.on('notice', (n) => plans.push(String(n.message)));
    try {
      await c.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;
        SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice`);
      /** How the statement `statement` changed the storage: 'update' (in place), 'merge', or 'none'. */
      const applied = async (statement: string): Promise<string> => {
        plans.length = 0;
        await c.query(statement);
        await expectTableEqualsQuery(db, 'ip.st', query);
        const text = plans.join('\n');
        if (/Merge on \S*st__pgt_storage/.test(text)) return 'merge';
        if (/Update on \S*st__pgt_storage/.test(text)) return 'update';
        return 'none';
      };
      expect(await applied('UPDATE ip.b SET v = v + 1 WHERE id = 3')).toBe('update');
      expect(await applied("UPDATE ip.b SET note = 'x' WHERE id = 4")).toBe('update'); // a column the query does not read
      expect(await applied('UPDATE ip.d SET name = name || $$!$$ WHERE id = 4')).toBe('update'); // five stored rows
      expect(await applied('UPDATE ip.b SET k = k + 1 WHERE id = 6')).toBe('merge'); // another partner
      expect(await applied('UPDATE ip.b SET f = NOT f WHERE id = 7')).toBe('merge'); // leaves the filter
      expect(await applied('UPDATE ip.b SET f = NOT f WHERE id = 7')).toBe('merge'); // enters it again
      expect(await applied('UPDATE ip.b SET id = 1000 WHERE id = 8')).toBe('merge'); // another row id
      expect(await applied('UPDATE ip.d SET id = 1000 WHERE id = 9')).toBe('merge'); // partners lose it
      expect(await applied('UPDATE ip.b SET v = v + 1 WHERE id IN (11, 12)')).toBe('merge'); // two rows
      expect(await applied('UPDATE ip.b SET k = 5 WHERE id = 5 AND false')).toBe('none'); // no row
      // In a transaction, rolled back to a savepoint, and after a source statement of two sources.
      await c.query('BEGIN');
      expect(await applied('UPDATE ip.b SET v = v + 1 WHERE id = 13')).toBe('update');
      await c.query('SAVEPOINT s');
      expect(await applied('UPDATE ip.b SET v = v + 1 WHERE id = 14')).toBe('update');
      await c.query('ROLLBACK TO SAVEPOINT s');
      await c.query(
        'WITH u AS (UPDATE ip.d SET name = name || $$?$$ WHERE id = 2 RETURNING id) UPDATE ip.b SET v = v + 1 WHERE id = 2',
      );
      await c.query('COMMIT');
      await expectTableEqualsQuery(db, 'ip.st', query);
    } finally {
      await c.end();
    }
  });

  it('compares key columns by image where equal values may differ (numeric), and rewrites stored rows on their page (HOT)', async () => {
    await db.query(`CREATE SCHEMA nk;
      CREATE TABLE nk.d (id numeric PRIMARY KEY, name text NOT NULL);
      CREATE TABLE nk.b (id int PRIMARY KEY, k numeric NOT NULL, v int NOT NULL);
      INSERT INTO nk.d SELECT g, 'n' || g FROM generate_series(1, 20) g;
      INSERT INTO nk.b SELECT g, 1 + g % 20, g FROM generate_series(1, 2000) g;`);
    const query = 'SELECT b.id, b.v, d.id AS did, d.name FROM nk.b AS b JOIN nk.d AS d ON d.id = b.k';
    await trickle().createStreamTable({ name: 'nk.st', query, refreshMode: 'IMMEDIATE' });
    const options = await db.query(
      `SELECT reloptions FROM pg_class WHERE oid = 'nk.st__pgt_storage'::regclass`,
    );
    expect(options.rows[0]?.reloptions).toEqual([`fillfactor=${IMMEDIATE_STORAGE_FILLFACTOR}`]);
    const c = await db.client();
    // A one-row UPDATE keeping its key, join and filter columns: its stored row rewritten on its
    // page, with no index entry added (the pages filled by the population kept room for it).
    await c.query('BEGIN');
    await c.query('UPDATE nk.b SET v = v + 1 WHERE id = 5');
    const hot = await c.query(
      `SELECT pg_stat_get_xact_tuples_updated('nk.st__pgt_storage'::regclass)::int AS updated,
              pg_stat_get_xact_tuples_hot_updated('nk.st__pgt_storage'::regclass)::int AS hot`,
    );
    expect(hot.rows[0]).toEqual({ updated: 1, hot: 1 });
    await c.query('COMMIT');
    await expectTableEqualsQuery(db, 'nk.st', query);
    // 2 → 2.00: equal numbers of another image, which the stream table shows as the query does
    // (the comparison of the table with its query reads numbers by value, so it is read as text).
    await c.query('UPDATE nk.d SET id = 2.00 WHERE id = 2');
    await expectTableEqualsQuery(db, 'nk.st', query);
    const shown = await db.query(`SELECT DISTINCT did::text AS did FROM nk.st WHERE name = 'n2'`);
    expect(shown.rows).toEqual([{ did: '2.00' }]);
    await c.query('UPDATE nk.b SET k = 3.0 WHERE id = 2');
    await expectTableEqualsQuery(db, 'nk.st', query);
    await c.query('DELETE FROM nk.b WHERE k = 2');
    await expectTableEqualsQuery(db, 'nk.st', query);
  });
});
