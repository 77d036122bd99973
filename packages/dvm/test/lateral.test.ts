/**
 * Functions and LATERAL items in FROM: set-returning functions flat-mapped over the rows before
 * them (unnest, jsonb/json functions, generate_series, regexp/string splitting, ROWS FROM, WITH
 * ORDINALITY, column definition lists, user-defined SRFs), constant SRFs, LEFT JOIN LATERAL, and
 * LATERAL subqueries (correlated by key, by non-key predicates, uncorrelated, nested functions,
 * top-N per group). Every step is checked against the query (the oracle), differential refreshes
 * and FULL refreshes alike; refusals are checked too.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { maintain } from './support/maintained.js';
import { applyTransition, expectFullRefreshAgrees } from './support/scenario.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE posts (id int PRIMARY KEY, tags text[], n int);
    INSERT INTO posts VALUES (1, '{a,b}', 2), (2, '{b,b,NULL}', 0), (3, NULL, NULL), (4, '{}', 3);
    CREATE TABLE docs (id int PRIMARY KEY, doc jsonb);
    INSERT INTO docs VALUES
      (1, '{"items": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 2}], "meta": {"a": 1, "b": "two"}}'),
      (2, '{"items": [], "meta": {}}'),
      (3, '{"items": [{"sku": "x", "qty": 1}, {"sku": "x", "qty": 1}]}'),
      (4, NULL);
    CREATE TABLE spans (id int PRIMARY KEY, lo int, hi int, label text);
    INSERT INTO spans VALUES (1, 1, 3, 'a,b'), (2, 5, 5, 'c'), (3, 4, 2, ''), (4, NULL, 2, NULL);
    CREATE TABLE bag (tags text[], v int);
    INSERT INTO bag VALUES ('{a,a}', 1), ('{a,a}', 1), ('{b}', 2), (NULL, 3);
    CREATE TABLE orders (id int PRIMARY KEY, customer int, threshold int);
    CREATE TABLE items (id int PRIMARY KEY, order_id int, x int);
    INSERT INTO orders VALUES (1, 10, 0), (2, 10, 5), (3, 20, NULL), (4, 30, 1);
    INSERT INTO items VALUES (1, 1, 5), (2, 1, 7), (3, 1, 1), (4, 2, 9), (5, 2, 2), (6, 3, 4), (7, NULL, 3);
    CREATE INDEX ON items (order_id);
    CREATE FUNCTION split_pairs(t text) RETURNS TABLE (k text, v text) IMMUTABLE LANGUAGE sql
      AS $$ SELECT split_part(p, '=', 1), split_part(p, '=', 2) FROM unnest(string_to_array(t, ',')) AS p $$;
    CREATE FUNCTION rand_rows(n int) RETURNS SETOF int VOLATILE LANGUAGE sql
      AS $$ SELECT g FROM generate_series(1, n) g WHERE random() >= 0 $$;
    CREATE TYPE pt AS (x int, y int);
    CREATE FUNCTION mk(n int) RETURNS pt IMMUTABLE LANGUAGE sql AS $$ SELECT ROW(n, n * n)::pt $$;
    CREATE TYPE item_t AS (sku text, qty int);
    CREATE TABLE kv (id int PRIMARY KEY, pairs text);
    INSERT INTO kv VALUES (1, 'a=1,b=2'), (2, 'c=3'), (3, NULL);
  `);
});

describe('unnest', () => {
  it('flat-maps arrays that grow, shrink, hold NULLs and duplicates', async () => {
    const st = await maintain(
      db,
      'st_unnest',
      'SELECT t.id, tag FROM posts t CROSS JOIN LATERAL unnest(t.tags) AS tag',
    );
    expect(st.plan.mode).toBe('DIFFERENTIAL');
    expect(st.plan.uniqueRowIds).toBe(true);
    await st.check();
    await db.query(`UPDATE posts SET tags = tags || '{c}' WHERE id = 1`);
    await db.query(`UPDATE posts SET tags = '{b}' WHERE id = 2`);
    await db.query(`INSERT INTO posts VALUES (5, '{x,NULL,x}', 1)`);
    await st.refreshAndCheck();
    await db.query(`UPDATE posts SET tags = NULL WHERE id = 1`);
    await db.query(`UPDATE posts SET id = 50 WHERE id = 5`);
    await db.query(`INSERT INTO posts VALUES (6, '{y}', 1)`);
    await db.query(`DELETE FROM posts WHERE id = 6`);
    await st.refreshAndCheck();
    await db.query(`UPDATE posts SET tags = '{a,b,a,b}' WHERE id = 3`);
    await db.query(`UPDATE posts SET tags = '{}' WHERE id = 50`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
    await db.query(`UPDATE posts SET tags = '{q}' WHERE id = 3`);
    await st.refreshAndCheck();
    const none = await st.refresh();
    expect(none.action).toBe('NO_DATA');
  });

  it('supports WITH ORDINALITY, column aliases and the comma form', async () => {
    const st = await maintain(
      db,
      'st_unnest_ord',
      'SELECT t.id, u.tag, u.pos FROM posts t, unnest(t.tags) WITH ORDINALITY AS u(tag, pos) WHERE u.pos <= 2',
    );
    await st.check();
    await db.query(`UPDATE posts SET tags = '{z,y,x}' WHERE id = 3`);
    await db.query(`INSERT INTO posts VALUES (7, '{NULL,NULL,NULL}', 0)`);
    await st.refreshAndCheck();
    await db.query(`UPDATE posts SET tags = '{y}' WHERE id = 3`);
    await db.query(`DELETE FROM posts WHERE id = 7`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });

  it('expands a multi-argument unnest (arrays of different lengths)', async () => {
    const st = await maintain(
      db,
      'st_unnest_multi',
      `SELECT t.id, u.* FROM posts t CROSS JOIN LATERAL unnest(t.tags, ARRAY[t.n, t.n + 1]) AS u(tag, m)`,
    );
    await st.check();
    await db.query(`UPDATE posts SET n = 9 WHERE id = 1`);
    await db.query(`UPDATE posts SET tags = '{m,n,o}' WHERE id = 4`);
    await st.refreshAndCheck();
    const plain = await maintain(
      db,
      'st_unnest_multi2',
      `SELECT t.id, unnest FROM posts t, unnest(t.tags, t.tags) WHERE t.id < 3`,
    ).catch((e: unknown) => e);
    // Two columns both named "unnest": PostgreSQL reports the output name twice, which a table cannot have.
    expect(plain).toBeInstanceOf(Error);
  });

  it('keeps duplicates of a keyless input apart', async () => {
    const st = await maintain(
      db,
      'st_unnest_bag',
      'SELECT b.v, x FROM bag b CROSS JOIN LATERAL unnest(b.tags) AS x',
    );
    expect(st.plan.uniqueRowIds).toBe(false);
    await st.check();
    await db.query(`INSERT INTO bag VALUES ('{a,a}', 1), ('{c}', 4)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM bag WHERE ctid = (SELECT min(ctid) FROM bag WHERE v = 1)`);
    await st.refreshAndCheck();
    await db.query(`UPDATE bag SET tags = tags || '{z}' WHERE v = 1`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM bag WHERE v = 2`);
    await db.query(`INSERT INTO bag VALUES ('{b}', 2)`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });

  it('filters on the left pushed below and on the elements above', async () => {
    const st = await maintain(
      db,
      'st_unnest_where',
      `SELECT t.id, t.n, tag FROM posts t, unnest(t.tags) AS tag WHERE t.n > 0 AND tag IS NOT NULL AND tag <> t.id::text`,
    );
    await st.check();
    await db.query(`UPDATE posts SET n = 0 WHERE id = 1`);
    await db.query(`UPDATE posts SET n = 5, tags = '{4,5}' WHERE id = 4`);
    await st.refreshAndCheck();
    await db.query(`UPDATE posts SET n = NULL WHERE id = 4`);
    await db.query(`UPDATE posts SET n = 1 WHERE id = 1`);
    await st.refreshAndCheck();
  });
});

describe('LEFT JOIN LATERAL', () => {
  it('keeps rows with empty or NULL arrays, NULL-padded', async () => {
    const st = await maintain(
      db,
      'st_left_unnest',
      'SELECT t.id, tag FROM posts t LEFT JOIN LATERAL unnest(t.tags) AS tag ON true',
    );
    await st.check();
    await db.query(`UPDATE posts SET tags = '{}' WHERE id = 1`);
    await db.query(`UPDATE posts SET tags = '{k,l}' WHERE id = 4`);
    await db.query(`INSERT INTO posts VALUES (8, NULL, 1), (9, '{NULL}', 1)`);
    await st.refreshAndCheck();
    await db.query(`UPDATE posts SET tags = NULL WHERE id = 4`);
    await db.query(`UPDATE posts SET tags = '{r}' WHERE id = 8`);
    await db.query(`DELETE FROM posts WHERE id = 9`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });

  it('pads the rows whose elements all fail the ON condition', async () => {
    const st = await maintain(
      db,
      'st_left_cond',
      `SELECT t.id, g FROM spans t LEFT JOIN LATERAL generate_series(t.lo, t.hi) AS g ON g % 2 = 1`,
    );
    await st.check();
    await db.query(`UPDATE spans SET lo = 2, hi = 2 WHERE id = 1`);
    await db.query(`UPDATE spans SET hi = 9 WHERE id = 2`);
    await db.query(`INSERT INTO spans VALUES (5, 7, 8, 'x')`);
    await st.refreshAndCheck();
    await db.query(`UPDATE spans SET lo = 1 WHERE id = 1`);
    await db.query(`DELETE FROM spans WHERE id = 5`);
    await st.refreshAndCheck();
  });
});

describe('json functions', () => {
  it('follows jsonb_array_elements over updated documents', async () => {
    const st = await maintain(
      db,
      'st_jsonb_elems',
      `SELECT d.id, e.value->>'sku' AS sku, (e.value->>'qty')::int AS qty FROM docs d CROSS JOIN LATERAL jsonb_array_elements(d.doc->'items') AS e`,
    );
    await st.check();
    await db.query(
      `UPDATE docs SET doc = jsonb_set(doc, '{items}', (doc->'items') || '[{"sku": "z", "qty": 3}]') WHERE id = 1`,
    );
    await db.query(`UPDATE docs SET doc = '{"items": [{"sku": "q", "qty": 0}]}' WHERE id = 2`);
    await db.query(`INSERT INTO docs VALUES (5, '{"items": [1, "two", null]}')`);
    await st.refreshAndCheck();
    await db.query(`UPDATE docs SET doc = '{"items": []}' WHERE id = 1`);
    await db.query(`UPDATE docs SET doc = NULL WHERE id = 3`);
    await db.query(`DELETE FROM docs WHERE id = 5`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });

  it('maintains jsonb_each, jsonb_array_elements_text and json_each_text', async () => {
    const each = await maintain(
      db,
      'st_jsonb_each',
      `SELECT d.id, m.key, m.value FROM docs d, jsonb_each(d.doc->'meta') AS m`,
    );
    const texts = await maintain(
      db,
      'st_jsonb_texts',
      `SELECT d.id, x.value FROM docs d, jsonb_array_elements_text(d.doc->'tags') AS x`,
    );
    const jsonEach = await maintain(
      db,
      'st_json_each_text',
      `SELECT d.id, j.key AS k, j.value AS v FROM docs d, json_each_text((d.doc->'meta')::json) AS j`,
    );
    await db.query(
      `UPDATE docs SET doc = doc || '{"meta": {"a": 2, "c": [1]}, "tags": ["p", "q", "p"]}' WHERE id = 1`,
    );
    await db.query(`UPDATE docs SET doc = '{"meta": {"z": null}, "tags": []}' WHERE id = 2`);
    await each.refreshAndCheck();
    await texts.refreshAndCheck();
    await jsonEach.refreshAndCheck();
    await db.query(`UPDATE docs SET doc = doc - 'meta' WHERE id = 1`);
    await db.query(`INSERT INTO docs VALUES (6, '{"meta": {"k": "v"}, "tags": ["only"]}')`);
    await each.refreshAndCheck();
    await texts.refreshAndCheck();
    await jsonEach.refreshAndCheck();
  });

  it('uses a column definition list (jsonb_to_recordset)', async () => {
    const st = await maintain(
      db,
      'st_to_recordset',
      `SELECT d.id, r.sku, r.qty FROM docs d CROSS JOIN LATERAL jsonb_to_recordset(d.doc->'items') AS r(sku text, qty int)`,
    );
    await st.check();
    await db.query(`UPDATE docs SET doc = '{"items": [{"sku": "n", "qty": 7}, {"qty": 8}]}' WHERE id = 2`);
    await db.query(`DELETE FROM docs WHERE id = 6`);
    await st.refreshAndCheck();
  });
});

describe('generate_series, splitting, ROWS FROM, user functions', () => {
  it('generates series bounded by columns', async () => {
    const st = await maintain(
      db,
      'st_series',
      `SELECT s.id, g FROM spans s CROSS JOIN LATERAL generate_series(s.lo, s.hi) AS g`,
    );
    await st.check();
    await db.query(`UPDATE spans SET hi = 6 WHERE id = 1`);
    await db.query(`UPDATE spans SET lo = NULL WHERE id = 2`);
    await db.query(`UPDATE spans SET lo = 1, hi = 4 WHERE id = 3`);
    await db.query(`INSERT INTO spans VALUES (6, 10, 12, 'x,y,z')`);
    await st.refreshAndCheck();
    await db.query(`UPDATE spans SET hi = lo WHERE id = 1`);
    await db.query(`UPDATE spans SET id = 60 WHERE id = 6`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });

  it('splits strings with regexp_split_to_table and string_to_table', async () => {
    const re = await maintain(
      db,
      'st_regexp_split',
      `SELECT s.id, w FROM spans s, regexp_split_to_table(s.label, ',') WITH ORDINALITY AS r(w, i)`,
    );
    const st2 = await maintain(
      db,
      'st_string_to_table',
      `SELECT s.id, string_to_table FROM spans s, string_to_table(s.label, ',')`,
    );
    await db.query(`UPDATE spans SET label = 'p,,q' WHERE id = 2`);
    await db.query(`UPDATE spans SET label = NULL WHERE id = 1`);
    await re.refreshAndCheck();
    await st2.refreshAndCheck();
    await db.query(`UPDATE spans SET label = 'one' WHERE id = 4`);
    await re.refreshAndCheck();
    await st2.refreshAndCheck();
  });

  it('zips ROWS FROM functions of different lengths', async () => {
    const st = await maintain(
      db,
      'st_rows_from',
      `SELECT p.id, r.tag, r.k, r.ord FROM posts p CROSS JOIN LATERAL ROWS FROM (unnest(p.tags), generate_series(1, p.n)) WITH ORDINALITY AS r(tag, k, ord)`,
    );
    await st.check();
    await db.query(`UPDATE posts SET n = 4 WHERE id = 1`);
    await db.query(`UPDATE posts SET tags = '{d,e,f,g,h}' WHERE id = 4`);
    await st.refreshAndCheck();
    await db.query(`UPDATE posts SET n = NULL WHERE id = 4`);
    await st.refreshAndCheck();
  });

  it('maintains an immutable user-defined function returning a table', async () => {
    const st = await maintain(db, 'st_udf', `SELECT kv.id, p.k, p.v FROM kv, split_pairs(kv.pairs) AS p`);
    await st.check();
    await db.query(`UPDATE kv SET pairs = 'a=9,d=4,e=' WHERE id = 1`);
    await db.query(`UPDATE kv SET pairs = 'x=1' WHERE id = 3`);
    await db.query(`INSERT INTO kv VALUES (4, 'm=1,m=1')`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM kv WHERE id = 2`);
    await st.refreshAndCheck();
  });
});

describe('functions returning one row', () => {
  it('a composite-returning function has its columns; a scalar one is named after the alias', async () => {
    const comp = await maintain(db, 'st_composite', `SELECT p.id, m.x, m.y FROM posts p, mk(p.n) AS m`);
    const scalar = await maintain(
      db,
      'st_scalar_fn',
      `SELECT p.id, l FROM posts p, lower(array_to_string(p.tags, '-')) AS l`,
    );
    const populate = await maintain(
      db,
      'st_populate',
      `SELECT d.id, r.* FROM docs d, jsonb_populate_recordset(NULL::item_t, d.doc->'items') AS r`,
    );
    await comp.check();
    await db.query(`UPDATE posts SET n = 7, tags = '{U,V}' WHERE id = 1`);
    await db.query(`UPDATE posts SET n = NULL WHERE id = 2`);
    await db.query(
      `UPDATE docs SET doc = '{"items": [{"sku": "pp", "qty": 2}, {"sku": "qq"}]}' WHERE id = 2`,
    );
    await comp.refreshAndCheck();
    await scalar.refreshAndCheck();
    await populate.refreshAndCheck();
    await db.query(`DELETE FROM posts WHERE id = 1`);
    await db.query(`DELETE FROM docs WHERE id = 2`);
    await comp.refreshAndCheck();
    await scalar.refreshAndCheck();
    await populate.refreshAndCheck();
  });
});

describe('constant set-returning functions', () => {
  it('joins a constant series to a table (both orders) and stands alone', async () => {
    const cross = await maintain(
      db,
      'st_const_cross',
      `SELECT s.id, g FROM spans s CROSS JOIN generate_series(1, 3) AS g WHERE g <= s.hi`,
    );
    const first = await maintain(
      db,
      'st_const_first',
      `SELECT g, s.id FROM generate_series(0, 4) AS g JOIN spans s ON s.lo = g`,
    );
    const alone = await maintain(
      db,
      'st_const_alone',
      `SELECT g, x FROM unnest(ARRAY[3, 1, 3]) WITH ORDINALITY AS u(g, x)`,
    );
    await alone.check();
    await db.query(`UPDATE spans SET hi = 1 WHERE id = 60`);
    await db.query(`UPDATE spans SET lo = 0 WHERE id = 2`);
    await db.query(`INSERT INTO spans VALUES (7, 3, 3, 'k')`);
    await cross.refreshAndCheck();
    await first.refreshAndCheck();
    await alone.refreshAndCheck();
    await db.query(`DELETE FROM spans WHERE id IN (1, 7)`);
    await cross.refreshAndCheck();
    await first.refreshAndCheck();
    await expectFullRefreshAgrees(first, { expectFullAction: true });
  });
});

describe('LATERAL subqueries', () => {
  it('correlated by key: changes on both sides touch only the affected left rows', async () => {
    const st = await maintain(
      db,
      'st_lat_key',
      `SELECT o.id, o.customer, s.x FROM orders o CROSS JOIN LATERAL (SELECT i.x FROM items i WHERE i.order_id = o.id AND i.x > o.threshold) s`,
    );
    await st.check();
    const delta = st.plan.refreshSql() ?? '';
    expect(delta).toContain('EXISTS (SELECT 1 FROM');
    await db.query(`INSERT INTO items VALUES (8, 2, 6), (9, 4, 1), (10, 4, 2)`);
    await db.query(`UPDATE orders SET threshold = 6 WHERE id = 1`);
    await st.refreshAndCheck();
    await db.query(`UPDATE items SET order_id = 4 WHERE id = 4`);
    await db.query(`UPDATE items SET x = 100 WHERE id = 5`);
    await db.query(`DELETE FROM items WHERE id = 1`);
    await db.query(`INSERT INTO orders VALUES (5, 40, 0)`);
    await db.query(`INSERT INTO items VALUES (11, 5, 1)`);
    await st.refreshAndCheck();
    await db.query(`UPDATE orders SET id = 6 WHERE id = 5`);
    await db.query(`UPDATE items SET order_id = NULL WHERE id = 11`);
    await db.query(`INSERT INTO items VALUES (12, 6, 3)`);
    await db.query(`DELETE FROM items WHERE id = 12`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });

  it('LEFT JOIN LATERAL subquery keeps left rows without matches', async () => {
    const st = await maintain(
      db,
      'st_lat_left',
      `SELECT o.id, s.x, s.y FROM orders o LEFT JOIN LATERAL (SELECT i.x, i.x * 2 AS y FROM items i WHERE i.order_id = o.id) s ON true`,
    );
    await st.check();
    await db.query(`DELETE FROM items WHERE order_id = 3`);
    await db.query(`INSERT INTO items VALUES (13, 6, 7)`);
    await st.refreshAndCheck();
    await db.query(`INSERT INTO items VALUES (14, 3, 7)`);
    await db.query(`DELETE FROM orders WHERE id = 4`);
    await st.refreshAndCheck();
  });

  it('LEFT JOIN LATERAL … ON a condition over both sides', async () => {
    const st = await maintain(
      db,
      'st_lat_left_on',
      `SELECT o.id, s.x FROM orders o LEFT JOIN LATERAL (SELECT i.x FROM items i WHERE i.order_id = o.id) s ON s.x > o.threshold`,
    );
    await st.check();
    await db.query(`UPDATE orders SET threshold = 100 WHERE id = 2`);
    await db.query(`UPDATE items SET x = 0 WHERE id = 13`);
    await st.refreshAndCheck();
    await db.query(`UPDATE orders SET threshold = NULL WHERE id = 2`);
    await st.refreshAndCheck();
  });

  it('without an equality on a key: every left row is recomputed when the subquery source changes', async () => {
    const st = await maintain(
      db,
      'st_lat_range',
      `SELECT o.id, s.n FROM orders o CROSS JOIN LATERAL (SELECT i.id AS n FROM items i WHERE i.x < o.threshold) s`,
    );
    await st.check();
    await db.query(`INSERT INTO items VALUES (15, NULL, 0)`);
    await db.query(`UPDATE orders SET threshold = 3 WHERE id = 1`);
    await st.refreshAndCheck();
    await db.query(`UPDATE items SET x = 50 WHERE id = 15`);
    await st.refreshAndCheck();
  });

  it('a subquery over the items before it only (a function inside)', async () => {
    const st = await maintain(
      db,
      'st_lat_fn',
      `SELECT p.id, s.tag FROM posts p CROSS JOIN LATERAL (SELECT t AS tag FROM unnest(p.tags) AS t WHERE t IS DISTINCT FROM 'b') s`,
    );
    await st.check();
    await db.query(`UPDATE posts SET tags = '{b,c,b}' WHERE id = 4`);
    await db.query(`INSERT INTO posts VALUES (10, '{b}', 1)`);
    await st.refreshAndCheck();
  });

  it('LATERAL (VALUES …) unpivots the row before it', async () => {
    const st = await maintain(
      db,
      'st_lat_values',
      `SELECT s.id, v.which, v.bound FROM spans s CROSS JOIN LATERAL (VALUES ('lo', s.lo), ('hi', s.hi), ('lo', s.lo)) AS v(which, bound)`,
    );
    const left = await maintain(
      db,
      'st_lat_values_left',
      `SELECT s.id, v.column1 FROM spans s LEFT JOIN LATERAL (VALUES (s.lo), (s.hi)) AS v ON v.column1 > 2`,
    );
    await st.check();
    await db.query(`UPDATE spans SET lo = 0, hi = NULL WHERE id = 2`);
    await db.query(`INSERT INTO spans VALUES (8, 8, 9, 'z')`);
    await st.refreshAndCheck();
    await left.refreshAndCheck();
    await db.query(`DELETE FROM spans WHERE id = 8`);
    await db.query(`UPDATE spans SET hi = 5 WHERE id = 2`);
    await st.refreshAndCheck();
    await left.refreshAndCheck();
  });

  it('an uncorrelated LATERAL subquery is a plain join', async () => {
    const st = await maintain(
      db,
      'st_lat_uncorrelated',
      `SELECT o.id, s.x FROM orders o CROSS JOIN LATERAL (SELECT i.x FROM items i WHERE i.x > 6) s`,
    );
    expect(st.plan.tree?.children[0]?.kind).toBe('join');
    await db.query(`UPDATE items SET x = 8 WHERE id = 2`);
    await db.query(`INSERT INTO orders VALUES (7, 70, 0)`);
    await st.refreshAndCheck();
  });

  it('correlated through a nested subquery, a self-join on a non-key column, and nested LATERAL', async () => {
    const through = await maintain(
      db,
      'st_lat_through',
      `SELECT o.id, s.x FROM orders o CROSS JOIN LATERAL (SELECT q.x FROM (SELECT order_id AS oid, x FROM items) q WHERE q.oid = o.id) s`,
    );
    const peers = await maintain(
      db,
      'st_lat_peers',
      `SELECT o.id, s.peer FROM orders o CROSS JOIN LATERAL (SELECT o2.id AS peer FROM orders o2 WHERE o2.customer = o.customer AND o2.id <> o.id) s`,
    );
    const nested = await maintain(
      db,
      'st_lat_nested',
      `SELECT o.id, s.x, s.y FROM orders o CROSS JOIN LATERAL (SELECT i.x, z.y FROM items i CROSS JOIN LATERAL (SELECT j.x AS y FROM items j WHERE j.order_id = o.id AND j.x < i.x) z WHERE i.order_id = o.id) s`,
    );
    await db.query(`UPDATE orders SET customer = 10 WHERE id = 3`);
    await db.query(`INSERT INTO items VALUES (18, 3, 9), (19, 1, 2)`);
    await db.query(`UPDATE items SET x = 1 WHERE id = 2`);
    await through.refreshAndCheck();
    await peers.refreshAndCheck();
    await nested.refreshAndCheck();
    await db.query(`UPDATE orders SET customer = 30 WHERE id = 1`);
    await db.query(`DELETE FROM items WHERE id = 3`);
    await db.query(`UPDATE items SET order_id = 3 WHERE id = 19`);
    await through.refreshAndCheck();
    await peers.refreshAndCheck();
    await nested.refreshAndCheck();
    await expectFullRefreshAgrees(nested, { expectFullAction: true });
  });

  it('an aggregate per left row', async () => {
    const st = await maintain(
      db,
      'st_lat_agg',
      `SELECT o.id, s.n, s.total FROM orders o CROSS JOIN LATERAL (SELECT count(*) AS n, sum(i.x) AS total FROM items i WHERE i.order_id = o.id) s`,
    );
    await st.check();
    await db.query(`INSERT INTO items VALUES (20, 4, 10)`);
    await db.query(`DELETE FROM items WHERE order_id = 2`);
    await db.query(`INSERT INTO orders VALUES (8, 80, 0)`);
    await st.refreshAndCheck();
    await db.query(`UPDATE items SET order_id = 8 WHERE id = 20`);
    await st.refreshAndCheck();
  });

  it('top-N per group', async () => {
    const st = await maintain(
      db,
      'st_lat_topn',
      `SELECT o.id, s.x, s.item FROM orders o CROSS JOIN LATERAL (SELECT i.x, i.id AS item FROM items i WHERE i.order_id = o.id ORDER BY i.x DESC, i.id LIMIT 2) s`,
    );
    await st.check();
    await db.query(`INSERT INTO items VALUES (16, 1, 6), (17, 2, 100)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM items WHERE id = 16`);
    await db.query(`UPDATE items SET x = 0 WHERE id = 17`);
    await db.query(`UPDATE items SET order_id = 1 WHERE id = 8`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });
});

describe('composed with other operators', () => {
  it('aggregates, DISTINCT, outer joins and subqueries over lateral items', async () => {
    const counts = await maintain(
      db,
      'st_tag_counts',
      `SELECT tag, count(*) AS n FROM posts p, unnest(p.tags) AS tag GROUP BY tag`,
    );
    const distinct = await maintain(
      db,
      'st_tag_distinct',
      `SELECT DISTINCT tag FROM posts p, unnest(p.tags) AS tag`,
    );
    const outer = await maintain(
      db,
      'st_outer_unnest',
      `SELECT o.id, p.id AS post, t FROM orders o LEFT JOIN posts p ON p.n = o.id CROSS JOIN LATERAL unnest(coalesce(p.tags, '{none}')) AS t`,
    );
    const nested = await maintain(
      db,
      'st_nested_fn',
      `SELECT x.id, x.t FROM (SELECT p.id, t FROM posts p, unnest(p.tags) AS t) x WHERE x.t <> 'b'`,
    );
    await db.query(`UPDATE posts SET tags = '{b,b,c}', n = 1 WHERE id = 3`);
    await db.query(`INSERT INTO posts VALUES (11, '{a,z}', 4)`);
    await counts.refreshAndCheck();
    await distinct.refreshAndCheck();
    await outer.refreshAndCheck();
    await nested.refreshAndCheck();
    await db.query(`DELETE FROM posts WHERE id = 11`);
    await db.query(`UPDATE posts SET tags = NULL WHERE id = 3`);
    await db.query(`UPDATE orders SET id = 9 WHERE id = 4`);
    await counts.refreshAndCheck();
    await distinct.refreshAndCheck();
    await outer.refreshAndCheck();
    await nested.refreshAndCheck();
    await expectFullRefreshAgrees(counts, { expectFullAction: true });
  });
});

describe('refusals', () => {
  it('refuses a volatile set-returning function, names it, and AUTO falls back to FULL', async () => {
    const err = await maintain(db, 'st_volatile', 'SELECT p.id, r FROM posts p, rand_rows(p.n) AS r').catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'PGT_UNSUPPORTED' });
    expect(String((err as Error).message)).toContain('volatile set-returning function rand_rows()');
    const auto = await maintain(db, 'st_volatile_auto', 'SELECT p.id, r FROM posts p, rand_rows(p.n) AS r', {
      mode: 'AUTO',
    });
    expect(auto.plan.mode).toBe('FULL');
    expect(auto.plan.fallbackReason).toContain('rand_rows');
  });

  it('refuses a whole-row reference to a function item (AUTO: FULL)', async () => {
    const q = `SELECT d.id, x FROM docs d, jsonb_array_elements_text(d.doc->'tags') AS x`;
    const err = await maintain(db, 'st_whole_row', q).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PGT_UNSUPPORTED' });
    const auto = await maintain(db, 'st_whole_row_auto', q, { mode: 'AUTO' });
    expect(auto.plan.mode).toBe('FULL');
    await db.query(`UPDATE docs SET doc = '{"tags": ["w"]}' WHERE id = 2`);
    await auto.refresh('FULL');
    await auto.check();
  });

  it('refuses a time-dependent function in FROM', async () => {
    const err = await maintain(db, 'st_now', 'SELECT p.id, t FROM posts p, now() AS t').catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'PGT_UNSUPPORTED' });
    expect(String((err as Error).message)).toContain('now()');
  });

  it('refuses a function whose shape differs from its declaration (unnest of a tsvector)', async () => {
    const err = await maintain(
      db,
      'st_tsvector',
      `SELECT p.id, u.* FROM posts p, unnest(to_tsvector('simple', array_to_string(p.tags, ' '))) AS u`,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PGT_UNSUPPORTED' });
    expect(String((err as Error).message)).toContain('unnest()');
  });
});

describe('IMMEDIATE (transition tables)', () => {
  it('functions and LATERAL subqueries maintained statement by statement', async () => {
    const fn = await maintain(
      db,
      'st_im_unnest',
      'SELECT t.id, tag FROM posts t LEFT JOIN LATERAL unnest(t.tags) AS tag ON true',
      {
        mode: 'IMMEDIATE',
      },
    );
    const sub = await maintain(
      db,
      'st_im_sub',
      `SELECT o.id, s.x FROM orders o CROSS JOIN LATERAL (SELECT i.x FROM items i WHERE i.order_id = o.id ORDER BY i.x DESC, i.id LIMIT 2) s`,
      { mode: 'IMMEDIATE' },
    );
    expect(fn.plan.mode).toBe('IMMEDIATE');
    await applyTransition(
      db,
      [fn, sub],
      { insert: 'posts', values: `(90, '{i,j}', 1)` },
      { includeNonReaders: true },
    );
    await applyTransition(
      db,
      [fn, sub],
      { update: 'posts', set: `tags = '{}'`, where: `id = 90` },
      { includeNonReaders: true },
    );
    await applyTransition(
      db,
      [fn, sub],
      { insert: 'items', values: `(90, 1, 50), (91, 2, 60)` },
      { includeNonReaders: true },
    );
    await applyTransition(
      db,
      [fn, sub],
      { update: 'items', set: `x = -1`, where: `id = 90` },
      { includeNonReaders: true },
    );
    await applyTransition(db, [fn, sub], { delete: 'orders', where: `id = 2` }, { includeNonReaders: true });
    await applyTransition(
      db,
      [fn, sub],
      { delete: 'items', where: `id IN (90, 91)` },
      { includeNonReaders: true },
    );
  });
});
