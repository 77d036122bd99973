/**
 * Structured logs through pino, on stderr. Rule: every line is one event with a stable name
 * (`refreshed`, `leadership-acquired`, …) and fields; JSON lines when stderr is not a terminal
 * (or `log.format = "json"`), one human-readable line per event on a terminal (`pretty`). Writes
 * are synchronous so nothing is lost when the process exits. The logger is also the scheduler's
 * and the service's `SchedulerLogger`.
 */
import type { SchedulerLogger } from '@pgtrickle/scheduler';
import pino from 'pino';
import type { LogFormat, LogLevel } from './config.js';

/** Something lines can be written to (a stream, or a test's collector). */
export interface LineSink {
  write(chunk: string): unknown;
  /** Whether the sink is a terminal. */
  readonly isTTY?: boolean;
}

/** The sidecar's logger: events with fields, usable as the scheduler's logger. */
export interface SidecarLogger extends SchedulerLogger {
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): SidecarLogger;
  /** Whether `level` is enabled. */
  enabled(level: LogLevel): boolean;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go (default: process.stderr). */
  readonly sink?: LineSink;
  /** Colors in pretty lines (default: when the sink is a terminal and NO_COLOR is unset). */
  readonly color?: boolean;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '36', 40: '33', 50: '31', 60: '35' };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'event']);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** One pino JSON line as a human-readable line: `12:00:01.234 INFO  refreshed table=… rows=3`. */
export function prettyLine(json: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const event = String(entry.event ?? entry.msg ?? '');
  const fields = Object.entries(entry)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const paint = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  return `${paint('90', time)} ${paint(LEVEL_COLORS[level] ?? '0', name)} ${color ? `\u001b[1m${event}\u001b[0m` : event}${
    fields ? ` ${fields}` : ''
  }\n`;
}

function serializeFields(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (fields === undefined) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) {
      const code = (v as { code?: unknown }).code;
      out[k] = typeof code === 'string' ? `${code}: ${v.message}` : v.message;
    } else out[k] = v;
  }
  return out;
}

function wrap(logger: pino.Logger): SidecarLogger {
  const at =
    (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') =>
    (event: string, fields?: Record<string, unknown>): void => {
      if (!logger.isLevelEnabled(level)) return;
      logger[level]({ event, ...serializeFields(fields) });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => wrap(logger.child(bindings)),
    enabled: (level) => level !== 'silent' && logger.isLevelEnabled(level),
  };
}

/** Creates the sidecar's logger. */
export function createLogger(options: LoggerOptions): SidecarLogger {
  const sink: LineSink = options.sink ?? process.stderr;
  const pretty = options.format === 'pretty' || (options.format === 'auto' && sink.isTTY === true);
  const color = options.color ?? (sink.isTTY === true && process.env.NO_COLOR === undefined);
  const destination = {
    write(line: string): void {
      sink.write(pretty ? prettyLine(line, color) : line);
    },
  };
  const logger = pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (_label, number) => ({ level: number }) },
    },
    destination,
  );
  return wrap(logger);
}

/** A logger that drops everything. */
export const nullLogger: SidecarLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => nullLogger,
  enabled: () => false,
};
