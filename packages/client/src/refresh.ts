/**
 * One refresh of one stream table, inside the caller's transaction. Rule: the storage change,
 * the new frontier, the catalog update and the history row are written in that one transaction,
 * so they commit together or not at all — a crash, a killed connection or an error at any point
 * leaves the previous state and loses no change (a change buffer is trimmed only up to what every
 * consumer's frontier has passed: by a DIFFERENTIAL refresh's record statement, together with its
 * new frontier, `refresh-trim.ts`, or by `cleanupBuffers` after commit).
 *
 * Before reading, the sources' current definitions are compared with the fingerprints recorded
 * at creation: a dropped source is an error; a changed one rebuilds the stream table (new plan,
 * capture re-installed, storage re-created when its columns change, FULL refresh), or fails with
 * a message saying what to do when the query no longer fits. The action is FULL for the first
 * refresh, a pending reinitialisation, a FULL plan, a TRUNCATE in the window, or (AUTO) when the
 * cost model of `auto-cost.ts` expects FULL to be cheaper; otherwise DIFFERENTIAL
 * (NO_DATA when nothing is pending).
 */
import {
  baseBuffer,
  type CompiledPlan,
  DvmError,
  type FullParallelVerdict,
  type RefreshResult,
  runRefresh,
  streamBuffer,
  type WindowInspection,
} from '@pgtrickle/dvm';
import { type AutoFullCap, autoFullCap, autoPreferFull } from './auto-cost.js';
import { streamTableById, streamTableWithDependencies } from './catalog/find-stream-table.js';
import { dependenciesOf } from './catalog/read-dependencies.js';
import { recordCompletedRefresh } from './catalog/record-refresh.js';
import type { DependencyRow, StreamTableRow } from './catalog/rows.js';
import { statusAfter } from './catalog/set-status.js';
import { BUFFER_INDEX_ROWS, recordDependencies } from './cdc.js';
import { BEGIN_READ_COMMITTED, type Conn } from './db.js';
import { SourceChangedError, StorageMissingError } from './errors.js';
import { displayName } from './names.js';
import { memoizedPlan } from './plan-memo.js';
import { onlyCaptureChanged } from './port.js';
import { evolveStorageAndView, preparePublicView, storageNameOf } from './public-view.js';
import { RELAYOUT_REASON, relayoutStorage } from './refresh-layout.js';
import type { LookMemory } from './refresh-look.js';
import { openInOneRoundTrip } from './refresh-open.js';
import { lockForRefresh, type Preflight, preflight, windowRead } from './refresh-preflight.js';
import { isQuiet, markQuiet, QUIET_REASON } from './refresh-quiet.js';
import { leftToClean, refreshTrims } from './refresh-trim.js';
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
  /** What `refresh()`'s opening read saw per name (`refresh-look.ts`). */
  readonly looks: Map<string, LookMemory>;
  /** Stream tables whose owner was the connection's role at their last refresh (the preflight reads their window). */
  readonly ownedBySelf: Set<number>;
  /** The parallel verdict of each table's last FULL refresh, with the plan it was read for (dvm `full-parallel.ts`). */
  readonly fullVerdicts: Map<number, { readonly plan: CompiledPlan; readonly verdict: FullParallelVerdict }>;
  /**
   * Per AUTO table, where its cost history (as its last refresh read it) sends a window FULL
   * (`autoFullCap`): its next window is counted up to there per source.
   */
  readonly autoFullCaps: Map<number, AutoFullCap>;
}

/** A new engine state. */
export function createEngine(options: { autoFullRatio?: number } = {}): Engine {
  return {
    autoFullRatio: options.autoFullRatio ?? DEFAULT_AUTO_FULL_RATIO,
    plans: new Map(),
    looks: new Map(),
    ownedBySelf: new Set(),
    fullVerdicts: new Map(),
    autoFullCaps: new Map(),
  };
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
  /**
   * False when the caller has just found, by the rule of `refresh-quiet.ts`, that the refresh is
   * not quiet: the transaction does not look again before taking the lock.
   */
  readonly peek?: false;
  /**
   * The transaction is not open yet (`Db.transaction` with `beganBy: 'work'`): the refresh's first
   * statement opens it, the lock sent after its BEGIN in one round trip.
   */
  readonly begin?: true;
  /**
   * The refresh may end the transaction (`Db.transaction` with `endedBy: 'work'`): a refresh
   * that records its result in the sandbox of the connection's own role commits in the same
   * round trip as the record statement (`repeatedQueryAndCommit`); any other leaves the
   * transaction open.
   */
  readonly commit?: true;
  /**
   * The stream table's row as the caller read it just before, outside the transaction (with
   * `begin`): the transaction may then be opened, locked and preflighted in one round trip on the
   * assumption that the locked row is the same (checked: `refresh-open.ts`).
   */
  readonly seen?: StreamTableRow;
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
  /** The sources whose buffers may be trimmed after commit (a DIFFERENTIAL refresh trimmed those it read itself: `refresh-trim.ts`). */
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
  visibility?: { readonly probed: readonly number[]; readonly hidden: ReadonlySet<number> | null },
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
    const kept = memoizedPlan(compiled);
    engine.plans.set(row.pgtId, { key, plan: kept });
    return kept;
  }
  const cached = engine.plans.get(row.pgtId);
  if (cached?.key === key) {
    if (cached.plan.mode === 'FULL') return cached.plan;
    // Read by the preflight, as the owner, when it could (the owner is the connection's role).
    const known = visibility?.hidden;
    const answered =
      known !== null &&
      known !== undefined &&
      cached.plan.sources.every((s) => visibility?.probed.includes(s.oid));
    const hidden = answered
      ? cached.plan.sources.filter((s) => known.has(s.oid))
      : await sourcesHiddenFromOwner(sandbox, cached.plan);
    if (hidden.length === 0) return cached.plan;
  }
  const plan = await compileAsOwner(conn, sandbox, {
    query: row.query,
    schema: row.schema,
    name: storageNameOf(row),
    mode: row.requestedMode,
    pgtId: row.pgtId,
  });
  const kept = memoizedPlan(plan);
  engine.plans.set(row.pgtId, { key, plan: kept });
  return kept;
}

const LOCKS = { wait: 'FOR UPDATE', nowait: 'FOR UPDATE NOWAIT', skip: 'FOR UPDATE SKIP LOCKED' } as const;

/** The sources of the plan cached for `pgtId` (whose visibility to the owner the preflight reads). */
function expectedSources(engine: Engine, pgtId: number): number[] {
  return engine.plans.get(pgtId)?.plan.sources.map((s) => s.oid) ?? [];
}

/** The change buffer (qualified) a plan source's window is read from. */
function bufferOf(source: CompiledPlan['sources'][number]): string {
  return source.kind === 'streamTable' && source.pgtId !== null && source.pgtId !== undefined
    ? streamBuffer(source.pgtId)
    : baseBuffer(source.oid);
}

/** The parallel verdict kept for `pgtId`'s last FULL refresh, when it was read for `plan`. */
function verdictFor(engine: Engine, pgtId: number, plan: CompiledPlan): FullParallelVerdict | null {
  const kept = engine.fullVerdicts.get(pgtId);
  return kept?.plan === plan ? kept.verdict : null;
}

/** Refreshes stream table `pgtId` in the transaction open on `conn`. */
export async function refreshInTransaction(
  conn: Conn,
  engine: Engine,
  pgtId: number,
  request: RefreshRequest,
): Promise<RefreshOutcome> {
  const startedAt = new Date();
  let begun = request.begin !== true;
  if (
    request.action === undefined &&
    request.plan === undefined &&
    request.ignoreStatus !== true &&
    request.peek !== false
  ) {
    // Nothing to do (read-only checks, no lock taken): NO_DATA without writing anything.
    if (!begun) {
      await conn.query(BEGIN_READ_COMMITTED);
      begun = true;
    }
    const peeked = await streamTableWithDependencies(conn, pgtId);
    const peek = peeked?.row ?? null;
    if (peeked !== null && peek !== null && (await isQuiet(conn, peek, peeked.deps))) {
      await markQuiet(conn, peek);
      return {
        pgtId,
        name: displayName(peek.schema, peek.name),
        action: 'NO_DATA',
        reason: QUIET_REASON,
        rowsInserted: 0,
        rowsDeleted: 0,
        pendingChanges: 0,
        sources: [],
        row: peek,
      };
    }
  }
  // The plan it expects to run: its window is read by the preflight when that plan is cached, is
  // DIFFERENTIAL, its buffers exist (checked with the lock), and the owner was the connection's
  // role last time (the read runs as the connection's role).
  const cachedPlan = engine.plans.get(pgtId)?.plan ?? null;
  const expected =
    cachedPlan !== null &&
    cachedPlan.mode === 'DIFFERENTIAL' &&
    request.action === undefined &&
    engine.ownedBySelf.has(pgtId)
      ? cachedPlan
      : null;
  const buffers = expected === null ? [] : expected.sources.map(bufferOf);
  // With the row just read, BEGIN, the lock and the preflight in one round trip when they can be.
  const opened =
    !begun && expected !== null && request.seen !== undefined && request.seen.pgtId === pgtId
      ? await openInOneRoundTrip(
          conn,
          request.seen,
          LOCKS[request.lock ?? 'wait'],
          request.ignoreStatus === true,
          expected,
          buffers,
          expectedSources(engine, pgtId),
          engine.autoFullCaps.get(pgtId) ?? null,
          engine.autoFullRatio,
        )
      : null;
  const locked =
    opened !== null
      ? opened.locked
      : await lockForRefresh(
          conn,
          pgtId,
          LOCKS[request.lock ?? 'wait'],
          request.ignoreStatus === true,
          buffers,
          !begun,
        );
  const row = locked?.row ?? null;
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
  const owner = { role: row.owner, searchPath: row.searchPath };
  // One read: the sources, the storage, its guard, its readers, the sources' fingerprints, and
  // (the owner being the connection's role) the owner's search_path set, what it may not see and
  // the window of the expected plan.
  const inspect =
    expected !== null && locked?.buffersExist === true
      ? windowRead(expected, row, engine.autoFullCaps.get(pgtId) ?? null, engine.autoFullRatio)
      : null;
  // The preflight runs with a generic plan and sets the caller's plan_cache_mode back, or keeps the
  // generic plan for a small window's delta statement and the record when the buffers it reads
  // are small (no window index): `refresh-preflight.ts`.
  const callerPlanCache = locked?.planCacheMode ?? null;
  const planCache =
    callerPlanCache === null
      ? null
      : { caller: callerPlanCache, genericDelta: locked?.buffersIndexed === false };
  let pre: Preflight;
  try {
    pre =
      opened?.pre ??
      (await preflight(
        conn,
        row,
        owner,
        expectedSources(engine, pgtId),
        inspect,
        row.requestedMode === 'AUTO',
        planCache,
      ));
  } catch (error) {
    // The next attempt reads the window on its own again.
    engine.ownedBySelf.delete(pgtId);
    throw error;
  }
  if (pre.session.self) engine.ownedBySelf.add(pgtId);
  else engine.ownedBySelf.delete(pgtId);
  if (pre.costSamples === null) engine.autoFullCaps.delete(pgtId);
  else engine.autoFullCaps.set(pgtId, autoFullCap(pre.costSamples));
  const inspected = expected !== null && pre.window !== null ? { plan: expected, window: pre.window } : null;
  // The registration (taken with the lock) ends with the refresh's last catalog write.
  // A table of the earlier layout gets its public view; a dropped view is an error (public-view.ts);
  // the view's readers are mirrored onto the storage unless the preflight found them already there.
  return withSandbox(
    conn,
    owner,
    {},
    async (sandbox) =>
      refreshAsOwner(
        conn,
        sandbox,
        engine,
        pre.readersMirrored ? row : await preparePublicView(conn, sandbox.exec, row),
        pre,
        request,
        { startedAt, after, name, inspected, planCache: planCache?.caller ?? null },
      ),
    pre.session,
  );
}

/** The refresh itself, every statement touching the query or the storage run in the owner's sandbox. */
async function refreshAsOwner(
  conn: Conn,
  sandbox: OwnerSandbox,
  engine: Engine,
  row: StreamTableRow,
  pre: Preflight,
  request: RefreshRequest,
  at: {
    readonly startedAt: Date;
    readonly after: StreamTableRow['status'];
    readonly name: string;
    /** The window the preflight read for the plan it expected (used when that plan runs). */
    readonly inspected: { readonly plan: CompiledPlan; readonly window: WindowInspection } | null;
    /** The caller's plan_cache_mode, which the record sets again (null: not changed). */
    readonly planCache: string | null;
  },
): Promise<RefreshOutcome> {
  const { startedAt, after, name, inspected } = at;
  const pgtId = row.pgtId;
  let deps = pre.deps;
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

  const planBefore = engine.plans.get(pgtId)?.plan;
  const plan = await planFor(
    conn,
    sandbox,
    engine,
    row,
    deps,
    rebuild ? undefined : request.plan,
    rebuild ? undefined : { probed: expectedSources(engine, pgtId), hidden: pre.hidden },
  );
  // A plan compiled afresh may keep other hidden state than the storage has: re-laid out, FULL.
  const relayout = !rebuild && plan !== planBefore && (await relayoutStorage(conn, sandbox, row, plan));
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
    guardRestored || immediate || relayout
      ? 'FULL'
      : (request.action ?? (rebuild || row.needsReinit || row.frontier === null ? 'FULL' : 'DIFFERENTIAL'));
  const result: RefreshResult = await runRefresh(plan, sandbox.exec, {
    action,
    frontier: row.frontier,
    captureEpoch: hasConsumers ? String(row.epoch + 1) : null,
    pgtId,
    // The catalog has full_rows and full_plan_parallel (migration 22): a FULL may run in parallel.
    parallelFull: true,
    parallelVerdict: verdictFor(engine, pgtId, plan),
    ...(inspected !== null && inspected.plan === plan && !rebuild ? { window: inspected.window } : {}),
    ...(row.requestedMode === 'AUTO'
      ? {
          // the preflight read the cost samples: it is asked to for every AUTO table
          preferFull: autoPreferFull(row.autoThreshold ?? engine.autoFullRatio, pre.costSamples ?? []),
        }
      : {}),
  });
  if (result.parallelVerdict !== undefined)
    engine.fullVerdicts.set(pgtId, { plan, verdict: result.parallelVerdict });
  const changedData = result.rowsInserted + result.rowsDeleted > 0;
  const captured = hasConsumers && result.action !== 'NO_DATA';
  const recorded = rebuild ? 'REINITIALIZE' : result.action;
  const reason = rebuild
    ? changed.every((d) => onlyCaptureChanged(d.fingerprint, current.get(d.sourceOid) ?? ''))
      ? `capture of ${changed.map((d) => displayName(d.sourceSchema, d.sourceName)).join(', ')} had been switched off, or its partition or inheritance tree changed (writes may have been missed): capture repaired, contents recomputed`
      : `source changed: ${changed.map((d) => displayName(d.sourceSchema, d.sourceName)).join(', ')}`
    : guardRestored
      ? `the write guard of ${name} had been disabled or dropped: restored, and the contents rebuilt`
      : relayout
        ? RELAYOUT_REASON
        : result.reason;
  const pending = Object.values(result.pendingChanges).reduce((a, b) => a + b, 0);
  // One statement: the row, the history entry, the end of the storage-writer registration and,
  // for a sandbox of the connection's own role, the caller's search_path set again (its close).
  // A DIFFERENTIAL statement read its sources' buffers: they are trimmed by the record statement.
  const trims = result.action === 'DIFFERENTIAL' && !rebuild ? refreshTrims(plan, deps) : [];
  const record = await recordCompletedRefresh(
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
    sandbox.restorePath,
    trims.length === 0 ? null : { targets: trims.map((t) => t.target), countUpTo: BUFFER_INDEX_ROWS.create },
    at.planCache,
    // The record ends the sandbox of the connection's own role (its search_path set back), so the
    // transaction may commit with it; a function sandbox is dropped before the commit.
    request.commit === true && sandbox.restorePath !== null ? { conn } : null,
  );
  const updated = record.row;
  if (sandbox.restorePath !== null) sandbox.closeRestored();
  return {
    pgtId,
    name,
    action: recorded,
    reason,
    rowsInserted: result.rowsInserted,
    rowsDeleted: result.rowsDeleted,
    pendingChanges: pending,
    sources: trims.length === 0 ? deps : leftToClean(deps, trims, record.trims),
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
