/**
 * Errors of @pgtrickle/sidecar. Every error has a stable `code` and the exit code the CLI uses
 * for it (2: the command line itself is wrong; 1: anything else). Errors of the client and the
 * query compiler (`PGT_NOT_FOUND`, `PGT_UNSUPPORTED`, …) pass through with their own codes.
 */

/** Stable error codes of @pgtrickle/sidecar. */
export type SidecarErrorCode =
  /** A configuration value is invalid (the message names the key and where it came from). */
  | 'PGT_CONFIG_INVALID'
  /** The configuration file has a key or section pgtrickle does not know. */
  | 'PGT_CONFIG_UNKNOWN_KEY'
  /** The configuration file is missing, unreadable or not valid TOML. */
  | 'PGT_CONFIG_FILE'
  /** The command line is wrong (unknown option, missing argument, bad value). */
  | 'PGT_USAGE'
  /** The database cannot be reached. */
  | 'PGT_CONNECTION'
  /** `pgtrickle doctor` found at least one failing check. */
  | 'PGT_DOCTOR_FAILED'
  /** The demo's schema exists and was not created by the demo. */
  | 'PGT_DEMO_SCHEMA_TAKEN'
  /** The demo's stream tables did not stay equal to their queries. */
  | 'PGT_DEMO_FAILED'
  /** `demo` needs an embedded PostgreSQL and the optional package `@pgtrickle/embedded` is not installed. */
  | 'PGT_EMBEDDED_NOT_INSTALLED'
  /** `run` did not stop within the shutdown timeout (the refresh in flight was rolled back). */
  | 'PGT_SHUTDOWN_TIMEOUT'
  /** `run --http` cannot listen on the address (in use, not allowed, not local). */
  | 'PGT_HTTP_LISTEN';

/** Base class of the errors the sidecar throws itself. */
export class SidecarError extends Error {
  /** The stable error code. */
  readonly code: SidecarErrorCode;
  /** The process exit code the CLI uses for this error. */
  readonly exitCode: number;

  constructor(code: SidecarErrorCode, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? (code === 'PGT_USAGE' ? 2 : 1);
  }
}

/** Where a configuration value came from. */
export type ConfigSource =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly name: string };

/** Renders a configuration source for messages ("environment variable PGTRICKLE_LOG_LEVEL"). */
export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'default':
      return 'the built-in default';
    case 'file':
      return `config file ${source.path}`;
    case 'env':
      return `environment variable ${source.name}`;
    case 'flag':
      return `flag --${source.name}`;
  }
}

/** A configuration problem, naming the key and the source of the offending value. */
export class ConfigError extends SidecarError {
  /** The configuration key (`scheduler.poll_interval_ms`), or null for file-level problems. */
  readonly key: string | null;
  /** Where the offending value came from. */
  readonly source: ConfigSource | null;

  constructor(
    code: 'PGT_CONFIG_INVALID' | 'PGT_CONFIG_UNKNOWN_KEY' | 'PGT_CONFIG_FILE',
    message: string,
    options: { key?: string | null; source?: ConfigSource | null; cause?: unknown } = {},
  ) {
    // A bad flag value is a usage error (exit 2); everything else exits 1.
    super(code, message, {
      cause: options.cause,
      exitCode: options.source?.kind === 'flag' ? 2 : 1,
    });
    this.key = options.key ?? null;
    this.source = options.source ?? null;
  }
}

/** The stable code of any thrown value: its own `PGT_*` code, a SQLSTATE, or `PGT_INTERNAL`. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('PGT_')) return code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `PGT_DATABASE (SQLSTATE ${code})`;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 'PGT_CONNECTION';
  return 'PGT_INTERNAL';
}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
