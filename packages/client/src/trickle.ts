/**
 * The user-facing API: `connect()` returns a `Trickle`, a thin facade that checks the client is
 * open and the catalog installed, then hands each call to the stream-table service
 * (`stream-tables/service.ts`, which states the rules every operation keeps: validate before
 * writing, one transaction under the catalog lock, a plan compiled once, status and mode changes by
 * the lifecycle machines). Every refresh is atomic (see `refresh.ts`).
 */
import { type FuseResetAction, type FuseStatusRow, fuseStatus } from './catalog/fuse.js';
import { type DeploymentRow, type GreenStatus, readGreenStatus } from './catalog/green-deployments.js';
import { type InstallResult, installCatalog, installedVersion } from './catalog/install.js';
import { CATALOG_VERSION } from './catalog/migrations.js';
import { type CatalogState, catalogState } from './catalog/schema-version.js';
import { type UninstallResult, uninstallCatalog } from './catalog/uninstall.js';
import {
  advanceWatermark,
  createWatermarkGroup,
  dropWatermarkGroup,
  readWatermarkGroups,
  readWatermarkStatus,
  readWatermarks,
  type WatermarkGroupRow,
  type WatermarkRow,
  type WatermarkStatusRow,
} from './catalog/watermarks.js';
import { upgradeExistingCapture } from './cdc.js';
import { type ConnectionOptions, Db, sqlState } from './db.js';
import {
  ClosedError,
  InvalidArgumentError,
  NotFoundError,
  NotInstalledError,
  PermissionDeniedError,
  SchemaVersionError,
} from './errors.js';
import { recordFailure } from './failures.js';
import { createEngine, type Engine } from './refresh.js';
import {
  createRefreshGroup,
  type DiamondGroupMember,
  diamondGroups,
  dropRefreshGroup,
  type RefreshGroupInfo,
  type RefreshGroupIsolation,
  refreshGroups,
} from './refresh-groups.js';
import {
  BlueGreenService,
  type CreateGreenOptions,
  type PromoteGreenOptions,
  type PromoteResult,
} from './stream-tables/blue-green.js';
import { StreamTableService } from './stream-tables/service.js';
import type {
  AlterStreamTableOptions,
  CreateStreamTableOptions,
  RefreshSummary,
  StreamTableExplanation,
  StreamTableStatus,
} from './stream-tables/types.js';

/** Options of {@link connect}: where to connect, and engine settings. */
export interface ConnectOptions {
  /** A PostgreSQL URL. */
  readonly connectionString?: string;
  /** Or an existing pool (not closed by `close()`). */
  readonly pool?: import('pg').Pool;
  /** Or a pool configuration. */
  readonly poolConfig?: import('pg').PoolConfig;
  /** AUTO refreshes FULL when a source's pending changes exceed this share of its rows (default 0.15). */
  readonly autoFullRatio?: number;
}

/**
 * Connects to a database: a URL, a pool, a pool configuration — or, with none of them
 * (`connect()`), pg's own defaults, which read the libpq variables `PGHOST`, `PGPORT`,
 * `PGDATABASE`, `PGUSER` and `PGPASSWORD` (and fall back to localhost:5432 as the OS user).
 */
export async function connect(options: ConnectOptions | string | import('pg').Pool = {}): Promise<Trickle> {
  let target: ConnectionOptions;
  let autoFullRatio: number | undefined;
  if (typeof options === 'string') target = options;
  else if ('connect' in options && typeof options.connect === 'function')
    target = options as import('pg').Pool;
  else {
    const o = options as ConnectOptions;
    // Nothing given: an empty pool configuration, which pg completes from the PG* variables.
    target = o.pool ?? o.poolConfig ?? o.connectionString ?? {};
    autoFullRatio = o.autoFullRatio;
  }
  if (autoFullRatio !== undefined && !(autoFullRatio > 0 && autoFullRatio <= 1)) {
    throw new InvalidArgumentError(`autoFullRatio must be in (0, 1], got ${autoFullRatio}.`);
  }
  const db = new Db(target);
  try {
    await db.query('SELECT 1');
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  return new Trickle(db, createEngine({ ...(autoFullRatio === undefined ? {} : { autoFullRatio }) }));
}

/** A connection to one database's stream tables. */
export class Trickle {
  #closed = false;
  readonly #tables: StreamTableService;
  readonly #greens: BlueGreenService;

  constructor(
    /** The connection pool (also for your own queries). */
    readonly db: Db,
    private readonly engine: Engine,
  ) {
    this.#tables = new StreamTableService(db, engine);
    this.#greens = new BlueGreenService(db, engine);
  }

  private check(): void {
    if (this.#closed) throw new ClosedError();
  }

  /** Checks the client is open and the catalog installed (upgrading an older one). */
  private async ready(): Promise<void> {
    this.check();
    await this.requireInstalled();
  }

  /**
   * `ready()` for the calls that go through SQL functions granted to `pgtrickle_user` (the
   * watermark API): a role that may not read the catalog may still call them; they check its
   * rights themselves.
   */
  private async readyForSqlApi(): Promise<void> {
    try {
      await this.ready();
    } catch (error) {
      if (!(error instanceof PermissionDeniedError)) throw error;
    }
  }

  private async requireInstalled(): Promise<void> {
    let v: number;
    try {
      v = await installedVersion(this.db);
    } catch (error) {
      if (sqlState(error) !== '42501') throw error;
      throw new PermissionDeniedError(
        "This role may not use pgtrickle's catalog directly: the TypeScript API works with the rights of the " +
          'role that installed pgtrickle. Use the SQL API instead — pgtrickle.create_stream_table(), ' +
          'pgtrickle.alter_stream_table(), pgtrickle.refresh_stream_table(), pgtrickle.drop_stream_table() — ' +
          'as a member of pgtrickle_user, or connect as the role that installed pgtrickle.',
        { cause: error },
      );
    }
    if (v === 0) throw new NotInstalledError();
    if (v > CATALOG_VERSION) throw new SchemaVersionError(v, CATALOG_VERSION);
    if (v < CATALOG_VERSION) await this.install();
  }

  /**
   * Installs or upgrades the catalog (up to migration `upTo`, default the latest); idempotent and
   * safe from several processes at once.
   */
  async install(upTo: number = CATALOG_VERSION): Promise<InstallResult> {
    this.check();
    return installCatalog(this.db, upTo, upgradeExistingCapture);
  }

  /**
   * Removes pgtrickle from the database: capture triggers and functions, change buffers, the
   * catalog. Storage tables stay as plain tables unless `dropTables`. Only the owner of the schema
   * `pgtrickle` (the role that installed it) or a superuser may; a running sidecar then stops with
   * `PGT_CATALOG_MISSING`.
   */
  async uninstall(options: { dropTables?: boolean } = {}): Promise<UninstallResult> {
    this.check();
    const v = await installedVersion(this.db);
    if (v > 0 && v < CATALOG_VERSION) await this.install();
    return this.db.transaction((conn) =>
      uninstallCatalog(conn, options, async () => {
        await this.install();
      }),
    );
  }

  /** Creates and populates a stream table. Nothing is left behind if it fails. */
  async createStreamTable(options: CreateStreamTableOptions): Promise<StreamTableStatus> {
    await this.ready();
    return this.#tables.create(options);
  }

  /** Refreshes a stream table now, synchronously (waits if another session is refreshing it). */
  async refresh(name: string, options: { action?: 'FULL' | 'DIFFERENTIAL' } = {}): Promise<RefreshSummary> {
    this.check();
    // The catalog check is part of the refresh's opening read (`refresh-look.ts`).
    return this.#tables.refresh(name, options, undefined, () => this.requireInstalled());
  }

  /** Changes a stream table's schedule, mode or query (a new query or mode rebuilds and repopulates it). */
  async alterStreamTable(name: string, changes: AlterStreamTableOptions): Promise<StreamTableStatus> {
    await this.ready();
    return this.#tables.alter(name, changes);
  }

  /** Drops a stream table (refused while others read it, unless `cascade`, which drops them first). */
  async dropStreamTable(
    name: string,
    options: { cascade?: boolean } = {},
  ): Promise<{ dropped: readonly string[] }> {
    await this.ready();
    return this.#tables.drop(name, options);
  }

  /**
   * Starts a blue-green deployment of stream table `name` (docs/blue-green.md): creates and
   * populates its green copy with the new query, schedule or mode (omitted: the current ones)
   * under `<name>__pgt_green`, in one transaction; the table itself keeps serving and refreshing.
   */
  async createGreen(name: string, options: CreateGreenOptions = {}): Promise<DeploymentRow> {
    await this.ready();
    return this.#greens.create(name, options);
  }

  /** Where the blue-green deployment of `name` stands: state, lag, convergence, estimate (null: none). */
  async greenStatus(name: string): Promise<GreenStatus | null> {
    await this.ready();
    return readGreenStatus(this.db, name);
  }

  /**
   * Swaps the green copy of `name` in, in one transaction: readers see the new version at one
   * instant; grants, comments, owner and user indexes carry over; stream tables reading it are
   * rebuilt. `PGT_NOT_CONVERGED` unless it has converged (or `force`); `PGT_HAS_DEPENDENTS` when
   * readers do not fit the new version (or `cascade`). The old version is kept for `rollbackGreen`.
   */
  async promoteGreen(name: string, options: PromoteGreenOptions = {}): Promise<PromoteResult> {
    await this.ready();
    return this.#greens.promote(name, options);
  }

  /** Drops the green copy of `name` before it is promoted (no leftovers). */
  async cancelGreen(name: string): Promise<{ readonly state: 'ROLLED_BACK' }> {
    await this.ready();
    return this.#greens.cancel(name);
  }

  /** After a promote, swaps the old version of `name` back in (its grants as they were); before one, cancels. */
  async rollbackGreen(name: string): Promise<{ readonly state: 'ROLLED_BACK' }> {
    await this.ready();
    return this.#greens.rollback(name);
  }

  /** After a promote, keeps the new version of `name` for good: drops the retired old one. */
  async dropRetired(name: string): Promise<{ readonly state: 'RETIRED'; readonly dropped: string }> {
    await this.ready();
    return this.#greens.dropRetired(name);
  }

  /** Every stream table with its status. */
  async status(): Promise<StreamTableStatus[]> {
    this.check();
    if ((await installedVersion(this.db)) === 0) return [];
    return this.#tables.status();
  }

  /** How a stream table is maintained: mode, sources, row identity, and the SQL. */
  async explain(name: string): Promise<StreamTableExplanation> {
    await this.ready();
    return this.#tables.explain(name);
  }

  /** Declares a refresh group: its members refresh together, atomically (repeatable_read: as of one snapshot); returns its id. */
  async createRefreshGroup(
    name: string,
    members: readonly string[],
    options: { isolation?: RefreshGroupIsolation } = {},
  ): Promise<number> {
    await this.ready();
    return createRefreshGroup(this.db, name, members, options.isolation);
  }

  /** Drops a declared refresh group (its members refresh on their own again). */
  async dropRefreshGroup(name: string): Promise<void> {
    await this.ready();
    return dropRefreshGroup(this.db, name);
  }

  /** The declared refresh groups. */
  async refreshGroups(): Promise<RefreshGroupInfo[]> {
    await this.ready();
    return refreshGroups(this.db);
  }

  /** The diamonds' consistency groups, as the scheduler last planned them. */
  async diamondGroups(): Promise<DiamondGroupMember[]> {
    await this.ready();
    return diamondGroups(this.db);
  }

  /**
   * Resets a blown fuse (docs/refresh-control.md, "Fuse"): 'apply' (default) refreshes the held batch
   * without checking it again, 'reinitialize' recomputes the table (FULL), 'skip_changes' moves only
   * this table's frontier past the pending changes (it then differs from its query by them until
   * reinitialized). Runs `pgtrickle.reset_fuse` in one transaction; wakes the scheduler.
   */
  async resetFuse(name: string, action: FuseResetAction = 'apply'): Promise<void> {
    await this.ready();
    try {
      await this.db.query('SELECT pgtrickle.reset_fuse($1, $2)', [name, action]);
    } catch (error) {
      const state = sqlState(error);
      if (state === '42P01') throw new NotFoundError(name);
      if (state === '22023' || state === '55000' || state === '3F000' || state === '42602')
        throw new InvalidArgumentError(error instanceof Error ? error.message : String(error), {
          cause: error,
        });
      throw error;
    }
  }

  /** Every stream table's fuse (those that are off included): mode, state, ceilings, why it blew, what is pending, its baseline. */
  async fuseStatus(): Promise<FuseStatusRow[]> {
    await this.ready();
    return fuseStatus(this.db);
  }

  /**
   * Declares `source` complete through `at` (`pgtrickle.advance_watermark`): monotonic (backward is
   * `PGT_WATERMARK_REGRESSION`, the same value again changes nothing). In its own transaction; to
   * publish it with your data load, call the SQL function in the load's transaction (or
   * `advanceWatermark(conn, …)` from this package with that transaction's connection).
   */
  async advanceWatermark(source: string, at: Date | string): Promise<void> {
    await this.readyForSqlApi();
    await advanceWatermark(this.db, source, at);
  }

  /** Creates a watermark group over two or more source tables; returns its id. */
  async createWatermarkGroup(
    name: string,
    sources: readonly string[],
    options: { readonly toleranceSecs?: number } = {},
  ): Promise<number> {
    await this.readyForSqlApi();
    return createWatermarkGroup(this.db, name, sources, options.toleranceSecs ?? 0);
  }

  /** Drops a watermark group (`PGT_NOT_FOUND` when there is none of that name). */
  async dropWatermarkGroup(name: string): Promise<void> {
    await this.readyForSqlApi();
    await dropWatermarkGroup(this.db, name);
  }

  /** Every source's current watermark. */
  async watermarks(): Promise<WatermarkRow[]> {
    await this.readyForSqlApi();
    return readWatermarks(this.db);
  }

  /** Every watermark group. */
  async watermarkGroups(): Promise<WatermarkGroupRow[]> {
    await this.readyForSqlApi();
    return readWatermarkGroups(this.db);
  }

  /** Every watermark group's alignment: min, max, lag, aligned, counts. */
  async watermarkStatus(): Promise<WatermarkStatusRow[]> {
    await this.readyForSqlApi();
    return readWatermarkStatus(this.db);
  }

  /** The catalog of this database against this client's migrations (installed version, pending, foreign). */
  async catalogState(): Promise<CatalogState> {
    this.check();
    return catalogState(this.db);
  }

  /** Closes the connection pool (if this client created it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.close();
  }

  /** @internal The stream-table service, for request processing (acting as the requesting role). */
  get streamTables(): StreamTableService {
    return this.#tables;
  }

  /** @internal The blue-green service, for request processing (acting as the requesting role). */
  get blueGreen(): BlueGreenService {
    return this.#greens;
  }

  /** @internal The engine (plan cache, settings), for the scheduler. */
  get engineState(): Engine {
    return this.engine;
  }

  /** @internal Records a failed refresh of `pgtId` (history row, error counters). */
  recordFailure(pgtId: number, error: unknown, initiatedBy: 'MANUAL' | 'SCHEDULER'): Promise<void> {
    return recordFailure(this.db, pgtId, error, initiatedBy);
  }
}
