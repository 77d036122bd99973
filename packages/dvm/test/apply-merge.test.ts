/**
 * The apply of a delta with unique row ids (plan/apply.ts, plan/apply-merge.ts): on PostgreSQL
 * 17 or later one MERGE … RETURNING CTE deletes, updates and inserts, reporting the same counts
 * as the three statements older servers run; both stay exact for deletes, updates (a changed
 * value, the same value in another representation, an unchanged row) and inserts, with and
 * without consumers. A server the port reports as older than 17 gets the three statements.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';

const db = useTestDatabase();

beforeAll(async () => {
  await db.query(`
    CREATE TABLE am_a (id int PRIMARY KEY, k int NOT NULL, v numeric);
    CREATE TABLE am_b (k int PRIMARY KEY, name text NOT NULL);
    INSERT INTO am_a SELECT g, g % 20, g * 1.5 FROM generate_series(1, 300) g;
    INSERT INTO am_b SELECT g, 'b' || g FROM generate_series(0, 19) g;
  `);
}, 120_000);

const QUERY = 'SELECT a.id, a.v, b.name FROM am_a a JOIN am_b b ON b.k = a.k WHERE a.v > 10';

const WINDOWS: readonly string[] = [
  'UPDATE am_a SET v = v + 1 WHERE id <= 40; DELETE FROM am_a WHERE id BETWEEN 41 AND 60',
  'INSERT INTO am_a SELECT g, g % 20, g FROM generate_series(301, 340) g; UPDATE am_b SET name = name || $$x$$ WHERE k < 5',
  'UPDATE am_a SET v = v::numeric(12,3) WHERE id BETWEEN 61 AND 80; UPDATE am_a SET k = k WHERE id BETWEEN 81 AND 90',
  'UPDATE am_a SET v = 5 WHERE id BETWEEN 91 AND 100; UPDATE am_a SET v = 50 WHERE id BETWEEN 1 AND 8',
  'DELETE FROM am_b WHERE k = 7; INSERT INTO am_b VALUES (7, $$seven$$)',
];

async function refreshAll(tables: readonly Maintained[]): Promise<{ ins: number; del: number }[]> {
  const counts: { ins: number; del: number }[] = [];
  for (const st of tables) {
    const r = await st.refreshAndCheck();
    counts.push({ ins: r.rowsInserted, del: r.rowsDeleted });
  }
  return counts;
}

describe('applying a delta with unique row ids', () => {
  it('one MERGE on PostgreSQL 17+, three statements before; the same rows and counts', async () => {
    const merged = await maintain(db, 'am_merge', QUERY);
    const three = await maintain(db, 'am_three', QUERY, { serverVersionNum: 160_000 });
    const down = await maintain(
      db,
      'am_down',
      'SELECT name, count(*) AS n, sum(v) AS s FROM am_merge GROUP BY name',
    );
    for (const capture of [null, merged.pgtId]) {
      expect(merged.plan.refreshSql(capture)).toMatch(/MERGE INTO/);
      expect(merged.plan.refreshSql(capture)).toMatch(/merge_action\(\)/);
      expect(merged.plan.refreshSql(capture)).not.toMatch(/__pgt_inserted/);
      expect(three.plan.refreshSql(capture)).not.toMatch(/MERGE INTO/);
      expect(three.plan.refreshSql(capture)).toMatch(/__pgt_inserted/);
    }
    for (const w of WINDOWS) {
      await db.query(w);
      const [m, t] = await refreshAll([merged, three]);
      expect(m).toEqual(t);
      await down.refreshAndCheck();
    }
  }, 120_000);
});
