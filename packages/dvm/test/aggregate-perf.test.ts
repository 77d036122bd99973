/**
 * Cost of the root COUNT / SUM / AVG refresh: on a 200,000-row source its delta statement reads
 * the change buffer and the storage rows of the affected groups only — EXPLAIN shows no scan of
 * the source table — and the refreshed table still equals its query.
 */
import { type CompiledPlan, deltaParamValues, type Frontier } from '@pgtrickle/dvm';
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { maintain } from './support/maintained.js';

const db = useTestDatabase();
const ROWS = 200_000;

/** EXPLAIN of the plan's refresh statement for the window after `frontier` (nothing is run). */
async function explainDelta(plan: CompiledPlan, frontier: Frontier): Promise<string> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const statement = plan.refreshSql();
    if (statement === null) throw new Error('no refresh statement');
    const res = await client.query(`EXPLAIN (COSTS OFF) ${statement}`, deltaParamValues(plan, frontier));
    return res.rows.map((r: Record<string, unknown>) => String(r['QUERY PLAN'])).join('\n');
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE big (id int PRIMARY KEY, region int NOT NULL, amount numeric, qty int);
    INSERT INTO big SELECT i, i % 2000, (i % 97) * 1.25, i % 13 FROM generate_series(1, ${ROWS}) AS i;
    ANALYZE big;
  `);
}, 120_000);

describe('root COUNT / SUM / AVG on a large source', () => {
  it('reads only the delta and the affected groups (no scan of the source)', async () => {
    const grouped = await maintain(
      db,
      'st_big_grouped',
      `SELECT region, count(*) AS n, sum(amount) AS total, avg(qty) AS aq, count(amount) AS na FROM big GROUP BY region`,
    );
    const total = await maintain(
      db,
      'st_big_total',
      `SELECT count(*) AS n, sum(amount) AS s, avg(qty) AS a FROM big`,
    );
    await db.query(`ANALYZE st_big_grouped; ANALYZE st_big_total`);
    await db.query(`
      UPDATE big SET amount = amount + 1 WHERE id BETWEEN 1 AND 20;
      UPDATE big SET region = region + 1 WHERE id BETWEEN 21 AND 30;
      DELETE FROM big WHERE id BETWEEN 31 AND 40;
      INSERT INTO big SELECT i, i % 7, 1, 1 FROM generate_series(${ROWS + 1}, ${ROWS + 10}) AS i;
    `);
    for (const st of [grouped, total]) {
      const frontier = st.frontier;
      if (frontier === null) throw new Error('no frontier');
      const plan = await explainDelta(st.plan, frontier);
      if (process.env.PGT_SHOW_PLAN) console.log(plan);
      expect(plan).not.toMatch(/Seq Scan on big\b/);
      expect(plan).not.toMatch(/Index (Only )?Scan using big_pkey/);
      expect(plan).not.toMatch(/Seq Scan on st_big_grouped\b/);
      const started = Date.now();
      await st.refreshAndCheck();
      expect(Date.now() - started).toBeLessThan(60_000);
    }
  }, 300_000);

  it("reaches each changed group's stored row once through the row-id index: the update and the delete go by ctid", async () => {
    const st = await maintain(
      db,
      'st_big_ctid',
      `SELECT region, count(*) AS n, sum(amount) AS total FROM big GROUP BY region`,
    );
    await db.query(`ANALYZE st_big_ctid`);
    await db.query(`
      UPDATE big SET amount = amount + 1 WHERE id BETWEEN 101 AND 120;
      DELETE FROM big WHERE region = 1999;
    `);
    const frontier = st.frontier;
    if (frontier === null) throw new Error('no frontier');
    const plan = await explainDelta(st.plan, frontier);
    // The state of the changed groups is read by row id; the UPDATE and the DELETE reach the
    // rows read by their ctid, not by a second probe of the row-id index.
    expect(plan.match(/Index Scan using \S+__pgt_row_id_idx/g) ?? []).toHaveLength(1);
    expect(plan.match(/TID Cond: \(ctid = /g) ?? []).toHaveLength(2);
    await st.refreshAndCheck();
    // Region 1999 disappeared; a later refresh of the same groups still applies exactly.
    await db.query(`UPDATE big SET amount = amount - 1 WHERE id BETWEEN 101 AND 120`);
    await db.query(`INSERT INTO big VALUES (${ROWS + 100}, 1999, 5, 5)`);
    await st.refreshAndCheck();
  }, 300_000);

  it('shows the check is live: a MIN / MAX delta may rescan groups of the source', async () => {
    const st = await maintain(db, 'st_big_min', `SELECT region, min(qty) AS lo FROM big GROUP BY region`);
    await db.query(`DELETE FROM big WHERE id BETWEEN 41 AND 45`);
    const frontier = st.frontier;
    if (frontier === null) throw new Error('no frontier');
    expect(await explainDelta(st.plan, frontier)).toMatch(/ on big\b/);
    await st.refreshAndCheck();
  }, 300_000);
});
