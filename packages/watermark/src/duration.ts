/**
 * Durations and ISO-8601 instants, without a date library. Rules:
 * - a `Duration` (`{ hours: 1, minutes: 30 }`) converts to milliseconds with fixed unit lengths:
 *   a week is 7 days, a day 24 hours, and the calendar units average lengths (a year is
 *   365.2425 days, a month a twelfth of that, 30.436875 days), truncated to whole milliseconds;
 * - a duration is written in English with its non-zero units, largest first
 *   ("1 day 1 hour 30 seconds", "1.5 seconds");
 * - an instant is read only from extended ISO-8601 with an explicit offset
 *   (`2024-01-01T12:00:00Z`, `…T12:00:00.250+01:00`, `…T12:00+0100`, `…T12:00:00-05`; a year
 *   outside 0000–9999 as six digits with a sign, `+010000-…`, as `toISOString` writes it), checked
 *   field by field, so reading never depends on the process's time zone; anything else is null.
 */

/** A length of time in calendar and clock units, e.g. `{ minutes: 5 }`. */
export interface Duration {
  years?: number;
  months?: number;
  weeks?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
}

/** The units of a {@link Duration}, largest first. */
export const DURATION_UNITS = ['years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds'] as const;

const DAYS_IN_YEAR = 365.2425;
const SECONDS_PER: Record<(typeof DURATION_UNITS)[number], number> = {
  years: DAYS_IN_YEAR * 86_400,
  months: (DAYS_IN_YEAR / 12) * 86_400,
  weeks: 7 * 86_400,
  days: 86_400,
  hours: 3600,
  minutes: 60,
  seconds: 1,
};

/** A duration's length in milliseconds (calendar units at their average lengths). */
export function durationMilliseconds(duration: Duration): number {
  let days = 0;
  for (const unit of ['years', 'months', 'weeks', 'days'] as const) {
    days += (duration[unit] ?? 0) * (SECONDS_PER[unit] / 86_400);
  }
  let seconds = days * 86_400;
  for (const unit of ['hours', 'minutes', 'seconds'] as const)
    seconds += (duration[unit] ?? 0) * SECONDS_PER[unit];
  return Math.trunc(seconds * 1000);
}

/** A duration in English: its non-zero units, largest first ("1 minute 30 seconds"); "" when all are zero. */
export function formatDuration(duration: Duration): string {
  const parts: string[] = [];
  for (const unit of DURATION_UNITS) {
    const n = duration[unit];
    if (n === undefined || n === 0) continue;
    parts.push(`${n} ${n === 1 ? unit.slice(0, -1) : unit}`);
  }
  return parts.join(' ');
}

const ISO_INSTANT =
  /^(\d{4}|[+-]\d{6})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-](\d{2})(?::?(\d{2}))?)$/;

/** Reads extended ISO-8601 text with an explicit offset as a `Date`; null for anything else. */
export function parseIsoInstant(text: string): Date | null {
  const m = ISO_INSTANT.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Math.trunc(Number(`0.${m[7]}`) * 1000);
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  const valid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    (hour <= 23 || (hour === 24 && minute === 0 && second === 0 && ms === 0)) &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59;
  if (!valid) return null;
  const sign = m[8]?.startsWith('-') ? -1 : 1;
  const offsetMs = m[8] === 'Z' ? 0 : sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC maps years 0–99 to 1900–1999; set the year explicitly.
  const date = new Date(utc);
  if (year >= 0 && year < 100) date.setUTCFullYear(year);
  const instant = new Date(date.getTime() - offsetMs);
  return Number.isNaN(instant.getTime()) ? null : instant;
}
