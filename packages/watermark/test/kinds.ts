/**
 * Test helpers: the three built-in value kinds (Date, number, bigint) with fast-check arbitraries
 * and an independent numeric model (`key`) that the properties compare the orderings against.
 */
import fc from 'fast-check';
import { bigintOrdering, numberOrdering, type Ordering, timeOrdering } from '../src/index.js';

/** Property runs; raise with FC_RUNS for a longer soak. */
export const runs = { numRuns: Number(process.env.FC_RUNS ?? 300) };

/** A value kind under test: its ordering, value and tolerance arbitraries, and a model key. */
export interface Kind<T, D> {
  readonly name: string;
  readonly ordering: Ordering<T, D>;
  /** Values, drawn from a small pool often so that ties and equal advances occur. */
  readonly value: fc.Arbitrary<T>;
  /** Tolerances ≥ zero. */
  readonly tolerance: fc.Arbitrary<D>;
  /** The model: a plain number or bigint with the same order and differences. */
  readonly key: (value: T) => number | bigint;
  /** The model's difference of two keys, compared with a tolerance by `<=`. */
  readonly within: (spread: number | bigint, tolerance: D) => boolean;
}

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);

export const timeKind: Kind<Date, number> = {
  name: 'Date',
  ordering: timeOrdering,
  value: fc.oneof(
    fc.integer({ min: 0, max: 20 }).map((i) => new Date(T0 + i * 30_000)),
    fc.date({ noInvalidDate: true }),
  ),
  tolerance: fc.oneof(
    fc.integer({ min: 0, max: 10 }).map((i) => i * 30_000),
    fc.nat(),
  ),
  key: (d) => d.getTime(),
  within: (spread, tolerance) => Number(spread) <= tolerance,
};

export const numberKind: Kind<number, number> = {
  name: 'number',
  ordering: numberOrdering,
  value: fc.oneof(
    fc.integer({ min: -5, max: 5 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }),
  ),
  tolerance: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.double({ noNaN: true, min: 0, max: 1e12 })),
  key: (n) => n + 0, // -0 and 0 are the same watermark
  within: (spread, tolerance) => Number(spread) <= tolerance,
};

export const bigintKind: Kind<bigint, bigint> = {
  name: 'bigint',
  ordering: bigintOrdering,
  value: fc.oneof(fc.bigInt({ min: 0n, max: 8n }), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })),
  tolerance: fc.oneof(fc.bigInt({ min: 0n, max: 8n }), fc.bigInt({ min: 0n, max: 2n ** 71n })),
  key: (b) => b,
  within: (spread, tolerance) => BigInt(spread) <= tolerance,
};

/** Unique source ids (short strings, so that ties in names and in values both occur). */
export const sourceIds = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), {
  minLength: 1,
  maxLength: 8,
});
