/**
 * Test support for the DISTINCT / set-operation tests: a scenario runs a query as a DIFFERENTIAL
 * stream table next to a FULL one, applies steps of DML, and after every step checks the oracle on
 * both, that the differential refresh really was differential, and that the differential table's
 * whole storage (row ids and hidden counts included) equals a fresh population.
 */
import {
  applyConsolidatedSql,
  consolidateSql,
  deltaTable,
  deltaTableDdl,
  ROW_ID_SETTINGS,
} from '@pgtrickle/dvm';
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
 * check after each (with a FULL refresh of the differential table half-way, so later steps start
 * from a population's state), then a final FULL refresh and check.
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
  for (const [i, step] of steps.entries()) {
    if (i === Math.floor(steps.length / 2)) {
      // A FULL refresh half-way: the differential steps after it start from its state.
      await st.refresh('FULL');
      await st.check();
      await expectStateMatchesPopulation(db, st);
    }
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

/** One statement of an IMMEDIATE-style step: its table, and the rows it touches. */
export type ImmediateStep =
  | { readonly insert: string; readonly values: string }
  | { readonly delete: string; readonly where: string }
  | { readonly update: string; readonly set: string; readonly where: string };

/**
 * Maintains `query` and applies each step the way an IMMEDIATE trigger would: the statement runs,
 * its OLD / NEW transition rows are collected into temp tables, and the plan's transition-table
 * delta is consolidated and applied in the same transaction; the oracle runs after each step.
 * (The change buffers also see these writes, so the table is not refreshed DIFFERENTIAL after.)
 */
export async function immediateScenario(
  db: TestDatabase,
  name: string,
  query: string,
  steps: readonly ImmediateStep[],
): Promise<Maintained> {
  const st = await maintain(db, name, query);
  const target = st.plan.applyTarget();
  for (const step of steps) {
    const table = 'insert' in step ? step.insert : 'delete' in step ? step.delete : step.update;
    const source = st.plan.sources.find((s) => s.name === table);
    if (source === undefined) throw new Error(`${table} is not a source of ${name}`);
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      for (const [k, v] of Object.entries(ROW_ID_SETTINGS)) {
        await client.query(`SELECT pg_catalog.set_config($1, $2, true)`, [k, v]);
      }
      await client.query(`CREATE TEMP TABLE pgt_test_old (LIKE ${table}) ON COMMIT DROP`);
      await client.query(`CREATE TEMP TABLE pgt_test_new (LIKE ${table}) ON COMMIT DROP`);
      let oldTable: string | null = null;
      let newTable: string | null = null;
      if ('insert' in step) {
        await client.query(
          `WITH x AS (INSERT INTO ${table} VALUES ${step.values} RETURNING *) INSERT INTO pgt_test_new SELECT * FROM x`,
        );
        newTable = 'pgt_test_new';
      } else {
        await client.query(`INSERT INTO pgt_test_old SELECT * FROM ${table} WHERE ${step.where}`);
        oldTable = 'pgt_test_old';
        if ('delete' in step) {
          await client.query(`DELETE FROM ${table} WHERE ${step.where}`);
        } else {
          await client.query(
            `WITH x AS (UPDATE ${table} SET ${step.set} WHERE ${step.where} RETURNING *) INSERT INTO pgt_test_new SELECT * FROM x`,
          );
          newTable = 'pgt_test_new';
        }
      }
      for (const sql of deltaTableDdl(target)) await client.query(sql);
      const delta = st.plan.deltaInsert({ kind: 'transitionTable', source: source.key, oldTable, newTable });
      if (delta === null) throw new Error('no delta statement');
      await client.query(delta);
      for (const sql of consolidateSql(target, deltaTable(target.tag))) await client.query(sql);
      for (const sql of applyConsolidatedSql(target)) await client.query(sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    await st.check();
    await expectStateMatchesPopulation(db, st);
  }
  return st;
}
