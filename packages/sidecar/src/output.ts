/**
 * How the CLI reports a failure. Rules: without `--json`, one line on stderr,
 * `pgtrickle <command>: <CODE>: <message>`; with `--json`, one JSON object on stderr,
 * `{"error":{"code","message","hint"}}` (plus `sqlstate` for a database error), `hint` naming a
 * command or option that exists, or null. The exit code is the same either way (2: the command line
 * is wrong; 1: anything else).
 */
import { errorCode, errorMessage } from './errors.js';

/** The JSON form of an error. */
export interface ErrorJson {
  readonly error: {
    /** The stable code (`PGT_…`). */
    readonly code: string;
    /** What happened (first line of the message). */
    readonly message: string;
    /** What to do next, naming a real command or option; null when the message says it all. */
    readonly hint: string | null;
    /** The SQLSTATE of a database error. */
    readonly sqlstate?: string;
  };
}

const HINTS: Readonly<Record<string, (command: string) => string>> = {
  PGT_USAGE: (c) => `see pgtrickle ${c ? `${c} ` : ''}--help`,
  PGT_CONNECTION: () =>
    'check the connection with pgtrickle doctor; give it with --database-url (-c), DATABASE_URL or the PG* variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD), or [connection] in pgtrickle.toml',
  PGT_CONFIG_INVALID: () => 'pgtrickle doctor lists each configuration value and where it came from',
  PGT_CONFIG_UNKNOWN_KEY: () => 'the configuration keys are listed in pgtrickle --help',
  PGT_CONFIG_FILE: () => 'name the file with --config or PGTRICKLE_CONFIG, or remove ./pgtrickle.toml',
  PGT_NOT_INSTALLED: () => 'install the catalog: pgtrickle migrate',
  PGT_NOT_FOUND: () => 'list the stream tables: pgtrickle status',
  PGT_NOT_ACTIVE: () => 'after fixing the cause: pgtrickle resume <name>',
  PGT_HAS_DEPENDENTS: () => 'drop the readers too: pgtrickle drop <name> --cascade',
  PGT_DOCTOR_FAILED: () => 'fix the failing checks, then run pgtrickle doctor again',
  PGT_EMBEDDED_NOT_INSTALLED: () =>
    'npm i @pgtrickle/embedded, or use your own database: pgtrickle demo --database-url postgres://…',
};

/** The hint for an error: its own `hint` property, else the one for its code, else null. */
export function errorHint(error: unknown, command: string): string | null {
  const own = (error as { hint?: unknown } | null)?.hint;
  if (typeof own === 'string' && own !== '') return own;
  const code = (error as { code?: unknown } | null)?.code;
  const key = typeof code === 'string' && code.startsWith('PGT_') ? code : errorCode(error);
  return HINTS[key]?.(command) ?? null;
}

/** The JSON error object of `error` under `--json`. */
export function errorJson(error: unknown, command: string): ErrorJson {
  const code = errorCode(error);
  const sqlstate = /SQLSTATE ([0-9A-Z]{5})/.exec(code)?.[1];
  const [first] = errorMessage(error).split('\n');
  return {
    error: {
      code: sqlstate === undefined ? code : 'PGT_DATABASE',
      message: first ?? '',
      hint: errorHint(error, command),
      ...(sqlstate === undefined ? {} : { sqlstate }),
    },
  };
}
