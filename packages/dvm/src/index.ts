/**
 * @pgtrickle/dvm: from a stream table's defining SELECT to everything that maintains it, as SQL
 * text — parsing on the real PostgreSQL grammar, the operator tree and its delta rules, storage
 * DDL, population / FULL / differential refresh statements, change-capture DDL. It never
 * connects anywhere: what it needs from the database it asks through `CatalogPort` and runs
 * through `SqlExecutor`, both implemented by the caller.
 */
// The catalog port's types (CatalogPort, ColumnInfo, FunctionInfo, QualifiedName, QueryColumn,
// RelationInfo, RelationKind, StreamTableInfo, TypeShape, Volatility): the module declares nothing else.
export type * from './catalog/port.js';
export { createSqlCatalogPort, type SqlCatalogPortOptions } from './catalog/sql-port.js';
export type { DeltaParam, DeltaSource } from './diff/context.js';
export {
  findRowIdExprs,
  hashablePart,
  type IdPart,
  jsonNormalImage,
  keyRowIdExpr,
  printWithTypeShapes,
  rowIdExpr,
  rowText,
} from './diff/rowid.js';
export {
  AmbiguousColumnError,
  CatalogError,
  DvmError,
  type DvmErrorCode,
  InternalError,
  InvalidQueryError,
  QuerySyntaxError,
  type SourcePosition,
  UnknownColumnError,
  UnknownRelationError,
  UnsupportedQueryError,
} from './errors.js';
export type { IrNode, SourceRef } from './ir/types.js';
export * from './names.js';
export { baseWindowSql } from './operators/scan.js';
export { initParser, type ParsedQuery, parseQuery } from './parse/parser.js';
export {
  type ApplyTarget,
  applyInOneStatement,
  captureAppliedSql,
  consolidatedSelect,
  consolidateSql,
} from './plan/apply.js';
export {
  baseBuffer,
  baseBufferIndex,
  baseBufferIndexDdl,
  baseCaptureAccessDdl,
  baseCaptureDdl,
  type CaptureTarget,
  changesSchemaDdl,
  dropBaseBufferIndexDdl,
  dropBaseCaptureDdl,
  dropStreamBufferDdl,
  streamBuffer,
  streamBufferAccessDdl,
  streamBufferDdl,
} from './plan/capture.js';
export {
  type CaptureFormat,
  captureDropCall,
  captureSyncCall,
  captureSyncDdl,
  SOURCE_DDL_EVENT_TRIGGER,
  sourceDdlEventTriggerDdl,
  TEXT_CAPTURE_SETTINGS,
} from './plan/capture-sync.js';
export {
  type CompiledPlan,
  type CompileOptions,
  compileStreamTable,
  type PlanMode,
  type PlanSource,
  type PlanView,
  type RequestedMode,
  rowIdIndexSql,
  type StreamTableName,
  type TransitionTables,
  typeShapesOf,
} from './plan/compile.js';
export { CONSUMED_SNAPSHOT_SQL } from './plan/frontier.js';
export {
  BULK_FULL_MIN_ROWS,
  type FullPrelude,
  fullPreludeSql,
  INSERTED_BEFORE_COLUMN,
  insertedCountSql,
  type RebuildableIndex,
  readFullPrelude,
  rebuildableIndexesSql,
  replaceContents,
  rowIdIndexedSql,
  rowIdIndexesSql,
} from './plan/full-bulk.js';
export {
  FULL_PLAN_PARALLEL_FUNCTION,
  FULL_ROWS_FUNCTION,
  type FullParallelVerdict,
  fullParallelDdl,
  fullPlanSignatureSql,
} from './plan/full-parallel.js';
export { fullStatementSql } from './plan/full-statement.js';
export {
  IMMEDIATE_LOCK_CLASS,
  IMMEDIATE_SMALL_ROWS,
  type ImmediateEvent,
  type ImmediateMarker,
  type ImmediateTarget,
  immediateDropDdl,
  immediateFunctionName,
  immediateInstallDdl,
  immediateMarkerName,
  immediateTriggerName,
} from './plan/immediate.js';
export {
  isLargeWindow,
  LARGE_WINDOW_MIN_CHANGES,
  LARGE_WINDOW_SHARE,
  LARGE_WINDOW_WORK_MEM_KB,
  withLargeWindowSettings,
} from './plan/large-window.js';
export {
  deltaParamValues,
  type Frontier,
  inspectWindow,
  PREPARED_WINDOW_MAX_CHANGES,
  type RefreshOptions,
  type RefreshResult,
  runRefresh,
  type SqlExecutor,
  type SqlResult,
  type WindowInspection,
  windowFromRows,
} from './plan/refresh.js';
export { dollarQuote, quoteIdent, quoteLiteral, quoteQualified } from './sql/quote.js';
