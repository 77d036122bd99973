/**
 * The stream-table service: create, alter, drop, refresh, status and explain over the catalog
 * modules. Rules every operation keeps:
 * - validate before writing: names, schedules and modes are checked and the query is compiled
 *   (parsed, resolved, refused with `PGT_UNSUPPORTED` if it cannot be maintained in the requested
 *   mode) before anything is created;
 * - every catalog-changing operation is one transaction under the catalog lock (`lockCatalog`): on
 *   any error the database is left exactly as it was;
 * - a plan is compiled once: create and alter hand the plan they compiled to the first refresh,
 *   whose updated row (returned by the refresh) is what they report;
 * - status changes go through the status machine (`catalog/set-status.ts`), effective-mode changes
 *   through the refresh-mode machine (`modes.ts`), cycles are refused by the dag (`graph.ts`);
 * - after a commit, the buffers the refresh read are trimmed (`cleanupTargets`, one mapping).
 */
import { type CompiledPlan, dropStreamBufferDdl } from '@pgtrickle/dvm';
import { emitAlert } from '../catalog/alerts.js';
import { deleteStreamTable } from '../catalog/delete-stream-table.js';
import {
  allStreamTables,
  consumersOf,
  findStreamTable,
  streamTableById,
} from '../catalog/find-stream-table.js';
import { recordChecked } from '../catalog/freshness.js';
import { lastDecisionOf } from '../catalog/holds.js';
import { insertStreamTable, nextStreamTableId } from '../catalog/insert-stream-table.js';
import { CATALOG_VERSION } from '../catalog/migrations.js';
import { allDependencies, dependenciesOf } from '../catalog/read-dependencies.js';
import type { DependencyRow, StreamTableRow } from '../catalog/rows.js';
import { cat, lockCatalog } from '../catalog/schema.js';
import { resumeStreamTable, statusAfter } from '../catalog/set-status.js';
import { applySettings, checkSettings, settingsObject } from '../catalog/settings.js';
import { setDefinition, setPublicOid, setSchedule, setStorageOid } from '../catalog/update-stream-table.js';
import {
  cleanupBuffers,
  cleanupTargets,
  dropStreamBufferIfUnused,
  dropUnusedCapture,
  recordDependencies,
} from '../cdc.js';
import { type Conn, type Db, isConnectionError, sqlState } from '../db.js';
import {
  AlreadyExistsError,
  FuseBlownError,
  HasDependentsError,
  InvalidArgumentError,
  NotActiveError,
  NotFoundError,
  PopulationFailedError,
  RefreshFailedError,
} from '../errors.js';
import { recordFailure } from '../failures.js';
import { displayName, parseName, sqlName } from '../names.js';
import {
  convertToPublicView,
  createPublicView,
  dropPublicViewSql,
  evolveStorageAndView,
  missingPublicViews,
  storageNameOf,
  storageTableName,
} from '../public-view.js';
import { type Engine, type RefreshOutcome, refreshInTransaction } from '../refresh.js';
import { lookForRefresh, type RefreshLook } from '../refresh-look.js';
import { QUIET_REASON } from '../refresh-quiet.js';
import {
  type Actor,
  checkStreamTableName,
  currentActor,
  requireCreateOnSchema,
  requireOwnership,
  roleNamed,
} from '../security/actor.js';
import { compileAsOwner } from '../security/owner-compile.js';
import { withSandbox } from '../security/sandbox.js';
import {
  createStorage,
  dropGuardFunctionSql,
  dropStorageSql,
  missingStorageOids,
  storageFit,
} from '../storage.js';
import { deploymentGuard } from './blue-green.js';
import { checkAcyclic, dropOrder } from './graph.js';
import { checkImmediate, checkImmediateConsumers, dropImmediate } from './immediate.js';
import { modeSwitch } from './modes.js';
import type {
  AlterStreamTableOptions,
  CreateStreamTableOptions,
  RefreshSummary,
  StreamTableExplanation,
  StreamTableStatus,
} from './types.js';
import { normalizeSchedule, validateMode, validateQuery } from './validate.js';

/** The schedule a table leaving IMMEDIATE gets when the alter names none. */
const LEAVING_IMMEDIATE_SCHEDULE = '1m';

/** Stream-table operations on one database, sharing one engine (plan cache, settings). */
export class StreamTableService {
  constructor(
    private readonly db: Db,
    private readonly engine: Engine,
  ) {}

  private async resolve(q: Conn | Db, text: string): Promise<{ schema: string; name: string }> {
    const parsed = parseName(text);
    if (parsed.schema !== null) return { schema: parsed.schema, name: parsed.name };
    const res = await q.query('SELECT current_schema() AS s');
    const schema = res.rows[0]?.s;
    if (typeof schema !== 'string')
      throw new InvalidArgumentError(`No current schema to create ${text} in; qualify the name.`);
    return { schema, name: parsed.name };
  }

  private async row(q: Conn | Db, text: string, lock: '' | 'FOR UPDATE' = ''): Promise<StreamTableRow> {
    const { schema, name } = await this.resolve(q, text);
    const row = await findStreamTable(q, schema, name, lock);
    if (row === null) throw new NotFoundError(displayName(schema, name));
    return row;
  }

  /** Runs `body` in one transaction under the catalog lock. */
  private locked<T>(body: (conn: Conn) => Promise<T>): Promise<T> {
    return this.db.transaction(async (conn) => {
      await lockCatalog(conn);
      return body(conn);
    });
  }

  /** Trims the buffers a committed refresh read (best effort is the caller's choice). */
  private async cleanup(outcome: RefreshOutcome | null): Promise<void> {
    if (outcome !== null) await cleanupBuffers(this.db, cleanupTargets(outcome.sources));
  }

  /** Compiles `query` for the stream table stored in schema.name (tagged with its id), as its owner. */
  private compile(
    conn: Conn,
    owner: { readonly role: string; readonly searchPath: string },
    query: string,
    schema: string,
    name: string,
    mode: StreamTableRow['requestedMode'],
    pgtId: number,
  ): Promise<CompiledPlan> {
    return withSandbox(conn, owner, {}, (sandbox) =>
      compileAsOwner(conn, sandbox, { query, schema, name, mode, pgtId }),
    );
  }

  /** The row of the stream table `text` names, after checking `actor` may `doing` it. */
  private async owned(
    q: Conn | Db,
    text: string,
    actor: Actor | undefined,
    doing: string,
    lock: '' | 'FOR UPDATE' = '',
  ): Promise<StreamTableRow> {
    const row = await this.row(q, text, lock);
    const who = actor ?? (await currentActor(q));
    await requireOwnership(q, who, { ...row, display: displayName(row.schema, row.name) }, doing);
    return row;
  }

  /**
   * `refresh()`'s opening read (`refresh-look.ts`), checked: the catalog at this client's version
   * (else `ready` upgrades or refuses, and null sends the caller down the ordinary path), the
   * table found, the connection's role acting as its owner.
   */
  private async look(text: string, ready: () => Promise<void>): Promise<RefreshLook | null> {
    let look: RefreshLook;
    try {
      look = await this.db.withConnection((conn) => lookForRefresh(conn, this.engine.looks, text));
    } catch (error) {
      if (sqlState(error) === undefined) throw error;
      await ready();
      return null;
    }
    if (look.version !== CATALOG_VERSION) {
      await ready();
      return null;
    }
    if (look.row === null) throw new NotFoundError(displayName(look.schema, look.name));
    if (!look.actsAsOwner) {
      const display = displayName(look.row.schema, look.row.name);
      await requireOwnership(this.db, look.actor, { ...look.row, display }, 'refresh');
    }
    return look;
  }

  /** The first refresh after create or alter: FULL, with the plan just compiled. */
  private populate(
    conn: Conn,
    pgtId: number,
    plan: CompiledPlan,
    initiatedBy: 'INITIAL' | 'ALTER',
  ): Promise<RefreshOutcome> {
    return refreshInTransaction(conn, this.engine, pgtId, {
      initiatedBy,
      action: 'FULL',
      ignoreStatus: true,
      plan,
    });
  }

  /**
   * Creates and populates a stream table owned by `options.owner` (default: the actor). Nothing
   * is left behind if it fails. `actor` (default: the connection's role) is who asks.
   */
  async create(options: CreateStreamTableOptions, actor?: Actor): Promise<StreamTableStatus> {
    const query = validateQuery(options?.query, 'createStreamTable needs a query (the defining SELECT).');
    const mode = validateMode(options.refreshMode);
    const schedule = normalizeSchedule(options.schedule);
    const outcome = await this.locked(async (conn) => {
      const { schema, name } = await this.resolve(conn, options.name);
      const display = displayName(schema, name);
      checkStreamTableName(schema, name, display);
      await checkSettings(conn, settingsObject(undefined, options.diamond));
      const who = actor ?? (await currentActor(conn));
      const searchPath = options.searchPath ?? who.searchPath;
      const owner = options.owner === undefined ? who : await roleNamed(conn, options.owner, searchPath);
      if (owner.oid !== who.oid) {
        await requireOwnership(
          conn,
          who,
          { display, ownerOid: owner.oid, owner: owner.name },
          'create, for its owner,',
        );
      }
      if ((await findStreamTable(conn, schema, name)) !== null) throw new AlreadyExistsError(display);
      const exists = await conn.query('SELECT to_regclass($1) IS NOT NULL AS e', [sqlName(schema, name)]);
      if (exists.rows[0]?.e === true) throw new AlreadyExistsError(display, 'a table or view');
      const storage = storageTableName(name);
      const storageTaken = await conn.query('SELECT to_regclass($1) IS NOT NULL AS e', [
        sqlName(schema, storage),
      ]);
      if (storageTaken.rows[0]?.e === true)
        throw new AlreadyExistsError(
          displayName(schema, storage),
          'a relation (the storage of the stream table needs the name)',
        );
      const schemaOk = await conn.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema]);
      if (schemaOk.rows.length === 0)
        throw new InvalidArgumentError(`Schema "${schema}" does not exist; create it first.`);
      await requireCreateOnSchema(conn, owner, schema);
      const pgtId = await nextStreamTableId(conn);
      const ownerContext = { role: owner.name, searchPath };
      // Compiled, and its storage created, as the owner (the storage DDL holds the query).
      const { plan, storageOid, publicOid } = await withSandbox(conn, ownerContext, {}, async (sandbox) => {
        const compiled = await compileAsOwner(conn, sandbox, { query, schema, name: storage, mode, pgtId });
        // Refused before anything is created (the transaction would roll it back anyway).
        await checkImmediate(conn, compiled, display);
        await checkImmediateConsumers(conn, pgtId, compiled, display);
        const stored = await createStorage(conn, sandbox.exec, compiled);
        const view = await createPublicView(conn, sandbox.exec, schema, name, storage, compiled.columns);
        return { plan: compiled, storageOid: stored, publicOid: view };
      });
      await insertStreamTable(conn, {
        pgtId,
        schema,
        name,
        query,
        requestedMode: mode,
        effectiveMode: plan.mode,
        modeReason: plan.fallbackReason,
        // IMMEDIATE tables are never scheduled: their writers maintain them.
        schedule: plan.mode === 'IMMEDIATE' ? null : schedule,
        uniqueRowIds: plan.uniqueRowIds,
        ownerOid: owner.oid,
        searchPath,
      });
      await applySettings(conn, pgtId, settingsObject(undefined, options.diamond));
      await recordDependencies(conn, pgtId, plan);
      await checkAcyclic(conn, pgtId, display);
      await setStorageOid(conn, pgtId, storageOid, false);
      await setPublicOid(conn, pgtId, publicOid);
      try {
        return await this.populate(conn, pgtId, plan, 'INITIAL');
      } catch (error) {
        // A runtime error of the query on the data (a division by zero, a cast): coded, with its SQLSTATE.
        if (sqlState(error) !== undefined && !isConnectionError(error))
          throw new PopulationFailedError(display, error);
        throw error;
      }
    });
    await this.cleanup(outcome);
    return describe(outcome.row as StreamTableRow, outcome.sources);
  }

  /** Refreshes a stream table now, synchronously (waits if another session is refreshing it). */
  async refresh(
    name: string,
    options: { action?: 'FULL' | 'DIFFERENTIAL' } = {},
    actor?: Actor,
    ready?: () => Promise<void>,
  ): Promise<RefreshSummary> {
    // `ready` (the catalog check) given and no other actor: one opening read answers the catalog
    // version, the row, the owner check and whether the refresh is quiet (`refresh-look.ts`).
    const look = ready !== undefined && actor === undefined ? await this.look(name, ready) : null;
    const row = look?.row ?? (await this.owned(this.db, name, actor, 'refresh'));
    if (row.status === 'SUSPENDED' || row.status === 'ERROR') {
      throw new NotActiveError(displayName(row.schema, row.name), row.status, row.lastError);
    }
    if (row.fuse.state === 'blown') {
      throw new FuseBlownError(displayName(row.schema, row.name), row.fuse.blowReason, row.fuse.blownAt);
    }
    if (look?.quiet === true && options.action === undefined) {
      // Nothing to apply: NO_DATA without a transaction (the unlogged freshness mark at most).
      if (!look.freshnessRecent) await recordChecked(this.db, [row.pgtId], new Date());
      return {
        name: displayName(row.schema, row.name),
        action: 'NO_DATA',
        reason: QUIET_REASON,
        rowsInserted: 0,
        rowsDeleted: 0,
        pendingChanges: 0,
      };
    }
    let outcome: RefreshOutcome;
    try {
      // The refresh's first statement opens the transaction (its BEGIN sent with the lock), and
      // its record statement commits it (COMMIT sent with it).
      outcome = await this.db.transaction(
        (conn) =>
          refreshInTransaction(conn, this.engine, row.pgtId, {
            initiatedBy: 'MANUAL',
            lock: 'wait',
            begin: true,
            commit: true,
            // The row just read: the transaction opens, locks and preflights in one round trip.
            ...(look?.row ? { seen: look.row } : {}),
            ...(options.action ? { action: options.action } : {}),
            ...(look?.quiet === false ? { peek: false as const } : {}),
          }),
        'read committed',
        { beganBy: 'work', endedBy: 'work' },
      );
    } catch (error) {
      await recordFailure(this.db, row.pgtId, error, 'MANUAL');
      if (
        error instanceof Error &&
        'code' in error &&
        typeof error.code === 'string' &&
        error.code.startsWith('PGT_')
      )
        throw error;
      throw new RefreshFailedError(displayName(row.schema, row.name), error);
    }
    await this.cleanup(outcome);
    const { sources: _s, pgtId: _p, row: _r, ...summary } = outcome;
    return summary;
  }

  /** Changes a stream table's schedule, mode, query or status (a new query or mode rebuilds and repopulates it). */
  async alter(name: string, changes: AlterStreamTableOptions, actor?: Actor): Promise<StreamTableStatus> {
    const schedule = changes.schedule === undefined ? undefined : normalizeSchedule(changes.schedule);
    const mode = changes.refreshMode === undefined ? undefined : validateMode(changes.refreshMode);
    if (changes.query !== undefined)
      validateQuery(changes.query, 'alterStreamTable: the new query is empty.');
    if (changes.status !== undefined && changes.status !== 'ACTIVE') {
      throw new InvalidArgumentError(
        `alterStreamTable: status can only be set to 'ACTIVE' (resume), got ${JSON.stringify(changes.status)}.`,
      );
    }
    const result = await this.locked(async (conn) => {
      let row = await this.owned(conn, name, actor, 'alter', 'FOR UPDATE');
      const display = displayName(row.schema, row.name);
      const guarded = await deploymentGuard(conn, row, 'alter');
      if (guarded !== null) throw guarded;
      const settings = settingsObject(changes.fuse, changes.diamond);
      if (Object.keys(settings).length > 0) {
        await applySettings(conn, row.pgtId, settings);
        row = await this.row(conn, name);
      }
      if (schedule !== undefined) await setSchedule(conn, row.pgtId, schedule);
      if (changes.status === 'ACTIVE' && row.status !== 'ACTIVE') {
        await resumeStreamTable(conn, row);
        await emitAlert(conn, 'resumed', { stream_table: display, from: row.status });
        row = { ...row, status: statusAfter(row.status, 'resume'), needsReinit: true };
      }
      if (changes.query === undefined && mode === undefined) return { row, outcome: null };
      const query = changes.query ?? row.query;
      const newMode = mode ?? row.requestedMode;
      const owner = { role: row.owner, searchPath: row.searchPath };
      // A table of the earlier layout gets its public view first (the plan names the storage).
      const before = row;
      row = await withSandbox(conn, owner, {}, (sandbox) => convertToPublicView(conn, sandbox.exec, before));
      const plan = await this.compile(conn, owner, query, row.schema, storageNameOf(row), newMode, row.pgtId);
      const steps = modeSwitch(row.effectiveMode, plan.mode);
      await checkImmediate(conn, plan, display);
      await checkImmediateConsumers(conn, row.pgtId, plan, display);
      const consumers = await consumersOf(conn, row.pgtId);
      const { visibleSame } = await storageFit(conn, plan.storage.schema, plan.storage.name, plan);
      if (consumers.length > 0 && !visibleSame) {
        throw new HasDependentsError(
          display,
          consumers.map((c) => displayName(c.schema, c.name)),
          'change its output columns (they read them)',
        );
      }
      await setDefinition(
        conn,
        row.pgtId,
        {
          query,
          requestedMode: newMode,
          effectiveMode: plan.mode,
          modeReason: plan.fallbackReason,
          uniqueRowIds: plan.uniqueRowIds,
        },
        statusAfter(row.status, 'reinitialize') as 'INITIALIZING',
      );
      if (plan.mode === 'IMMEDIATE') await setSchedule(conn, row.pgtId, null);
      else if (row.effectiveMode === 'IMMEDIATE' && schedule === undefined)
        await setSchedule(conn, row.pgtId, LEAVING_IMMEDIATE_SCHEDULE);
      // Leaving IMMEDIATE: its triggers go in this transaction, as the new capture comes.
      if (steps.includes('drop_immediate_triggers')) await dropImmediate(conn, row.pgtId, row.storageOid);
      const oldSources = await dependenciesOf(conn, row.pgtId);
      await recordDependencies(conn, row.pgtId, plan);
      await checkAcyclic(conn, row.pgtId, display);
      const current = row;
      await withSandbox(conn, owner, {}, (sandbox) => evolveStorageAndView(conn, sandbox, current, plan));
      const outcome = await this.populate(conn, row.pgtId, plan, 'ALTER');
      for (const d of oldSources)
        if (d.sourcePgtId !== null) await dropStreamBufferIfUnused(conn, d.sourcePgtId);
      await dropUnusedCapture(conn);
      return { row: outcome.row as StreamTableRow, outcome };
    });
    await this.cleanup(result.outcome);
    const sources = result.outcome?.sources ?? (await dependenciesOf(this.db, result.row.pgtId));
    if (result.outcome === null) return describe(await this.row(this.db, name), sources);
    return describe(result.row, sources);
  }

  /** Drops a stream table (refused while others read it, unless `cascade`, which drops them first). */
  async drop(
    name: string,
    options: { cascade?: boolean } = {},
    actor?: Actor,
  ): Promise<{ dropped: readonly string[] }> {
    return this.locked(async (conn) => {
      const row = await this.owned(conn, name, actor, 'drop', 'FOR UPDATE');
      for (const r of await dropOrder(conn, row)) {
        const guarded = await deploymentGuard(conn, r, 'drop');
        if (guarded !== null) throw guarded;
      }
      const order = await dropOrder(conn, row);
      const dependents = order.filter((r) => r.pgtId !== row.pgtId);
      if (dependents.length > 0 && options.cascade !== true) {
        throw new HasDependentsError(
          displayName(row.schema, row.name),
          dependents.map((d) => displayName(d.schema, d.name)),
          'drop it',
        );
      }
      const upstreams = new Set<number>();
      for (const r of order) {
        statusAfter(r.status, 'drop');
        for (const d of await dependenciesOf(conn, r.pgtId))
          if (d.sourcePgtId !== null) upstreams.add(d.sourcePgtId);
        await dropImmediate(conn, r.pgtId, null);
        const dropView = await dropPublicViewSql(conn, r); // null: gone, or the earlier layout
        if (dropView !== null) await conn.query(dropView);
        const dropStorage = await dropStorageSql(conn, r); // null: its storage is already gone
        if (dropStorage !== null) await conn.query(dropStorage);
        if (r.storageOid !== null) await conn.query(dropGuardFunctionSql(r.storageOid));
        await deleteStreamTable(conn, r.pgtId);
        for (const sql of dropStreamBufferDdl(r.pgtId)) await conn.query(sql);
        this.engine.plans.delete(r.pgtId);
        upstreams.delete(r.pgtId);
      }
      for (const up of upstreams) await dropStreamBufferIfUnused(conn, up);
      await dropUnusedCapture(conn);
      return { dropped: order.map((r) => displayName(r.schema, r.name)) };
    });
  }

  /** Every stream table with its status. */
  async status(): Promise<StreamTableStatus[]> {
    const [rows, deps] = await Promise.all([allStreamTables(this.db), allDependencies(this.db)]);
    const stored = rows.flatMap((r) => (r.storageOid === null ? [] : [r.storageOid]));
    const missing = await missingStorageOids(this.db, stored);
    const views = await missingPublicViews(
      this.db,
      rows.flatMap((r) => (r.publicOid === null ? [] : [r.publicOid])),
    );
    const retired = await retiredIds(this.db);
    return rows.map((r) => ({
      ...describe(
        r,
        deps.filter((d) => d.pgtId === r.pgtId),
        (r.storageOid !== null && missing.has(r.storageOid)) ||
          (r.publicOid !== null && views.has(r.publicOid)),
      ),
      role: r.greenOf !== null ? 'green' : retired.has(r.pgtId) ? 'retired' : 'table',
    }));
  }

  /** How a stream table is maintained: mode, sources, row identity, and the SQL. */
  async explain(name: string, actor?: Actor): Promise<StreamTableExplanation> {
    const row = await this.owned(this.db, name, actor, 'explain');
    const owner = { role: row.owner, searchPath: row.searchPath };
    const plan = await this.db.transaction((conn) =>
      this.compile(conn, owner, row.query, row.schema, storageNameOf(row), row.requestedMode, row.pgtId),
    );
    return {
      name: displayName(row.schema, row.name),
      storage: displayName(row.schema, storageNameOf(row)),
      query: row.query,
      requestedMode: row.requestedMode,
      mode: plan.mode,
      fallbackReason: plan.fallbackReason,
      uniqueRowIds: plan.uniqueRowIds,
      columns: plan.columns,
      hiddenColumns: plan.hiddenColumns,
      sources: await sourceNames(this.db, plan.sources),
      warnings: plan.warnings,
      scheduler: {
        hold: row.hold,
        lastDecision: await lastDecisionOf(this.db, row.pgtId),
        fuse: row.fuse,
        diamond: { consistency: row.diamondConsistency, schedulePolicy: row.diamondSchedulePolicy },
      },
      sql: { storage: plan.storageDdl(), population: plan.populationSelect(), delta: plan.refreshSql() },
    };
  }
}

/** The sources of a plan by the names users know them by (a stream table's public name, not its storage's). */
async function sourceNames(
  db: Db,
  sources: CompiledPlan['sources'],
): Promise<{ name: string; kind: 'table' | 'streamTable' }[]> {
  const out: { name: string; kind: 'table' | 'streamTable' }[] = [];
  for (const s of sources) {
    const st = s.pgtId === null ? null : await streamTableById(db, s.pgtId);
    out.push({ name: displayName(st?.schema ?? s.schema, st?.name ?? s.name), kind: s.kind });
  }
  return out;
}

/** The ids of retired blues (kept by a promoted deployment for a rollback). */
async function retiredIds(db: Db): Promise<Set<number>> {
  const res = await db.query(`SELECT blue_id FROM ${cat('pgt_green_deployments')} WHERE state = 'PROMOTED'`);
  return new Set(res.rows.map((r) => Number(r.blue_id)));
}

/** A stream table's row and its sources as `status()` reports them. */
function describe(
  r: StreamTableRow,
  sources: readonly DependencyRow[],
  storageMissing = false,
): StreamTableStatus {
  return {
    name: displayName(r.schema, r.name),
    schema: r.schema,
    table: r.name,
    status: r.status,
    refreshMode: r.requestedMode,
    effectiveMode: r.effectiveMode,
    modeReason: r.modeReason,
    schedule: r.schedule ?? 'calculated',
    lastRefreshAt: r.lastRefreshAt,
    dataTimestamp: r.dataTimestamp,
    consecutiveErrors: r.consecutiveErrors,
    lastError: r.lastError,
    needsReinit: r.needsReinit,
    sources: sources.map((d) => displayName(d.sourceSchema, d.sourceName)),
    hold: r.hold,
    fuse: { mode: r.fuse.mode, state: r.fuse.state },
    storageMissing,
    storage: displayName(r.schema, storageNameOf(r)),
    role: r.greenOf !== null ? 'green' : 'table',
  };
}
