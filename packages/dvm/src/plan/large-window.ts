/**
 * Planner settings for a large change window. Rule: a DIFFERENTIAL statement whose window holds at
 * least `LARGE_WINDOW_SHARE` of the rows of its sources (and at least `LARGE_WINDOW_MIN_CHANGES`
 * change records) runs with nested-loop joins off and a `work_mem` of at least
 * `LARGE_WINDOW_WORK_MEM`, set for that statement only (transaction-local, restored right after).
 *
 * Why: a change buffer's statistics never describe the window being read (its rows come and go
 * between refreshes), and the window's rows pass through CTEs and DISTINCT ON row ids, whose row
 * counts the planner cannot estimate; it expects a handful of rows and picks index nested loops
 * into the storage table and the sources. At a window that is a sizeable share of the sources,
 * those are tens of thousands of index probes where one hash join over the table is cheaper, and
 * the hash aggregates spill to disk at the default `work_mem`. The share is taken of all the
 * plan's sources together, so a window on a small table joined to a large one (where probing the
 * large one by index is right) keeps the planner's own choice; so does a window over a source of
 * unknown size (`reltuples` -1: never analysed, or a partitioned table, whose parent keeps no count).
 */
import type { SqlExecutor } from './refresh.js';

/** The share of the sources' rows (all sources together) from which a window is large. */
export const LARGE_WINDOW_SHARE = 0.05;

/** The fewest change records of a large window (below it the planner's choice costs little either way). */
export const LARGE_WINDOW_MIN_CHANGES = 10_000;

/** The least `work_mem` a large window's statement runs with, kB (32MB). */
export const LARGE_WINDOW_WORK_MEM_KB = 32 * 1024;

/**
 * Whether a window of `changes` change records is large for sources of `rows` rows each
 * (`reltuples`; a source of unknown size, negative or not a number, makes it not large).
 */
export function isLargeWindow(changes: number, rows: readonly number[]): boolean {
  if (changes < LARGE_WINDOW_MIN_CHANGES) return false;
  if (rows.some((r) => !Number.isFinite(r) || r < 0)) return false;
  const total = rows.reduce((a, r) => a + r, 0);
  return changes >= LARGE_WINDOW_SHARE * total;
}

/**
 * Runs `body` with the large-window planner settings set transaction-locally, then restores the
 * values they had (a failed `body` aborts the transaction, whose rollback restores them).
 */
export async function withLargeWindowSettings<T>(exec: SqlExecutor, body: () => Promise<T>): Promise<T> {
  const res = await exec.query(
    `SELECT o.nestloop, o.work_mem,
            pg_catalog.set_config('enable_nestloop', 'off', true) AS set_nestloop,
            pg_catalog.set_config('work_mem',
              GREATEST(o.work_mem_kb, $1::bigint)::text || 'kB', true) AS set_work_mem
       FROM (SELECT pg_catalog.current_setting('enable_nestloop') AS nestloop,
                    pg_catalog.current_setting('work_mem') AS work_mem,
                    (SELECT s.setting::bigint FROM pg_catalog.pg_settings AS s WHERE s.name = 'work_mem') AS work_mem_kb
              OFFSET 0) AS o`,
    [LARGE_WINDOW_WORK_MEM_KB],
  );
  const before = res.rows[0] as { nestloop: string; work_mem: string } | undefined;
  const result = await body();
  if (before !== undefined) {
    await exec.query(
      `SELECT pg_catalog.set_config('enable_nestloop', $1, true), pg_catalog.set_config('work_mem', $2, true)`,
      [before.nestloop, before.work_mem],
    );
  }
  return result;
}
