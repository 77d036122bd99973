/**
 * Random workloads (seeded) against several aggregate stream tables at once: batches of inserts,
 * updates (values and group keys) and deletes with NULLs and duplicates on a keyed and a keyless
 * table; the oracle runs after every refresh, and FULL agrees at the end.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { type Maintained, maintain } from './support/maintained.js';

const db = useTestDatabase();

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const QUERIES = (t: string): string[] => [
  `SELECT g, count(*) AS n, count(v) AS c, sum(v) AS s, avg(v) AS a, min(v) AS lo, max(w) AS hi, sum(w) AS sw FROM ${t} GROUP BY g`,
  `SELECT g, h, count(DISTINCT v) AS d, string_agg(v::text, ',' ORDER BY v) AS vs, bool_or(v > 5) AS big FROM ${t} GROUP BY g, h HAVING count(*) > 1`,
  `SELECT g, h, GROUPING(g, h) AS gg, count(*) AS n, sum(v) AS s, max(v) AS hi FROM ${t} GROUP BY ROLLUP (g, h)`,
  `SELECT count(*) AS n, sum(v) AS s, min(w) AS lo, avg(w) AS a FROM ${t}`,
  `SELECT g, sum(v) AS s, count(*) AS n, max(w) AS hi FROM ${t} GROUP BY g HAVING sum(v) > 8 AND count(*) > 1`,
  `SELECT g, h, count(*) AS n, avg(w) AS a FROM ${t} GROUP BY CUBE (g, h) HAVING count(*) > 2 OR GROUPING(g) = 1`,
  `SELECT x.g, x.n, y.n AS total FROM (SELECT g, count(*) AS n FROM ${t} GROUP BY g) x CROSS JOIN (SELECT count(*) AS n FROM ${t}) y WHERE x.n > 1`,
];

function value(r: () => number, nulls: number, max: number): string {
  return r() < nulls ? 'NULL' : String(Math.floor(r() * max));
}

function group(r: () => number): string {
  const x = r();
  return x < 0.1 ? 'NULL' : `'${'abcde'[Math.floor(r() * 5)]}'`;
}

describe('random workloads', () => {
  it('keeps seven aggregate shapes equal to their queries on a keyed table', async () => {
    await db.query(`CREATE TABLE rk (id int PRIMARY KEY, g text, h int, v int, w numeric)`);
    const r = rng(42);
    let next = 1;
    const rows = (n: number) =>
      Array.from(
        { length: n },
        () =>
          `(${next++}, ${group(r)}, ${value(r, 0.2, 3)}, ${value(r, 0.2, 10)}, ${value(r, 0.2, 100)} / 4.0)`,
      ).join(', ');
    await db.query(`INSERT INTO rk VALUES ${rows(40)}`);
    const tables: Maintained[] = [];
    for (const [i, q] of QUERIES('rk').entries()) tables.push(await maintain(db, `st_rk${i}`, q));
    for (let round = 0; round < 12; round++) {
      const ops: string[] = [];
      for (let k = 0; k < 4; k++) {
        const pick = r();
        if (pick < 0.3) ops.push(`INSERT INTO rk VALUES ${rows(1 + Math.floor(r() * 4))}`);
        else if (pick < 0.55)
          ops.push(`UPDATE rk SET v = ${value(r, 0.2, 10)} WHERE id % 7 = ${Math.floor(r() * 7)}`);
        else if (pick < 0.7)
          ops.push(`UPDATE rk SET g = ${group(r)}, w = w + 1 WHERE id % 11 = ${Math.floor(r() * 11)}`);
        else if (pick < 0.9) ops.push(`DELETE FROM rk WHERE id % 13 = ${Math.floor(r() * 13)}`);
        else ops.push(`INSERT INTO rk VALUES (${next}, 'z', 1, 1, 1); DELETE FROM rk WHERE id = ${next++}`);
      }
      await db.query(ops.join(';\n'));
      for (const st of tables) await st.refreshAndCheck();
    }
    for (const st of tables) {
      await st.refresh('FULL');
      await st.check();
    }
    expect(tables.length).toBe(7);
  });

  it('keeps seven aggregate shapes equal to their queries on a keyless table with duplicates', async () => {
    await db.query(`CREATE TABLE rl (g text, h int, v int, w numeric)`);
    const r = rng(7);
    const rows = (n: number) =>
      Array.from({ length: n }, () => {
        const row = `(${group(r)}, ${value(r, 0.2, 2)}, ${value(r, 0.2, 4)}, ${value(r, 0.2, 3)})`;
        return r() < 0.3 ? `${row}, ${row}` : row;
      }).join(', ');
    await db.query(`INSERT INTO rl VALUES ${rows(30)}`);
    const tables: Maintained[] = [];
    for (const [i, q] of QUERIES('rl').entries()) tables.push(await maintain(db, `st_rl${i}`, q));
    for (let round = 0; round < 10; round++) {
      const ops: string[] = [];
      const pick = r();
      if (pick < 0.35) ops.push(`INSERT INTO rl VALUES ${rows(1 + Math.floor(r() * 4))}`);
      else if (pick < 0.6) ops.push(`UPDATE rl SET v = ${value(r, 0.2, 4)} WHERE g = ${group(r)}`);
      else
        ops.push(
          `DELETE FROM rl WHERE ctid IN (SELECT ctid FROM rl WHERE h IS NOT DISTINCT FROM ${value(r, 0.3, 2)} LIMIT 3)`,
        );
      await db.query(ops.join(';\n'));
      for (const st of tables) await st.refreshAndCheck();
    }
    for (const st of tables) {
      await st.refresh('FULL');
      await st.check();
    }
    expect(tables.length).toBe(7);
  });
});
