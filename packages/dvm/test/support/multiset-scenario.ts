/**
 * Test support for the DISTINCT / set-operation tests: a scenario runs a query as a DIFFERENTIAL
 * stream table next to a FULL one, applies steps of DML, and after every step checks the oracle on
 * both, that the differential refresh really was differential, and that the differential table's
 * whole storage (row ids and hidden counts included) equals a fresh population.
 */
import { ROW_ID_SETTINGS } from '@pgtrickle/dvm';
import type { TestDatabase } from '@pgtrickle/testkit';
import { expect } from 'vitest';
import { type Maintained, maintain } from './maintained.js';

/** Fails unless `st`'s storage (every column) equals its population query as multisets. */
export async function expectStateMatchesPopulation(db: TestDatabase, st: Maintained): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const [k, v] of Object.entries(ROW_ID_SETTINGS)) {
      await client.query(`SELECT pg_catalog.set_config($1, $2, true)`, [k, v]);
    }
    const pop = st.plan.populationSelect();
    const res = await client.query(
      `SELECT (SELECT pg_catalog.json_agg(x) FROM (SELECT * FROM ${st.relation} EXCEPT ALL (${pop})) AS x) AS extra,
              (SELECT pg_catalog.json_agg(x) FROM ((${pop}) EXCEPT ALL SELECT * FROM ${st.relation}) AS x) AS missing`,
    );
    await client.query('COMMIT');
    const row = res.rows[0] as { extra: unknown; missing: unknown };
    expect({ table: st.name, extra: row.extra, missing: row.missing }).toEqual({
      table: st.name,
      extra: null,
      missing: null,
    });
  } finally {
    client.release();
  }
}

/** One step: statements run (each in its own transaction) before a refresh. */
export type Step = string | readonly string[];

/**
 * Maintains `query` DIFFERENTIAL (and FULL for comparison), runs `steps` with a refresh and every
 * check after each, then a FULL refresh of the differential table and one more empty round.
 */
export async function scenario(
  db: TestDatabase,
  name: string,
  query: string,
  steps: readonly Step[],
): Promise<Maintained> {
  const st = await maintain(db, name, query);
  expect(st.plan.mode).toBe('DIFFERENTIAL');
  const full = await maintain(db, `${name}_full`, query, { mode: 'FULL' });
  await st.check();
  await expectStateMatchesPopulation(db, st);
  for (const step of steps) {
    for (const sql of typeof step === 'string' ? [step] : step) await db.query(sql);
    const r = await st.refreshAndCheck();
    expect(['DIFFERENTIAL', 'NO_DATA']).toContain(r.action);
    await expectStateMatchesPopulation(db, st);
    await full.refresh('FULL');
    await full.check();
  }
  await st.refresh('FULL');
  await st.check();
  await expectStateMatchesPopulation(db, st);
  return st;
}
