/**
 * Errors thrown by the test kit. Every error has a stable `code` (match on it, not on the
 * message), a message that says what happened and what to do, and the underlying `cause`.
 */

/** The stable codes carried by {@link TestkitError}. */
export type TestkitErrorCode =
  /** The embedded PostgreSQL server could not be initialised or started. */
  | 'PGT_TESTKIT_START_FAILED'
  /** The PostgreSQL binaries could not be found or made usable. */
  | 'PGT_TESTKIT_BINARIES_UNAVAILABLE'
  /** Running as root, and the OS user that runs PostgreSQL is missing and could not be created. */
  | 'PGT_TESTKIT_OS_USER'
  /** The data directory is not reachable by the OS user that runs PostgreSQL. */
  | 'PGT_TESTKIT_DATA_DIR_INACCESSIBLE'
  /** `useTestDatabase()` found no server: the global setup did not run or did not start one. */
  | 'PGT_TESTKIT_NO_SERVER'
  /** A test database could not be created or dropped. */
  | 'PGT_TESTKIT_DATABASE'
  /** A table or column named in an oracle call does not exist, or the column sets differ. */
  | 'PGT_TESTKIT_SHAPE'
  /** The oracle found that a table does not equal its query. */
  | 'PGT_TESTKIT_TABLE_MISMATCH'
  /** A hidden `__pgt_count*` column holds a negative value. */
  | 'PGT_TESTKIT_NEGATIVE_COUNT';

/** Base class of every error the test kit throws on purpose. */
export class TestkitError extends Error {
  /** Stable machine-readable code. */
  readonly code: TestkitErrorCode;

  constructor(code: TestkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TestkitError';
    this.code = code;
  }
}

/**
 * An assertion failure of the oracle (`expectTableEqualsQuery`, `expectNoNegativeCounts`).
 * Its name is `AssertionError` so test reporters present it as a failed expectation.
 */
export class TestkitAssertionError extends TestkitError {
  constructor(code: 'PGT_TESTKIT_TABLE_MISMATCH' | 'PGT_TESTKIT_NEGATIVE_COUNT', message: string) {
    super(code, message);
    this.name = 'AssertionError';
  }
}

/** Renders an unknown thrown value for inclusion in a message. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error === undefined) return 'undefined';
  return String(error);
}
