/**
 * Errors thrown by @pgtrickle/embedded. Every error has a stable `code` (match on it, not on the
 * message), a message that says what happened and what to do, and the underlying `cause`.
 */

/** The stable codes carried by {@link EmbeddedPostgresError}. */
export type EmbeddedErrorCode =
  /** The server could not be initialised or started (the message ends with the server log's tail). */
  | 'PGT_EMBEDDED_START_FAILED'
  /** The PostgreSQL binaries could not be found or made usable. */
  | 'PGT_EMBEDDED_BINARIES_UNAVAILABLE'
  /** Running as root, and the OS user that runs PostgreSQL is missing and could not be created. */
  | 'PGT_EMBEDDED_OS_USER'
  /** The data directory is not reachable by the OS user that runs PostgreSQL. */
  | 'PGT_EMBEDDED_DATA_DIR_INACCESSIBLE';

/** Every stable code of {@link EmbeddedPostgresError}, for exhaustive mapping. */
export const EMBEDDED_ERROR_CODES: readonly EmbeddedErrorCode[] = [
  'PGT_EMBEDDED_START_FAILED',
  'PGT_EMBEDDED_BINARIES_UNAVAILABLE',
  'PGT_EMBEDDED_OS_USER',
  'PGT_EMBEDDED_DATA_DIR_INACCESSIBLE',
];

/** Base class of every error @pgtrickle/embedded throws on purpose. */
export class EmbeddedPostgresError extends Error {
  /** Stable machine-readable code. */
  readonly code: EmbeddedErrorCode;

  constructor(code: EmbeddedErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbeddedPostgresError';
    this.code = code;
  }
}

/** Renders an unknown thrown value for inclusion in a message. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error === undefined) return 'undefined';
  return String(error);
}
