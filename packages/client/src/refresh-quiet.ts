/**
 * The quiet refresh: a refresh that would find nothing to do answers NO_DATA from read-only
 * checks, before it takes the row lock, sets a role, creates a temp table or writes history. Rule:
 * a differential table is quiet when it is ACTIVE, has a frontier, needs no rebuild, its storage
 * exists with its write guard enabled, every source's fingerprint is the recorded one (no DDL, no
 * capture switched off), and no source has a change in its window (no change-buffer row after its
 * frontier: the same test as `pgtrickle.pending_sources()`, for this table's sources only). Such a
 * refresh could only have confirmed the contents, so it changes nothing — no catalog row, no
 * history row — except the unlogged freshness mark (`pgt_freshness`, the same record the
 * scheduler keeps for tables it found with nothing to apply). A FULL table is never quiet: its
 * query may change without any source changing (that is why it is FULL).
 */
import {
  baseBufferName,
  baseWindowSql,
  quoteLiteral,
  quoteQualified,
  streamBufferName,
} from '@pgtrickle/dvm';
import { CHECK_GRANULARITY_MS, recordChecked } from './catalog/freshness.js';
import type { DependencyRow, StreamTableRow } from './catalog/rows.js';
import { CHANGES_SCHEMA_NAME, cat, type Queryable } from './catalog/schema.js';
import type { Conn } from './db.js';
import { fingerprints } from './port.js';
import { GUARD_TRIGGER } from './storage.js';

/** The reason a quiet refresh reports. */
export const QUIET_REASON = 'no source has changed since the last refresh';

/** Whether `row`'s state allows a quiet refresh at all (before anything is read). */
export function mayBeQuiet(row: StreamTableRow): boolean {
  if (row.status !== 'ACTIVE' || row.effectiveMode !== 'DIFFERENTIAL') return false;
  return row.frontier !== null && !row.needsReinit && row.storageOid !== null && row.publicOid !== null;
}

/**
 * One SQL condition per source of `deps`: true when that source may have a change after the
 * frontier (`snapshot`: an SQL pg_snapshot expression; `epoch(pgtId)`: an SQL expression for the
 * epoch consumed from stream table `pgtId`). A missing buffer counts as pending (the full
 * refresh path decides what that means); a view's changes are its own sources'.
 */
export function pendingProbes(
  deps: readonly DependencyRow[],
  snapshot: string,
  epoch: (pgtId: number) => string,
): string[] {
  return deps.map((d) => {
    if (d.sourceKind === 'view') return 'false';
    const buffer =
      d.sourceKind === 'table' ? baseBufferName(d.sourceOid) : streamBufferName(d.sourcePgtId as number);
    const rel = quoteQualified(CHANGES_SCHEMA_NAME, buffer);
    const window =
      d.sourceKind === 'table' ? baseWindowSql(snapshot) : `b.epoch > ${epoch(d.sourcePgtId as number)}`;
    return `(pg_catalog.to_regclass(${quoteLiteral(rel)}) IS NULL OR EXISTS (SELECT 1 FROM ${rel} AS b WHERE ${window}))`;
  });
}

/** Whether a guard state read from `pg_trigger.tgenabled` is a firing guard. */
export function guardFires(tgenabled: unknown): boolean {
  return tgenabled === 'O' || tgenabled === 'A';
}

/** Whether every source's current fingerprint is the recorded one. */
export function fingerprintsUnchanged(
  deps: readonly DependencyRow[],
  current: ReadonlyMap<number, string | null>,
): boolean {
  return deps.every((d) => current.get(d.sourceOid) === d.fingerprint);
}

/** Whether refreshing `row` now would find nothing to apply and nothing to repair (read-only). */
export async function isQuiet(
  conn: Conn,
  row: StreamTableRow,
  deps: readonly DependencyRow[],
): Promise<boolean> {
  if (!mayBeQuiet(row) || row.frontier === null) return false;
  const frontier = row.frontier;
  const probes = pendingProbes(
    deps,
    '$3::pg_catalog.pg_snapshot',
    (pgtId) => `${Number(frontier.epochs[String(pgtId)] ?? 0)}`,
  ).map((p, i) => `${p} AS p${i}`);
  const res = await conn.query(
    `SELECT (SELECT t.tgenabled::text FROM pg_catalog.pg_trigger AS t WHERE t.tgrelid = $1::oid AND t.tgname = $2) AS guard,
            $3::pg_catalog.pg_snapshot IS NOT NULL AS has_frontier
            ${probes.map((p) => `, ${p}`).join('')}`,
    [row.storageOid, GUARD_TRIGGER, frontier.snapshot],
  );
  const r = res.rows[0] ?? {};
  if (!guardFires(r.guard)) return false;
  if (deps.some((_, i) => r[`p${i}`] !== false)) return false;
  return fingerprintsUnchanged(
    deps,
    await fingerprints(
      conn,
      deps.map((d) => d.sourceOid),
    ),
  );
}

/**
 * Marks `row` fresh now in the unlogged freshness record, only when the stored mark is older than
 * its granularity (read first: an upsert would take a transaction id even when it changes nothing).
 */
export async function markQuiet(conn: Queryable, row: StreamTableRow): Promise<void> {
  const res = await conn.query(
    `SELECT checked_at > clock_timestamp() - make_interval(secs => $2::float8 / 1000) AS recent
       FROM ${cat('pgt_freshness')} WHERE pgt_id = $1`,
    [row.pgtId, CHECK_GRANULARITY_MS],
  );
  if (res.rows[0]?.recent === true) return;
  await recordChecked(conn, [row.pgtId], new Date());
}
