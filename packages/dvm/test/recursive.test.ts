/**
 * WITH RECURSIVE: graph closures with UNION (cycles included), hierarchies with depth and paths
 * with UNION ALL (trees and DAGs, duplicates kept), SEARCH / CYCLE, recursive CTEs below other
 * operators, over constants, reading other CTEs; inserts (semi-naive), deletes and updates
 * (recomputation) of edges that add or remove many derived rows. The oracle runs after every
 * refresh; FULL and DIFFERENTIAL refreshes must agree.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { maintain } from './support/maintained.js';
import { applyTransition, expectFullRefreshAgrees } from './support/scenario.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE edges (src int, dst int, PRIMARY KEY (src, dst));
    INSERT INTO edges VALUES (1, 2), (2, 3), (3, 4), (10, 11);
    CREATE TABLE nodes (id int PRIMARY KEY, parent int, name text);
    INSERT INTO nodes VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'c'), (5, 4, 'd'), (6, NULL, 'other');
    CREATE TABLE links (a int, b int);
    INSERT INTO links VALUES (1, 2), (1, 3), (2, 4), (3, 4), (4, 5), (1, 2);
    CREATE TABLE starts (id int PRIMARY KEY, node int);
    INSERT INTO starts VALUES (1, 1), (2, 10);
  `);
});

const REACH = `WITH RECURSIVE reach(a, b) AS (
  SELECT src, dst FROM edges
  UNION
  SELECT r.a, e.dst FROM reach r JOIN edges e ON e.src = r.b
) SELECT a, b FROM reach`;

describe('graph closure with UNION', () => {
  it('follows inserts (semi-naive), deletes and updates of edges, cycles included', async () => {
    const st = await maintain(db, 'st_reach', REACH);
    expect(st.plan.mode).toBe('DIFFERENTIAL');
    expect(st.plan.uniqueRowIds).toBe(true);
    expect(st.plan.refreshSql()).toContain('__pgt_inc');
    await st.check();
    // Inserts only: a bridge that adds many derived pairs.
    await db.query(`INSERT INTO edges VALUES (4, 10), (11, 12)`);
    await st.refreshAndCheck();
    // A cycle: UNION terminates.
    await db.query(`INSERT INTO edges VALUES (12, 1)`);
    await st.refreshAndCheck();
    await db.query(`INSERT INTO edges VALUES (5, 5), (12, 5)`);
    await st.refreshAndCheck();
    // Deletes: the cycle is cut, many pairs disappear.
    await db.query(`DELETE FROM edges WHERE (src, dst) = (4, 10)`);
    await st.refreshAndCheck();
    // An update (delete + insert) and an insert deleted again in the same window.
    await db.query(`UPDATE edges SET dst = 3 WHERE (src, dst) = (12, 5)`);
    await db.query(`INSERT INTO edges VALUES (7, 8)`);
    await db.query(`DELETE FROM edges WHERE src = 7`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
    await db.query(`INSERT INTO edges VALUES (3, 12)`);
    await st.refreshAndCheck();
    // A diamond: deleting one branch keeps the pairs the other branch still derives.
    await db.query(`INSERT INTO edges VALUES (40, 41), (41, 43), (40, 42), (42, 43), (43, 44)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM edges WHERE (src, dst) = (41, 43)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM edges WHERE src = 42`);
    await st.refreshAndCheck();
    const none = await st.refresh();
    expect(none.action).toBe('NO_DATA');
  });

  it('reachability from start nodes: two sources, changes on each', async () => {
    const st = await maintain(
      db,
      'st_reach_from',
      `WITH RECURSIVE r(start, node) AS (
         SELECT s.id, s.node FROM starts s
         UNION
         SELECT r.start, e.dst FROM r JOIN edges e ON e.src = r.node
       ) SELECT start, node FROM r`,
    );
    await st.check();
    await db.query(`INSERT INTO starts VALUES (3, 4)`);
    await st.refreshAndCheck();
    await db.query(`INSERT INTO edges VALUES (4, 20), (20, 21)`);
    await db.query(`INSERT INTO starts VALUES (4, 20)`);
    await st.refreshAndCheck();
    await db.query(`UPDATE starts SET node = 11 WHERE id = 1`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM edges WHERE src = 20`);
    await db.query(`INSERT INTO edges VALUES (21, 4)`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });

  it('below other operators: filtered, aggregated, joined (old snapshots recomputed)', async () => {
    const filtered = await maintain(db, 'st_reach_filtered', `${REACH} WHERE a < 5`);
    const counted = await maintain(
      db,
      'st_reach_counted',
      REACH.replace('SELECT a, b FROM reach', 'SELECT a, count(*) AS n FROM reach GROUP BY a'),
    );
    const joined = await maintain(
      db,
      'st_reach_joined',
      REACH.replace('SELECT a, b FROM reach', 'SELECT s.id, r.b FROM starts s JOIN reach r ON r.a = s.node'),
    );
    await db.query(`INSERT INTO edges VALUES (2, 30), (30, 31)`);
    await filtered.refreshAndCheck();
    await counted.refreshAndCheck();
    await joined.refreshAndCheck();
    await db.query(`DELETE FROM edges WHERE src = 2`);
    await db.query(`UPDATE starts SET node = 2 WHERE id = 2`);
    await filtered.refreshAndCheck();
    await counted.refreshAndCheck();
    await joined.refreshAndCheck();
    await expectFullRefreshAgrees(counted, { expectFullAction: true });
  });
});

const TREE = `WITH RECURSIVE tree(id, name, depth, path) AS (
  SELECT id, name, 0, ARRAY[id] FROM nodes WHERE parent IS NULL
  UNION ALL
  SELECT n.id, n.name, t.depth + 1, t.path || n.id FROM nodes n JOIN tree t ON n.parent = t.id
) SELECT id, name, depth, path FROM tree`;

describe('hierarchy with UNION ALL', () => {
  it('a tree with depth and path: new subtrees, re-parenting, deletes', async () => {
    const st = await maintain(db, 'st_tree', TREE);
    expect(st.plan.uniqueRowIds).toBe(false);
    await st.check();
    // Inserts: a whole subtree in one window (semi-naive over a bag).
    await db.query(`INSERT INTO nodes VALUES (7, 5, 'e'), (8, 7, 'f'), (9, 7, 'g'), (10, 6, 'h')`);
    await st.refreshAndCheck();
    await db.query(`INSERT INTO nodes VALUES (11, NULL, 'new root'), (12, 11, 'i')`);
    await st.refreshAndCheck();
    // Re-parenting moves a subtree (its depths and paths change).
    await db.query(`UPDATE nodes SET parent = 6 WHERE id = 4`);
    await st.refreshAndCheck();
    await db.query(`UPDATE nodes SET name = 'C' WHERE id = 4`);
    await st.refreshAndCheck();
    // Deleting an inner node cuts its subtree off.
    await db.query(`DELETE FROM nodes WHERE id = 7`);
    await st.refreshAndCheck();
    await db.query(`UPDATE nodes SET parent = NULL WHERE id = 8`);
    await db.query(`INSERT INTO nodes VALUES (13, 8, 'j')`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
    await db.query(`INSERT INTO nodes VALUES (14, 13, 'k')`);
    await st.refreshAndCheck();
  });

  it('a DAG over a keyless table: every path counted, duplicates kept', async () => {
    const st = await maintain(
      db,
      'st_paths',
      `WITH RECURSIVE p(node, len) AS (
         SELECT 1, 0
         UNION ALL
         SELECT l.b, p.len + 1 FROM p JOIN links l ON l.a = p.node
       ) SELECT node, len FROM p`,
    );
    await st.check();
    await db.query(`INSERT INTO links VALUES (5, 6), (4, 6)`);
    await st.refreshAndCheck();
    await db.query(`INSERT INTO links VALUES (1, 2)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM links WHERE ctid = (SELECT min(ctid) FROM links WHERE a = 1 AND b = 2)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM links WHERE a = 4`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });
});

describe('SEARCH, CYCLE, constants, other CTEs', () => {
  it('CYCLE stops UNION ALL on cyclic data; SEARCH orders', async () => {
    const cyc = await maintain(
      db,
      'st_cycle',
      `WITH RECURSIVE w(node, hops) AS (
         SELECT 1, 0
         UNION ALL
         SELECT e.dst, w.hops + 1 FROM w JOIN edges e ON e.src = w.node
       ) CYCLE node SET looped USING trail
       SELECT node, hops, looped, trail::text AS trail FROM w`,
    );
    const search = await maintain(
      db,
      'st_search',
      `WITH RECURSIVE t(id, parent) AS (
         SELECT id, parent FROM nodes WHERE parent IS NULL
         UNION ALL
         SELECT n.id, n.parent FROM nodes n JOIN t ON n.parent = t.id
       ) SEARCH BREADTH FIRST BY id SET ordering
       SELECT id, parent, ordering::text AS ordering FROM t`,
    );
    const depth = await maintain(
      db,
      'st_search_depth',
      `WITH RECURSIVE w(a, b) AS (
         SELECT src, dst FROM edges WHERE src = 1
         UNION
         SELECT w.a, e.dst FROM w JOIN edges e ON e.src = w.b
       ) SEARCH DEPTH FIRST BY b SET seq CYCLE b SET is_cycle TO 'Y' DEFAULT 'N' USING route
       SELECT a, b, seq::text AS seq, is_cycle FROM w`,
    );
    await cyc.check();
    await depth.check();
    await db.query(`INSERT INTO edges VALUES (2, 1)`);
    await db.query(`INSERT INTO nodes VALUES (15, 3, 'l')`);
    await cyc.refreshAndCheck();
    await search.refreshAndCheck();
    await depth.refreshAndCheck();
    await db.query(`DELETE FROM edges WHERE (src, dst) = (2, 1)`);
    await db.query(`DELETE FROM nodes WHERE id = 15`);
    await cyc.refreshAndCheck();
    await search.refreshAndCheck();
    await depth.refreshAndCheck();
    await expectFullRefreshAgrees(depth, { expectFullAction: true });
  });

  it('a recursive CTE over constants only, joined to a table, with a column list', async () => {
    const st = await maintain(
      db,
      'st_numbers',
      `WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 5)
       SELECT nodes.id, n.k FROM nodes JOIN n ON n.k = nodes.id`,
    );
    await st.check();
    await db.query(`DELETE FROM nodes WHERE id = 2`);
    await st.refreshAndCheck();
  });

  it('reads a sibling CTE and a CTE of the outer query', async () => {
    const st = await maintain(
      db,
      'st_sibling',
      `WITH RECURSIVE roots AS (SELECT id FROM nodes WHERE parent IS NULL AND name <> 'other'),
                     kids(id, lvl) AS (
         SELECT id, 1 FROM roots
         UNION
         SELECT n.id, k.lvl + 1 FROM kids k JOIN nodes n ON n.parent = k.id
       ) SELECT id, lvl FROM kids`,
    );
    await st.check();
    await db.query(`INSERT INTO nodes VALUES (16, 12, 'm')`);
    await st.refreshAndCheck();
    await db.query(`UPDATE nodes SET name = 'other' WHERE id = 11`);
    await st.refreshAndCheck();
  });
});

describe('more shapes', () => {
  it('UNION over a keyless table with duplicate edges (delete one copy, then the other)', async () => {
    const st = await maintain(
      db,
      'st_links_closure',
      `WITH RECURSIVE c(a, b) AS (SELECT a, b FROM links UNION SELECT c.a, l.b FROM c JOIN links l ON l.a = c.b) SELECT a, b FROM c`,
    );
    await st.check();
    await db.query(`DELETE FROM links WHERE ctid = (SELECT min(ctid) FROM links WHERE a = 1 AND b = 2)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM links WHERE a = 1 AND b = 2`);
    await st.refreshAndCheck();
    await db.query(`INSERT INTO links VALUES (1, 2), (1, 2), (5, 1)`);
    await st.refreshAndCheck();
    await expectFullRefreshAgrees(st, { expectFullAction: true });
  });

  it('a closure read twice, and WITH clauses inside the CTE body', async () => {
    const twice = await maintain(
      db,
      'st_reach_twice',
      `WITH RECURSIVE reach(a, b) AS (SELECT src, dst FROM edges UNION SELECT r.a, e.dst FROM reach r JOIN edges e ON e.src = r.b)
       SELECT x.a, y.b FROM reach x JOIN reach y ON y.a = x.b WHERE x.a = 1`,
    );
    const bodyWith = await maintain(
      db,
      'st_body_with',
      `WITH RECURSIVE r(node, d) AS (
         WITH s AS (SELECT node FROM starts) SELECT node, 0 FROM s
         UNION ALL
         (WITH e AS (SELECT src, dst FROM edges WHERE dst <> src) SELECT e.dst, r.d + 1 FROM r JOIN e ON e.src = r.node WHERE r.d < 6)
       ) SELECT node, d FROM r`,
    );
    await bodyWith.check();
    await db.query(`INSERT INTO edges VALUES (1, 50), (50, 51)`);
    await db.query(`INSERT INTO starts VALUES (5, 50)`);
    await twice.refreshAndCheck();
    await bodyWith.refreshAndCheck();
    await db.query(`DELETE FROM edges WHERE src = 50`);
    await twice.refreshAndCheck();
    await bodyWith.refreshAndCheck();
    await db.query(`DELETE FROM starts WHERE id = 5`);
    await bodyWith.refreshAndCheck();
  });

  it('a long chain inserted and deleted in one window each (thousands of derived rows)', async () => {
    await db.query(`CREATE TABLE chain (src int PRIMARY KEY, dst int)`);
    const st = await maintain(
      db,
      'st_chain',
      `WITH RECURSIVE r(a, b, len) AS (SELECT src, dst, 1 FROM chain UNION ALL SELECT r.a, c.dst, r.len + 1 FROM r JOIN chain c ON c.src = r.b) SELECT a, b, len FROM r`,
    );
    await db.query(`INSERT INTO chain SELECT g, g + 1 FROM generate_series(1, 120) g`);
    await st.refreshAndCheck();
    const n = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM st_chain`);
    expect(Number(n.rows[0]?.n)).toBe((120 * 121) / 2);
    await db.query(`DELETE FROM chain WHERE src = 60`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM chain WHERE src > 100`);
    await st.refreshAndCheck();
    await db.query(`INSERT INTO chain VALUES (60, 61)`);
    await st.refreshAndCheck();
    await db.query(`UPDATE chain SET dst = 200 WHERE src = 30`);
    await st.refreshAndCheck();
  });

  it('a recursive CTE reading another recursive CTE', async () => {
    const st = await maintain(
      db,
      'st_rec_nested',
      `WITH RECURSIVE reach(a, b) AS (SELECT src, dst FROM edges UNION SELECT r.a, e.dst FROM reach r JOIN edges e ON e.src = r.b),
                     hops(a, b, n) AS (SELECT a, b, 1 FROM reach WHERE a = 1 UNION SELECT h.a, r.b, h.n + 1 FROM hops h JOIN reach r ON r.a = h.b WHERE h.n < 3)
       SELECT a, b, n FROM hops`,
    );
    await st.check();
    await db.query(`INSERT INTO edges VALUES (4, 80), (80, 81)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM edges WHERE src = 80`);
    await st.refreshAndCheck();
  });

  it('a recursive CTE inside a LATERAL subquery', async () => {
    const st = await maintain(
      db,
      'st_rec_lateral',
      `SELECT s.id, x.n FROM starts s CROSS JOIN LATERAL (
         SELECT count(*) AS n FROM (
           WITH RECURSIVE reach(a, b) AS (SELECT src, dst FROM edges UNION SELECT r.a, e.dst FROM reach r JOIN edges e ON e.src = r.b)
           SELECT b FROM reach WHERE reach.a = s.node) q) x`,
    );
    // The CTE is uncorrelated; the outer level reads it per start node.
    await st.check();
    await db.query(`INSERT INTO edges VALUES (11, 60), (60, 61)`);
    await st.refreshAndCheck();
    await db.query(`DELETE FROM edges WHERE src = 60`);
    await db.query(`INSERT INTO starts VALUES (6, 60)`);
    await st.refreshAndCheck();
  });
});

describe('refusals', () => {
  it('refuses a recursive CTE that reads the enclosing query (AUTO: FULL)', async () => {
    const q = `SELECT s.id, x.n FROM starts s CROSS JOIN LATERAL (
       WITH RECURSIVE r(node) AS (SELECT s.node UNION SELECT e.dst FROM r JOIN edges e ON e.src = r.node)
       SELECT count(*) AS n FROM r) x`;
    const err = await maintain(db, 'st_rec_correlated', q).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PGT_UNSUPPORTED' });
    expect(String((err as Error).message)).toContain('recursive CTE "r"');
    const auto = await maintain(db, 'st_rec_correlated_auto', q, { mode: 'AUTO' });
    expect(auto.plan.mode).toBe('FULL');
    await auto.check();
  });

  it('refuses a volatile function in the recursive term; AUTO falls back to FULL', async () => {
    const q = `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3 AND random() >= 0) SELECT n FROM r`;
    const err = await maintain(db, 'st_rec_volatile', q).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PGT_UNSUPPORTED' });
    expect(String((err as Error).message)).toContain('random()');
    const auto = await maintain(db, 'st_rec_volatile_auto', q, { mode: 'AUTO' });
    expect(auto.plan.mode).toBe('FULL');
  });
});

describe('IMMEDIATE (transition tables)', () => {
  it('closure and hierarchy maintained statement by statement', async () => {
    const reach = await maintain(db, 'st_im_reach', REACH, { mode: 'IMMEDIATE' });
    const tree = await maintain(db, 'st_im_tree', TREE, { mode: 'IMMEDIATE' });
    expect(reach.plan.mode).toBe('IMMEDIATE');
    await applyTransition(
      db,
      [reach, tree],
      { insert: 'edges', values: `(70, 71), (71, 72), (72, 70)` },
      { includeNonReaders: true },
    );
    await applyTransition(
      db,
      [reach, tree],
      { delete: 'edges', where: `src = 71` },
      { includeNonReaders: true },
    );
    await applyTransition(
      db,
      [reach, tree],
      { update: 'edges', set: `dst = 1`, where: `src = 72` },
      { includeNonReaders: true },
    );
    await applyTransition(
      db,
      [reach, tree],
      { insert: 'nodes', values: `(70, 1, 'x'), (71, 70, 'y')` },
      { includeNonReaders: true },
    );
    await applyTransition(
      db,
      [reach, tree],
      { delete: 'nodes', where: `id = 70` },
      { includeNonReaders: true },
    );
    await applyTransition(
      db,
      [reach, tree],
      { update: 'nodes', set: `parent = 2`, where: `id = 71` },
      { includeNonReaders: true },
    );
  });
});
