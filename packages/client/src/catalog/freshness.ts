/**
 * Freshness checks (`pgt_freshness`): the leader records, after a tick, the tables it found with
 * nothing to apply — they were known to equal their query at that tick. Rule: one statement per
 * tick; a row is rewritten only when its stored check is older than {@link CHECK_GRANULARITY_MS}
 * (idle tables cost one cheap write per table every few seconds, on an unlogged table); a check
 * never moves backwards.
 */
import type { TickReport } from '@pgtrickle/scheduler';
import { cat, catalogObjectExists, type Queryable } from './schema.js';

/** A stored check is refreshed when older than this (well inside the 10 s minimum staleness grace). */
export const CHECK_GRANULARITY_MS = 2_000;

/** The gate whose skip means "nothing to apply": the table equals its query at the tick. */
const NOTHING_PENDING_GATE = 'upstream-changes';

/** The ids of the tables a tick found with nothing to apply. */
export function nothingPendingIds(report: TickReport): number[] {
  const ids: number[] = [];
  for (const unit of report.units) {
    for (const v of unit.verdicts) {
      if (v.gate === NOTHING_PENDING_GATE && v.decision.kind === 'skip') ids.push(Number(v.streamTable));
    }
  }
  return ids.filter((id) => Number.isSafeInteger(id));
}

/** Records that the tables `ids` were known fresh at `at` (ids no longer in the catalog are ignored). */
export async function recordChecked(q: Queryable, ids: readonly number[], at: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const res = await q.query(
    `INSERT INTO ${cat('pgt_freshness')} AS f (pgt_id, checked_at)
     SELECT s.pgt_id, $2::timestamptz FROM ${cat('pgt_stream_tables')} s WHERE s.pgt_id = ANY($1::bigint[])
     ON CONFLICT (pgt_id) DO UPDATE SET checked_at = EXCLUDED.checked_at
      WHERE f.checked_at < EXCLUDED.checked_at - make_interval(secs => $3::float8 / 1000)`,
    [ids, at, CHECK_GRANULARITY_MS],
  );
  return res.rowCount ?? 0;
}

/** Whether the freshness table exists (the catalog migration "health and freshness" or later). */
export function hasFreshness(q: Queryable): Promise<boolean> {
  return catalogObjectExists(q, 'pgt_freshness');
}
