/**
 * Typed access to the catalog rows the client reads and writes: stream tables, their
 * dependencies, captured sources, refresh history. Every statement is parameterised; names reach
 * SQL only quoted.
 */
import type { Frontier, RequestedMode } from '@pgtrickle/dvm';
import type { Conn, Db } from '../db.js';

/** A stream table as the catalog records it. */
export interface StreamTableRow {
  readonly pgtId: number;
  readonly schema: string;
  readonly name: string;
  readonly storageOid: number | null;
  readonly query: string;
  readonly requestedMode: RequestedMode;
  readonly effectiveMode: 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';
  readonly modeReason: string | null;
  readonly schedule: string | null;
  readonly status: 'PENDING' | 'INITIALIZING' | 'ACTIVE' | 'SUSPENDED' | 'ERROR';
  readonly uniqueRowIds: boolean;
  readonly frontier: Frontier | null;
  readonly epoch: number;
  readonly autoThreshold: number | null;
  readonly needsReinit: boolean;
  readonly consecutiveErrors: number;
  readonly lastError: string | null;
  readonly lastErrorAt: Date | null;
  readonly lastRefreshAt: Date | null;
  readonly dataTimestamp: Date | null;
}

/** A dependency of a stream table on a source. */
export interface DependencyRow {
  readonly pgtId: number;
  readonly sourceOid: number;
  readonly sourceSchema: string;
  readonly sourceName: string;
  readonly sourceKind: 'table' | 'streamTable';
  readonly sourcePgtId: number | null;
  readonly fingerprint: string;
}

const ST_COLUMNS = `pgt_id, schema_name, table_name, storage_oid, defining_query, requested_mode, effective_mode,
  mode_reason, schedule, status, unique_row_ids, frontier_snapshot::text AS frontier_snapshot, frontier_epochs,
  epoch, auto_threshold, needs_reinit, consecutive_errors, last_error, last_error_at, last_refresh_at, data_timestamp`;

type Queryable = Conn | Db;

function toRow(r: Record<string, unknown>): StreamTableRow {
  const snapshot = r.frontier_snapshot === null ? null : String(r.frontier_snapshot);
  const epochs: Record<string, string> = {};
  for (const [k, v] of Object.entries((r.frontier_epochs ?? {}) as Record<string, unknown>))
    epochs[k] = String(v);
  return {
    pgtId: Number(r.pgt_id),
    schema: String(r.schema_name),
    name: String(r.table_name),
    storageOid: r.storage_oid === null ? null : Number(r.storage_oid),
    query: String(r.defining_query),
    requestedMode: r.requested_mode as RequestedMode,
    effectiveMode: r.effective_mode as StreamTableRow['effectiveMode'],
    modeReason: (r.mode_reason as string | null) ?? null,
    schedule: (r.schedule as string | null) ?? null,
    status: r.status as StreamTableRow['status'],
    uniqueRowIds: r.unique_row_ids === true,
    frontier: snapshot === null ? null : { snapshot, epochs },
    epoch: Number(r.epoch),
    autoThreshold: r.auto_threshold === null ? null : Number(r.auto_threshold),
    needsReinit: r.needs_reinit === true,
    consecutiveErrors: Number(r.consecutive_errors),
    lastError: (r.last_error as string | null) ?? null,
    lastErrorAt: (r.last_error_at as Date | null) ?? null,
    lastRefreshAt: (r.last_refresh_at as Date | null) ?? null,
    dataTimestamp: (r.data_timestamp as Date | null) ?? null,
  };
}

/** The stream table named schema.name, or null. `lock`: `FOR UPDATE` (waits) or `FOR UPDATE NOWAIT`. */
export async function findStreamTable(
  q: Queryable,
  schema: string,
  name: string,
  lock: '' | 'FOR UPDATE' | 'FOR UPDATE NOWAIT' = '',
): Promise<StreamTableRow | null> {
  const res = await q.query(
    `SELECT ${ST_COLUMNS} FROM pgtrickle.pgt_stream_tables WHERE schema_name = $1 AND table_name = $2 ${lock}`,
    [schema, name],
  );
  const r = res.rows[0];
  return r === undefined ? null : toRow(r);
}

/** The stream table with id `pgtId`, or null. */
export async function streamTableById(
  q: Queryable,
  pgtId: number,
  lock: '' | 'FOR UPDATE' | 'FOR UPDATE NOWAIT' | 'FOR UPDATE SKIP LOCKED' = '',
): Promise<StreamTableRow | null> {
  const res = await q.query(
    `SELECT ${ST_COLUMNS} FROM pgtrickle.pgt_stream_tables WHERE pgt_id = $1 ${lock}`,
    [pgtId],
  );
  const r = res.rows[0];
  return r === undefined ? null : toRow(r);
}

/** Every stream table, by id. */
export async function allStreamTables(q: Queryable): Promise<StreamTableRow[]> {
  const res = await q.query(`SELECT ${ST_COLUMNS} FROM pgtrickle.pgt_stream_tables ORDER BY pgt_id`);
  return res.rows.map(toRow);
}

function toDependency(r: Record<string, unknown>): DependencyRow {
  return {
    pgtId: Number(r.pgt_id),
    sourceOid: Number(r.source_oid),
    sourceSchema: String(r.source_schema),
    sourceName: String(r.source_name),
    sourceKind: r.source_kind as DependencyRow['sourceKind'],
    sourcePgtId: r.source_pgt_id === null ? null : Number(r.source_pgt_id),
    fingerprint: String(r.fingerprint),
  };
}

/** The sources of stream table `pgtId`. */
export async function dependenciesOf(q: Queryable, pgtId: number): Promise<DependencyRow[]> {
  const res = await q.query(
    'SELECT * FROM pgtrickle.pgt_dependencies WHERE pgt_id = $1 ORDER BY source_oid',
    [pgtId],
  );
  return res.rows.map(toDependency);
}

/** Every dependency. */
export async function allDependencies(q: Queryable): Promise<DependencyRow[]> {
  const res = await q.query('SELECT * FROM pgtrickle.pgt_dependencies ORDER BY pgt_id, source_oid');
  return res.rows.map(toDependency);
}

/** Stream tables that read stream table `pgtId` directly. */
export async function consumersOf(q: Queryable, pgtId: number): Promise<StreamTableRow[]> {
  const res = await q.query(
    `SELECT ${ST_COLUMNS} FROM pgtrickle.pgt_stream_tables WHERE pgt_id IN (SELECT pgt_id FROM pgtrickle.pgt_dependencies WHERE source_pgt_id = $1) ORDER BY pgt_id`,
    [pgtId],
  );
  return res.rows.map(toRow);
}

/** One history row. */
export interface HistoryEntry {
  readonly pgtId: number;
  readonly action: 'FULL' | 'DIFFERENTIAL' | 'NO_DATA' | 'REINITIALIZE';
  readonly status: 'COMPLETED' | 'FAILED';
  readonly initiatedBy: 'MANUAL' | 'SCHEDULER' | 'INITIAL' | 'ALTER';
  readonly startedAt: Date;
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  readonly pendingChanges: number | null;
  readonly reason: string | null;
  readonly error: string | null;
}

/** Appends a history row. */
export async function insertHistory(q: Queryable, h: HistoryEntry): Promise<void> {
  await q.query(
    `INSERT INTO pgtrickle.pgt_refresh_history
       (pgt_id, action, status, initiated_by, started_at, rows_inserted, rows_deleted, pending_changes, reason, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      h.pgtId,
      h.action,
      h.status,
      h.initiatedBy,
      h.startedAt,
      h.rowsInserted,
      h.rowsDeleted,
      h.pendingChanges,
      h.reason,
      h.error,
    ],
  );
}
