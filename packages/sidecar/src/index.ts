/**
 * @pgtrickle/sidecar: the `pgtrickle` process and CLI — configuration (TOML, `PGTRICKLE_*`
 * environment, flags), structured logs, the service loop (`run`), the stream-table commands, the
 * catalog's `migrate` / `plan`, `doctor`, and the live `demo` on an embedded PostgreSQL 18. The
 * functions behind the commands are exported for embedding and tests.
 */
export { type CatalogState, catalogState, migrationScript, type PlanOptions } from './commands/catalog.js';
export { type DemoOptions, demoCommand } from './commands/demo.js';
export { type CheckResult, type CheckStatus, MIN_SERVER_VERSION_NUM, runChecks } from './commands/doctor.js';
export { type RunOptions, runCommand, tickLogger } from './commands/run.js';
export {
  formatAge,
  parseMode,
  readStatus,
  type StatusOptions,
  type StatusRow,
  statusLines,
  textTable,
} from './commands/tables.js';
export { type UninstallOptions, uninstallCommand } from './commands/uninstall.js';
export {
  CONFIG_ENV,
  CONFIG_KEYS,
  CONVENTIONAL_ENV,
  type ConfigKeySpec,
  connectionConfigured,
  connectionString,
  DEFAULT_CONFIG_FILE,
  describeConfig,
  describeConnectionSource,
  hasDatabase,
  hasOwnDatabase,
  LOG_FORMATS,
  LOG_LEVELS,
  type LoadConfigInput,
  type LoadedConfig,
  type LogFormat,
  type LogLevel,
  loadConfig,
  redactUrl,
  type SidecarConfig,
} from './config.js';
export { type CliIo, type CommandContext, commandContext } from './context.js';
export { DEMO_SCHEMA, type DemoTable, demoPipeline, ShopWriter, shopSql } from './demo/shop.js';
export { compareTables, type TableCheck, waitCaughtUp } from './demo/verify.js';
export { EMBEDDED_PACKAGE, type EmbeddedModule, embeddedMissingError, loadEmbedded } from './embedded.js';
export {
  ConfigError,
  type ConfigSource,
  describeSource,
  errorCode,
  SidecarError,
  type SidecarErrorCode,
} from './errors.js';
export {
  DEFAULT_HTTP_HOST,
  formatListenAddress,
  type ListenAddress,
  parseListenAddress,
} from './http/address.js';
export { LiveState, type RecentRefresh, type TableHold } from './http/live.js';
export { OperatorMetrics } from './http/metrics.js';
export { type OperatorServer, type Readiness, readiness, startServer } from './http/server.js';
export { type OperatorSnapshot, readSnapshot, SnapshotCache, type TableView } from './http/snapshot.js';
export { type OperatorView, type OperatorViewOptions, startOperatorView } from './http/view.js';
export {
  createLogger,
  type LineSink,
  type LoggerOptions,
  nullLogger,
  prettyLine,
  type SidecarLogger,
} from './logger.js';
export { CONNECTION_HELP, EXAMPLES, main, processIo, VERSION } from './main.js';
export { type ErrorJson, errorHint, errorJson } from './output.js';
export { colorEnabled, type Progress, type ProgressOptions, startProgress } from './progress.js';
