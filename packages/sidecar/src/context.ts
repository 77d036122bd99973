/**
 * What every command gets: the validated configuration, the logger, where to print, and a way to
 * open the configured database. Connection failures become one clear `PGT_CONNECTION` error.
 */
import { connect, isConnectionError, type Trickle } from '@pgtrickle/client';
import { connectionString, type LoadedConfig, redactUrl } from './config.js';
import { SidecarError } from './errors.js';
import type { LineSink, SidecarLogger } from './logger.js';

/** Where a command prints, what it reads, and how it learns it should stop. */
export interface CliIo {
  /** Command output (tables, SQL, JSON). */
  readonly stdout: LineSink;
  /** Logs, progress, errors. */
  readonly stderr: LineSink;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /**
   * Aborts when a long-running command (`run`, `demo`) should stop. Default: the first SIGINT or
   * SIGTERM of this process.
   */
  readonly stop?: AbortSignal;
}

/** The context of one command. */
export interface CommandContext {
  readonly loaded: LoadedConfig;
  readonly logger: SidecarLogger;
  readonly io: CliIo;
  /** Whether `--json` was given: command output is JSON, errors a JSON object. */
  readonly json: boolean;
  /** Prints one line of command output. */
  out(line?: string): void;
  /** Prints a value as JSON command output (bigints as strings, dates as ISO text). */
  outJson(value: unknown): void;
  /** Prints a value as one line of JSON (for streams of updates). */
  outLine(value: unknown): void;
  /** The configured database's connection string (throws when none is configured). */
  connection(): string;
}

/** Builds a command context. */
export function commandContext(
  loaded: LoadedConfig,
  logger: SidecarLogger,
  io: CliIo,
  options: { json?: boolean } = {},
): CommandContext {
  return {
    loaded,
    logger,
    io,
    json: options.json === true,
    out: (line = '') => {
      io.stdout.write(`${line}\n`);
    },
    outJson: (value) => {
      io.stdout.write(`${toJson(value)}\n`);
    },
    outLine: (value) => {
      io.stdout.write(`${toJson(value, 0)}\n`);
    },
    connection: () => connectionString(loaded, io.env),
  };
}

/** JSON text of a command's result: indented, bigints as strings. */
export function toJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent);
}

function flatMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return [...new Set(error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))))].join(
      '; ',
    );
  }
  return error instanceof Error ? error.message || error.name : String(error);
}

/** Whether an error means "could not reach or log in to the database". */
export function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ENOTFOUND, ETIMEDOUT…
  if (code === '28P01' || code === '28000' || code === '3D000') return true; // auth, no such database
  if (error instanceof AggregateError) return true;
  return isConnectionError(error) || /timeout expired|Connection terminated/i.test(flatMessage(error));
}

/** Wraps a failure to reach the database as `PGT_CONNECTION`; other errors pass through. */
export function asConnectionError(error: unknown, url: string): unknown {
  if (!isUnreachable(error)) return error;
  return new SidecarError('PGT_CONNECTION', `Cannot connect to ${redactUrl(url)}: ${flatMessage(error)}.`, {
    cause: error,
  });
}

/** Connects to the configured database (a small pool, `application_name` pgtrickle cli). */
export async function openTrickle(ctx: CommandContext): Promise<Trickle> {
  const url = ctx.connection();
  try {
    return await connect({
      poolConfig: {
        connectionString: url,
        application_name: 'pgtrickle cli',
        connectionTimeoutMillis: 15_000,
        max: 4,
      },
      autoFullRatio: ctx.loaded.config.refresh.autoFullRatio,
    });
  } catch (error) {
    throw asConnectionError(error, url);
  }
}

/** Runs `work` with a connected client, closed afterwards. */
export async function withTrickle<T>(
  ctx: CommandContext,
  work: (trickle: Trickle) => Promise<T>,
): Promise<T> {
  const trickle = await openTrickle(ctx);
  try {
    return await work(trickle);
  } finally {
    await trickle.close().catch(() => undefined);
  }
}

/** The default stop signal: aborts on the first SIGINT or SIGTERM (and stays subscribed until then). */
export function processStopSignal(onSecond?: (signal: NodeJS.Signals) => void): AbortSignal {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) controller.abort(signal);
    else onSecond?.(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return controller.signal;
}

/** Resolves when `signal` aborts. */
export function untilAborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true }),
  );
}
