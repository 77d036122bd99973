/**
 * fast-check: every representative query of the property tests (dvm's support/cases.ts) as an
 * IMMEDIATE stream table under random DML. Each query gets its own schema with the world's sources
 * (`a`, `b` keyed, `c` keyless; dvm's support/world.ts) and one IMMEDIATE stream table created
 * through the public API. Per generated history: the sources are truncated (the AFTER TRUNCATE
 * triggers recompute) and refilled, then each batch of random changes runs in one of four ways,
 * and the stream table must equal its query (the oracle) after every statement, inside the
 * writer's transaction too, and after its end:
 * - one autocommit statement at a time;
 * - all in one transaction, committed;
 * - in one transaction with a savepoint after the first half, rolled back to it, then committed;
 * - all in one transaction, rolled back.
 * Initial rows are drawn up to the world's maximum (each statement is a delta of its own, so
 * statements touching several rows need tables of more than a few). Runs: FC_RUNS (default 5
 * histories per query), FC_BATCHES (default 5), FC_CHANGES (default 5);
 * FC_SEED replays a seed.
 */
import { expectNoNegativeCounts, expectTableEqualsQuery, type Queryable } from '@pgtrickle/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caseSql, propertyVariants, serialQueue } from '../../dvm/test/support/cases.js';
import {
  type Batch,
  type BatchMode,
  changeSql,
  type History,
  historyArb,
  resetSql,
  type WorldShape,
  worldDdl,
} from '../../dvm/test/support/world.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

const runs = Number(process.env.FC_RUNS ?? 5);
const sizes = {
  maxBatches: Number(process.env.FC_BATCHES ?? 5),
  maxChanges: Number(process.env.FC_CHANGES ?? 5),
  // Each statement is its own delta here: tables of a few rows would rarely see a statement
  // touching several rows at once.
  rows: 'max' as const,
};
const seed = process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) };

/** How an IMMEDIATE batch runs, for each of the world's batch modes (made for deferred refreshes). */
type WriterMode = 'autocommit' | 'commit' | 'savepoint' | 'rollback';
const WRITER_MODE: Record<BatchMode, WriterMode> = {
  statements: 'autocommit',
  transaction: 'commit',
  refreshInside: 'savepoint',
  heldOpen: 'rollback',
};

async function check(q: Queryable, table: string, query: string): Promise<void> {
  await expectTableEqualsQuery(q, table, query);
  await expectNoNegativeCounts(q, table);
}

/** Runs `batch` the way its writer mode says, checking `table` after every statement. */
async function runBatch(s: string, shape: WorldShape, batch: Batch, table: string, query: string) {
  const statements = batch.changes.map((c) => changeSql(s, c, shape));
  const mode = WRITER_MODE[batch.mode];
  const conn = await db.pool.connect();
  let open = false;
  const step = async (where: string, f: () => Promise<unknown>) => {
    try {
      await f();
      await check(conn, table, query);
    } catch (error) {
      const msg = error instanceof Error ? error.message : String(error);
      throw new Error(`${mode} batch, ${where}: ${msg}`, { cause: error });
    }
  };
  try {
    if (mode !== 'autocommit') {
      await conn.query('BEGIN');
      open = true;
    }
    const half = Math.ceil(statements.length / 2);
    for (const [i, change] of statements.entries()) {
      if (mode === 'savepoint' && i === half) await conn.query('SAVEPOINT half');
      for (const sql of change) await step(`after ${sql}`, () => conn.query(sql));
    }
    if (mode === 'savepoint' && statements.length > half)
      await step('after ROLLBACK TO SAVEPOINT', () => conn.query('ROLLBACK TO SAVEPOINT half'));
    if (open) {
      open = false;
      await conn.query(mode === 'rollback' ? 'ROLLBACK' : 'COMMIT');
    }
  } finally {
    if (open) await conn.query('ROLLBACK').catch(() => undefined);
    conn.release();
  }
  await check(db, table, query);
}

let schemas = 0;

/** Setup DDL (triggers, the shared changes schema) runs one step at a time. */
const serially = serialQueue();

describe.concurrent('every operator under random DML in IMMEDIATE: table = query after every statement', () => {
  for (const { c, shape, name } of propertyVariants()) {
    it(name, async () => {
      const s = `iprop_${++schemas}`;
      const query = caseSql(c, s);
      const table = `${s}.st`;
      await serially(async () => {
        await db.query(worldDdl(s, shape));
        const st = await trickle().createStreamTable({ name: table, query, refreshMode: 'IMMEDIATE' });
        expect(st.effectiveMode).toBe('IMMEDIATE');
      });
      let histories = 0;
      let statements = 0;
      await fc.assert(
        fc.asyncProperty(historyArb(c.tables, sizes), async (h: History) => {
          histories++;
          for (const stmt of resetSql(s, h)) await db.query(stmt);
          await check(db, table, query);
          for (const [i, batch] of h.batches.entries()) {
            try {
              await runBatch(s, shape, batch, table, query);
            } catch (error) {
              const msg = error instanceof Error ? error.message : String(error);
              throw new Error(`batch ${i + 1} of ${h.batches.length}: ${msg}`, { cause: error });
            }
            statements += batch.changes.length;
          }
        }),
        { numRuns: runs, ...seed },
      );
      expect(histories).toBeGreaterThanOrEqual(runs);
      expect(statements).toBeGreaterThan(0);
    }, 600_000);
  }
});
