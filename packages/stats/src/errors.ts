/**
 * Errors of @pgtrickle/stats. Rule: a bad argument (NaN where a number is needed, a negative
 * sensitivity, a window of size 0, …) or a malformed persisted snapshot throws one of these
 * classes, each with a stable `code` and a message saying what was wrong and what to pass instead.
 * Nothing is thrown for valid input, and no NaN is ever returned instead of an error.
 */

/** Stable error codes used by this package. */
export type StatsErrorCode = 'PGT_STATS_INVALID' | 'PGT_STATS_SNAPSHOT';

/** Base class of every error thrown by @pgtrickle/stats. */
export class StatsError extends Error {
  /** Stable machine-readable code. */
  readonly code: StatsErrorCode;

  /** An error with a stable `code` and a message saying what to do. */
  constructor(code: StatsErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An argument is out of its domain (`PGT_STATS_INVALID`); `argument` names it. */
export class InvalidStatsInputError extends StatsError {
  /** The offending parameter, e.g. "value" or "policy.sensitivity". */
  readonly argument: string;
  /** The value that was passed. */
  readonly value: unknown;

  /** `argument` got `value`; `expected` says what would be accepted. */
  constructor(argument: string, value: unknown, expected: string) {
    super('PGT_STATS_INVALID', `${argument} must be ${expected}, got ${describe(value)}`);
    this.argument = argument;
    this.value = value;
  }
}

/** A persisted snapshot given to `fromJSON` is malformed (`PGT_STATS_SNAPSHOT`). */
export class InvalidSnapshotError extends StatsError {
  /** The snapshot kind that was expected, e.g. "welford". */
  readonly kind: string;

  /** A `kind` snapshot failed validation because of `problem`. */
  constructor(kind: string, problem: string) {
    super(
      'PGT_STATS_SNAPSHOT',
      `invalid ${kind} snapshot: ${problem}. Pass the object produced by toJSON() ` +
        '(parsed back from JSON as is), or start a new accumulator if the stored one is corrupt.',
    );
    this.kind = kind;
  }
}

/** A short, safe rendering of a bad value for an error message. */
function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

/** Throws unless `x` is a number other than NaN (±Infinity allowed). */
export function requireNotNaN(argument: string, x: unknown): asserts x is number {
  if (typeof x !== 'number' || Number.isNaN(x))
    throw new InvalidStatsInputError(argument, x, 'a number (not NaN)');
}

/** Throws unless `x` is a finite number. */
export function requireFinite(argument: string, x: unknown): asserts x is number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new InvalidStatsInputError(argument, x, 'a finite number (not NaN or ±Infinity)');
  }
}
