/**
 * Blue-green deployments (docs/blue-green.md): a stream table's definition replaced with no gap
 * for its readers. Rules:
 * - the green copy is a stream table of its own (own id, frontier, dependencies; blue's owner and
 *   settings) stored under `<name>__pgt_green`, populated in the transaction that creates it and
 *   then refreshed by the scheduler like any other table;
 * - every deployment state change is a transition of `@pgtrickle/lifecycle`'s blue-green machine,
 *   stored in `pgt_green_deployments` in the transaction that does the work, so a crash at any
 *   point leaves either the state before or the state after;
 * - promote and rollback are one transaction each, the swap: take the refresh locks (the rows of
 *   both tables and of the tables reading the outgoing one), refuse views over the outgoing
 *   table, `LOCK` both views then both storages ACCESS EXCLUSIVE in ascending oid order, rename them, recompile
 *   and rebuild the readers against the incoming one (refused, nothing changed, when a reader's
 *   query no longer fits, unless `cascade`), move refresh-group memberships;
 * - promote first checks convergence with the ConvergenceGate (unless forced) and refreshes the
 *   green a last time before the exclusive locks; it carries the outgoing table's grants, comments
 *   and user indexes over, and keeps the old blue suspended under `<name>__pgt_retired`;
 * - rollback swaps the retired blue back (its grants were never touched), refreshes it first, and
 *   drops the green; cancel drops a green not promoted yet; drop_retired drops the retired blue.
 */
import type { CompiledPlan, RequestedMode } from '@pgtrickle/dvm';
import { dropStreamBufferDdl, quoteIdent, truncateIdent } from '@pgtrickle/dvm';
import {
  anyOf,
  blueGreenSnapshotFrontiers,
  blueMeta,
  ContextProvider,
  type ConvergenceCheck,
  ConvergenceGate,
  createGateContext,
  fixedClock,
  hasPendingSourceChanges,
  lagBelow,
  noPendingChanges,
  type StreamTableMeta,
  snapshotFrontierCovers,
} from '@pgtrickle/gates';
import { type BlueGreenEvent, blueGreenMachine } from '@pgtrickle/lifecycle';
import { emitAlert } from '../catalog/alerts.js';
import { deleteStreamTable } from '../catalog/delete-stream-table.js';
import { consumersOf, findStreamTable, streamTableById } from '../catalog/find-stream-table.js';
import {
  advanceDeployment,
  type DeploymentRow,
  findDeployment,
  isOpen,
  markGreen,
  renameStreamTable,
  repointRefreshGroups,
  startDeployment,
} from '../catalog/green-deployments.js';
import { insertStreamTable, nextStreamTableId } from '../catalog/insert-stream-table.js';
import { dependenciesOf } from '../catalog/read-dependencies.js';
import type { StreamTableRow } from '../catalog/rows.js';
import { cat, lockCatalog } from '../catalog/schema.js';
import { recordFailureOnRow, statusAfterIfAllowed } from '../catalog/set-status.js';
import { setPublicOid, setStorageOid } from '../catalog/update-stream-table.js';
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
  ContentsDifferError,
  DeploymentStateError,
  GreenUnsupportedError,
  InvalidArgumentError,
  NotConvergedError,
  NotFoundError,
  PopulationFailedError,
  SwapDependentsError,
} from '../errors.js';
import { displayName, parseName, sqlName } from '../names.js';
import {
  convertToPublicView,
  copyGrantsAndComments,
  createPublicView,
  dropPublicViewSql,
  evolveStorageAndView,
  storageNameOf,
  storageTableName,
  viewsOverStreamTable,
} from '../public-view.js';
import { type Engine, type RefreshOutcome, refreshInTransaction } from '../refresh.js';
import { type Actor, currentActor, requireOwnership } from '../security/actor.js';
import { compileAsOwner } from '../security/owner-compile.js';
import { type OwnerSandbox, withSandbox } from '../security/sandbox.js';
import {
  createStorage,
  dropGuardFunctionSql,
  dropStorageSql,
  storageFit,
  visibleColumnNames,
} from '../storage.js';
import { checkAcyclic } from './graph.js';
import { normalizeSchedule, validateMode, validateQuery } from './validate.js';

/** What `createGreen` takes (omitted: blue's). */
export interface CreateGreenOptions {
  /** The new defining query. */
  readonly query?: string;
  /** The new schedule ('30s', '5m', a cron expression, 'calculated'). */
  readonly schedule?: string | null;
  /** The new refresh mode ('AUTO', 'FULL' or 'DIFFERENTIAL'; IMMEDIATE is not supported). */
  readonly refreshMode?: RequestedMode;
}

/** What `promoteGreen` takes. */
export interface PromoteGreenOptions {
  /** Promote although the green has not converged. */
  readonly force?: boolean;
  /** Put stream tables whose query no longer fits the green in ERROR instead of refusing the promote. */
  readonly cascade?: boolean;
  /**
   * Also converged when the green's data is at most this many milliseconds older than the table's
   * ("close enough": the promote's last refresh of the green brings it up to date anyway).
   */
  readonly maxLagMs?: number;
  /**
   * With the query unchanged (a new schedule or mode): lock the sources against writes, refresh
   * the green and the table, and refuse the promote unless they hold the same rows.
   */
  readonly verify?: boolean;
}

/** What a promote did. */
export interface PromoteResult {
  /** The public name, now the green's. */
  readonly name: string;
  /** The old blue's name now (suspended, kept for a rollback). */
  readonly retired: string;
  /** Whether it was forced (the green had not converged). */
  readonly forced: boolean;
  /** Stream tables reading it, rebuilt against the new version in the same transaction. */
  readonly rebuilt: readonly string[];
  /** Stream tables whose query no longer fits (cascade): put in ERROR. */
  readonly broken: readonly string[];
  /** User indexes of the old blue that could not be created on the green (a column it lacks). */
  readonly indexesNotCarried: readonly string[];
}

/** Suffix of a green copy's name. */
export const GREEN_SUFFIX = '__pgt_green';
/** Suffix of a retired blue's name. */
export const RETIRED_SUFFIX = '__pgt_retired';

/**
 * The convergence checks of a promote: green healthy, and its frontier covers blue's or it has
 * nothing pending (or, given `maxLagMs`, its data is at most that much older than blue's).
 */
export function convergenceChecks(maxLagMs?: number): ConvergenceCheck[] {
  const healthy: ConvergenceCheck = {
    name: 'healthy',
    check: (green) =>
      green.status !== 'ACTIVE'
        ? { converged: false, detail: `green is ${green.status}` }
        : green.fuse?.state === 'BLOWN'
          ? { converged: false, detail: 'green fuse is blown' }
          : { converged: true, detail: 'green is active' },
  };
  const caughtUp = [snapshotFrontierCovers(), noPendingChanges()];
  return [healthy, anyOf(maxLagMs === undefined ? caughtUp : [...caughtUp, lagBelow(maxLagMs)])];
}

function meta(row: StreamTableRow): StreamTableMeta {
  return {
    id: String(row.pgtId),
    name: displayName(row.schema, row.name),
    status: row.status,
    refreshMode: row.effectiveMode,
    schedule: { kind: 'calculated', periodMs: 1000 },
    lastRefreshAt: row.lastRefreshAt,
    dataTimestamp: row.dataTimestamp,
    consecutiveErrors: row.consecutiveErrors,
    fuse: { mode: 'off', state: row.fuse.state === 'blown' ? 'BLOWN' : 'INTACT' },
    greenOf: row.greenOf === null ? null : String(row.greenOf),
  };
}

/** The convergence of `green` with `blue` by the ConvergenceGate: null when converged, else why not. */
export async function convergenceOf(
  q: Conn | Db,
  green: StreamTableRow,
  blue: StreamTableRow,
  maxLagMs?: number,
): Promise<string | null> {
  const frontier = (r: StreamTableRow) =>
    r.frontier === null ? null : { snapshot: r.frontier.snapshot, epochs: r.frontier.epochs };
  const provider = new ContextProvider()
    .provide(blueMeta, () => meta(blue))
    .provide(blueGreenSnapshotFrontiers, () => ({ blue: frontier(blue), green: frontier(green) }))
    .provide(hasPendingSourceChanges, async () => {
      const res = await q.query(
        `SELECT COALESCE(sum(u.pending), 0)::int8 AS n FROM ${cat('unread_changes')}(ARRAY[$1::bigint]) AS u`,
        [green.pgtId],
      );
      return Number(res.rows[0]?.n ?? 0) > 0;
    });
  const st = meta(green);
  const decision = await new ConvergenceGate({ checks: convergenceChecks(maxLagMs) }).evaluate(
    st,
    createGateContext(st, { clock: fixedClock(new Date()), provider }),
  );
  return decision.kind === 'proceed' ? null : decision.reason;
}

/** The relation of `oid` as `schema.name`, quoted (null: gone). */
async function relName(conn: Conn, oid: number | null): Promise<string | null> {
  if (oid === null) return null;
  const res = await conn.query(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS rel
       FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [oid],
  );
  const rel = res.rows[0]?.rel;
  return typeof rel === 'string' ? rel : null;
}

/** Runs `work` in a savepoint: undone (and the error returned) when it fails. */
async function attempt<T>(conn: Conn, work: () => Promise<T>): Promise<{ ok: T } | { error: unknown }> {
  await conn.query('SAVEPOINT pgt_green_step');
  try {
    const ok = await work();
    await conn.query('RELEASE SAVEPOINT pgt_green_step');
    return { ok };
  } catch (error) {
    if (isConnectionError(error)) throw error;
    await conn.query('ROLLBACK TO SAVEPOINT pgt_green_step');
    return { error };
  }
}

/** Blue-green operations on one database, sharing the stream-table engine. */
export class BlueGreenService {
  constructor(
    private readonly db: Db,
    private readonly engine: Engine,
  ) {}

  private locked<T>(body: (conn: Conn) => Promise<T>): Promise<T> {
    return this.db.transaction(async (conn) => {
      await lockCatalog(conn);
      return body(conn);
    });
  }

  private async resolve(q: Conn | Db, text: string): Promise<{ schema: string; name: string }> {
    const parsed = parseName(text);
    if (parsed.schema !== null) return { schema: parsed.schema, name: parsed.name };
    const res = await q.query('SELECT current_schema() AS s');
    return { schema: String(res.rows[0]?.s), name: parsed.name };
  }

  /** The public stream table `text`, locked, after checking `actor` owns it. */
  private async publicRow(conn: Conn, text: string, actor: Actor | undefined, doing: string) {
    const { schema, name } = await this.resolve(conn, text);
    const row = await findStreamTable(conn, schema, name, 'FOR UPDATE');
    const display = displayName(schema, name);
    if (row === null) throw new NotFoundError(display);
    const who = actor ?? (await currentActor(conn));
    await requireOwnership(conn, who, { ...row, display }, doing);
    return { row, schema, name, display };
  }

  /**
   * Creates the green copy of stream table `name` (query, schedule, mode: the new ones, or blue's)
   * and populates it, in one transaction; blue keeps serving. Refused while a deployment of
   * `name` is open.
   */
  async create(name: string, options: CreateGreenOptions = {}, actor?: Actor): Promise<DeploymentRow> {
    const newQuery =
      options.query === undefined || options.query === null
        ? undefined
        : validateQuery(options.query, 'createGreen: the new query is empty.');
    const newMode =
      options.refreshMode === undefined || options.refreshMode === null
        ? undefined
        : validateMode(options.refreshMode);
    const newSchedule = options.schedule === undefined ? undefined : normalizeSchedule(options.schedule);
    const outcome = await this.locked(async (conn) => {
      const { row: blue, schema, name: table, display } = await this.publicRow(conn, name, actor, 'redeploy');
      if (blue.greenOf !== null)
        throw new DeploymentStateError(`${display} is itself a green copy; redeploy the table it replaces.`);
      const open = await findDeployment(conn, schema, table, 'FOR UPDATE');
      if (open !== null && isOpen(open.state)) {
        throw new DeploymentStateError(
          `${display} already has a blue-green deployment in state ${open.state}. ` +
            (open.state === 'PROMOTED'
              ? `Finish it first: pgtrickle.drop_retired('${display}') keeps the new version, pgtrickle.rollback_green('${display}') goes back.`
              : `Promote it (pgtrickle.promote_green('${display}')) or cancel it (pgtrickle.cancel_green('${display}')) first.`),
        );
      }
      const mode = newMode ?? blue.requestedMode;
      if (mode === 'IMMEDIATE' || blue.effectiveMode === 'IMMEDIATE') {
        throw new GreenUnsupportedError(
          `A blue-green deployment of ${display} would involve IMMEDIATE mode, which has no catch-up: use alterStreamTable (pgtrickle.alter_stream_table) instead.`,
        );
      }
      const greenName = truncateIdent(`${table}${GREEN_SUFFIX}`);
      const retiredName = truncateIdent(`${table}${RETIRED_SUFFIX}`);
      for (const n of [greenName, retiredName, storageTableName(greenName), storageTableName(retiredName)]) {
        const taken = await conn.query('SELECT to_regclass($1) IS NOT NULL AS e', [sqlName(schema, n)]);
        if (taken.rows[0]?.e === true || (await findStreamTable(conn, schema, n)) !== null)
          throw new AlreadyExistsError(displayName(schema, n), 'a relation (the deployment needs the name)');
      }
      const pgtId = await nextStreamTableId(conn);
      const owner = { role: blue.owner, searchPath: blue.searchPath };
      const query = newQuery ?? blue.query;
      const { plan, storageOid, publicOid } = await withSandbox(conn, owner, {}, async (sandbox) => {
        const storage = storageTableName(greenName);
        const compiled = await compileAsOwner(conn, sandbox, { query, schema, name: storage, mode, pgtId });
        if (compiled.mode === 'IMMEDIATE')
          throw new GreenUnsupportedError(
            `The green copy of ${display} would be IMMEDIATE, which has no catch-up.`,
          );
        const stored = await createStorage(conn, sandbox.exec, compiled);
        const view = await createPublicView(conn, sandbox.exec, schema, greenName, storage, compiled.columns);
        return { plan: compiled, storageOid: stored, publicOid: view };
      });
      await insertStreamTable(conn, {
        pgtId,
        schema,
        name: greenName,
        query,
        requestedMode: mode,
        effectiveMode: plan.mode,
        modeReason: plan.fallbackReason,
        schedule: newSchedule === undefined ? blue.schedule : newSchedule,
        uniqueRowIds: plan.uniqueRowIds,
        ownerOid: blue.ownerOid,
        searchPath: blue.searchPath,
      });
      await markGreen(conn, pgtId, blue.pgtId);
      await recordDependencies(conn, pgtId, plan);
      await checkAcyclic(conn, pgtId, displayName(schema, greenName));
      // After the promote the green is read under the blue's name: it cannot read the blue itself.
      const readsBlue = await conn.query(
        `WITH RECURSIVE up(id) AS (
           SELECT d.source_pgt_id FROM ${cat('pgt_dependencies')} AS d WHERE d.pgt_id = $1 AND d.source_pgt_id IS NOT NULL
           UNION SELECT d.source_pgt_id FROM ${cat('pgt_dependencies')} AS d JOIN up ON d.pgt_id = up.id WHERE d.source_pgt_id IS NOT NULL)
         SELECT EXISTS (SELECT 1 FROM up WHERE up.id = $2) AS r`,
        [pgtId, blue.pgtId],
      );
      if (readsBlue.rows[0]?.r === true)
        throw new GreenUnsupportedError(
          `The new query of ${display} reads ${display} itself (directly or through other stream tables): once promoted it would read itself.`,
        );
      await setStorageOid(conn, pgtId, storageOid, false);
      await setPublicOid(conn, pgtId, publicOid);
      let populated: RefreshOutcome;
      try {
        populated = await refreshInTransaction(conn, this.engine, pgtId, {
          initiatedBy: 'INITIAL',
          action: 'FULL',
          ignoreStatus: true,
          plan,
        });
      } catch (error) {
        if (sqlState(error) !== undefined && !isConnectionError(error))
          throw new PopulationFailedError(displayName(schema, greenName), error);
        throw error;
      }
      await startDeployment(conn, {
        schema,
        name: table,
        blueId: blue.pgtId,
        greenId: pgtId,
        greenName,
        retiredName,
      });
      await emitAlert(conn, 'green_created', {
        stream_table: display,
        green: displayName(schema, greenName),
      });
      await conn.query(`SELECT pg_catalog.pg_notify('pgtrickle_wake', '')`);
      return { populated, deployment: await findDeployment(conn, schema, table) };
    });
    await cleanupBuffers(this.db, cleanupTargets(outcome.populated.sources));
    return outcome.deployment as DeploymentRow;
  }

  /**
   * Promotes the green of `name` in one transaction (see the module header). Refused with
   * `PGT_NOT_CONVERGED` unless it has converged or `force`; with `PGT_HAS_DEPENDENTS` when views
   * read the table, or stream tables read columns the green lacks (unless `cascade`).
   */
  async promote(name: string, options: PromoteGreenOptions = {}, actor?: Actor): Promise<PromoteResult> {
    const result = await this.locked(async (conn) => {
      const { row: blue, schema, name: table, display } = await this.publicRow(conn, name, actor, 'promote');
      const d = await this.openDeployment(
        conn,
        schema,
        table,
        display,
        ['CATCHING_UP', 'CONVERGED'],
        'promote',
      );
      let green = await streamTableById(conn, d.greenId, 'FOR UPDATE');
      if (green === null)
        throw new DeploymentStateError(`The green copy of ${display} is gone; cancel the deployment.`);
      if (options.maxLagMs !== undefined && !(Number.isFinite(options.maxLagMs) && options.maxLagMs >= 0))
        throw new InvalidArgumentError(
          `promoteGreen: maxLagMs must be a number of milliseconds ≥ 0, got ${options.maxLagMs}.`,
        );
      const why = await convergenceOf(conn, green, blue, options.maxLagMs);
      if (why !== null && options.force !== true) throw new NotConvergedError(display, why);
      const events: BlueGreenEvent[] =
        why === null
          ? d.state === 'CATCHING_UP'
            ? ['converged', 'promote']
            : ['promote']
          : d.state === 'CONVERGED'
            ? ['diverged', 'force_promote']
            : ['force_promote'];
      // The green catches up with everything committed, before readers are locked out.
      if (options.verify === true) await this.verifyContents(conn, blue, green, display);
      else
        await refreshInTransaction(conn, this.engine, green.pgtId, { initiatedBy: 'MANUAL', lock: 'wait' });
      green = (await streamTableById(conn, green.pgtId)) as StreamTableRow;
      await refuseRowLevelSecurity(conn, blue, display);
      const swap = await this.swap(conn, {
        outgoing: blue,
        incoming: green,
        outgoingName: d.retiredName,
        publicName: table,
        display,
        cascade: options.cascade === true,
        carryOver: true,
      });
      await conn.query(
        `UPDATE ${cat('pgt_stream_tables')} SET status = $2, updated_at = clock_timestamp() WHERE pgt_id = $1`,
        [blue.pgtId, statusAfterIfAllowed(blue.status, 'suspend')],
      );
      await advanceDeployment(conn, d, events, { forced: why !== null, renamedIndexes: swap.renamedIndexes });
      await emitAlert(conn, 'green_promoted', {
        stream_table: display,
        retired: displayName(schema, d.retiredName),
        forced: why !== null,
      });
      return {
        name: display,
        retired: displayName(schema, d.retiredName),
        forced: why !== null,
        rebuilt: swap.rebuilt,
        broken: swap.broken,
        indexesNotCarried: swap.indexesNotCarried,
        sources: swap.sources,
      };
    });
    await cleanupBuffers(this.db, cleanupTargets(result.sources));
    const { sources: _s, ...promoted } = result;
    return promoted;
  }

  /**
   * The content check of a promote (`verify`), for a green of the same query: the sources of both
   * locked against writes (SHARE, readers go on), both refreshed, so they read the same data, and
   * their visible rows compared as multisets (by each row's binary image). `PGT_CONTENTS_DIFFER`
   * when they differ; the caller's transaction then changes nothing.
   */
  private async verifyContents(
    conn: Conn,
    blue: StreamTableRow,
    green: StreamTableRow,
    display: string,
  ): Promise<void> {
    if (green.query.trim() !== blue.query.trim()) {
      throw new InvalidArgumentError(
        `promoteGreen: verify compares the green's rows with ${display}'s, which only means something when the query is unchanged (this green has a new query); promote without it: pgtrickle.promote_green('${display}') or pgtrickle green promote ${display}.`,
      );
    }
    if (blue.status !== 'ACTIVE') {
      throw new NotConvergedError(display, `the content check refreshes ${display}, which is ${blue.status}`);
    }
    const sources = new Set<string>();
    for (const id of [blue.pgtId, green.pgtId])
      for (const d of await dependenciesOf(conn, id)) sources.add(sqlName(d.sourceSchema, d.sourceName));
    for (const source of [...sources].sort()) await conn.query(`LOCK TABLE ${source} IN SHARE MODE`);
    for (const id of [green.pgtId, blue.pgtId])
      await refreshInTransaction(conn, this.engine, id, { initiatedBy: 'MANUAL', lock: 'wait' });
    const rel = async (r: StreamTableRow) => (await relName(conn, r.storageOid)) as string;
    const [g, b] = [await rel(green), await rel(blue)];
    const list = (await visibleColumnNames(conn, b)).map((c) => `t.${quoteIdent(c)}`).join(', ');
    const image = (from: string) => `SELECT pg_catalog.record_send(ROW(${list})) FROM ${from} AS t`;
    const owner = { role: blue.owner, searchPath: blue.searchPath };
    const diff = await withSandbox(conn, owner, {}, async (sandbox) =>
      sandbox.exec.query(
        `SELECT (SELECT pg_catalog.count(*) FROM (${image(g)} EXCEPT ALL ${image(b)}) AS x)::int8 AS only_green,
                (SELECT pg_catalog.count(*) FROM (${image(b)} EXCEPT ALL ${image(g)}) AS x)::int8 AS only_blue`,
      ),
    );
    const onlyGreen = Number(diff.rows[0]?.only_green ?? 0);
    const onlyBlue = Number(diff.rows[0]?.only_blue ?? 0);
    if (onlyGreen > 0 || onlyBlue > 0) throw new ContentsDifferError(display, onlyGreen, onlyBlue);
  }

  /**
   * Rolls the deployment of `name` back: after a promote, the retired blue is swapped back in (the
   * same transaction shape as the promote; it is refreshed first) and the green dropped; before
   * one, the same as `cancel`.
   */
  async rollback(name: string, actor?: Actor): Promise<{ readonly state: 'ROLLED_BACK' }> {
    const { schema, name: table } = await this.resolve(this.db, name);
    const before = await findDeployment(this.db, schema, table);
    if (before !== null && before.state !== 'PROMOTED') return this.cancel(name, actor, 'rollback');
    await this.locked(async (conn) => {
      const { row: green, display } = await this.publicRow(conn, name, actor, 'roll back');
      const d = await this.openDeployment(conn, schema, table, display, ['PROMOTED'], 'roll back');
      let blue = await streamTableById(conn, d.blueId, 'FOR UPDATE');
      if (blue === null)
        throw new DeploymentStateError(`The retired copy of ${display} is gone; nothing to roll back to.`);
      // The retired blue resumes where its frontier stopped, refreshed before readers are locked out.
      await conn.query(
        `UPDATE ${cat('pgt_stream_tables')} SET status = $2, consecutive_errors = 0, last_error = NULL, updated_at = clock_timestamp() WHERE pgt_id = $1`,
        [blue.pgtId, statusAfterIfAllowed(blue.status, 'resume')],
      );
      await refreshInTransaction(conn, this.engine, blue.pgtId, { initiatedBy: 'MANUAL', lock: 'wait' });
      blue = (await streamTableById(conn, blue.pgtId)) as StreamTableRow;
      await this.swap(conn, {
        outgoing: green,
        incoming: blue,
        outgoingName: d.greenName,
        publicName: table,
        display,
        cascade: false,
        carryOver: false,
      });
      // The green's storage goes, and with it its indexes: the retired ones get their names back.
      await this.dropCopy(conn, { ...green, name: d.greenName });
      await withSandbox(conn, { role: blue.owner, searchPath: blue.searchPath }, {}, async (sandbox) => {
        for (const [renamed, original] of Object.entries(d.renamedIndexes)) {
          const exists = await conn.query('SELECT to_regclass($1) IS NOT NULL AS e', [
            sqlName(schema, renamed),
          ]);
          if (exists.rows[0]?.e === true)
            await sandbox.exec.query(
              `ALTER INDEX ${sqlName(schema, renamed)} RENAME TO ${quoteIdent(original)}`,
            );
        }
      });
      await advanceDeployment(conn, d, ['rollback']);
      await emitAlert(conn, 'green_rolled_back', { stream_table: display });
    });
    return { state: 'ROLLED_BACK' };
  }

  /** Drops the green of `name` before it is promoted (storage, catalog rows, buffers and capture it alone needed). */
  async cancel(name: string, actor?: Actor, doing = 'cancel'): Promise<{ readonly state: 'ROLLED_BACK' }> {
    await this.locked(async (conn) => {
      const { schema, name: table, display } = await this.publicRow(conn, name, actor, doing);
      const d = await this.openDeployment(conn, schema, table, display, ['CATCHING_UP', 'CONVERGED'], doing);
      const green = await streamTableById(conn, d.greenId, 'FOR UPDATE');
      if (green !== null) await this.dropCopy(conn, green);
      await advanceDeployment(conn, d, ['rollback']);
      await emitAlert(conn, 'green_cancelled', { stream_table: display });
    });
    return { state: 'ROLLED_BACK' };
  }

  /** After a promote: keeps the new version for good and drops the retired blue. */
  async dropRetired(
    name: string,
    actor?: Actor,
  ): Promise<{ readonly state: 'RETIRED'; readonly dropped: string }> {
    const dropped = await this.locked(async (conn) => {
      const {
        schema,
        name: table,
        display,
      } = await this.publicRow(conn, name, actor, 'drop the retired copy of');
      const d = await this.openDeployment(
        conn,
        schema,
        table,
        display,
        ['PROMOTED'],
        'drop the retired copy of',
      );
      const retired = await streamTableById(conn, d.blueId, 'FOR UPDATE');
      if (retired !== null) {
        const readers = await consumersOf(conn, retired.pgtId);
        if (readers.length > 0) {
          const names = readers.map((r) => displayName(r.schema, r.name));
          throw new SwapDependentsError(
            `The retired copy of ${display} is still read by ${names.join(', ')}; drop or alter those first.`,
            names,
          );
        }
        await this.dropCopy(conn, retired);
      }
      await advanceDeployment(conn, d, ['retire']);
      await emitAlert(conn, 'green_retired', { stream_table: display });
      return displayName(schema, d.retiredName);
    });
    return { state: 'RETIRED', dropped };
  }

  /** The deployment of schema.name, locked, refused unless in one of `states`. */
  private async openDeployment(
    conn: Conn,
    schema: string,
    table: string,
    display: string,
    states: readonly DeploymentRow['state'][],
    doing: string,
  ): Promise<DeploymentRow> {
    const d = await findDeployment(conn, schema, table, 'FOR UPDATE');
    if (d !== null && states.includes(d.state)) return d;
    const now =
      d === null || !isOpen(d.state)
        ? 'has no open blue-green deployment'
        : `has a deployment in state ${d.state}`;
    const next =
      d !== null && d.state === 'PROMOTED'
        ? `After a promote, pgtrickle.rollback_green('${display}') goes back and pgtrickle.drop_retired('${display}') keeps it.`
        : d !== null && isOpen(d.state)
          ? `Promote it with pgtrickle.promote_green('${display}') or cancel it with pgtrickle.cancel_green('${display}').`
          : `Create a green copy first: pgtrickle.create_green('${display}', query => …).`;
    throw new DeploymentStateError(`Cannot ${doing} ${display}: it ${now}. ${next}`);
  }

  /** Drops a green or retired copy: its storage, row, own buffer, the buffers and capture only it needed. */
  private async dropCopy(conn: Conn, row: StreamTableRow): Promise<void> {
    const upstreams = (await dependenciesOf(conn, row.pgtId)).flatMap((d) =>
      d.sourcePgtId === null ? [] : [d.sourcePgtId],
    );
    const dropView = await dropPublicViewSql(conn, row);
    if (dropView !== null) await conn.query(dropView);
    const drop = await dropStorageSql(conn, row);
    if (drop !== null) await conn.query(drop);
    if (row.storageOid !== null) await conn.query(dropGuardFunctionSql(row.storageOid));
    await deleteStreamTable(conn, row.pgtId);
    for (const sql of dropStreamBufferDdl(row.pgtId)) await conn.query(sql);
    for (const up of upstreams) await dropStreamBufferIfUnused(conn, up);
    await dropUnusedCapture(conn);
    this.engine.plans.delete(row.pgtId);
  }

  /** The swap of promote and rollback (see the module header). */
  private async swap(
    conn: Conn,
    s: {
      outgoing: StreamTableRow;
      incoming: StreamTableRow;
      outgoingName: string;
      publicName: string;
      display: string;
      cascade: boolean;
      carryOver: boolean;
    },
  ): Promise<{
    rebuilt: string[];
    broken: string[];
    indexesNotCarried: string[];
    renamedIndexes: Record<string, string>;
    sources: RefreshOutcome['sources'];
  }> {
    const { display } = s;
    const schema = s.outgoing.schema;
    // A version of the earlier layout (its storage under its name) gets its public view first.
    const converted = async (r: StreamTableRow) =>
      withSandbox(conn, { role: r.owner, searchPath: r.searchPath }, {}, (sandbox) =>
        convertToPublicView(conn, sandbox.exec, r),
      );
    const outgoing = await converted(s.outgoing);
    const incoming = await converted(s.incoming);
    // The refresh locks of the readers first (a reader's refresh holds its row, then reads us).
    const readers = await consumersOf(conn, outgoing.pgtId);
    for (const r of readers) await streamTableById(conn, r.pgtId, 'FOR UPDATE');
    const outRel = await relName(conn, outgoing.storageOid);
    const inRel = await relName(conn, incoming.storageOid);
    if (outRel === null || inRel === null)
      throw new DeploymentStateError(`The storage of ${display} or of its other version is missing.`);
    const names = await viewsOverStreamTable(conn, outgoing);
    if (names.length > 0) {
      throw new SwapDependentsError(
        `Views read ${display} (${names.join(', ')}); they would keep reading the old version. Drop them before the swap and create them again after it.`,
        names,
      );
    }
    // The views first, as readers take them (a reader locks the view, then the storage behind it).
    const views = [outgoing.publicOid as number, incoming.publicOid as number].sort((a, b) => a - b);
    const oids = [outgoing.storageOid as number, incoming.storageOid as number].sort((a, b) => a - b);
    for (const oid of [...views, ...oids]) {
      const rel = await relName(conn, oid);
      if (rel !== null) await conn.query(`LOCK TABLE ${rel} IN ACCESS EXCLUSIVE MODE`);
    }
    const owner = { role: outgoing.owner, searchPath: outgoing.searchPath };
    const [outView, inView] = [
      await relName(conn, outgoing.publicOid),
      await relName(conn, incoming.publicOid),
    ];
    if (outView === null || inView === null)
      throw new DeploymentStateError(`The view of ${display} or of its other version is missing.`);
    // The outgoing pair first, freeing the public names.
    await withSandbox(conn, owner, {}, async (sandbox) => {
      await sandbox.exec.query(`ALTER VIEW ${outView} RENAME TO ${quoteIdent(s.outgoingName)}`);
      await sandbox.exec.query(
        `ALTER TABLE ${outRel} RENAME TO ${quoteIdent(storageTableName(s.outgoingName))}`,
      );
      await sandbox.exec.query(`ALTER VIEW ${inView} RENAME TO ${quoteIdent(s.publicName)}`);
      await sandbox.exec.query(
        `ALTER TABLE ${inRel} RENAME TO ${quoteIdent(storageTableName(s.publicName))}`,
      );
    });
    await renameStreamTable(conn, outgoing.pgtId, s.outgoingName, null);
    await renameStreamTable(conn, incoming.pgtId, s.publicName, null);
    this.engine.plans.delete(outgoing.pgtId);
    this.engine.plans.delete(incoming.pgtId);
    // pgtrickle's own indexes carry their table's name: they follow it (the outgoing first, freeing the name).
    await withSandbox(conn, owner, {}, async (sandbox) => {
      await renameOwnIndexes(
        conn,
        sandbox,
        outgoing.storageOid as number,
        storageNameOf(outgoing),
        storageTableName(s.outgoingName),
        schema,
      );
      await renameOwnIndexes(
        conn,
        sandbox,
        incoming.storageOid as number,
        storageNameOf(incoming),
        storageTableName(s.publicName),
        schema,
      );
    });
    const publicRel = (await relName(conn, incoming.storageOid)) as string;
    const retiredRel = (await relName(conn, outgoing.storageOid)) as string;
    let carried = { renamedIndexes: {} as Record<string, string>, notCarried: [] as string[] };
    if (s.carryOver) {
      const publicView = (await relName(conn, incoming.publicOid)) as string;
      carried = await withSandbox(conn, owner, {}, (sandbox) =>
        carryOver(
          conn,
          sandbox,
          {
            fromOid: outgoing.publicOid as number,
            toOid: incoming.publicOid as number,
            toRel: publicView,
          },
          {
            fromOid: outgoing.storageOid as number,
            fromRel: retiredRel,
            toOid: incoming.storageOid as number,
            toRel: publicRel,
          },
          schema,
        ),
      );
    }
    const rebased = await this.rebaseReaders(conn, readers, outgoing, incoming, display, s.cascade);
    await repointRefreshGroups(conn, outgoing.pgtId, incoming.pgtId);
    await dropStreamBufferIfUnused(conn, outgoing.pgtId);
    await conn.query(`SELECT pg_catalog.pg_notify('pgtrickle_wake', '')`);
    return {
      rebuilt: rebased.rebuilt,
      broken: rebased.broken,
      indexesNotCarried: carried.notCarried,
      renamedIndexes: carried.renamedIndexes,
      sources: rebased.sources,
    };
  }

  /**
   * The stream tables that read the outgoing table, recompiled (their query's names now resolve
   * to the incoming one) and rebuilt in this transaction; those whose query no longer compiles
   * refuse the swap, or with `cascade` go to ERROR, their dependency moved to the incoming table.
   */
  private async rebaseReaders(
    conn: Conn,
    readers: readonly StreamTableRow[],
    outgoing: StreamTableRow,
    incoming: StreamTableRow,
    display: string,
    cascade: boolean,
  ): Promise<{ rebuilt: string[]; broken: string[]; sources: RefreshOutcome['sources'] }> {
    const plans = new Map<number, CompiledPlan>();
    const failed: { row: StreamTableRow; error: unknown }[] = [];
    for (const r of readers) {
      const owner = { role: r.owner, searchPath: r.searchPath };
      const compiled = await attempt(conn, () =>
        withSandbox(conn, owner, {}, (sandbox) =>
          compileAsOwner(conn, sandbox, {
            query: r.query,
            schema: r.schema,
            name: storageNameOf(r),
            mode: r.requestedMode,
            pgtId: r.pgtId,
          }),
        ),
      );
      if ('ok' in compiled) plans.set(r.pgtId, compiled.ok);
      else failed.push({ row: r, error: compiled.error });
    }
    const names = (rows: readonly { row: StreamTableRow }[]) =>
      rows.map((f) => displayName(f.row.schema, f.row.name));
    if (failed.length > 0 && !cascade) {
      const why = failed.map(
        (f) => `${displayName(f.row.schema, f.row.name)}: ${String((f.error as Error)?.message ?? f.error)}`,
      );
      throw new SwapDependentsError(
        `Stream tables read ${display} in a way the new version does not support (${why.join('; ')}). Change their queries first, or pass cascade (promoteGreen(name, { cascade: true }), pgtrickle.promote_green(name, "cascade" => true)) to put them in ERROR.`,
        names(failed),
      );
    }
    const rebuilt: string[] = [];
    const sources: RefreshOutcome['sources'][number][] = [];
    for (const r of readers) {
      const plan = plans.get(r.pgtId);
      if (plan === undefined) continue;
      this.engine.plans.delete(r.pgtId);
      const owner = { role: r.owner, searchPath: r.searchPath };
      if (!(await storageFit(conn, plan.storage.schema, plan.storage.name, plan)).same)
        await withSandbox(conn, owner, {}, (sandbox) => evolveStorageAndView(conn, sandbox, r, plan));
      await recordDependencies(conn, r.pgtId, plan);
      const current = await streamTableById(conn, r.pgtId);
      if (current !== null && (current.status === 'ACTIVE' || current.status === 'INITIALIZING')) {
        const out = await refreshInTransaction(conn, this.engine, r.pgtId, {
          initiatedBy: 'ALTER',
          action: 'FULL',
          plan,
        });
        sources.push(...out.sources);
      } else {
        await conn.query(`UPDATE ${cat('pgt_stream_tables')} SET needs_reinit = true WHERE pgt_id = $1`, [
          r.pgtId,
        ]);
      }
      rebuilt.push(displayName(r.schema, r.name));
    }
    for (const f of failed) {
      await conn.query(
        `UPDATE ${cat('pgt_dependencies')} SET source_oid = $3, source_pgt_id = $4, fingerprint = ''
          WHERE pgt_id = $1 AND source_pgt_id = $2`,
        [f.row.pgtId, outgoing.pgtId, incoming.storageOid, incoming.pgtId],
      );
      await recordFailureOnRow(
        conn,
        f.row.pgtId,
        `its query no longer fits ${display} after a blue-green swap (${String((f.error as Error)?.message ?? f.error)}); change it with alter_stream_table or drop it`,
        'permanent',
      );
    }
    return { rebuilt, broken: names(failed), sources };
  }
}

/** Refuses to swap a table with row-level security or policies: its readers' rules would not follow. */
async function refuseRowLevelSecurity(conn: Conn, row: StreamTableRow, display: string): Promise<void> {
  const res = await conn.query(
    `SELECT c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = c.oid) AS rls
       FROM pg_catalog.pg_class AS c WHERE c.oid = $1`,
    [row.storageOid],
  );
  if (res.rows[0]?.rls === true) {
    throw new GreenUnsupportedError(
      `${display} has row-level security or policies, which a promote does not carry over. Disable them (ALTER TABLE … DISABLE ROW LEVEL SECURITY, DROP POLICY) before promoting and re-create them after.`,
    );
  }
}

/**
 * Carries the outgoing view's grants (table and column privileges, as its owner grants them) and
 * comments (table and columns) over to the incoming view, and the outgoing storage's user indexes
 * (those not made by pgtrickle: at least one column that is not a hidden `__pgt_` one, or an
 * expression) over to the incoming storage. The outgoing indexes are renamed first, so the incoming ones take their names. Returns the renames
 * (renamed → original) and the indexes that could not be created (a column the incoming lacks).
 */
async function carryOver(
  conn: Conn,
  owner: OwnerSandbox,
  views: { readonly fromOid: number; readonly toOid: number; readonly toRel: string },
  storages: {
    readonly fromOid: number;
    readonly fromRel: string;
    readonly toOid: number;
    readonly toRel: string;
  },
  schema: string,
): Promise<{ renamedIndexes: Record<string, string>; notCarried: string[] }> {
  await copyGrantsAndComments(conn, owner.exec, views.fromOid, { oid: views.toOid, rel: views.toRel });
  const indexes = await conn.query(
    `SELECT ic.relname::text AS name, pg_catalog.pg_get_indexdef(i.indexrelid) AS def
       FROM pg_catalog.pg_index AS i JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = $1
        AND (i.indexprs IS NOT NULL OR EXISTS (
              SELECT 1 FROM pg_catalog.unnest(i.indkey::int2[]) AS k JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k
               WHERE pg_catalog.left(a.attname, 6) <> '__pgt_'))
      ORDER BY ic.relname`,
    [storages.fromOid],
  );
  const renamedIndexes: Record<string, string> = {};
  const notCarried: string[] = [];
  for (const ix of indexes.rows) {
    const original = String(ix.name);
    const renamed = truncateIdent(`${original}${RETIRED_SUFFIX}`);
    await owner.exec.query(`ALTER INDEX ${sqlName(schema, original)} RENAME TO ${quoteIdent(renamed)}`);
    renamedIndexes[renamed] = original;
    const on = ` ON ${storages.fromRel} USING `;
    const def = String(ix.def);
    const made = def.includes(on)
      ? await attempt(conn, () => owner.exec.query(def.replace(on, ` ON ${storages.toRel} USING `)))
      : { error: new Error(`unexpected index definition ${def}`) };
    if ('error' in made) notCarried.push(original);
  }
  return { renamedIndexes, notCarried };
}

/** The indexes pgtrickle made (key columns all hidden `__pgt_` ones, no expression) on relation `oid`. */
const OWN_INDEXES = `SELECT ic.relname::text AS name
   FROM pg_catalog.pg_index AS i JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
  WHERE i.indrelid = $1 AND i.indexprs IS NULL
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(i.indkey::int2[]) AS k JOIN pg_catalog.pg_attribute AS a
                     ON a.attrelid = i.indrelid AND a.attnum = k WHERE pg_catalog.left(a.attname, 6) <> '__pgt_')`;

/** Renames pgtrickle's own indexes of table `oid` named after `from` to be named after `to`. */
async function renameOwnIndexes(
  conn: Conn,
  owner: OwnerSandbox,
  oid: number,
  from: string,
  to: string,
  schema: string,
): Promise<void> {
  const res = await conn.query(OWN_INDEXES, [oid]);
  for (const r of res.rows) {
    const name = String(r.name);
    if (!name.startsWith(from)) continue;
    const renamed = truncateIdent(`${to}${name.slice(from.length)}`);
    if (renamed !== name)
      await owner.exec.query(`ALTER INDEX ${sqlName(schema, name)} RENAME TO ${quoteIdent(renamed)}`);
  }
}

/** Whether a normal alter, drop or refresh of `row` must be refused because of a deployment; the error if so. */
export async function deploymentGuard(
  q: Conn | Db,
  row: StreamTableRow,
  doing: 'alter' | 'drop',
): Promise<DeploymentStateError | null> {
  const display = displayName(row.schema, row.name);
  const res = await q.query(
    `SELECT schema_name, table_name, state, blue_id, green_id FROM ${cat('pgt_green_deployments')}
      WHERE (blue_id = $1 OR green_id = $1) AND state NOT IN ('ROLLED_BACK', 'RETIRED')`,
    [row.pgtId],
  );
  const d = res.rows[0];
  if (d === undefined) return null;
  const pub = displayName(String(d.schema_name), String(d.table_name));
  const state = blueGreenMachine.parseState(String(d.state));
  if (row.greenOf !== null)
    return new DeploymentStateError(
      `${display} is the green copy of ${pub}: it cannot be ${doing === 'alter' ? 'altered' : 'dropped'} on its own. Promote it (pgtrickle.promote_green('${pub}')) or cancel it (pgtrickle.cancel_green('${pub}')).`,
    );
  if (state === 'PROMOTED' && Number(d.blue_id) === row.pgtId)
    return new DeploymentStateError(
      `${display} is the retired copy of ${pub}, kept for a rollback. Drop it with pgtrickle.drop_retired('${pub}'), or bring it back with pgtrickle.rollback_green('${pub}').`,
    );
  if (doing === 'drop')
    return new DeploymentStateError(
      `${display} has an open blue-green deployment (${state}). ${
        state === 'PROMOTED'
          ? `Finish it first: pgtrickle.drop_retired('${pub}') or pgtrickle.rollback_green('${pub}').`
          : `Cancel it first: pgtrickle.cancel_green('${pub}').`
      }`,
    );
  return null;
}
