/**
 * The statements of a DIFFERENTIAL `refresh()` whose owner is the connection's role, once its plan
 * is cached: the opening read, BEGIN with the lock and the preflight (one round trip, `refresh-open.ts`;
 * the preflight also reads
 * the window, checks the view's readers against the storage's and sets the owner's search_path),
 * the one delta statement, the record (which also sets the caller's search_path again and trims the
 * change buffer the delta read: no cleanup after commit) sent with COMMIT in one round trip (a record
 * that fails commits nothing) — no separate window inspection,
 * reader mirror check or search_path restore. What the preflight reads still decides: a TRUNCATE in
 * the window refreshes FULL, a new reader of the view is mirrored onto the storage, and the result
 * stays equal to the query. An AUTO table makes the same round trips: the history its cost model
 * reads comes with the preflight.
 */
import { randomBytes } from 'node:crypto';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparedName } from '../src/prepared.js';
import { useTrickle } from './support/setup.js';
import { recorded } from './support/statements.js';

const { db, trickle } = useTrickle();

const QUERY = 'SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM rt_src GROUP BY k';
const READER = `rt_reader_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  await db.query('CREATE TABLE rt_src (id int PRIMARY KEY, k int NOT NULL, v numeric(10,2) NOT NULL)');
  await db.query('INSERT INTO rt_src SELECT g, g % 7, g * 1.5 FROM generate_series(1, 200) g');
  await trickle().createStreamTable({ name: 'rt_st', query: QUERY, refreshMode: 'DIFFERENTIAL' });
  await db.query(`CREATE ROLE ${READER}`);
  // A first refresh with changes caches the plan and learns that the owner is the connection's role.
  await db.query('UPDATE rt_src SET v = v + 1 WHERE id <= 3');
  expect((await trickle().refresh('rt_st')).action).toBe('DIFFERENTIAL');
});

afterAll(async () => {
  await db.query(`DROP OWNED BY ${READER}`);
  await db.query(`DROP ROLE ${READER}`);
});

describe('a DIFFERENTIAL refresh() of a table its connection owns', () => {
  it('sends the window inspection, the reader mirror check and the search_path restore in its other statements', async () => {
    const t = trickle();
    await db.query('UPDATE rt_src SET v = v * 2, k = (k + 1) % 7 WHERE id BETWEEN 10 AND 30');
    await db.query('DELETE FROM rt_src WHERE id BETWEEN 40 AND 45');
    await db.query('INSERT INTO rt_src SELECT g, g % 9, g FROM generate_series(1001, 1010) g');
    const { value, texts } = await recorded(t, () => t.refresh('rt_st'));
    expect(value.action).toBe('DIFFERENTIAL');
    expect(value.pendingChanges).toBe(2 * 21 + 6 + 10);
    await expectTableEqualsQuery(db, 'rt_st', QUERY);
    const alone = texts.filter(
      (x) =>
        /^WITH __pgt_params AS \(SELECT \$1::pg_catalog\.pg_snapshot AS p1\)\s*SELECT /.test(x) ||
        /^SELECT pg_catalog\.set_config\('search_path', \$1, true\)$/.test(x.trim()) ||
        /WITH v AS \(SELECT a\.grantee/.test(x),
    );
    expect(alone).toEqual([]);
    // The opening read, BEGIN with the lock and the preflight (kept prepared), the delta, the record
    // (which also trims the buffer the delta read) with COMMIT.
    expect(texts).toHaveLength(4);
    expect(texts[1]).toMatch(
      /^BEGIN ISOLATION LEVEL READ COMMITTED; WITH st AS MATERIALIZED .*; EXECUTE "pgt_p_[0-9a-f]{40}"\(.*\)$/s,
    );
    expect(texts[3]).toMatch(/^EXECUTE "pgt_p_[0-9a-f]{40}"\(.*\); COMMIT$/s);
  });

  it('an AUTO table makes the same round trips: its cost samples are read by the preflight', async () => {
    const t = trickle();
    await t.createStreamTable({ name: 'rt_auto', query: QUERY, refreshMode: 'AUTO' });
    await db.query('UPDATE rt_src SET v = v + 1 WHERE id <= 3');
    const first = await recorded(t, () => t.refresh('rt_auto'));
    expect(first.value.action).toBe('DIFFERENTIAL');
    // Its preflight (prepared then) reads the cost samples.
    const preflights = first.texts.filter(
      (x) => x.includes('pgt_refresh_history') && x.includes('UNION ALL'),
    );
    expect(preflights).toHaveLength(1);
    await db.query('UPDATE rt_src SET v = v + 1 WHERE id BETWEEN 4 AND 9');
    const { value, texts } = await recorded(t, () => t.refresh('rt_auto'));
    expect(value.action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'rt_auto', QUERY);
    expect(texts).toHaveLength(4);
    expect(texts[1]).toContain(`; EXECUTE "${preparedName(preflights[0] as string)}"(`);
  });

  it('a record statement that fails commits nothing: the refresh fails, the window stays pending', async () => {
    const t = trickle();
    await t.refresh('rt_st');
    await db.query(`CREATE FUNCTION rt_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'history refused'; END $$`);
    await db.query(`CREATE TRIGGER rt_refuse BEFORE INSERT ON pgtrickle.pgt_refresh_history
      FOR EACH ROW WHEN (NEW.action = 'DIFFERENTIAL') EXECUTE FUNCTION rt_refuse()`);
    const before = await db.query(
      `SELECT frontier_snapshot::text AS f FROM pgtrickle.pgt_stream_tables WHERE table_name = 'rt_st'`,
    );
    const stored = await db.query('SELECT count(*)::int AS n, sum(s) AS s FROM rt_st');
    try {
      await db.query('UPDATE rt_src SET v = v + 100 WHERE id <= 20');
      // The record (with COMMIT in its round trip, the statement being kept) fails: nothing commits.
      const { texts } = await recorded(t, () =>
        expect(t.refresh('rt_st')).rejects.toThrow(/history refused/),
      );
      expect(texts.some((x) => /^EXECUTE "pgt_p_[0-9a-f]{40}"\(.*\); COMMIT$/s.test(x))).toBe(true);
      expect((await db.query('SELECT count(*)::int AS n, sum(s) AS s FROM rt_st')).rows).toEqual(stored.rows);
      const after = await db.query(
        `SELECT frontier_snapshot::text AS f FROM pgtrickle.pgt_stream_tables WHERE table_name = 'rt_st'`,
      );
      expect(after.rows).toEqual(before.rows);
    } finally {
      await db.query('DROP TRIGGER rt_refuse ON pgtrickle.pgt_refresh_history');
      await db.query('DROP FUNCTION rt_refuse()');
    }
    // The window is still pending, and applied by the next refresh.
    const r = await t.refresh('rt_st');
    expect(r.action).toBe('DIFFERENTIAL');
    expect(r.pendingChanges).toBe(40);
    await expectTableEqualsQuery(db, 'rt_st', QUERY);
  });

  it('a TRUNCATE in the window the preflight reads refreshes FULL', async () => {
    const t = trickle();
    await db.query('TRUNCATE rt_src');
    await db.query('INSERT INTO rt_src SELECT g, g % 5, g FROM generate_series(1, 50) g');
    const r = await t.refresh('rt_st');
    expect(r.action).toBe('FULL');
    await expectTableEqualsQuery(db, 'rt_st', QUERY);
    await db.query('UPDATE rt_src SET v = v + 1 WHERE id <= 10');
    expect((await t.refresh('rt_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'rt_st', QUERY);
  });

  it('a reader granted the view since the last refresh is mirrored onto the storage', async () => {
    const t = trickle();
    const storage = await db.query(`SELECT pgtrickle.storage_of('rt_st')::text AS s`);
    const name = String(storage.rows[0]?.s);
    const canRead = async () =>
      (await db.query('SELECT pg_catalog.has_table_privilege($1, $2, $3) AS ok', [READER, name, 'SELECT']))
        .rows[0]?.ok;
    expect(await canRead()).toBe(false);
    await db.query(`GRANT SELECT ON rt_st TO ${READER}`);
    await db.query('UPDATE rt_src SET v = v + 1 WHERE id <= 5');
    expect((await t.refresh('rt_st')).action).toBe('DIFFERENTIAL');
    expect(await canRead()).toBe(true);
    await db.query(`REVOKE SELECT ON rt_st FROM ${READER}`);
    await db.query('UPDATE rt_src SET v = v + 1 WHERE id <= 5');
    expect((await t.refresh('rt_st')).action).toBe('DIFFERENTIAL');
    expect(await canRead()).toBe(false);
    await expectTableEqualsQuery(db, 'rt_st', QUERY);
  });
});
