/**
 * @pgtrickle/client: stream tables on a real PostgreSQL. The one package that talks to the
 * database (through `pg`): catalog install and migrations, change capture, atomic refreshes,
 * group execution strategies, and the `connect()` API.
 */

export {
  type AutoFullCap,
  autoFullCap,
  autoPreferFull,
  type CostModel,
  costModel,
  FIRST_POPULATION_SHARE,
  MIN_DIFFERENTIAL_SAMPLES,
  type RefreshCostSample,
  readCostSamples,
} from './auto-cost.js';
export {
  ALERT_CHANNEL,
  type Alert,
  type AlertEvent,
  alertPayload,
  emitAlert,
  parseAlert,
} from './catalog/alerts.js';
export { type CaptureGap, type CaptureHealth, captureHealth } from './catalog/capture-health.js';
export { captureGrants } from './catalog/change-tracking.js';
export { deleteRequestsIn, pendingRequestSummary } from './catalog/claim-requests.js';
export { allStreamTables, findStreamTable, streamTableById } from './catalog/find-stream-table.js';
export {
  CHECK_GRANULARITY_MS,
  hasFreshness,
  nothingPendingIds,
  recordChecked,
} from './catalog/freshness.js';
export {
  FUSE_REMINDER_SECONDS,
  type FuseResetAction,
  type FuseStatusRow,
} from './catalog/fuse.js';
export {
  type DeploymentRow,
  type GreenStatus,
  readGreenStatus,
} from './catalog/green-deployments.js';
export {
  HEALTH_SEVERITIES,
  type HealthOptions,
  type HealthRow,
  type HealthSeverity,
  hasHealth,
  readHealth,
  readStreamTableStats,
  type StreamTableStats,
  worstSeverity,
} from './catalog/health.js';
export { type GateLine, gateLines, HoldRecorder, type LastDecision, tickDecisions } from './catalog/holds.js';
export {
  type ChangeBufferSize,
  catalogSchemaGrants,
  changeBufferSizes,
  streamTableSchemas,
} from './catalog/inspect.js';
export {
  CATALOG_LOCK_KEY,
  type InstallResult,
  installCatalog,
  installedVersion,
  migrationChecksum,
} from './catalog/install.js';
export { type LeaseState, readLease, taggedApplicationName } from './catalog/leader-lease.js';
export { CATALOG_VERSION, MIGRATIONS, type Migration } from './catalog/migrations.js';
export { type PinnedBuffer, pinnedBuffers, releaseFrontier } from './catalog/pinned-buffers.js';
export { allDependencies, dependenciesOf } from './catalog/read-dependencies.js';
export { progressOf, readPending, type StreamTableProgress } from './catalog/read-frontiers.js';
export {
  applyRetention,
  DEFAULT_RETENTION,
  type RetentionPolicy,
  type RetentionResult,
  trimHistory,
  trimRequests,
} from './catalog/retention.js';
export { API_ROLE, apiRoleMembers, rolesNotActedAs } from './catalog/roles.js';
export type { DependencyRow, FuseSettingsRow, HistoryEntry, StreamTableRow } from './catalog/rows.js';
export { CATALOG_SCHEMA_NAME, CHANGES_SCHEMA_NAME, type Queryable } from './catalog/schema.js';
export { type CatalogState, catalogState, migrationScript } from './catalog/schema-version.js';
export {
  applySettings,
  type DiamondSettings,
  type FuseSettings,
  settingsObject,
} from './catalog/settings.js';
export {
  failedCreateRequests,
  hasStatusView,
  readStatusView,
  type StatusViewRow,
} from './catalog/status-view.js';
export { type CaptureTrigger, captureTriggers, type UninstallResult } from './catalog/uninstall.js';
export {
  advanceWatermark,
  createWatermarkGroup,
  dropWatermarkGroup,
  readWatermarkGroups,
  readWatermarkState,
  readWatermarkStatus,
  readWatermarks,
  type WatermarkGroupRow,
  type WatermarkGroupState,
  type WatermarkRow,
  type WatermarkSourceState,
  type WatermarkStatusRow,
  watermarkError,
} from './catalog/watermarks.js';
export {
  BUFFER_INDEX_ROWS,
  type BufferIndexRows,
  type CleanupTarget,
  cleanupBuffers,
  cleanupTargets,
} from './cdc.js';
export {
  type Conn,
  type ConnectionOptions,
  Db,
  executor,
  type Isolation,
  isConnectionError,
  sqlState,
} from './db.js';
export {
  AlreadyExistsError,
  BusyError,
  CatalogMissingError,
  ClientError,
  type ClientErrorCode,
  ClosedError,
  ContentsDifferError,
  CycleError,
  DeploymentStateError,
  FuseBlownError,
  GreenUnsupportedError,
  HasDependentsError,
  InvalidArgumentError,
  NotActiveError,
  NotConvergedError,
  NotFoundError,
  NotInstalledError,
  PopulationFailedError,
  PublicViewMissingError,
  RefreshFailedError,
  SchemaVersionError,
  SourceChangedError,
  StorageMissingError,
  SwapDependentsError,
} from './errors.js';
export {
  classifyFailure,
  type FailureClass,
  isPermanentRefreshError,
  isTransientRefreshError,
  recordFailure,
  TRANSIENT_SQLSTATES,
} from './failures.js';
export {
  type PgGroupExecutionOptions,
  type PgGroupTransaction,
  RepeatableReadGroupStrategy,
  SavepointGroupStrategy,
} from './groups.js';
export { displayName, type ParsedName, parseName } from './names.js';
export { catalogPort, fingerprints } from './port.js';
export { missingPublicViews, STORAGE_SUFFIX, storageTableName } from './public-view.js';
export {
  createEngine,
  DEFAULT_AUTO_FULL_RATIO,
  type Engine,
  type Initiator,
  type RefreshOutcome,
  type RefreshRequest,
  refreshInTransaction,
} from './refresh.js';
export type {
  DiamondGroupMember,
  RefreshGroupInfo,
  RefreshGroupIsolation,
} from './refresh-groups.js';
export {
  KEEPALIVE,
  LEADER_LOCK_KEY,
  Leadership,
  type LeadershipLog,
  type LeadershipOptions,
  NotLeaderError,
  newTag,
} from './service/leader.js';
export {
  allCleanupTargets,
  DEFAULT_MAX_PINNED_ROWS,
  Maintenance,
  type MaintenanceOptions,
  type MaintenanceReport,
  maintain,
} from './service/maintenance.js';
export {
  notify,
  observedExecutor,
  type ServiceObserver,
  type UnitExecution,
} from './service/observer.js';
export { processRequests, type RequestsProcessed } from './service/requests.js';
export { type ServiceOptions, systemClock, TrickleService } from './service/service.js';
export {
  type Fence,
  PgSchedulerStore,
  PgUnitExecutor,
  type SchedulerStoreOptions,
  tableId,
} from './service/store.js';
export { WatermarkWatch } from './service/watermarks.js';
export { missingStorageOids } from './storage.js';
export {
  BlueGreenService,
  type CreateGreenOptions,
  convergenceChecks,
  convergenceOf,
  GREEN_SUFFIX,
  type PromoteGreenOptions,
  type PromoteResult,
  RETIRED_SUFFIX,
} from './stream-tables/blue-green.js';
export { StreamTableService } from './stream-tables/service.js';
export type * from './stream-tables/types.js';
export { type ConnectOptions, connect, Trickle } from './trickle.js';
