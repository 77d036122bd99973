/**
 * The server launcher of @pgtrickle/embedded (where it lives, so the published sidecar can use it
 * too), in the test kit's terms: the same `startEmbeddedPostgres`, whose failures are
 * `TestkitError`s with the `PGT_TESTKIT_*` codes (the launcher's `PGT_EMBEDDED_*` error is the
 * `cause`). Importable without vitest (`@pgtrickle/testkit/embedded`).
 *
 * The launcher's source is imported by relative path, not as `@pgtrickle/embedded`: vitest loads
 * the global setup (and the kit's child-process fixtures load this file) without the workspace's
 * `@pgtrickle/source` condition, so a package import would need embedded's `dist/`, which a fresh
 * work tree does not have until `pnpm build`. The test kit is private; its build bundles the
 * launcher in.
 */
import {
  type EmbeddedErrorCode,
  type EmbeddedPostgres,
  EmbeddedPostgresError,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres as startServer,
} from '../../embedded/src/index.js';
import { TestkitError, type TestkitErrorCode } from './errors.js';

export type { PostgresBinaries } from '../../embedded/src/binaries.js';
// The launcher's API as it is, except `startEmbeddedPostgres`: this module's own declaration
// below takes precedence over the star re-export (ES module rule), so it is the kit's wrapper.
export * from '../../embedded/src/embedded-postgres.js';
export { cleanupStaleServers, RUN_DIR_PREFIX, type StaleCleanupReport } from '../../embedded/src/stale.js';

const CODES: Record<EmbeddedErrorCode, TestkitErrorCode> = {
  PGT_EMBEDDED_START_FAILED: 'PGT_TESTKIT_START_FAILED',
  PGT_EMBEDDED_BINARIES_UNAVAILABLE: 'PGT_TESTKIT_BINARIES_UNAVAILABLE',
  PGT_EMBEDDED_OS_USER: 'PGT_TESTKIT_OS_USER',
  PGT_EMBEDDED_DATA_DIR_INACCESSIBLE: 'PGT_TESTKIT_DATA_DIR_INACCESSIBLE',
};

/** The test kit's error for a launcher error (same message, the original as `cause`). */
export function asTestkitError(error: unknown): unknown {
  if (error instanceof EmbeddedPostgresError) {
    return new TestkitError(CODES[error.code], error.message, { cause: error });
  }
  return error;
}

/**
 * Starts a PostgreSQL 18 server (see @pgtrickle/embedded's `startEmbeddedPostgres`).
 *
 * @throws {TestkitError} `PGT_TESTKIT_START_FAILED` (with the server log's tail),
 *   `PGT_TESTKIT_BINARIES_UNAVAILABLE`, `PGT_TESTKIT_OS_USER` or `PGT_TESTKIT_DATA_DIR_INACCESSIBLE`.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  try {
    return await startServer(options);
  } catch (error) {
    throw asTestkitError(error);
  }
}
