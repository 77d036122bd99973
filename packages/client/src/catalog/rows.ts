/**
 * The catalog's rows as the client types them (stream tables, dependencies, history entries) and
 * the mapping from database rows. The statements that read and write them are the modules of this
 * folder, one per operation.
 */
import type { Frontier, RequestedMode } from '@pgtrickle/dvm';

/** A stream table as the catalog records it. */
export interface StreamTableRow {
  readonly pgtId: number;
  readonly schema: string;
  readonly name: string;
  readonly storageOid: number | null;
  /** The view under the public name (null: not converted yet, the storage has the public name). */
  readonly publicOid: number | null;
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
  /** The owner: the role that created it (its rights run the query; see docs/security.md). */
  readonly ownerOid: number;
  /** The owner's role name. */
  readonly owner: string;
  /** The search_path the query was written under (names in it resolve by it). */
  readonly searchPath: string;
  /** Its fuse's settings and state (docs/refresh-control.md, "Fuse"). */
  readonly fuse: FuseSettingsRow;
  /** Whether its diamond group refreshes atomically, and when a group is due. */
  readonly diamondConsistency: 'none' | 'atomic';
  readonly diamondSchedulePolicy: 'fastest' | 'slowest';
  /** The gate holding it back now (null: none), why, and since when. */
  readonly hold: { readonly gate: string; readonly reason: string; readonly since: Date } | null;
  /** For a green copy (docs/blue-green.md): the id of the stream table it will replace; else null. */
  readonly greenOf: number | null;
}

/** A stream table's fuse as the catalog records it (null numbers: the defaults). */
export interface FuseSettingsRow {
  readonly mode: 'off' | 'on' | 'auto';
  readonly state: 'armed' | 'blown';
  readonly ceiling: number | null;
  readonly sensitivity: number | null;
  readonly sigma: number | null;
  readonly window: number | null;
  readonly minSamples: number | null;
  readonly blownAt: Date | null;
  readonly blowReason: string | null;
}

/** A dependency of a stream table on a source. */
export interface DependencyRow {
  readonly pgtId: number;
  readonly sourceOid: number;
  readonly sourceSchema: string;
  readonly sourceName: string;
  readonly sourceKind: 'table' | 'streamTable' | 'view';
  readonly sourcePgtId: number | null;
  readonly fingerprint: string;
}

/** The columns `toRow` reads, for `SELECT ${ST_COLUMNS} FROM pgt_stream_tables`. */
export const ST_COLUMNS = `pgt_id, schema_name, table_name, storage_oid, public_oid, defining_query, requested_mode, effective_mode,
  mode_reason, schedule, status, unique_row_ids, frontier_snapshot::text AS frontier_snapshot, frontier_epochs,
  epoch, auto_threshold, needs_reinit, consecutive_errors, last_error, last_error_at, last_refresh_at, data_timestamp,
  owner_oid::int8 AS owner_oid, pg_catalog.pg_get_userbyid(owner_oid)::text AS owner, search_path,
  fuse_mode, fuse_state, fuse_ceiling, fuse_sensitivity, fuse_sigma, fuse_window, fuse_min_samples, blown_at, blow_reason,
  diamond_consistency, diamond_schedule_policy, hold_gate, hold_reason, held_since, green_of`;

/** A catalog row of pgt_stream_tables as a StreamTableRow. */
export function toRow(r: Record<string, unknown>): StreamTableRow {
  const snapshot = r.frontier_snapshot === null ? null : String(r.frontier_snapshot);
  const epochs: Record<string, string> = {};
  for (const [k, v] of Object.entries((r.frontier_epochs ?? {}) as Record<string, unknown>))
    epochs[k] = String(v);
  return {
    pgtId: Number(r.pgt_id),
    schema: String(r.schema_name),
    name: String(r.table_name),
    storageOid: r.storage_oid === null ? null : Number(r.storage_oid),
    publicOid: r.public_oid == null ? null : Number(r.public_oid),
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
    ownerOid: Number(r.owner_oid),
    owner: String(r.owner),
    searchPath: String(r.search_path),
    fuse: {
      mode: (r.fuse_mode ?? 'off') as FuseSettingsRow['mode'],
      state: (r.fuse_state ?? 'armed') as FuseSettingsRow['state'],
      ceiling: numberOrNull(r.fuse_ceiling),
      sensitivity: numberOrNull(r.fuse_sensitivity),
      sigma: numberOrNull(r.fuse_sigma),
      window: numberOrNull(r.fuse_window),
      minSamples: numberOrNull(r.fuse_min_samples),
      blownAt: (r.blown_at as Date | null | undefined) ?? null,
      blowReason: (r.blow_reason as string | null | undefined) ?? null,
    },
    diamondConsistency: (r.diamond_consistency ?? 'atomic') as StreamTableRow['diamondConsistency'],
    diamondSchedulePolicy: (r.diamond_schedule_policy ??
      'fastest') as StreamTableRow['diamondSchedulePolicy'],
    hold:
      r.hold_gate == null
        ? null
        : { gate: String(r.hold_gate), reason: String(r.hold_reason ?? ''), since: r.held_since as Date },
    greenOf: r.green_of == null ? null : Number(r.green_of),
  };
}

function numberOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** A catalog row of pgt_dependencies as a DependencyRow. */
export function toDependency(r: Record<string, unknown>): DependencyRow {
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

/** One history row. */
export interface HistoryEntry {
  readonly pgtId: number;
  readonly action: 'FULL' | 'DIFFERENTIAL' | 'NO_DATA' | 'REINITIALIZE' | 'SKIP';
  readonly status: 'COMPLETED' | 'FAILED' | 'SKIPPED';
  readonly initiatedBy: 'MANUAL' | 'SCHEDULER' | 'INITIAL' | 'ALTER';
  readonly startedAt: Date;
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  readonly pendingChanges: number | null;
  readonly reason: string | null;
  readonly error: string | null;
}
