/**
 * One refresh of one stream table, inside the caller's transaction. Rule: the storage change,
 * the new frontier, the catalog update and the history row are written in that one transaction,
 * so they commit together or not at all — a crash, a killed connection or an error at any point
 * leaves the previous state and loses no change (the change buffers are only trimmed afterwards,
 * in `cleanupBuffers`, up to what every consumer's committed frontier has passed).
 *
 * Before reading, the sources' current definitions are compared with the fingerprints recorded
 * at creation: a dropped source is an error; a changed one rebuilds the stream table (new plan,
 * capture re-installed, storage re-created when its columns change, FULL refresh), or fails with
 * a message saying what to do when the query no longer fits. The action is FULL for the first
 * refresh, a pending reinitialisation, a FULL plan, a TRUNCATE in the window, or (AUTO) when the
 * cost model of `auto-cost.ts` expects FULL to be cheaper; otherwise DIFFERENTIAL
 * (NO_DATA when nothing is pending).
 */
import { type CompiledPlan, DvmError, type RefreshResult, runRefresh } from '@pgtrickle/dvm';
import { autoPreferFull, readCostSamples } from './auto-cost.js';
import { streamTableById, streamTableWithDependencies } from './catalog/find-stream-table.js';
import { dependenciesOf } from './catalog/read-dependencies.js';
import { recordCompletedRefresh } from './catalog/record-refresh.js';
import type { DependencyRow, StreamTableRow } from './catalog/rows.js';
import { allowStorageWrites } from './catalog/schema.js';
import { statusAfter } from './catalog/set-status.js';
import { recordDependencies } from './cdc.js';
import type { Conn } from './db.js';
import { SourceChangedError, StorageMissingError } from './errors.js';
import { displayName } from './names.js';
import { onlyCaptureChanged } from './port.js';
import { evolveStorageAndView, preparePublicView, storageNameOf } from './public-view.js';
import { preflight } from './refresh-preflight.js';
import { isQuiet, markQuiet } from './refresh-quiet.js';
import { compileAsOwner, sourcesHiddenFromOwner } from './security/owner-compile.js';
import { type OwnerSandbox, withSandbox } from './security/sandbox.js';
import { repairGuard, restoreGuard } from './storage.js';
import { installImmediate } from './stream-tables/immediate.js';

/** Default AUTO threshold: refresh FULL when a source's pending changes exceed this share of its rows. */
export const DEFAULT_AUTO_FULL_RATIO = 0.15;

/** Engine-wide settings and caches shared by every refresh of one client. */
export interface Engine {
  /** AUTO's change-ratio threshold (a table's own `auto_threshold` overrides it). */
  readonly autoFullRatio: number;
  /** Compiled plans by stream table id. */
  readonly plans: Map<number, { readonly key: string; readonly plan: CompiledPlan }>;
}

/** A new engine state. */
export function createEngine(options: { autoFullRatio?: number } = {}): Engine {
  return { autoFullRatio: options.autoFullRatio ?? DEFAULT_AUTO_FULL_RATIO, plans: new Map() };
}

/** Who asked for a refresh (recorded in the history). */
export type Initiator = 'MANUAL' | 'SCHEDULER' | 'INITIAL' | 'ALTER';

/** How to refresh. */
export interface RefreshRequest {
  readonly initiatedBy: Initiator;
  /** Force an action (default: decided as described in the module header). */
  readonly action?: 'FULL' | 'DIFFERENTIAL';
  /** How to take the stream table's row lock: wait, fail, or skip the refresh when it is held. */
  readonly lock?: 'wait' | 'nowait' | 'skip';
  /**
   * Refresh even if SUSPENDED or ERROR, as a reinitialisation (the status machine's `reinitialize`,
   * then `populated`); otherwise such a table is skipped (the scheduler's status gate keeps them out).
   */
  readonly ignoreStatus?: boolean;
  /**
   * The plan the caller compiled for this table in this transaction (create, alter): used for
   * this refresh and cached, instead of compiling the same query again.
   */
  readonly plan?: CompiledPlan;
}

/** What one refresh did (null `result` = skipped because another session holds the table). */
export interface RefreshOutcome {
  readonly pgtId: number;
  readonly name: string;
  /** FULL, DIFFERENTIAL, NO_DATA or REINITIALIZE (a rebuild after a source changed). */
  readonly action: 'FULL' | 'DIFFERENTIAL' | 'NO_DATA' | 'REINITIALIZE' | 'SKIPPED';
  readonly reason: string | null;
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  readonly pendingChanges: number;
  /** The sources whose buffers may be trimmed after commit. */
  readonly sources: readonly DependencyRow[];
  /** The stream table's row as this refresh left it (null when skipped). */
  readonly row: StreamTableRow | null;
}

/**
 * The compiled plan of a stream table row, compiled as its owner (cached while its query, mode,
 * sources and owner are unchanged). An incremental plan is re-checked against the owner's rights
 * on every refresh: a source that became partly hidden from the owner (a row-level security policy,
 * a revoked privilege) makes it compile again, FULL for AUTO, refused for DIFFERENTIAL.
 */
export async function planFor(
  conn: Conn,
  sandbox: OwnerSandbox,
  engine: Engine,
  row: StreamTableRow,
  deps: readonly DependencyRow[],
  compiled?: CompiledPlan,
): Promise<CompiledPlan> {
  const key = JSON.stringify([
    // The storage name is in the plan (a blue-green promote renames it).
    row.schema,
    storageNameOf(row),
    row.query,
    row.requestedMode,
    row.ownerOid,
    row.searchPath,
    deps.map((d) => [d.sourceOid, d.fingerprint]),
  ]);
  if (compiled !== undefined) {
    engine.plans.set(row.pgtId, { key, plan: compiled });
    return compiled;
  }
  const cached = engine.plans.get(row.pgtId);
  if (cached?.key === key) {
    if (cached.plan.mode === 'FULL' || (await sourcesHiddenFromOwner(sandbox, cached.plan)).length === 0)
      return cached.plan;
  }
  const plan = await compileAsOwner(conn, sandbox, {
    query: row.query,
    schema: row.schema,
    name: storageNameOf(row),
    mode: row.requestedMode,
    pgtId: row.pgtId,
  });
  engine.plans.set(row.pgtId, { key, plan });
  return plan;
}

const LOCKS = { wait: 'FOR UPDATE', nowait: 'FOR UPDATE NOWAIT', skip: 'FOR UPDATE SKIP LOCKED' } as const;

/** Refreshes stream table `pgtId` in the transaction open on `conn`. */
export async function refreshInTransaction(
  conn: Conn,
  engine: Engine,
  pgtId: number,
  request: RefreshRequest,
): Promise<RefreshOutcome> {
  const startedAt = new Date();
  if (request.action === undefined && request.plan === undefined && request.ignoreStatus !== true) {
    // Nothing to do (read-only checks, no lock taken): NO_DATA without writing anything.
    const peeked = await streamTableWithDependencies(conn, pgtId);
    const peek = peeked?.row ?? null;
    if (peeked !== null && peek !== null && (await isQuiet(conn, peek, peeked.deps))) {
      await markQuiet(conn, peek);
      return {
        pgtId,
        name: displayName(peek.schema, peek.name),
        action: 'NO_DATA',
        reason: 'no source has changed since the last refresh',
        rowsInserted: 0,
        rowsDeleted: 0,
        pendingChanges: 0,
        sources: [],
        row: peek,
      };
    }
  }
  const row = await streamTableById(conn, pgtId, LOCKS[request.lock ?? 'wait']);
  const skipped = (name: string, reason: string): RefreshOutcome => ({
    pgtId,
    name,
    action: 'SKIPPED',
    reason,
    rowsInserted: 0,
    rowsDeleted: 0,
    pendingChanges: 0,
    sources: [],
    row: null,
  });
  if (row === null) return skipped(String(pgtId), 'locked by another session');
  // The status after this refresh, by the status machine: a first population, a refresh, or
  // (ignoreStatus: create, alter, resume) a reinitialisation of a table that is not maintained.
  const status = row.status === 'SUSPENDED' || row.status === 'ERROR' ? null : row.status;
  if (status === null && request.ignoreStatus !== true)
    return skipped(displayName(row.schema, row.name), `${row.status}: not refreshed until resumed`);
  const before = status ?? statusAfter(row.status, 'reinitialize');
  const after = statusAfter(before, before === 'INITIALIZING' ? 'populated' : 'refresh_succeeded');
  const name = displayName(row.schema, row.name);
  const deps = await dependenciesOf(conn, pgtId);
  await allowStorageWrites(conn, pgtId);
  const owner = { role: row.owner, searchPath: row.searchPath };
  // The registration ends with the refresh's last catalog write (`recordCompletedRefresh`).
  // A table of the earlier layout gets its public view; a dropped view is an error (public-view.ts).
  return withSandbox(conn, owner, {}, async (sandbox) =>
    refreshAsOwner(conn, sandbox, engine, await preparePublicView(conn, sandbox.exec, row), deps, request, {
      startedAt,
      after,
      name,
    }),
  );
}

/** The refresh itself, every statement touching the query or the storage run in the owner's sandbox. */
async function refreshAsOwner(
  conn: Conn,
  sandbox: OwnerSandbox,
  engine: Engine,
  row: StreamTableRow,
  initialDeps: readonly DependencyRow[],
  request: RefreshRequest,
  at: { readonly startedAt: Date; readonly after: StreamTableRow['status']; readonly name: string },
): Promise<RefreshOutcome> {
  const { startedAt, after, name } = at;
  const pgtId = row.pgtId;
  let deps = initialDeps;

  // One read: the storage, its guard, its readers, the sources' fingerprints.
  const pre = await preflight(conn, row, deps);
  // The storage table dropped behind pgtrickle's back: a permanent error naming the cleanup.
  if (pre.storageMissing) throw new StorageMissingError(displayName(row.schema, row.name));

  // Source DDL: dropped → error; changed → rebuild (or an error that says what to do).
  const current = pre.fingerprints;
  const dropped = deps.filter((d) => current.get(d.sourceOid) === null);
  if (dropped.length > 0) {
    throw new SourceChangedError(
      name,
      `its source ${dropped.map((d) => displayName(d.sourceSchema, d.sourceName)).join(', ')} was dropped`,
    );
  }
  const changed = deps.filter((d) => current.get(d.sourceOid) !== d.fingerprint);
  let rebuild = false;
  if (changed.length > 0) {
    deps = await rebuildAfterSourceChange(conn, sandbox, engine, row, changed);
    rebuild = true;
  }

  const plan = await planFor(conn, sandbox, engine, row, deps, rebuild ? undefined : request.plan);
  const hasConsumers = pre.hasReaders;
  // A guard its owner switched off may have let writes in: restore it and rebuild the contents.
  const guardRestored =
    row.storageOid !== null &&
    (rebuild ? await restoreGuard(conn, row.storageOid) : await repairGuard(conn, pre.guard));
  const immediate = plan.mode === 'IMMEDIATE';
  // An IMMEDIATE table is refreshed FULL, its triggers (re)compiled first: they lock the sources
  // until commit, so the recompute misses no write and no write is applied twice.
  if (immediate && row.storageOid !== null) await installImmediate(conn, row, row.storageOid, plan);
  const action =
    guardRestored || immediate
      ? 'FULL'
      : (request.action ?? (rebuild || row.needsReinit || row.frontier === null ? 'FULL' : 'DIFFERENTIAL'));
  const result: RefreshResult = await runRefresh(plan, sandbox.exec, {
    action,
    frontier: row.frontier,
    captureEpoch: hasConsumers ? String(row.epoch + 1) : null,
    pgtId,
    ...(row.requestedMode === 'AUTO'
      ? {
          preferFull: autoPreferFull(
            row.autoThreshold ?? engine.autoFullRatio,
            await readCostSamples(conn, pgtId),
          ),
        }
      : {}),
  });
  const changedData = result.rowsInserted + result.rowsDeleted > 0;
  const captured = hasConsumers && result.action !== 'NO_DATA';
  const recorded = rebuild ? 'REINITIALIZE' : result.action;
  const reason = rebuild
    ? changed.every((d) => onlyCaptureChanged(d.fingerprint, current.get(d.sourceOid) ?? ''))
      ? `capture of ${changed.map((d) => displayName(d.sourceSchema, d.sourceName)).join(', ')} had been switched off, or its partition or inheritance tree changed (writes may have been missed): capture repaired, contents recomputed`
      : `source changed: ${changed.map((d) => displayName(d.sourceSchema, d.sourceName)).join(', ')}`
    : guardRestored
      ? `the write guard of ${name} had been disabled or dropped: restored, and the contents rebuilt`
      : result.reason;
  const pending = Object.values(result.pendingChanges).reduce((a, b) => a + b, 0);
  // One statement: the row, the history entry, and the end of the storage-writer registration.
  const updated = await recordCompletedRefresh(
    conn,
    pgtId,
    {
      frontier: result.frontier,
      captured,
      changedData,
      status: after,
      effectiveMode: plan.mode,
      modeReason: plan.fallbackReason,
      uniqueRowIds: plan.uniqueRowIds,
    },
    {
      action: recorded,
      status: 'COMPLETED',
      initiatedBy: request.initiatedBy,
      startedAt,
      rowsInserted: result.rowsInserted,
      rowsDeleted: result.rowsDeleted,
      pendingChanges: pending,
      reason,
      error: null,
    },
  );
  return {
    pgtId,
    name,
    action: recorded,
    reason,
    rowsInserted: result.rowsInserted,
    rowsDeleted: result.rowsDeleted,
    pendingChanges: pending,
    sources: deps,
    row: updated,
  };
}

/**
 * A source changed: recompile; re-install capture; re-create the storage if the output columns
 * changed (consumers are told to reinitialise); record the new fingerprints. Returns the new deps.
 */
async function rebuildAfterSourceChange(
  conn: Conn,
  sandbox: OwnerSandbox,
  engine: Engine,
  row: StreamTableRow,
  changed: readonly DependencyRow[],
): Promise<DependencyRow[]> {
  const name = displayName(row.schema, row.name);
  engine.plans.delete(row.pgtId);
  let plan: CompiledPlan;
  try {
    plan = await compileAsOwner(conn, sandbox, {
      query: row.query,
      schema: row.schema,
      name: storageNameOf(row),
      mode: row.requestedMode,
      pgtId: row.pgtId,
    });
  } catch (error) {
    const detail = error instanceof DvmError ? error.message : String(error);
    throw new SourceChangedError(
      name,
      `${changed.map((d) => displayName(d.sourceSchema, d.sourceName)).join(', ')} changed and the query no longer compiles (${detail})`,
      { cause: error },
    );
  }
  await evolveStorageAndView(conn, sandbox, row, plan);
  await recordDependencies(conn, row.pgtId, plan);
  return dependenciesOf(conn, row.pgtId);
}

/** Re-reads a stream table row (after its refresh committed). */
export async function reloadRow(conn: Conn, pgtId: number): Promise<StreamTableRow | null> {
  return streamTableById(conn, pgtId);
}
