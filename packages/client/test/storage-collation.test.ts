/**
 * Storage columns keep the query column's collation: for every shape of query and every mode,
 * each visible storage column's `attcollation` equals that of the same column of a view over the
 * query (PostgreSQL's own derivation) — at create, after `alterStreamTable` changes a column's
 * collation or adds a collated column, and after a source column's collation is altered — and a
 * reader's `ORDER BY` over the stream table gives the query's order.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const env = useTrickle();

const SETUP = `CREATE COLLATION IF NOT EXISTS public.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
  CREATE COLLATION IF NOT EXISTS public.de (provider = icu, locale = 'de-u-co-phonebk');
  CREATE TABLE {s}.w (id int PRIMARY KEY, c text COLLATE public.ci, d varchar(20) COLLATE public.de, e text COLLATE "C", k int);
  CREATE TABLE {s}.o (id int PRIMARY KEY, w_id int, t text COLLATE public.de);
  INSERT INTO {s}.w VALUES (1, 'Red', 'Äpfel', 'b', 1), (2, 'red', 'Zebra', 'B', 1), (3, 'apple', 'Apfel', 'a', 2),
    (4, 'Banana', 'Ärger', 'A', 2), (5, NULL, NULL, NULL, 3);
  INSERT INTO {s}.o VALUES (1, 1, 'x'), (2, 3, 'Öl')`;

const QUERIES = [
  'SELECT id, c, d, e FROM {s}.w',
  "SELECT id, c, d::varchar(10) AS d10, e COLLATE public.de AS e_de, c || '!' AS c2 FROM {s}.w",
  'SELECT DISTINCT d FROM {s}.w',
  'SELECT k, min(d) AS least_d, max(c) AS most_c FROM {s}.w GROUP BY k',
  'SELECT w.id, w.d, o.t FROM {s}.w JOIN {s}.o ON o.w_id = w.id',
  'SELECT w.id, w.d, o.t FROM {s}.w LEFT JOIN {s}.o ON o.w_id = w.id',
  'SELECT d FROM {s}.w UNION SELECT t FROM {s}.o',
  'SELECT id, d, row_number() OVER (PARTITION BY k ORDER BY id) AS rn FROM {s}.w',
  'SELECT id, d FROM {s}.w ORDER BY d LIMIT 3',
  'SELECT w.id, (SELECT o.t FROM {s}.o WHERE o.id = w.id) AS t FROM {s}.w',
  "SELECT w.id, x FROM {s}.w, unnest(ARRAY[w.d, w.d || '2']) AS x",
  'SELECT d FROM {s}.w EXCEPT SELECT t FROM {s}.o',
  'SELECT d FROM {s}.w INTERSECT ALL SELECT t FROM {s}.o',
  'SELECT DISTINCT ON (k) k, d, c FROM {s}.w ORDER BY k, id',
  "SELECT k, string_agg(d, ',' ORDER BY id) AS ds, count(DISTINCT c) AS n FROM {s}.w GROUP BY k",
  "SELECT id, CASE WHEN k > 1 THEN d ELSE e COLLATE public.de END AS x, COALESCE(c, '-') AS y FROM {s}.w",
  'WITH x AS (SELECT id, d FROM {s}.w WHERE k < 3) SELECT x.id, x.d, l.t FROM x LEFT JOIN LATERAL (SELECT o.t FROM {s}.o WHERE o.w_id = x.id) AS l ON true',
  "WITH RECURSIVE r(n, s) AS (SELECT 1, 'a'::text COLLATE public.de UNION ALL SELECT n + 1, s || 'b' FROM r WHERE n < 3) SELECT n, s FROM r",
  'SELECT c, count(*) AS n FROM {s}.w GROUP BY c HAVING count(*) > 0',
];

const MODES = ['FULL', 'DIFFERENTIAL', 'AUTO', 'IMMEDIATE'] as const;

async function collations(relation: string): Promise<string[]> {
  const res = await env.db.query(
    `SELECT a.attname || ':' || coalesce(co.collname, '-') AS c
     FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname NOT LIKE '\\_\\_pgt\\_%'
     ORDER BY a.attnum`,
    [relation],
  );
  return res.rows.map((r) => String(r.c));
}

QUERIES.forEach((template, qi) => {
  for (const mode of MODES) {
    it(`keeps the query's collations (query ${qi}, ${mode})`, async () => {
      const schema = `coll${qi}_${mode.toLowerCase()}`;
      const sub = (s: string) => s.replaceAll('{s}', `"${schema}"`);
      await env.db.query(`CREATE SCHEMA "${schema}"`);
      await env.db.query(sub(SETUP));
      const query = sub(template);
      await env.db.query(`CREATE VIEW "${schema}".v AS ${query}`);
      await env.trickle().createStreamTable({ name: `"${schema}".st`, query, refreshMode: mode });
      expect(await collations(`"${schema}".st`)).toEqual(await collations(`"${schema}".v`));
    });
  }
});

/** The rows of `sql` as JSON lines, in the order PostgreSQL returns them. */
async function ordered(sql: string): Promise<string[]> {
  const res = await env.db.query(sql);
  return res.rows.map((r) => JSON.stringify(r));
}

for (const mode of MODES) {
  it(`follows a query whose column collations change (alterStreamTable, ${mode})`, async () => {
    const schema = `collalter_${mode.toLowerCase()}`;
    const sub = (s: string) => s.replaceAll('{s}', `"${schema}"`);
    await env.db.query(`CREATE SCHEMA "${schema}"`);
    await env.db.query(sub(SETUP));
    const st = `"${schema}".st`;
    await env
      .trickle()
      .createStreamTable({ name: st, query: sub('SELECT id, d FROM {s}.w'), refreshMode: mode });
    const query = sub('SELECT id, d COLLATE "C" AS d, e COLLATE public.de AS e, c FROM {s}.w');
    await env.trickle().alterStreamTable(st, { query });
    await env.db.query(`CREATE VIEW "${schema}".v AS ${query}`);
    expect(await collations(st)).toEqual(await collations(`"${schema}".v`));
    await expectTableEqualsQuery(env.db, st, query);
    for (const col of ['d', 'e', 'c']) {
      expect(await ordered(`SELECT ${col}, id FROM ${st} ORDER BY ${col}, id`)).toEqual(
        await ordered(`SELECT ${col}, id FROM (${query}) AS q ORDER BY ${col}, id`),
      );
    }
  });

  it(`follows a source column whose collation is altered (${mode})`, async () => {
    const schema = `collsrc_${mode.toLowerCase()}`;
    const sub = (s: string) => s.replaceAll('{s}', `"${schema}"`);
    await env.db.query(`CREATE SCHEMA "${schema}"`);
    await env.db.query(sub(SETUP));
    const st = `"${schema}".st`;
    const query = sub(`SELECT id, d, c FROM {s}.w WHERE d >= 'Apfel' AND d < 'B'`);
    await env.trickle().createStreamTable({ name: st, query, refreshMode: mode });
    await expectTableEqualsQuery(env.db, st, query);
    // Under "C", 'Ä…' sorts after 'Z': the filter keeps other rows, and readers sort otherwise.
    await env.db.query(sub(`ALTER TABLE {s}.w ALTER COLUMN d TYPE varchar(20) COLLATE "C"`));
    // IMMEDIATE: the DDL made its maintenance stale; a refresh recompiles it (docs/immediate.md).
    if (mode === 'IMMEDIATE') await env.trickle().refresh(st);
    await env.db.query(
      sub(`INSERT INTO {s}.w VALUES (6, 'Aal', 'Aal', 'x', 4), (7, 'Äsche', 'Äsche', 'y', 4)`),
    );
    if (mode !== 'IMMEDIATE') await env.trickle().refresh(st);
    await env.db.query(`CREATE VIEW "${schema}".v AS ${query}`);
    expect(await collations(st)).toEqual(await collations(`"${schema}".v`));
    await expectTableEqualsQuery(env.db, st, query);
    expect(await ordered(`SELECT d, id FROM ${st} ORDER BY d, id`)).toEqual(
      await ordered(`SELECT d, id FROM (${query}) AS q ORDER BY d, id`),
    );
    await env.db.query(sub(`UPDATE {s}.w SET d = 'Ab' WHERE id = 7; DELETE FROM {s}.w WHERE id = 3`));
    if (mode !== 'IMMEDIATE') await env.trickle().refresh(st);
    await expectTableEqualsQuery(env.db, st, query);
  });
}

for (const mode of ['DIFFERENTIAL', 'AUTO'] as const) {
  it(`keeps collations through a stream table read by another (${mode})`, async () => {
    const schema = `collchain_${mode.toLowerCase()}`;
    const sub = (s: string) => s.replaceAll('{s}', `"${schema}"`);
    await env.db.query(`CREATE SCHEMA "${schema}"`);
    await env.db.query(sub(SETUP));
    await env.trickle().createStreamTable({
      name: `"${schema}".up`,
      query: sub('SELECT id, c, d FROM {s}.w'),
      refreshMode: mode,
    });
    const query = sub(`SELECT id, c, d FROM {s}.up WHERE d >= 'Apfel' AND d < 'B' AND c > 'banana'`);
    const st = `"${schema}".down`;
    await env.trickle().createStreamTable({ name: st, query, refreshMode: mode });
    await env.db.query(`CREATE VIEW "${schema}".v AS ${query}`);
    expect(await collations(st)).toEqual(await collations(`"${schema}".v`));
    await env.db.query(
      sub(
        `INSERT INTO {s}.w VALUES (6, 'RED', 'Ärmel', 'q', 5), (7, 'Cherry', 'Ab', 'r', 5); UPDATE {s}.w SET c = 'BANANA!' WHERE id = 4`,
      ),
    );
    await env.trickle().refresh(`"${schema}".up`);
    await env.trickle().refresh(st);
    await expectTableEqualsQuery(env.db, st, query);
  });
}
