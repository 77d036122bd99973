/**
 * The 22 TPC-H queries as IMMEDIATE stream tables over the bench's deterministic TPC-H data set
 * (3,000 orders): each refresh step of the bench (a transaction deleting orders with their line
 * items, updating line items and orders, inserting new orders with line items) is applied by the
 * writer's own statements, and every table must equal its query inside the transaction, after
 * its commit, and after a step rolled back.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { generateTpch, tpchScale } from '../../../bench/workloads/tpch/generate.js';
import { TPCH_QUERIES } from '../../../bench/workloads/tpch/queries.js';
import { applyStep } from '../../../bench/workloads/tpch/run.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const ORDERS = 3_000;
const STEPS = 3;

async function expectAllEqual(q: { query: typeof db.query }, when: string): Promise<void> {
  for (const [name, query] of Object.entries(TPCH_QUERIES)) {
    try {
      await expectTableEqualsQuery(q, `i_${name}`, query);
    } catch (error) {
      throw new Error(`${name} ${when}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }
}

describe('TPC-H in IMMEDIATE', () => {
  it('keeps all 22 queries equal to their results through the refresh steps, in and after each transaction', {
    timeout: 600_000,
  }, async () => {
    await generateTpch(db.pool, ORDERS);
    await db.query('ANALYZE');
    for (const [name, query] of Object.entries(TPCH_QUERIES)) {
      const st = await trickle().createStreamTable({ name: `i_${name}`, query, refreshMode: 'IMMEDIATE' });
      expect(st.effectiveMode).toBe('IMMEDIATE');
    }
    await expectAllEqual(db, 'after creation');
    let nextKey = ORDERS + 1;
    for (let step = 0; step < STEPS; step++) {
      nextKey += await applyStep(db.pool, step, ORDERS, nextKey);
      await expectAllEqual(db, `after step ${step + 1}`);
    }
    // A step seen from inside its transaction, then rolled back.
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      const s = tpchScale(ORDERS);
      await c.query(
        `DELETE FROM lineitem WHERE l_orderkey IN (SELECT o_orderkey FROM orders ORDER BY o_orderkey LIMIT 5)`,
      );
      await c.query(
        `DELETE FROM orders WHERE o_orderkey IN (SELECT o_orderkey FROM orders ORDER BY o_orderkey LIMIT 5)`,
      );
      await c.query(
        `UPDATE customer SET c_nationkey = (c_nationkey + 1) % 25 WHERE c_custkey <= ${s.customers / 10}`,
      );
      await c.query(`UPDATE supplier SET s_acctbal = s_acctbal + 100 WHERE s_suppkey % 3 = 0`);
      await expectAllEqual(c, 'inside a transaction');
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
    await expectAllEqual(db, 'after a rollback');
  });
});
