/**
 * The user-facing API: `connect()` returns a `Trickle`, which installs the catalog, creates,
 * refreshes, alters and drops stream tables, and reports their status. Rules every method keeps:
 * - validate before writing: names, schedules and modes are checked, the query is compiled (parsed,
 *   resolved, refused with `PGT_UNSUPPORTED` if it cannot be maintained in the requested mode)
 *   before anything is created;
 * - every catalog-changing operation is one transaction under the catalog lock: on any error the
 *   database is left exactly as it was (no half-created table, capture or catalog row);
 * - every refresh is atomic (see `refresh.ts`).
 */
import { formatSchedule, parseSchedule } from '@pgtrickle/dag';
import {
  type CompiledPlan,
  compileStreamTable,
  dropStreamBufferDdl,
  type RequestedMode,
  UnsupportedQueryError,
} from '@pgtrickle/dvm';
import { Cron } from 'croner';
import { CATALOG_LOCK_KEY, type InstallResult, installCatalog, installedVersion } from './catalog/install.js';
import { CATALOG_VERSION } from './catalog/migrations.js';
import {
  allDependencies,
  allStreamTables,
  consumersOf,
  dependenciesOf,
  findStreamTable,
  type StreamTableRow,
} from './catalog/rows.js';
import { cleanupBuffers, dropStreamBufferIfUnused, dropUnusedCapture, recordDependencies } from './cdc.js';
import { type Conn, type ConnectionOptions, Db } from './db.js';
import {
  AlreadyExistsError,
  ClosedError,
  CycleError,
  HasDependentsError,
  InvalidArgumentError,
  NotActiveError,
  NotFoundError,
  NotInstalledError,
  RefreshFailedError,
  SchemaVersionError,
} from './errors.js';
import { recordFailure } from './failures.js';
import { displayName, parseName, sqlName } from './names.js';
import { catalogPort } from './port.js';
import { createEngine, type Engine, type RefreshOutcome, refreshInTransaction } from './refresh.js';
import { createStorage, replaceStorage, storageFit } from './storage.js';

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

/** What `createStreamTable` takes. */
export interface CreateStreamTableOptions {
  /** `[schema.]name`, SQL identifier rules (quote mixed case: `analytics."Order Totals"`). */
  readonly name: string;
  /** The defining SELECT. */
  readonly query: string;
  /** 'AUTO' (default), 'FULL', 'DIFFERENTIAL' or 'IMMEDIATE'. */
  readonly refreshMode?: RequestedMode;
  /** '30s', '5m', '1h30m', a cron expression, or 'calculated' / omitted (as often as its consumers). */
  readonly schedule?: string | null;
}

/** What `alterStreamTable` can change (omitted = unchanged). */
export interface AlterStreamTableOptions {
  readonly schedule?: string | null;
  readonly refreshMode?: RequestedMode;
  readonly query?: string;
  /** 'ACTIVE' resumes a SUSPENDED or ERROR table (it is rebuilt on its next refresh). */
  readonly status?: 'ACTIVE';
}

/** One stream table as `status()` reports it. */
export interface StreamTableStatus {
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  readonly status: StreamTableRow['status'];
  readonly refreshMode: RequestedMode;
  /** What the table is maintained by now (AUTO resolves to DIFFERENTIAL or FULL). */
  readonly effectiveMode: StreamTableRow['effectiveMode'];
  /** Why AUTO chose FULL, if it did. */
  readonly modeReason: string | null;
  readonly schedule: string;
  readonly lastRefreshAt: Date | null;
  readonly dataTimestamp: Date | null;
  readonly consecutiveErrors: number;
  readonly lastError: string | null;
  readonly needsReinit: boolean;
  /** Names of the relations it reads. */
  readonly sources: readonly string[];
}

/** What `explain()` returns. */
export interface StreamTableExplanation {
  readonly name: string;
  readonly query: string;
  readonly requestedMode: RequestedMode;
  readonly mode: CompiledPlan['mode'];
  readonly fallbackReason: string | null;
  readonly uniqueRowIds: boolean;
  readonly columns: CompiledPlan['columns'];
  readonly hiddenColumns: readonly string[];
  readonly sources: readonly { readonly name: string; readonly kind: 'table' | 'streamTable' }[];
  readonly warnings: readonly string[];
  /** The SQL that maintains it: storage DDL, population, the differential delta (null for FULL). */
  readonly sql: {
    readonly storage: readonly string[];
    readonly population: string;
    readonly delta: string | null;
  };
}

/** What one `refresh()` did. */
export type RefreshSummary = Omit<RefreshOutcome, 'sources' | 'pgtId'>;

/** Connects to a database. */
export async function connect(options: ConnectOptions | string | import('pg').Pool): Promise<Trickle> {
  let target: ConnectionOptions;
  let autoFullRatio: number | undefined;
  if (typeof options === 'string') target = options;
  else if ('connect' in options && typeof options.connect === 'function')
    target = options as import('pg').Pool;
  else {
    const o = options as ConnectOptions;
    target =
      o.pool ??
      o.poolConfig ??
      o.connectionString ??
      (() => {
        throw new InvalidArgumentError('connect() needs a connectionString, a pool or a poolConfig.');
      })();
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

function validateMode(mode: unknown): RequestedMode {
  if (mode === undefined) return 'AUTO';
  if (mode === 'AUTO' || mode === 'FULL' || mode === 'DIFFERENTIAL' || mode === 'IMMEDIATE') return mode;
  throw new InvalidArgumentError(
    `refreshMode must be 'AUTO', 'FULL', 'DIFFERENTIAL' or 'IMMEDIATE', got ${JSON.stringify(mode)}.`,
  );
}

function normalizeSchedule(text: string | null | undefined): string | null {
  let spec: ReturnType<typeof parseSchedule>;
  try {
    spec = parseSchedule(text);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (spec === null) return null;
  if (spec.kind === 'cron') {
    try {
      new Cron(spec.expression, { paused: true }).stop();
    } catch (error) {
      throw new InvalidArgumentError(
        `"${spec.expression}" is not a valid cron expression: ${error instanceof Error ? error.message : String(error)}.`,
        { cause: error },
      );
    }
    return spec.expression;
  }
  if (spec.ms < 1000) throw new InvalidArgumentError(`A schedule must be at least 1s, got "${text}".`);
  return formatSchedule(spec);
}

/** A connection to one database's stream tables. */
export class Trickle {
  #closed = false;

  constructor(
    /** The connection pool (also for your own queries). */
    readonly db: Db,
    private readonly engine: Engine,
  ) {}

  private check(): void {
    if (this.#closed) throw new ClosedError();
  }

  private async requireInstalled(): Promise<void> {
    const v = await installedVersion(this.db);
    if (v === 0) throw new NotInstalledError();
    if (v > CATALOG_VERSION) throw new SchemaVersionError(v, CATALOG_VERSION);
    if (v < CATALOG_VERSION) await this.install();
  }

  /** Installs or upgrades the catalog; idempotent and safe from several processes at once. */
  async install(): Promise<InstallResult> {
    this.check();
    return installCatalog(this.db);
  }

  private async resolve(conn: Conn | Db, text: string): Promise<{ schema: string; name: string }> {
    const parsed = parseName(text);
    if (parsed.schema !== null) return { schema: parsed.schema, name: parsed.name };
    const res = await conn.query('SELECT current_schema() AS s');
    const schema = res.rows[0]?.s;
    if (typeof schema !== 'string')
      throw new InvalidArgumentError(`No current schema to create ${text} in; qualify the name.`);
    return { schema, name: parsed.name };
  }

  private async row(conn: Conn | Db, text: string, lock: '' | 'FOR UPDATE' = ''): Promise<StreamTableRow> {
    const { schema, name } = await this.resolve(conn, text);
    const row = await findStreamTable(conn, schema, name, lock);
    if (row === null) throw new NotFoundError(displayName(schema, name));
    return row;
  }

  /** Creates and populates a stream table. Nothing is left behind if it fails. */
  async createStreamTable(options: CreateStreamTableOptions): Promise<StreamTableStatus> {
    this.check();
    await this.requireInstalled();
    if (typeof options?.query !== 'string' || options.query.trim() === '') {
      throw new InvalidArgumentError('createStreamTable needs a query (the defining SELECT).');
    }
    const mode = validateMode(options.refreshMode);
    const schedule = normalizeSchedule(options.schedule);
    if (mode === 'IMMEDIATE') {
      throw new UnsupportedQueryError(
        'refreshMode IMMEDIATE',
        "IMMEDIATE mode is not available yet; use 'DIFFERENTIAL' with a short schedule, or 'AUTO'.",
      );
    }
    const created = await this.db.transaction(async (conn) => {
      await conn.query(`SELECT pg_advisory_xact_lock(${CATALOG_LOCK_KEY})`);
      const { schema, name } = await this.resolve(conn, options.name);
      const display = displayName(schema, name);
      if ((await findStreamTable(conn, schema, name)) !== null) throw new AlreadyExistsError(display);
      const exists = await conn.query('SELECT to_regclass($1) IS NOT NULL AS e', [sqlName(schema, name)]);
      if (exists.rows[0]?.e === true) throw new AlreadyExistsError(display, 'a table or view');
      const schemaOk = await conn.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema]);
      if (schemaOk.rows.length === 0)
        throw new InvalidArgumentError(`Schema "${schema}" does not exist; create it first.`);
      const plan = await compileStreamTable(options.query, catalogPort(conn), {
        name: { schema, name },
        refreshMode: mode,
      });
      const ins = await conn.query(
        `INSERT INTO pgtrickle.pgt_stream_tables (schema_name, table_name, defining_query, requested_mode, effective_mode, mode_reason, schedule, unique_row_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING pgt_id`,
        [schema, name, options.query, mode, plan.mode, plan.fallbackReason, schedule, plan.uniqueRowIds],
      );
      const pgtId = Number(ins.rows[0]?.pgt_id);
      await this.writeDependencies(conn, pgtId, plan, display);
      const oid = await createStorage(conn, plan);
      await conn.query('UPDATE pgtrickle.pgt_stream_tables SET storage_oid = $2 WHERE pgt_id = $1', [
        pgtId,
        oid,
      ]);
      // Re-tag the plan for this id and populate (frontier recorded in the same transaction).
      this.engine.plans.delete(pgtId);
      const outcome = await refreshInTransaction(conn, this.engine, pgtId, {
        initiatedBy: 'INITIAL',
        action: 'FULL',
        ignoreStatus: true,
      });
      return { pgtId, outcome };
    });
    await cleanupBuffers(
      this.db,
      created.outcome.sources.map((d) => ({ kind: d.sourceKind, oid: d.sourceOid, pgtId: d.sourcePgtId })),
    );
    const row = await this.row(this.db, options.name);
    return this.describe(row);
  }

  /** Records the sources of `plan` for stream table `pgtId`, installs their capture, checks for cycles. */
  private async writeDependencies(
    conn: Conn,
    pgtId: number,
    plan: CompiledPlan,
    display: string,
  ): Promise<void> {
    await recordDependencies(conn, pgtId, plan);
    await this.checkAcyclic(conn, pgtId, display);
  }

  /**
   * Throws CycleError if stream table `pgtId` now reads itself through other stream tables. The
   * catalog was acyclic before this change, so a cycle must pass through it: follow what it reads,
   * stream table by stream table (linear in the dependencies).
   */
  private async checkAcyclic(conn: Conn, pgtId: number, display: string): Promise<void> {
    const rows = await allStreamTables(conn);
    const deps = await allDependencies(conn);
    const label = new Map(rows.map((r) => [r.pgtId, displayName(r.schema, r.name)]));
    const reads = new Map<number, number[]>();
    for (const d of deps) {
      if (d.sourcePgtId === null) continue;
      reads.set(d.pgtId, [...(reads.get(d.pgtId) ?? []), d.sourcePgtId]);
    }
    const from = new Map<number, number>();
    const stack = [...(reads.get(pgtId) ?? [])];
    for (const s of stack) from.set(s, pgtId);
    while (stack.length > 0) {
      const id = stack.pop() as number;
      if (id === pgtId) {
        const path = [pgtId];
        for (let at = from.get(pgtId) as number; at !== pgtId; at = from.get(at) as number) path.push(at);
        path.push(pgtId);
        throw new CycleError(path.reverse().map((p) => label.get(p) ?? (p === pgtId ? display : String(p))));
      }
      for (const next of reads.get(id) ?? []) {
        if (next !== pgtId && from.has(next)) continue;
        if (next === pgtId && from.has(pgtId)) continue;
        from.set(next, id);
        stack.push(next);
      }
    }
  }

  /** Refreshes a stream table now, synchronously (waits if another session is refreshing it). */
  async refresh(name: string, options: { action?: 'FULL' | 'DIFFERENTIAL' } = {}): Promise<RefreshSummary> {
    this.check();
    await this.requireInstalled();
    const row = await this.row(this.db, name);
    if (row.status === 'SUSPENDED' || row.status === 'ERROR') {
      throw new NotActiveError(displayName(row.schema, row.name), row.status, row.lastError);
    }
    let outcome: RefreshOutcome;
    try {
      outcome = await this.db.transaction((conn) =>
        refreshInTransaction(conn, this.engine, row.pgtId, {
          initiatedBy: 'MANUAL',
          lock: 'wait',
          ...(options.action ? { action: options.action } : {}),
        }),
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
    await cleanupBuffers(
      this.db,
      outcome.sources.map((d) => ({ kind: d.sourceKind, oid: d.sourceOid, pgtId: d.sourcePgtId })),
    );
    const { sources: _s, pgtId: _p, ...summary } = outcome;
    return summary;
  }

  /** Changes a stream table's schedule, mode or query (a new query or mode rebuilds and repopulates it). */
  async alterStreamTable(name: string, changes: AlterStreamTableOptions): Promise<StreamTableStatus> {
    this.check();
    await this.requireInstalled();
    const schedule = changes.schedule === undefined ? undefined : normalizeSchedule(changes.schedule);
    const mode = changes.refreshMode === undefined ? undefined : validateMode(changes.refreshMode);
    if (mode === 'IMMEDIATE') {
      throw new UnsupportedQueryError(
        'refreshMode IMMEDIATE',
        "IMMEDIATE mode is not available yet; use 'DIFFERENTIAL' or 'AUTO'.",
      );
    }
    if (changes.query !== undefined && (typeof changes.query !== 'string' || changes.query.trim() === '')) {
      throw new InvalidArgumentError('alterStreamTable: the new query is empty.');
    }
    if (changes.status !== undefined && changes.status !== 'ACTIVE') {
      throw new InvalidArgumentError(
        `alterStreamTable: status can only be set to 'ACTIVE' (resume), got ${JSON.stringify(changes.status)}.`,
      );
    }
    const result = await this.db.transaction(async (conn) => {
      await conn.query(`SELECT pg_advisory_xact_lock(${CATALOG_LOCK_KEY})`);
      const row = await this.row(conn, name, 'FOR UPDATE');
      const display = displayName(row.schema, row.name);
      if (schedule !== undefined) {
        await conn.query(
          'UPDATE pgtrickle.pgt_stream_tables SET schedule = $2, updated_at = now() WHERE pgt_id = $1',
          [row.pgtId, schedule],
        );
      }
      if (changes.status === 'ACTIVE' && (row.status === 'SUSPENDED' || row.status === 'ERROR')) {
        await conn.query(
          `UPDATE pgtrickle.pgt_stream_tables SET status = 'ACTIVE', consecutive_errors = 0, last_error = NULL, last_error_at = NULL, needs_reinit = true, updated_at = now() WHERE pgt_id = $1`,
          [row.pgtId],
        );
      }
      if (changes.query === undefined && mode === undefined) return { row, outcome: null };
      const query = changes.query ?? row.query;
      const newMode = mode ?? row.requestedMode;
      const plan = await compileStreamTable(query, catalogPort(conn), {
        name: { schema: row.schema, name: row.name },
        refreshMode: newMode,
        tag: `st${row.pgtId}`,
      });
      const consumers = await consumersOf(conn, row.pgtId);
      const { same: sameColumns, visibleSame } = await storageFit(conn, row.schema, row.name, plan);
      if (consumers.length > 0 && !visibleSame) {
        throw new HasDependentsError(
          display,
          consumers.map((c) => displayName(c.schema, c.name)),
          'change its output columns (they read them)',
        );
      }
      await conn.query(
        `UPDATE pgtrickle.pgt_stream_tables SET defining_query = $2, requested_mode = $3, effective_mode = $4, mode_reason = $5,
           unique_row_ids = $6, needs_reinit = true, updated_at = now() WHERE pgt_id = $1`,
        [row.pgtId, query, newMode, plan.mode, plan.fallbackReason, plan.uniqueRowIds],
      );
      const oldSources = await dependenciesOf(conn, row.pgtId);
      await this.writeDependencies(conn, row.pgtId, plan, display);
      await conn.query(`SET LOCAL pgtrickle.internal = 'on'`);
      if (!sameColumns) {
        await replaceStorage(conn, row.pgtId, plan);
      } else {
        // Same columns: keep the table (and what consumers read); re-create the row-id index for the new uniqueness.
        const index = await conn.query(
          `SELECT i.relname FROM pg_catalog.pg_index AS x JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
           WHERE x.indrelid = to_regclass($1) AND x.indkey::text = (SELECT a.attnum::text FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = to_regclass($1) AND a.attname = '__pgt_row_id')`,
          [sqlName(row.schema, row.name)],
        );
        for (const ix of index.rows)
          await conn.query(`DROP INDEX ${sqlName(row.schema, String(ix.relname))}`);
        await conn.query(
          `CREATE ${plan.uniqueRowIds ? 'UNIQUE ' : ''}INDEX ON ${sqlName(row.schema, row.name)} (__pgt_row_id)`,
        );
      }
      this.engine.plans.delete(row.pgtId);
      const outcome = await refreshInTransaction(conn, this.engine, row.pgtId, {
        initiatedBy: 'ALTER',
        action: 'FULL',
        ignoreStatus: true,
      });
      for (const d of oldSources)
        if (d.sourcePgtId !== null) await dropStreamBufferIfUnused(conn, d.sourcePgtId);
      await dropUnusedCapture(conn);
      return { row, outcome };
    });
    if (result.outcome !== null) {
      await cleanupBuffers(
        this.db,
        result.outcome.sources.map((d) => ({ kind: d.sourceKind, oid: d.sourceOid, pgtId: d.sourcePgtId })),
      );
    }
    return this.describe(await this.row(this.db, name));
  }

  /** Drops a stream table (refused while others read it, unless `cascade`, which drops them first). */
  async dropStreamTable(
    name: string,
    options: { cascade?: boolean } = {},
  ): Promise<{ dropped: readonly string[] }> {
    this.check();
    await this.requireInstalled();
    return this.db.transaction(async (conn) => {
      await conn.query(`SELECT pg_advisory_xact_lock(${CATALOG_LOCK_KEY})`);
      const row = await this.row(conn, name, 'FOR UPDATE');
      // Every stream table that reads it, transitively, dependents before what they read.
      const order: StreamTableRow[] = [];
      const visit = async (r: StreamTableRow): Promise<void> => {
        for (const c of await consumersOf(conn, r.pgtId)) {
          if (!order.some((o) => o.pgtId === c.pgtId)) await visit(c);
        }
        if (!order.some((o) => o.pgtId === r.pgtId)) order.push(r);
      };
      await visit(row);
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
        for (const d of await dependenciesOf(conn, r.pgtId))
          if (d.sourcePgtId !== null) upstreams.add(d.sourcePgtId);
        await conn.query(`DROP TABLE IF EXISTS ${sqlName(r.schema, r.name)}`);
        await conn.query('DELETE FROM pgtrickle.pgt_stream_tables WHERE pgt_id = $1', [r.pgtId]);
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
    this.check();
    if ((await installedVersion(this.db)) === 0) return [];
    const rows = await allStreamTables(this.db);
    const deps = await allDependencies(this.db);
    return rows.map((r) =>
      this.describeWith(
        r,
        deps.filter((d) => d.pgtId === r.pgtId).map((d) => displayName(d.sourceSchema, d.sourceName)),
      ),
    );
  }

  private async describe(row: StreamTableRow): Promise<StreamTableStatus> {
    const deps = await dependenciesOf(this.db, row.pgtId);
    return this.describeWith(
      row,
      deps.map((d) => displayName(d.sourceSchema, d.sourceName)),
    );
  }

  private describeWith(r: StreamTableRow, sources: readonly string[]): StreamTableStatus {
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
      sources,
    };
  }

  /** How a stream table is maintained: mode, sources, row identity, and the SQL. */
  async explain(name: string): Promise<StreamTableExplanation> {
    this.check();
    await this.requireInstalled();
    const row = await this.row(this.db, name);
    const plan = await compileStreamTable(row.query, catalogPort(this.db), {
      name: { schema: row.schema, name: row.name },
      refreshMode: row.requestedMode,
      tag: `st${row.pgtId}`,
    });
    return {
      name: displayName(row.schema, row.name),
      query: row.query,
      requestedMode: row.requestedMode,
      mode: plan.mode,
      fallbackReason: plan.fallbackReason,
      uniqueRowIds: plan.uniqueRowIds,
      columns: plan.columns,
      hiddenColumns: plan.hiddenColumns,
      sources: plan.sources.map((s) => ({ name: displayName(s.schema, s.name), kind: s.kind })),
      warnings: plan.warnings,
      sql: { storage: plan.storageDdl(), population: plan.populationSelect(), delta: plan.deltaInsert() },
    };
  }

  /** Closes the connection pool (if this client created it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.close();
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
