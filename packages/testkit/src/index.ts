/**
 * @pgtrickle/testkit: the private test kit. One embedded PostgreSQL 18 per test run (started by
 * `global-setup.ts`), a database per test file (`useTestDatabase`), and the oracle that checks a
 * stream table equals its defining query (`expectTableEqualsQuery`).
 */
export {
  cleanupStaleServers,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
  findFreePort,
  type PostgresBinaries,
  type PostgresSettingValue,
  RUN_DIR_PREFIX,
  type StaleCleanupReport,
  type StartTimings,
  type StopOptions,
  startEmbeddedPostgres,
  stopEmbeddedPostgres,
} from './embedded-postgres.js';
export { TestkitAssertionError, TestkitError, type TestkitErrorCode } from './errors.js';
export {
  type CompareOptions,
  compareTableWithQuery,
  expectNoNegativeCounts,
  expectTableEqualsQuery,
  formatComparison,
  HIDDEN_COLUMN_PREFIX,
  type Queryable,
  type RowDiff,
  type TableComparison,
} from './oracle.js';
export { type ReadmeRun, runReadmeExample } from './readme.js';
export {
  createTestDatabase,
  type OwnedTestDatabase,
  TEST_DATABASE_PREFIX,
  type TestDatabase,
  type TestDatabaseOptions,
  testServerUrl,
  useTestDatabase,
} from './test-database.js';
