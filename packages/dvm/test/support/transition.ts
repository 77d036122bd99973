/**
 * Test support: applying a statement to a stream table the way an IMMEDIATE trigger would — the
 * statement runs, its OLD / NEW transition rows are collected into temp tables, and the plan's
 * transition-table delta (every other source statically unchanged) is consolidated and applied in
 * the same transaction — then the oracle. (The change buffers see these writes too, so a table
 * maintained this way is not refreshed DIFFERENTIAL afterwards.)
 */
import {
  applyConsolidatedSql,
  consolidateSql,
  deltaTable,
  deltaTableDdl,
  ROW_ID_SETTINGS,
} from '@pgtrickle/dvm';
import type { TestDatabase } from '@pgtrickle/testkit';
import type { Maintained } from './maintained.js';

/** One statement on one table: an INSERT of `values`, a DELETE or an UPDATE of the rows `where`. */
export type TransitionStep =
  | { readonly insert: string; readonly values: string }
  | { readonly delete: string; readonly where: string }
  | { readonly update: string; readonly set: string; readonly where: string };

/**
 * Runs `step` once and applies its transition-table delta to each of `sts` in the same
 * transaction, then checks the oracle on each.
 */
export async function applyTransition(
  db: TestDatabase,
  sts: readonly Maintained[],
  step: TransitionStep,
): Promise<void> {
  const table = 'insert' in step ? step.insert : 'delete' in step ? step.delete : step.update;
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const [k, v] of Object.entries(ROW_ID_SETTINGS)) {
      await client.query('SELECT pg_catalog.set_config($1, $2, true)', [k, v]);
    }
    await client.query(`CREATE TEMP TABLE pgt_tt_old (LIKE ${table}) ON COMMIT DROP`);
    await client.query(`CREATE TEMP TABLE pgt_tt_new (LIKE ${table}) ON COMMIT DROP`);
    let oldTable: string | null = null;
    let newTable: string | null = null;
    if ('insert' in step) {
      await client.query(
        `WITH x AS (INSERT INTO ${table} VALUES ${step.values} RETURNING *) INSERT INTO pgt_tt_new SELECT * FROM x`,
      );
      newTable = 'pgt_tt_new';
    } else {
      await client.query(`INSERT INTO pgt_tt_old SELECT * FROM ${table} WHERE ${step.where}`);
      oldTable = 'pgt_tt_old';
      if ('delete' in step) {
        await client.query(`DELETE FROM ${table} WHERE ${step.where}`);
      } else {
        await client.query(
          `WITH x AS (UPDATE ${table} SET ${step.set} WHERE ${step.where} RETURNING *) INSERT INTO pgt_tt_new SELECT * FROM x`,
        );
        newTable = 'pgt_tt_new';
      }
    }
    for (const st of sts) {
      const source = st.plan.sources.find((s) => s.name === table);
      if (source === undefined) throw new Error(`${table} is not a source of ${st.name}`);
      const target = st.plan.applyTarget();
      for (const sql of deltaTableDdl(target)) await client.query(sql);
      const delta = st.plan.deltaInsert({ kind: 'transitionTable', source: source.key, oldTable, newTable });
      if (delta === null) throw new Error('no delta statement');
      await client.query(delta);
      for (const sql of consolidateSql(target, deltaTable(target.tag))) await client.query(sql);
      for (const sql of applyConsolidatedSql(target)) await client.query(sql);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  for (const st of sts) await st.check();
}
