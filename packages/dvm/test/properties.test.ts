/**
 * fast-check: every operator under random data and random DML. Each representative query gets
 * its own schema with the world's sources (`a`, `b` keyed, `c` keyless; support/world.ts) and two
 * stream tables compiled from the same DIFFERENTIAL plan. Per generated history: the sources are
 * reset to random rows (NULLs, duplicates) and both tables populated; then per batch of random
 * changes (key-changing updates, upserts, rows inserted and deleted before the refresh, bulk
 * statements; one transaction or several, in the refresh's own transaction, or in one held open
 * across the refresh and committed after it) the first table is refreshed DIFFERENTIALLY and must
 * equal its query (the oracle), and the second is refreshed FULL and must hold exactly the same
 * rows with the same row ids as the first.
 *
 * A query whose construct is not implemented fails (compile throws PGT_UNSUPPORTED): nothing is
 * skipped. Runs: FC_RUNS (default 8 histories per query), FC_BATCHES (most refreshes per
 * history, default 6), FC_CHANGES (most changes per batch, default 5). FC_SEED replays a seed.
 */
import { runRefresh, type SqlExecutor } from '@pgtrickle/dvm';
import { useTestDatabase } from '@pgtrickle/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caseSql, propertyVariants, serialQueue } from './support/cases.js';
import { type Maintained, maintain } from './support/maintained.js';
import {
  applyBatch,
  type Batch,
  batchSql,
  type History,
  historyArb,
  resetSql,
  type WorldShape,
  worldDdl,
} from './support/world.js';

const db = useTestDatabase();

const runs = Number(process.env.FC_RUNS ?? 8);
const sizes = {
  maxBatches: Number(process.env.FC_BATCHES ?? 6),
  maxChanges: Number(process.env.FC_CHANGES ?? 5),
};
const seed = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };

/**
 * Rows of `x` not in `y` and of `y` not in `x` (multisets of the row id and the visible columns).
 * Hidden state is not compared: equivalent encodings may differ (e.g. a numeric SUM's scale
 * tracker is 0 after a differential refresh and NULL after a FULL one for a group whose arguments
 * are all NULL); a difference that matters shows up in the visible columns of a later refresh.
 */
async function sameRows(x: Maintained, y: Maintained): Promise<void> {
  const cols = ['__pgt_row_id', ...x.plan.columns.map((c) => c.name)].map((c) => `"${c}"`).join(', ');
  const diff = await db.query<{ side: string; row: string; n: string }>(
    `SELECT 'differential' AS side, __r::text AS row, count(*) AS n FROM (SELECT ${cols} FROM ${x.relation} EXCEPT ALL SELECT ${cols} FROM ${y.relation}) AS __r GROUP BY __r::text
     UNION ALL
     SELECT 'full', __r::text, count(*) FROM (SELECT ${cols} FROM ${y.relation} EXCEPT ALL SELECT ${cols} FROM ${x.relation}) AS __r GROUP BY __r::text
     ORDER BY 1, 2 LIMIT 20`,
  );
  if (diff.rows.length > 0) {
    const lines = diff.rows.map((r) => `  only in ${r.side} ×${r.n}: ${r.row}`).join('\n');
    throw new Error(`the DIFFERENTIAL and the FULL refresh disagree (row id, ${cols}):\n${lines}`);
  }
}

/**
 * Applies `batch` in its mode and refreshes `st` DIFFERENTIALLY: in the batch's transaction for
 * `refreshInside`; while the batch's transaction is still open for `heldOpen`, whose commit is
 * returned (to run after the checks).
 */
async function refreshAfter(
  s: string,
  shape: WorldShape,
  batch: Batch,
  st: Maintained,
): Promise<(() => Promise<void>) | null> {
  if (batch.mode === 'statements' || batch.mode === 'transaction') {
    await applyBatch(db, s, batch, shape);
    const r = await st.refresh('DIFFERENTIAL');
    expect(r.action).not.toBe('FULL');
    return null;
  }
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const sql of batchSql(s, batch, shape)) await client.query(sql);
    if (batch.mode === 'heldOpen') {
      const r = await st.refresh('DIFFERENTIAL');
      expect(r.action).not.toBe('FULL');
      return async () => {
        try {
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      };
    }
    const r = await runRefresh(st.plan, client as unknown as SqlExecutor, {
      action: 'DIFFERENTIAL',
      frontier: st.frontier,
    });
    await client.query('COMMIT');
    expect(r.action).not.toBe('FULL');
    st.frontier = r.frontier;
    client.release();
    return null;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    throw error;
  }
}

let schemas = 0;

/** Setup DDL (triggers, the shared changes schema) runs one step at a time. */
const serially = serialQueue();

describe.concurrent('every operator under random DML: DIFFERENTIAL = query = FULL', () => {
  for (const { c, shape, name } of propertyVariants()) {
    it(name, async () => {
      const s = `prop_${++schemas}`;
      const sql = caseSql(c, s);
      const [diff, full] = await serially(async () => {
        await db.query(worldDdl(s, shape));
        return [
          await maintain(db, `${s}_diff`, sql, { schema: s }),
          await maintain(db, `${s}_full`, sql, { schema: s }),
        ];
      });
      let histories = 0;
      let refreshes = 0;
      await fc.assert(
        fc.asyncProperty(historyArb(c.tables, sizes), async (h: History) => {
          histories++;
          for (const stmt of resetSql(s, h)) await db.query(stmt);
          await diff.refresh('FULL');
          await full.refresh('FULL');
          await diff.check();
          for (const [i, batch] of h.batches.entries()) {
            let commit: (() => Promise<void>) | null = null;
            try {
              commit = await refreshAfter(s, shape, batch, diff);
              await diff.check();
              await full.refresh('FULL');
              await sameRows(diff, full);
            } catch (error) {
              const msg = error instanceof Error ? error.message : String(error);
              throw new Error(`after batch ${i + 1} of ${h.batches.length} (${batch.mode}): ${msg}`, {
                cause: error,
              });
            } finally {
              await commit?.();
            }
            refreshes++;
          }
          // A transaction held open across the last refresh committed after it: one more refresh.
          if (h.batches.at(-1)?.mode === 'heldOpen') {
            await diff.refresh('DIFFERENTIAL');
            await diff.check();
          }
        }),
        { numRuns: runs, ...seed },
      );
      expect(histories).toBeGreaterThanOrEqual(runs);
      expect(refreshes).toBeGreaterThan(0);
    }, 600_000);
  }
});
