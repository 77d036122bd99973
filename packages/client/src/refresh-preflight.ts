/**
 * What a refresh does before it reads anything, in two statements:
 * - {@link lockForRefresh}: the stream table's row lock and, when the refresh will go on (the
 *   table's status allows it), the transaction's registration as a writer of its storage
 *   (`pgt_refreshing`, which the storage guard checks);
 * - {@link preflight}, read after the lock (a fresh snapshot: what a concurrent change committed
 *   before the lock was granted is seen): the table's dependencies, whether its storage still
 *   exists, the state of its write guard, whether other stream tables read it (it then captures
 *   what it applies), the current fingerprints of its sources, and whether the owner is the
 *   connection's role — in which case the owner's search_path is set for the rest of the
 *   transaction (the owner's sandbox, `security/sandbox.ts`, then runs statements directly) and the
 *   sources hidden from the owner (row-level security, missing SELECT) are read in the same
 *   statement, as the owner; and whether the public view's readers are already mirrored onto the
 *   storage (so the refresh sends no statement for it); and, when asked, the window of the plan
 *   the refresh expects to run (read as the owner, so only when the owner is the connection's role).
 *
 * Rule for the preflight's plan: it is kept prepared (`prepared.ts`) and runs with a generic plan,
 * planned once per session. PostgreSQL's own choice (`plan_cache_mode = auto`) kept planning it
 * afresh on every refresh (a custom plan, 1.2–1.8 ms of planning against ≈0.8 ms of execution,
 * the generic plan executing as fast, also with a large buffer under its window index). So the
 * lock's statement sets `plan_cache_mode` to `force_generic_plan` for the transaction, returning
 * the caller's value, and the preflight sets that value back while it runs — unless the window it
 * read is small (at most `PREPARED_WINDOW_MAX_CHANGES` changes, no TRUNCATE: the delta statement
 * then runs prepared) and no buffer of the plan has its window index (each holds few rows): then
 * the delta statement and the record keep the generic plan too, and the record sets the caller's
 * value back. PostgreSQL re-planned the delta statement on every refresh (0.7–3.4 ms for the
 * bench's aggregate and joins) into the same plan the generic one is: the window's size estimate
 * is a fixed share of the buffer in both (no statistics on a buffer), and a buffer without its
 * index is read whole in both. A large window or a large buffer (whose statistics can make a
 * custom plan better) keeps the caller's setting. A failed statement aborts the transaction (or
 * the savepoint), which undoes the setting with it. The owner's functions called by the delta
 * statement (the owner being the connection's role) run under the same setting.
 */

import {
  type CompiledPlan,
  deltaParamValues,
  PREPARED_WINDOW_MAX_CHANGES,
  quoteLiteral,
  type WindowInspection,
  windowFromRows,
} from '@pgtrickle/dvm';
import type pg from 'pg';
import {
  type AutoFullCap,
  costSamplesFromRows,
  costSamplesSql,
  type RefreshCostSample,
} from './auto-cost.js';
import { readersExistSql } from './catalog/read-dependencies.js';
import { type DependencyRow, ST_COLUMNS, type StreamTableRow, toDependency, toRow } from './catalog/rows.js';
import { cat } from './catalog/schema.js';
import { BEGIN_READ_COMMITTED, type Conn } from './db.js';
import { fingerprintMap, fingerprintsSql } from './port.js';
import { repeatedQuery } from './prepared.js';
import { type SandboxOwner, sandboxSearchPath } from './security/sandbox.js';
import { type GuardState, guardStateSql, storageExistsSql } from './storage.js';

/** How to take the row lock. */
export type RefreshLock = 'FOR UPDATE' | 'FOR UPDATE NOWAIT' | 'FOR UPDATE SKIP LOCKED';

/** What {@link lockForRefresh} read with the lock. */
export interface LockedRow {
  readonly row: StreamTableRow;
  /** Whether the buffers asked about all exist. */
  readonly buffersExist: boolean;
  /** Whether one of them has an index (its window index: the buffer holds many rows). */
  readonly buffersIndexed: boolean;
  /**
   * The caller's `plan_cache_mode` when the lock set it to `force_generic_plan` for the
   * preflight (the refresh goes on), which the preflight sets back; null when it was not set.
   */
  readonly planCacheMode: string | null;
}

/**
 * Locks stream table `pgtId`'s row (null: skipped, SKIP LOCKED found it held) and registers the
 * transaction as its storage's writer when its status lets the refresh go on (not SUSPENDED or
 * ERROR, or `ignoreStatus`). The registration ends with the refresh's last catalog write. Also
 * says whether the relations named by `buffers` (qualified names: the change buffers a window
 * inspection would read) all exist, read once the lock is held. With `begin`, the transaction is
 * not open yet: the statement is sent after its BEGIN in one simple-query round trip (its values
 * then quoted into its text), otherwise prepared with its values bound. When the refresh goes on,
 * it also sets `plan_cache_mode` to `force_generic_plan` for the preflight, which sets the caller's
 * value back (see the module header).
 */
export async function lockForRefresh(
  conn: Conn,
  pgtId: number,
  lock: RefreshLock,
  ignoreStatus: boolean,
  buffers: readonly string[] = [],
  begin = false,
): Promise<LockedRow | null> {
  let res: pg.QueryResult;
  if (begin) {
    // Simple-query protocol: one result per statement (BEGIN's first).
    const out: unknown = await conn.query(
      `${BEGIN_READ_COMMITTED}; ${lockLiteralSql(pgtId, lock, ignoreStatus, buffers)}`,
    );
    res = (Array.isArray(out) ? out[out.length - 1] : out) as pg.QueryResult;
  } else {
    res = await repeatedQuery(conn, lockSql(lock, '$1', '$2', '$3'), [pgtId, ignoreStatus, buffers]);
  }
  const locked = lockedFrom(res);
  if (locked?.planCacheMode !== null && locked?.planCacheMode !== undefined && locked.buffersExist) {
    const kept = lockAnswers.get(conn) ?? { planCacheMode: locked.planCacheMode, indexed: new Map() };
    kept.planCacheMode = locked.planCacheMode;
    kept.indexed.set(JSON.stringify(buffers), locked.buffersIndexed);
    lockAnswers.set(conn, kept);
  }
  return locked;
}

/** Per connection: the caller's plan_cache_mode the lock statement last answered, and per buffer list whether one had its index. */
const lockAnswers = new WeakMap<object, { planCacheMode: string; indexed: Map<string, boolean> }>();

/**
 * What {@link lockForRefresh} last answered on `conn` for a refresh that went on with the
 * `buffers` named (all existing): the caller's plan_cache_mode and whether one of them had its
 * window index; null when not known.
 */
export function lastLockAnswer(
  conn: object,
  buffers: readonly string[],
): { readonly planCacheMode: string; readonly buffersIndexed: boolean } | null {
  const kept = lockAnswers.get(conn);
  const indexed = kept?.indexed.get(JSON.stringify(buffers));
  return kept === undefined || indexed === undefined
    ? null
    : { planCacheMode: kept.planCacheMode, buffersIndexed: indexed };
}

/** The lock statement of {@link lockForRefresh} with its values quoted into its text (for a simple query). */
export function lockLiteralSql(
  pgtId: number,
  lock: RefreshLock,
  ignoreStatus: boolean,
  buffers: readonly string[],
): string {
  return lockSql(
    lock,
    `${Number(pgtId)}::bigint`,
    ignoreStatus ? 'true' : 'false',
    `ARRAY[${buffers.map((b) => quoteLiteral(b)).join(', ')}]`,
  );
}

/** What the lock statement answered (null: no row, skipped). */
export function lockedFrom(res: pg.QueryResult): LockedRow | null {
  const r = res.rows[0];
  if (r === undefined) return null;
  const planCache = typeof r.__pgt_plan_cache === 'string' ? r.__pgt_plan_cache : null;
  return {
    row: toRow(r),
    buffersExist: r.__pgt_buffers === true,
    buffersIndexed: r.__pgt_buffers_indexed === true,
    planCacheMode: planCache,
  };
}

/** The lock statement; `id`, `ignore` and `names` are the SQL of its values. */
function lockSql(lock: RefreshLock, id: string, ignore: string, names: string): string {
  return `WITH st AS MATERIALIZED (SELECT ${ST_COLUMNS} FROM ${cat('pgt_stream_tables')} WHERE pgt_id = ${id} ${lock}),
     registered AS (
       INSERT INTO ${cat('pgt_refreshing')} (xid, pgt_id)
       SELECT pg_catalog.pg_current_xact_id(), st.pgt_id FROM st
        WHERE ${ignore} OR st.status NOT IN ('SUSPENDED', 'ERROR')
       ON CONFLICT DO NOTHING)
     SELECT st.*, (SELECT COALESCE(pg_catalog.bool_and(pg_catalog.to_regclass(b) IS NOT NULL), true)
                     FROM pg_catalog.unnest(${names}::text[]) AS b) AS __pgt_buffers,
            EXISTS (SELECT 1 FROM pg_catalog.pg_index AS i
                     WHERE i.indrelid IN (SELECT pg_catalog.to_regclass(b) FROM pg_catalog.unnest(${names}::text[]) AS b)
                   ) AS __pgt_buffers_indexed,
            CASE WHEN ${ignore} OR st.status NOT IN ('SUSPENDED', 'ERROR') THEN
              pg_catalog.concat(pg_catalog.current_setting('plan_cache_mode'),
                                pg_catalog.left(pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true), 0))
            END AS __pgt_plan_cache
       FROM st`;
}

/** The state a refresh starts from. */
export interface Preflight {
  /** The table's sources. */
  readonly deps: readonly DependencyRow[];
  /** The recorded storage table is gone (dropped behind pgtrickle's back). */
  readonly storageMissing: boolean;
  /** Its guard trigger (null: no storage). */
  readonly guard: GuardState | null;
  /** Some stream table reads this one. */
  readonly hasReaders: boolean;
  /** The current fingerprint of every source (null: dropped). */
  readonly fingerprints: ReadonlyMap<number, string | null>;
  /**
   * Whether the owner is the connection's role (its search_path is then set) with the caller's
   * search_path before: what `openSandbox` needs.
   */
  readonly session: { readonly self: boolean; readonly path: string };
  /** When `self`: which of the `hiddenOids` asked about are hidden from the owner; else null. */
  readonly hidden: ReadonlySet<number> | null;
  /**
   * The public view and the storage both exist and have the same SELECT grantees: the mirror of
   * the view's readers onto the storage (`preparePublicView`) has nothing to do.
   */
  readonly readersMirrored: boolean;
  /** The window the `window` statement read, when asked and the owner is the connection's role; else null. */
  readonly window: WindowInspection | null;
  /** AUTO's cost samples of the table's history (`auto-cost.ts`), when asked; else null. */
  readonly costSamples: readonly RefreshCostSample[] | null;
}

/**
 * A plan's window inspection to read in the preflight, as the owner (only when the owner is the
 * connection's role): its text with parameters from {@link PREFLIGHT_PARAMS} + 1 on, and their values.
 */
export interface WindowRead {
  readonly sql: string;
  readonly values: readonly unknown[];
}

/** The parameters the preflight has before a {@link WindowRead}'s. */
export const PREFLIGHT_PARAMS = 8;

/** A count cap no window reaches (the largest bigint): an AUTO table's window counted in full. */
const UNCAPPED = '9223372036854775807';

/**
 * The window read of the preflight for the DIFFERENTIAL plan `expected` of `row` (null when the
 * table has no frontier or is to be reinitialised). An AUTO table counts its window only up to
 * where its history already sends it FULL (`cap`; the refresh counts it in full when the history
 * read now does not: dvm `runRefresh`); before its first preflight it has no cap and counts under
 * the same statement with a floor no window reaches, so the text is one prepared statement from its
 * first refresh on, whichever way the refresh opens.
 */
export function windowRead(
  expected: CompiledPlan,
  row: StreamTableRow,
  cap: AutoFullCap | null,
  defaultRatio: number,
): WindowRead | null {
  if (row.frontier === null || row.needsReinit) return null;
  const auto = row.requestedMode === 'AUTO';
  const capValues = !auto
    ? []
    : [
        cap === null || cap.count === null ? null : String(cap.count),
        row.autoThreshold ?? defaultRatio,
        cap === null ? UNCAPPED : String(cap.floor),
      ];
  return {
    sql: expected.inspectSql(PREFLIGHT_PARAMS + 1, auto),
    values: [...deltaParamValues(expected, row.frontier), ...capValues],
  };
}

/** The sorted distinct SELECT grantees (other than its owner) of relation `oid` (an SQL expression), as an array (NULL: none). */
function selectGranteesSql(oid: string): string {
  return `SELECT pg_catalog.array_agg(DISTINCT a.grantee ORDER BY a.grantee)
                 FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
                WHERE c.oid = ${oid} AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner`;
}

/**
 * Reads the {@link Preflight} of `row`, to be refreshed as `owner`; `hiddenOids`: the relations
 * whose visibility to the owner to read too (the sources of the plan it expects to run);
 * `planCache`: the caller's plan_cache_mode the lock replaced, and whether the plan's buffers
 * allow the delta statement a generic plan (none has its window index), which it keeps when the
 * `window` read here is small too (see the module header).
 */
export async function preflight(
  conn: Conn,
  row: Pick<StreamTableRow, 'pgtId' | 'storageOid' | 'publicOid'>,
  owner: SandboxOwner,
  hiddenOids: readonly number[],
  window: WindowRead | null = null,
  costSamples = false,
  planCache: { readonly caller: string; readonly genericDelta: boolean } | null = null,
): Promise<Preflight> {
  const { text, values } = preflightStatement(row, owner, hiddenOids, window, costSamples, planCache);
  return preflightFrom(await repeatedQuery(conn, text, values), costSamples);
}

/** The statement of {@link preflight} (text and values) for the same arguments. */
export function preflightStatement(
  row: Pick<StreamTableRow, 'pgtId' | 'storageOid' | 'publicOid'>,
  owner: SandboxOwner,
  hiddenOids: readonly number[],
  window: WindowRead | null = null,
  costSamples = false,
  planCache: { readonly caller: string; readonly genericDelta: boolean } | null = null,
): { readonly text: string; readonly values: readonly unknown[] } {
  return {
    text: `SELECT s.self, s.path,
            CASE WHEN s.self THEN pg_catalog.set_config('search_path', $4, true) END AS set,
            CASE WHEN $7::text IS NOT NULL THEN pg_catalog.set_config('plan_cache_mode',
              CASE WHEN $8::boolean AND w.changes <= ${PREPARED_WINDOW_MAX_CHANGES} AND NOT w.truncated
                   THEN 'force_generic_plan' ELSE $7::text END, true) END AS plan_cache,
            $1::oid IS NOT NULL AND NOT ${storageExistsSql('$1::oid')} AS missing,
            ${guardStateSql('$1::oid')} AS guard,
            ${readersExistSql('$2::bigint')} AS readers,
            s.deps,
            (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('oid', f.oid, 'fp', f.fp))
               FROM (${fingerprintsSql('s.oids')}) AS f) AS fps,
            CASE WHEN s.self THEN
              (SELECT COALESCE(pg_catalog.json_agg(h.oid), '[]') FROM pg_catalog.unnest($5::oid[]) AS h(oid)
                WHERE NOT pg_catalog.has_table_privilege(h.oid, 'SELECT') OR pg_catalog.row_security_active(h.oid))
            END AS hidden,
            $6::oid IS NOT NULL AND $1::oid IS NOT NULL
              AND EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = $6::oid AND c.relkind = 'v')
              AND EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = $1::oid)
              AND (${selectGranteesSql('$6::oid')}) IS NOT DISTINCT FROM (${selectGranteesSql('$1::oid')}) AS mirrored,
            w.rows AS window,
            ${costSamples ? `(SELECT pg_catalog.json_agg(c) FROM (${costSamplesSql('$2::bigint')}) AS c)` : 'NULL::json'} AS costs
       FROM (SELECT current_user = $3 AS self, pg_catalog.current_setting('search_path') AS path,
                    (SELECT pg_catalog.json_agg(d ORDER BY d.source_oid) FROM ${cat('pgt_dependencies')} AS d
                      WHERE d.pgt_id = $2) AS deps,
                    (SELECT COALESCE(pg_catalog.array_agg(d.source_oid ORDER BY d.source_oid), '{}')
                       FROM ${cat('pgt_dependencies')} AS d WHERE d.pgt_id = $2) AS oids
             OFFSET 0) AS s
       CROSS JOIN LATERAL (${
         window === null
           ? 'SELECT NULL::json AS rows, NULL::bigint AS changes, NULL::boolean AS truncated'
           : `SELECT pg_catalog.json_agg(i) AS rows, pg_catalog.sum(i.changes)::bigint AS changes,
                     COALESCE(pg_catalog.bool_or(i.truncated), false) AS truncated
                FROM (${window.sql}) AS i WHERE s.self`
       }) AS w`,
    values: [
      row.storageOid,
      row.pgtId,
      owner.role,
      sandboxSearchPath(owner),
      hiddenOids,
      row.publicOid,
      planCache?.caller ?? null,
      planCache?.genericDelta === true && window !== null,
      ...(window?.values ?? []),
    ],
  };
}

/** The {@link Preflight} its statement answered (`costSamples`: whether they were asked for). */
export function preflightFrom(res: pg.QueryResult, costSamples: boolean): Preflight {
  const r = res.rows[0] ?? {};
  const fps = (r.fps ?? []) as { oid: number | string; fp: string | null }[];
  const hidden = r.hidden === null || r.hidden === undefined ? null : (r.hidden as (number | string)[]);
  return {
    deps: ((r.deps ?? []) as Record<string, unknown>[]).map(toDependency),
    storageMissing: r.missing === true,
    guard: (r.guard ?? null) as GuardState | null,
    hasReaders: r.readers === true,
    fingerprints: fingerprintMap(fps),
    session: { self: r.self === true, path: String(r.path) },
    hidden: hidden === null ? null : new Set(hidden.map(Number)),
    readersMirrored: r.mirrored === true,
    window:
      r.window === null || r.window === undefined
        ? null
        : windowFromRows((r.window ?? []) as Record<string, unknown>[]),
    costSamples: costSamples ? costSamplesFromRows((r.costs ?? []) as Record<string, unknown>[]) : null,
  };
}
