/**
 * Errors of @pgtrickle/watermark. Rule: every error is a `WatermarkError` subclass with a stable
 * `code` and a message saying what happened and what to do. A watermark moved backwards is
 * `WatermarkRegressionError` (PGT_WATERMARK_REGRESSION); malformed input — a bad group
 * definition, a value the ordering does not accept, unreadable JSON — is PGT_INVALID_ARGUMENT.
 */

/** Stable error codes used by this package. */
export type WatermarkErrorCode = 'PGT_WATERMARK_REGRESSION' | 'PGT_INVALID_ARGUMENT';

/** Base class of every error thrown by @pgtrickle/watermark. */
export class WatermarkError extends Error {
  /** Stable machine-readable code. */
  readonly code: WatermarkErrorCode;

  /** An error with a stable code and a message saying what to do. */
  constructor(code: WatermarkErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An advance would move a source's watermark backwards; the watermark is left unchanged. */
export class WatermarkRegressionError<T = unknown> extends WatermarkError {
  /** The source whose watermark was to be advanced. */
  readonly source: string;
  /** Its current watermark. */
  readonly current: T;
  /** The earlier value that was rejected. */
  readonly attempted: T;

  /** `text` holds the two values and their distance as the ordering prints them. */
  constructor(
    source: string,
    current: T,
    attempted: T,
    text: { readonly current: string; readonly attempted: string; readonly distance: string },
  ) {
    super(
      'PGT_WATERMARK_REGRESSION',
      `watermark of source "${source}" cannot move back from ${text.current} to ${text.attempted} ` +
        `(${text.distance} earlier): a watermark declares the source complete up to that point, so it only ` +
        `moves forward. Advance it to ${text.current} or later; to deliberately move it back (older data was ` +
        `reloaded), reset the watermark of "${source}" and reinitialize the stream tables that read it.`,
    );
    this.source = source;
    this.current = current;
    this.attempted = attempted;
  }
}

/** A watermark group definition is malformed; `problems` lists each mistake. */
export class InvalidWatermarkGroupError extends WatermarkError {
  /** The group's name as given (may itself be the problem). */
  readonly group: string;
  /** One sentence per problem. */
  readonly problems: readonly string[];

  /** An error listing every problem of one group definition. */
  constructor(group: string, problems: readonly string[]) {
    super(
      'PGT_INVALID_ARGUMENT',
      `invalid watermark group ${JSON.stringify(group)}: ${problems.join('; ')}. ` +
        'A group needs a non-empty name, at least one source, no source twice, and a tolerance of zero or more.',
    );
    this.group = group;
    this.problems = problems;
  }
}

/** A value, tolerance or stored JSON form is not acceptable to the ordering in use. */
export class InvalidWatermarkValueError extends WatermarkError {
  /** What was being read, e.g. 'watermark of source "clicks"' or 'tolerance'. */
  readonly subject: string;
  /** The rejected value. */
  readonly value: unknown;

  /** `expected` says what would have been accepted. */
  constructor(subject: string, value: unknown, expected: string) {
    super('PGT_INVALID_ARGUMENT', `${subject}: ${describeValue(value)} is not valid; expected ${expected}.`);
    this.subject = subject;
    this.value = value;
  }
}

/** A short, safe description of any value for messages. */
export function describeValue(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
