/**
 * Time watermarks. Rule: a time watermark is a valid `Date` ("the source is complete through this
 * instant"); the distance between two is the difference in milliseconds, so tolerances are
 * milliseconds. A tolerance may also be written as a `Duration` (`{ minutes: 5 }`) and is
 * converted by `durationMilliseconds`, where calendar units have fixed average lengths (a month
 * is 30.436875 days, a year 365.2425 days): prefer weeks, days, hours, minutes and seconds. Dates are
 * stored as ISO-8601 text, read back by `parseIsoInstant` (an explicit offset is required, so
 * reading never depends on the process's time zone).
 */
import {
  DURATION_UNITS,
  type Duration,
  durationMilliseconds,
  formatDuration,
  parseIsoInstant,
} from './duration.js';
import { InvalidWatermarkValueError } from './errors.js';
import { compareNatural, defineOrdering, type Ordering } from './ordering.js';

/** A time tolerance: milliseconds, or a Duration such as `{ minutes: 5 }`. */
export type TimeTolerance = number | Duration;

/** Converts a tolerance (ms or a Duration) to milliseconds; throws for negative, NaN or unknown units. */
export function toMilliseconds(tolerance: TimeTolerance): number {
  if (typeof tolerance === 'number') {
    if (Number.isNaN(tolerance) || tolerance < 0) {
      throw new InvalidWatermarkValueError('time tolerance', tolerance, 'milliseconds ≥ 0 or a Duration');
    }
    return tolerance;
  }
  if (tolerance === null || typeof tolerance !== 'object' || Array.isArray(tolerance)) {
    throw new InvalidWatermarkValueError(
      'time tolerance',
      tolerance,
      'milliseconds ≥ 0 or a Duration such as { minutes: 5 }',
    );
  }
  for (const [unit, amount] of Object.entries(tolerance)) {
    if (!(DURATION_UNITS as readonly string[]).includes(unit)) {
      throw new InvalidWatermarkValueError(
        'time tolerance',
        tolerance,
        `a Duration with units ${DURATION_UNITS.join(', ')} ("${unit}" is not one; ` +
          'give sub-second tolerances as a number of milliseconds)',
      );
    }
    if (amount !== undefined && (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)) {
      throw new InvalidWatermarkValueError(
        'time tolerance',
        tolerance,
        `a Duration whose amounts are finite numbers ≥ 0 ("${unit}" is ${String(amount)})`,
      );
    }
  }
  return durationMilliseconds(tolerance);
}

const MS_PER = { days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1000 } as const;

/** A millisecond distance as text: "600000 ms (10 minutes)"; below one second just "250 ms". */
export function formatMilliseconds(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) < 1000) return `${ms} ms`;
  let rest = Math.abs(ms);
  const parts: Duration = {};
  for (const unit of ['days', 'hours', 'minutes'] as const) {
    const n = Math.floor(rest / MS_PER[unit]);
    if (n > 0) parts[unit] = n;
    rest -= n * MS_PER[unit];
  }
  if (rest > 0) parts.seconds = rest / 1000;
  return `${ms} ms (${ms < 0 ? '-' : ''}${formatDuration(parts)})`;
}

const ZONED = /T.*(Z|[+-]\d{2}(:?\d{2})?)$/;

function isDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/** `Date` watermarks; distance and tolerance in milliseconds; stored as ISO-8601 text. */
export const timeOrdering: Ordering<Date, number> = defineOrdering<Date, number>({
  name: 'time',
  compare: (a, b) => compareNatural(a.getTime(), b.getTime()),
  distance: (from, to) => to.getTime() - from.getTime(),
  compareDistance: compareNatural,
  zero: 0,
  isValue: isDate,
  // a tolerance may be Infinity ("any spread is aligned"), never NaN
  isDistance: (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v),
  formatValue: (d) => d.toISOString(),
  formatDistance: formatMilliseconds,
  copy: (d) => new Date(d.getTime()),
  encode: (d) => d.toISOString(),
  decode: (json) => {
    // an explicit offset is required: text without one would be read in the process's time zone
    const date = typeof json === 'string' && ZONED.test(json) ? parseIsoInstant(json) : null;
    if (date !== null && isDate(date)) return date;
    throw new InvalidWatermarkValueError(
      'decoding a "time" watermark',
      json,
      'ISO-8601 text with a time zone offset, such as "2024-01-01T12:00:00.000Z"',
    );
  },
});
