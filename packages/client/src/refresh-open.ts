/**
 * The opening of a refresh in ONE round trip: BEGIN, the lock statement and the preflight sent as
 * one simple query (`BEGIN …; <lock>; EXECUTE <preflight>(…)`), when the refresh's caller has just
 * read the stream table's row outside the transaction (`refresh()`'s opening read) and the
 * preflight is already prepared in the session. Under READ COMMITTED each statement of the query
 * takes its own snapshot, so the preflight still reads after the lock is granted and sees what a
 * concurrent refresh or DDL committed while the lock was awaited.
 *
 * Rule: the preflight's values are those the row read before would give (its storage, view, owner,
 * search_path and frontier) and those the lock statement answered last time on this connection
 * (the caller's plan_cache_mode, whether the plan's buffers have their window index). The lock
 * statement's answer is then compared with them: on any difference — a concurrent refresh moved the
 * frontier, DDL changed the row, a buffer appeared, was dropped or got its index — the transaction
 * is rolled back (nothing was written but the lock and the writer registration) and the refresh
 * opens it again the ordinary way, in two round trips. An error of the query is raised as it is
 * when it can only be the lock's (lock not available, deadlock, cancellation, a broken connection);
 * any other rolls back and takes the ordinary way too, which raises it again if it stands.
 */
import type { CompiledPlan } from '@pgtrickle/dvm';
import type pg from 'pg';
import type { AutoFullCap } from './auto-cost.js';
import type { StreamTableRow } from './catalog/rows.js';
import { BEGIN_READ_COMMITTED, type Conn, isConnectionError, sqlState } from './db.js';
import { keptExecuteSql } from './prepared.js';
import {
  type LockedRow,
  lastLockAnswer,
  lockedFrom,
  lockLiteralSql,
  type Preflight,
  preflightFrom,
  preflightStatement,
  type RefreshLock,
  windowRead,
} from './refresh-preflight.js';

/** What {@link openInOneRoundTrip} read: the lock's answer and the preflight. */
export interface OpenedRefresh {
  readonly locked: LockedRow | null;
  readonly pre: Preflight;
}

/** The parts of a row the preflight's values come from, and the row read before equal to the locked one in them. */
function sameForPreflight(a: StreamTableRow, b: StreamTableRow): boolean {
  return (
    a.pgtId === b.pgtId &&
    a.storageOid === b.storageOid &&
    a.publicOid === b.publicOid &&
    a.owner === b.owner &&
    a.searchPath === b.searchPath &&
    a.requestedMode === b.requestedMode &&
    a.needsReinit === b.needsReinit &&
    JSON.stringify(a.frontier) === JSON.stringify(b.frontier)
  );
}

/** SQLSTATE classes an error of the lock statement has: raised as they are, with no second attempt. */
function lockError(error: unknown): boolean {
  const code = sqlState(error) ?? '';
  return isConnectionError(error) || code === '55P03' || code.startsWith('40') || code.startsWith('57');
}

/**
 * Opens the transaction on `conn` (not open yet), locks stream table `seen.pgtId` and reads its
 * preflight for the DIFFERENTIAL plan `expected` in one round trip (see the module header). Null
 * when it cannot (the preflight is not prepared in this session, or the lock's last answers are not
 * known here) or when the lock's answer differs from what was assumed: the transaction is then not
 * open (rolled back), and the caller opens it the ordinary way.
 */
export async function openInOneRoundTrip(
  conn: Conn,
  seen: StreamTableRow,
  lock: RefreshLock,
  ignoreStatus: boolean,
  expected: CompiledPlan,
  buffers: readonly string[],
  hiddenOids: readonly number[],
  cap: AutoFullCap | null,
  autoFullRatio: number,
): Promise<OpenedRefresh | null> {
  const last = lastLockAnswer(conn, buffers);
  if (last === null) return null;
  const window = windowRead(expected, seen, cap, autoFullRatio);
  const costSamples = seen.requestedMode === 'AUTO';
  const { text, values } = preflightStatement(
    seen,
    { role: seen.owner, searchPath: seen.searchPath },
    hiddenOids,
    window,
    costSamples,
    { caller: last.planCacheMode, genericDelta: !last.buffersIndexed },
  );
  const execute = keptExecuteSql(conn, text, values);
  if (execute === null) return null;
  let results: pg.QueryResult[];
  try {
    const out: unknown = await conn.query(
      `${BEGIN_READ_COMMITTED}; ${lockLiteralSql(seen.pgtId, lock, ignoreStatus, buffers)}; ${execute}`,
    );
    results = out as pg.QueryResult[];
  } catch (error) {
    if (lockError(error)) throw error;
    await conn.query('ROLLBACK');
    return null;
  }
  const locked = lockedFrom(results[1] as pg.QueryResult);
  const pre = preflightFrom(results[2] as pg.QueryResult, costSamples);
  if (locked === null) return { locked, pre };
  const same =
    sameForPreflight(seen, locked.row) &&
    locked.buffersExist &&
    locked.buffersIndexed === last.buffersIndexed &&
    (locked.planCacheMode === null || locked.planCacheMode === last.planCacheMode);
  if (!same) {
    await conn.query('ROLLBACK');
    return null;
  }
  return { locked, pre };
}
