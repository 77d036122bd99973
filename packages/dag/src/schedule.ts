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
    if (typeof spec.ms !== 'number' || !Number.isFinite(spec.ms) || spec.ms <= 0) {
      throw new InvalidArgumentError(
        `interval schedule${where} must be a finite number of milliseconds > 0, got ${String(spec.ms)}. ` +
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
