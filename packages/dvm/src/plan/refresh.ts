/**
 * Running one refresh of a compiled plan through an {@link SqlExecutor} (a `pg` client in the
 * client package, the test database in tests). It must run inside the caller's transaction: the
 * caller commits the storage change together with the returned frontier (and its history), so a
 * crash at any point loses nothing and applies nothing twice.
 *
 * DIFFERENTIAL: inspect the window (a TRUNCATE in it forces FULL; no changes is NO_DATA, the
 * frontier stays), then ONE statement computes the delta, consolidates and applies it, captures
 * it for consumers and returns the new frontier and counts (no temporary table); a window that
 * is a large share of its sources runs with the planner settings of `large-window.ts`. FULL:
 * replace the contents with the full result (computed in parallel when its plan is, see
 * `full-parallel.ts`); the inserting statement returns its frontier, and the rows it inserted
 * are read from the statistics counters after it (`full-bulk.ts`). A stream table with
 * downstream consumers also writes what it applied into its own buffer under `captureEpoch` (for
 * FULL, the difference old → new).
 */

import { InternalError } from '../errors.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import { captureAppliedSql, consolidateSql } from './apply.js';
import { type CompiledPlan, rowIdIndexSql } from './compile.js';
import { readFullPrelude, replaceContents } from './full-bulk.js';
import type { FullParallelVerdict } from './full-parallel.js';
import { fullStatementSql } from './full-statement.js';
import { isLargeWindow, withLargeWindowSettings } from './large-window.js';

/** One query result as the executor returns it (`pg`'s QueryResult fits). */
export interface SqlResult {
  readonly rows: readonly Record<string, unknown>[];
  readonly rowCount?: number | null;
  readonly fields?: readonly {
    readonly name: string;
    readonly dataTypeID: number;
    readonly dataTypeModifier?: number;
  }[];
}

/** Runs SQL: the one thing dvm needs from a database connection (`pg.Client`, `pg.PoolClient` fit). */
export interface SqlExecutor {
  query(sql: string, params?: unknown[]): Promise<SqlResult>;
  /**
   * Optional: the same, for a statement run again and again with the same text (a plan's window
   * inspection and delta statement), which the executor may keep prepared across calls.
   */
  queryPrepared?(sql: string, params?: unknown[]): Promise<SqlResult>;
}

/**
 * The most pending changes a DIFFERENTIAL statement is run prepared for. A kept (generic) plan was
 * chosen for the windows seen so far, which are mostly small; a larger window is planned for its
 * own size (the planning is then a small part of the statement).
 */
export const PREPARED_WINDOW_MAX_CHANGES = 1_000;

/** Runs a statement of the refresh path: prepared when the executor can keep it so. */
function repeated(exec: SqlExecutor, statement: string, params: unknown[]): Promise<SqlResult> {
  return exec.queryPrepared !== undefined
    ? exec.queryPrepared(statement, params)
    : exec.query(statement, params);
}

/** What a stream table has consumed: a `pg_snapshot` of base-table changes, epochs of stream-table sources. */
export interface Frontier {
  /** Text form of the snapshot (`xmin:xmax:xip,…`). */
  readonly snapshot: string;
  /** Last consumed epoch per upstream stream table id, as decimal text. */
  readonly epochs: Readonly<Record<string, string>>;
}

/** How to refresh. */
export interface RefreshOptions {
  /** The action asked for; DIFFERENTIAL needs a previous frontier and a non-FULL plan. */
  readonly action: 'FULL' | 'DIFFERENTIAL';
  /** The frontier of the previous refresh (null: never refreshed). */
  readonly frontier: Frontier | null;
  /** If the table has downstream consumers: the epoch its applied changes are written under. */
  readonly captureEpoch?: string | null;
  /** The stream table's id (names its own buffer); required with `captureEpoch`. */
  readonly pgtId?: number | null;
  /**
   * Called with the window's pending changes before a DIFFERENTIAL refresh applies them: return
   * a reason to refresh FULL instead (e.g. the change ratio makes FULL cheaper), or null.
   */
  readonly preferFull?: (window: WindowInspection, plan: CompiledPlan) => string | null;
  /**
   * The window of `frontier` as the caller already read it in this transaction (the plan's
   * `inspectSql` run inside a statement of its own, {@link windowFromRows}): not read again —
   * unless it was counted up to a cap (`capped`) and `preferFull` does not send it FULL.
   */
  readonly window?: WindowInspection;
  /**
   * The database has `pgtrickle_changes.full_rows` and `full_plan_parallel` (`fullParallelDdl`,
   * installed with the client's catalog): a FULL refresh whose query plans in parallel computes
   * its rows through them (`full-parallel.ts`).
   */
  readonly parallelFull?: boolean;
  /**
   * With `parallelFull`: the parallel verdict an earlier FULL refresh of this plan returned
   * ({@link RefreshResult.parallelVerdict}), reused while its signature holds (`full-parallel.ts`).
   */
  readonly parallelVerdict?: FullParallelVerdict | null;
}

/** What a refresh did. */
export interface RefreshResult {
  /** What ran: FULL, DIFFERENTIAL, or NO_DATA (nothing pending; frontier unchanged). */
  readonly action: 'FULL' | 'DIFFERENTIAL' | 'NO_DATA';
  /** Why the action differs from the one asked for, if it does. */
  readonly reason: string | null;
  /** The frontier to store with the refresh. */
  readonly frontier: Frontier;
  /** Rows inserted into / deleted from the storage table (an update counts as one of each). */
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  /** Pending changes per source key in the window (DIFFERENTIAL). */
  readonly pendingChanges: Readonly<Record<string, number>>;
  /** A FULL refresh with `parallelFull`: the parallel verdict it used, to pass to the next one. */
  readonly parallelVerdict?: FullParallelVerdict;
}

/** The pending changes of each source in the window since `frontier` (and TRUNCATE flags). */
export interface WindowInspection {
  readonly changes: Readonly<Record<string, number>>;
  readonly truncated: readonly string[];
  readonly reltuples: Readonly<Record<string, number>>;
  /**
   * The sources whose records were counted up to a cap only (`inspectSql` with `capped`): their
   * counts are lower bounds, and a TRUNCATE of theirs may be missing from `truncated`.
   */
  readonly capped?: readonly string[];
}

/** Bound parameter values of the plan's delta statement for `frontier`. */
export function deltaParamValues(plan: CompiledPlan, frontier: Frontier): unknown[] {
  return plan.params.map((p) => {
    if (p.kind === 'prevSnapshot') return frontier.snapshot;
    return frontier.epochs[String(p.pgtId)] ?? '0';
  });
}

/** Counts what is pending for `plan` since `frontier`. */
export async function inspectWindow(
  plan: CompiledPlan,
  exec: SqlExecutor,
  frontier: Frontier,
): Promise<WindowInspection> {
  const res = await repeated(exec, plan.inspectSql(), deltaParamValues(plan, frontier));
  return windowFromRows(res.rows);
}

/** The {@link WindowInspection} of the rows a plan's `inspectSql` returned. */
export function windowFromRows(rows: readonly Record<string, unknown>[]): WindowInspection {
  const changes: Record<string, number> = {};
  const reltuples: Record<string, number> = {};
  const truncated: string[] = [];
  const capped: string[] = [];
  for (const row of rows) {
    const key = String(row.source);
    changes[key] = Number(row.changes);
    reltuples[key] = Number(row.reltuples);
    if (row.truncated === true) truncated.push(key);
    if (row.capped === true) capped.push(key);
  }
  return capped.length === 0 ? { changes, truncated, reltuples } : { changes, truncated, reltuples, capped };
}

/** A frontier from a statement's `snapshot` (text) and `epochs` (jsonb) values. */
function frontierOf(snapshot: unknown, epochsValue: unknown): Frontier {
  const epochs: Record<string, string> = {};
  const parsed = typeof epochsValue === 'string' ? (JSON.parse(epochsValue) as unknown) : epochsValue;
  for (const [k, v] of Object.entries((parsed ?? {}) as Record<string, unknown>)) epochs[k] = String(v);
  return { snapshot: String(snapshot), epochs };
}

async function run(exec: SqlExecutor, statements: readonly string[]): Promise<void> {
  for (const statement of statements) await exec.query(statement);
}

function epochParamFor(options: RefreshOptions): { epoch: string; pgtId: number } | null {
  if (options.captureEpoch === undefined || options.captureEpoch === null) return null;
  if (options.pgtId === undefined || options.pgtId === null) {
    throw new InternalError('captureEpoch needs the stream table id (pgtId)');
  }
  return { epoch: options.captureEpoch, pgtId: options.pgtId };
}

async function differential(
  plan: CompiledPlan,
  exec: SqlExecutor,
  frontier: Frontier,
  capture: { epoch: string; pgtId: number } | null,
  pending: Record<string, number>,
  reltuples: Readonly<Record<string, number>>,
): Promise<RefreshResult> {
  const statement = plan.refreshSql(capture?.pgtId ?? null);
  if (statement === null) throw new InternalError('an incremental plan has no refresh statement');
  const values = deltaParamValues(plan, frontier);
  if (capture !== null) values.push(capture.epoch);
  const changes = Object.values(pending).reduce((a, b) => a + b, 0);
  const res =
    changes <= PREPARED_WINDOW_MAX_CHANGES
      ? await repeated(exec, statement, values)
      : isLargeWindow(changes, Object.values(reltuples))
        ? await withLargeWindowSettings(exec, () => exec.query(statement, values))
        : await exec.query(statement, values);
  const row = res.rows[0];
  if (row === undefined) throw new InternalError('the refresh statement returned no row');
  return {
    action: 'DIFFERENTIAL',
    reason: null,
    frontier: frontierOf(row.snapshot, row.epochs),
    rowsInserted: Number(row.ins ?? 0),
    rowsDeleted: Number(row.del ?? 0),
    pendingChanges: pending,
  };
}

/** Refreshes the stream table of `plan` inside the caller's transaction. */
export async function runRefresh(
  plan: CompiledPlan,
  exec: SqlExecutor,
  options: RefreshOptions,
): Promise<RefreshResult> {
  const capture = epochParamFor(options);
  const target = plan.applyTarget();
  let reason: string | null = null;
  let pending: Record<string, number> = {};
  if (options.action === 'DIFFERENTIAL') {
    if (plan.mode === 'FULL') reason = 'the plan is FULL-only';
    else if (options.frontier === null) reason = 'first refresh (no frontier yet)';
    else {
      const frontier = options.frontier;
      let window = options.window ?? (await inspectWindow(plan, exec, frontier));
      // A window counted up to a cap decides FULL only: when FULL is not preferred even at the
      // counts reached, it is counted in full.
      if ((window.capped?.length ?? 0) > 0 && (options.preferFull?.(window, plan) ?? null) === null)
        window = await inspectWindow(plan, exec, frontier);
      pending = { ...window.changes };
      if (window.truncated.length > 0) {
        reason = `a source was truncated (${window.truncated.map((k) => plan.sources.find((s) => s.key === k)?.name ?? k).join(', ')})`;
      } else if (Object.values(window.changes).every((n) => n === 0)) {
        return {
          action: 'NO_DATA',
          reason: null,
          frontier,
          rowsInserted: 0,
          rowsDeleted: 0,
          pendingChanges: pending,
        };
      } else {
        reason = options.preferFull?.(window, plan) ?? null;
        if (reason === null) return differential(plan, exec, frontier, capture, pending, window.reltuples);
      }
    }
  }
  // FULL: replace the contents; with consumers, capture old → new.
  const prevName = sql.id(`__pgt_prev_${plan.tag}`);
  const prev = sql`pg_temp.${prevName}`;
  if (capture !== null) {
    await run(exec, [
      sql`DROP TABLE IF EXISTS ${prev}`,
      sql`CREATE TEMP TABLE ${prevName} ON COMMIT DROP AS SELECT * FROM ${target.relation}`,
    ]);
  }
  const before = await readFullPrelude(
    exec,
    target.relation,
    options.parallelFull === true ? plan : null,
    options.parallelVerdict ?? null,
  );
  const insert = fullStatementSql(plan, before.parallelTypes);
  const inserted = await replaceContents(exec, target.relation, insert, before, rowIdIndexSql(plan));
  const frontier = inserted.row;
  if (frontier.snapshot === undefined || frontier.snapshot === null)
    throw new InternalError('the refresh statement did not record a frontier');
  if (capture !== null) {
    const cols = sql.join([ROW_ID_COLUMN, ...target.columns].map((c) => sql.id(c)));
    const union = sql`(SELECT ${cols}, -1::bigint AS ${WEIGHT_COLUMN} FROM ${prev} UNION ALL SELECT ${cols}, 1::bigint
  FROM ${target.relation})`;
    await run(exec, consolidateSql(target, union));
    await exec.query(captureAppliedSql(target, capture.pgtId, '$1::bigint'), [capture.epoch]);
  }
  return {
    action: 'FULL',
    reason,
    frontier: frontierOf(frontier.snapshot, frontier.epochs),
    rowsInserted: inserted.n,
    rowsDeleted: before.rows,
    pendingChanges: pending,
    ...(before.verdict === null ? {} : { parallelVerdict: before.verdict }),
  };
}
