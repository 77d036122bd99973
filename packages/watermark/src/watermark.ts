/**
 * Monotonic watermarks. Rule: a source's watermark ("the source is complete through W") only
 * moves forward. Advancing to a later value moves it; to an equal value is a no-op that says nothing
 * changed; to an earlier value throws `WatermarkRegressionError` and leaves the watermark as it
 * was. A `Watermark` is an immutable value (advancing returns a new one), holds a private copy of
 * its value, and round-trips through JSON (`toJSON` / `Watermark.fromJSON`) tagged with its
 * ordering's name, for storage in a catalog table.
 */
import { describeValue, InvalidWatermarkValueError, WatermarkRegressionError } from './errors.js';
import type { Ordering, WatermarkJsonValue } from './ordering.js';

/** The result of advancing a raw watermark value (`advanceWatermark`). */
export interface AdvanceResult<T, D> {
  /** Whether the watermark moved (false for an equal value). */
  readonly changed: boolean;
  /** The watermark after the advance (the current value when nothing changed). */
  readonly value: T;
  /** The watermark before (undefined when the source had none). */
  readonly previous: T | undefined;
  /** How far it moved (`zero` when unchanged; undefined for a first watermark). */
  readonly by: D | undefined;
}

/**
 * Returns `value` if the ordering accepts it as a watermark value, else throws
 * `InvalidWatermarkValueError`; `subject` names it in the message (e.g. 'watermark of source "clicks"').
 */
export function assertWatermarkValue<T, D>(value: unknown, ordering: Ordering<T, D>, subject: string): T {
  if (!ordering.isValue(value)) {
    throw new InvalidWatermarkValueError(
      subject,
      value,
      `a "${ordering.name}" value (e.g. a valid Date for time watermarks, a finite number, a bigint)`,
    );
  }
  return value;
}

/**
 * Advances a source's watermark from `current` (undefined = none yet) to `next`: later moves it,
 * equal changes nothing, earlier throws `WatermarkRegressionError`.
 */
export function advanceWatermark<T, D>(
  source: string,
  current: T | undefined,
  next: T,
  ordering: Ordering<T, D>,
): AdvanceResult<T, D> {
  assertWatermarkValue(next, ordering, `new watermark of source "${source}"`);
  if (current === undefined) return { changed: true, value: next, previous: undefined, by: undefined };
  assertWatermarkValue(current, ordering, `current watermark of source "${source}"`);
  const c = ordering.compare(next, current);
  if (c > 0) return { changed: true, value: next, previous: current, by: ordering.distance(current, next) };
  if (c === 0) return { changed: false, value: current, previous: current, by: ordering.zero };
  throw new WatermarkRegressionError(source, current, next, {
    current: ordering.formatValue(current),
    attempted: ordering.formatValue(next),
    distance: ordering.formatDistance(ordering.distance(next, current)),
  });
}

/** How far `watermark` is behind `reference` (`zero` when it is at or past it). */
export function lag<T, D>(watermark: T, reference: T, ordering: Ordering<T, D>): D {
  assertWatermarkValue(watermark, ordering, 'lag: the watermark');
  assertWatermarkValue(reference, ordering, 'lag: the reference');
  return ordering.compare(watermark, reference) < 0 ? ordering.distance(watermark, reference) : ordering.zero;
}

/** The stored form of a `Watermark`. */
export interface WatermarkJson {
  /** Source id. */
  readonly source: string;
  /** The ordering's name, e.g. 'time', 'number', 'bigint'. */
  readonly kind: string;
  /** The value as the ordering encodes it (time: ISO text, bigint: decimal text, number: number). */
  readonly value: WatermarkJsonValue;
}

/** The result of `Watermark.advance`: a new watermark and whether it moved. */
export type WatermarkAdvance<T, D> =
  | {
      /** The watermark moved forward. */
      readonly changed: true;
      /** The advanced watermark. */
      readonly watermark: Watermark<T, D>;
      /** The value before. */
      readonly previous: T;
      /** How far it moved. */
      readonly by: D;
    }
  | {
      /** The value was equal: nothing changed. */
      readonly changed: false;
      /** The same watermark. */
      readonly watermark: Watermark<T, D>;
    };

/** One source's watermark: an immutable value that only moves forward. */
export class Watermark<T, D = unknown> {
  /** The source this watermark belongs to. */
  readonly source: string;
  /** How its values compare and are measured. */
  readonly ordering: Ordering<T, D>;
  readonly #value: T;

  private constructor(source: string, value: T, ordering: Ordering<T, D>) {
    this.source = source;
    this.ordering = ordering;
    this.#value = ordering.copy(value);
    Object.freeze(this);
  }

  /** A source's first (or re-set) watermark; throws for an empty source id or an invalid value. */
  static of<T, D>(source: string, value: T, ordering: Ordering<T, D>): Watermark<T, D> {
    if (typeof source !== 'string' || source === '') {
      throw new InvalidWatermarkValueError('watermark source', source, 'a non-empty source id');
    }
    return new Watermark(
      source,
      assertWatermarkValue(value, ordering, `watermark of source "${source}"`),
      ordering,
    );
  }

  /** Reads a stored watermark back with the ordering it was written with (its `kind` must match). */
  static fromJSON<T, D>(json: unknown, ordering: Ordering<T, D>): Watermark<T, D> {
    if (json === null || typeof json !== 'object') {
      throw new InvalidWatermarkValueError('stored watermark', json, 'an object { source, kind, value }');
    }
    const { source, kind, value } = json as { source?: unknown; kind?: unknown; value?: unknown };
    if (typeof source !== 'string' || source === '') {
      throw new InvalidWatermarkValueError('stored watermark', json, 'a non-empty "source" id');
    }
    if (kind !== ordering.name) {
      throw new InvalidWatermarkValueError(
        `stored watermark of source "${source}"`,
        json,
        `kind "${ordering.name}" (it is ${describeValue(kind)}: read it with the ordering it was written with)`,
      );
    }
    return Watermark.of(source, ordering.decode(value), ordering);
  }

  /** The current value (a copy: mutating it does not move the watermark). */
  get value(): T {
    return this.ordering.copy(this.#value);
  }

  /** Advances to `next`: later → a new watermark; equal → this one, unchanged; earlier → `WatermarkRegressionError`. */
  advance(next: T): WatermarkAdvance<T, D> {
    const r = advanceWatermark(this.source, this.#value, next, this.ordering);
    if (!r.changed) return { changed: false, watermark: this };
    return {
      changed: true,
      watermark: new Watermark(this.source, r.value, this.ordering),
      previous: this.ordering.copy(this.#value),
      by: r.by as D,
    };
  }

  /** Negative, zero or positive as this watermark is before, at or after `value`. */
  compareTo(value: T): number {
    return this.ordering.compare(
      this.#value,
      assertWatermarkValue(value, this.ordering, 'compareTo: the value'),
    );
  }

  /** How far this watermark is behind `reference` (`zero` when at or past it). */
  lag(reference: T): D {
    return lag(this.#value, reference, this.ordering);
  }

  /** The stored form `{ source, kind, value }` (JSON.stringify uses it). */
  toJSON(): WatermarkJson {
    return { source: this.source, kind: this.ordering.name, value: this.ordering.encode(this.#value) };
  }

  /** `source@value`, e.g. `clicks@2024-01-01T12:00:00.000Z`. */
  toString(): string {
    return `${this.source}@${this.ordering.formatValue(this.#value)}`;
  }
}
