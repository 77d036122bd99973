/**
 * Schedule specifications. Rule: a stream table has an explicit interval (a positive number of
 * milliseconds), a cron expression, or `null` = CALCULATED (inherit from consumers, see
 * `calculated.ts`). This module only validates and builds specs; it never reads a clock.
 */
import { InvalidArgumentError } from './errors.js';

/** A fixed refresh period in milliseconds. */
export interface IntervalSchedule {
  readonly kind: 'interval';
  /** Period in milliseconds; finite and > 0. */
  readonly ms: number;
}

/** A cron schedule; the expression is kept verbatim (parsing and firing belong to the scheduler). */
export interface CronSchedule {
  readonly kind: 'cron';
  /** The cron expression, e.g. "*\/5 * * * *" or "@hourly". */
  readonly expression: string;
}

/** An explicit schedule; `null` where a schedule is accepted means CALCULATED. */
export type ScheduleSpec = IntervalSchedule | CronSchedule;

/** Builds an interval schedule of `ms` milliseconds. */
export function intervalSchedule(ms: number): IntervalSchedule {
  const spec: IntervalSchedule = { kind: 'interval', ms };
  validateSchedule(spec);
  return spec;
}

/** Builds a cron schedule from an expression. */
export function cronSchedule(expression: string): CronSchedule {
  const spec: CronSchedule = { kind: 'cron', expression };
  validateSchedule(spec);
  return spec;
}

/** Throws InvalidArgumentError unless `spec` is null or a well-formed ScheduleSpec. */
export function validateSchedule(spec: ScheduleSpec | null, owner?: string): void {
  if (spec === null) return;
  const where = owner ? ` of "${owner}"` : '';
  if (spec.kind === 'interval') {
    if (typeof spec.ms !== 'number' || !Number.isFinite(spec.ms) || spec.ms < 0) {
      throw new InvalidArgumentError(
        `interval schedule${where} must be a finite number of milliseconds ≥ 0 (0: as soon as possible), got ${String(spec.ms)}. ` +
          'Pass e.g. { kind: "interval", ms: 1000 }, or null for CALCULATED.',
      );
    }
    return;
  }
  if (spec.kind === 'cron') {
    if (typeof spec.expression !== 'string' || spec.expression.trim() === '') {
      throw new InvalidArgumentError(
        `cron schedule${where} needs a non-empty expression. Pass e.g. { kind: "cron", expression: "@hourly" }.`,
      );
    }
    return;
  }
  throw new InvalidArgumentError(
    `unknown schedule kind${where}: ${JSON.stringify((spec as { kind?: unknown }).kind)}. ` +
      'Use "interval", "cron", or null for CALCULATED.',
  );
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a schedule as users write it: a duration (`30s`, `5m`, `1h30m`, `250ms`, units ms/s/m/h/d/w,
 * a bare number = seconds), a cron expression (5 or 6 fields, or `@hourly` / `@daily` / `@weekly` /
 * `@monthly` / `@yearly`), or `calculated` / empty = CALCULATED (null). Throws InvalidArgumentError
 * with the accepted forms otherwise.
 */
export function parseSchedule(text: string | null | undefined): ScheduleSpec | null {
  const t = (text ?? '').trim();
  if (t === '' || t.toLowerCase() === 'calculated') return null;
  if (t.startsWith('@') || /\s/.test(t)) {
    const fields = t.split(/\s+/);
    const macro =
      t.startsWith('@') &&
      ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'].includes(
        t.toLowerCase(),
      );
    if (!macro && (t.startsWith('@') || fields.length < 5 || fields.length > 6)) {
      throw new InvalidArgumentError(
        `"${t}" is not a cron expression: use 5 or 6 fields (e.g. "*/5 * * * *") or @hourly, @daily, @weekly, @monthly, @yearly.`,
      );
    }
    return cronSchedule(t);
  }
  if (/^\d+(\.\d+)?$/.test(t)) return intervalSchedule(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  if (consumed !== t.length || consumed === 0) {
    throw new InvalidArgumentError(
      `"${t}" is not a schedule: use a duration such as "30s", "5m", "1h30m" (units ms, s, m, h, d, w), a cron expression, or "calculated".`,
    );
  }
  return intervalSchedule(total);
}

/** The text form of a schedule (inverse of {@link parseSchedule} up to formatting); null → "calculated". */
export function formatSchedule(spec: ScheduleSpec | null): string {
  if (spec === null) return 'calculated';
  if (spec.kind === 'cron') return spec.expression;
  if (spec.ms === 0) return '0s';
  let ms = spec.ms;
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size) {
      parts.push(`${Math.floor(ms / size)}${unit}`);
      ms %= size;
    }
  }
  if (ms > 0 || parts.length === 0) parts.push(`${ms}ms`);
  return parts.join('');
}
