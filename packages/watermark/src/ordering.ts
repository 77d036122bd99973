/**
 * Orderings: how watermark values compare and how far apart they are. Rule: an `Ordering<T, D>`
 * is a total order on values of type T (`compare`) plus a distance of type D between an earlier and
 * a later value (`distance(from, to)`, never below `zero` when from ≤ to) with its own order
 * (`compareDistance`). Everything else in the package — monotonic advance, alignment within a
 * tolerance, lag — is written against this interface, so it works for any ordered value: times,
 * numbers, bigints (sequence numbers), pg_lsn text, or your own type via `defineOrdering`. An
 * ordering also validates runtime values (`isValue` rejects e.g. NaN), prints them for messages
 * and encodes them to JSON for storage.
 */
import { InvalidWatermarkValueError } from './errors.js';

/** A value's JSON form as stored in a catalog: text or a finite number. */
export type WatermarkJsonValue = string | number;

/** How watermark values of type T compare, and how their distance (type D) is measured and printed. */
export interface Ordering<T, D> {
  /** Short name of the value kind ('time', 'number', 'bigint', 'lsn', …): used in messages and as the JSON tag. */
  readonly name: string;
  /** Negative if a < b, zero if they are equal, positive if a > b; must be a total order. */
  compare(a: T, b: T): number;
  /** How far `to` is ahead of `from`; called with from ≤ to, the result is ≥ `zero`. */
  distance(from: T, to: T): D;
  /** Compares two distances like `compare`. */
  compareDistance(a: D, b: D): number;
  /** The distance between two equal values. */
  readonly zero: D;
  /** Whether a runtime value is a usable watermark value (rejects e.g. Invalid Date, NaN). */
  isValue(value: unknown): value is T;
  /** Whether a runtime value is a usable distance (rejects e.g. NaN). */
  isDistance(value: unknown): value is D;
  /** A value as text, for messages. */
  formatValue(value: T): string;
  /** A distance as text, for messages. */
  formatDistance(distance: D): string;
  /** A copy that is safe to keep (Dates are mutable); the value itself for immutable types. */
  copy(value: T): T;
  /** The value's JSON form for storage (`decode` reads it back). */
  encode(value: T): WatermarkJsonValue;
  /** Reads a stored JSON form back; throws `InvalidWatermarkValueError` for anything else. */
  decode(json: unknown): T;
}

/** What `defineOrdering` needs: the order and the distance; everything else has a default. */
export interface OrderingSpec<T, D> {
  /** Short name of the value kind, used in messages and as the JSON tag. */
  readonly name: string;
  /** Total order on values: negative, zero or positive. */
  readonly compare: (a: T, b: T) => number;
  /** How far `to` is ahead of `from` (from ≤ to). */
  readonly distance: (from: T, to: T) => D;
  /** Order on distances: negative, zero or positive. */
  readonly compareDistance: (a: D, b: D) => number;
  /** The distance between equal values. */
  readonly zero: D;
  /** Runtime check of a value (default: anything but null and undefined). */
  readonly isValue?: (value: unknown) => value is T;
  /** Runtime check of a distance (default: anything but null and undefined). */
  readonly isDistance?: (value: unknown) => value is D;
  /** Prints a value (default `String`). */
  readonly formatValue?: (value: T) => string;
  /** Prints a distance (default `String`). */
  readonly formatDistance?: (distance: D) => string;
  /** Copies a mutable value (default: the value itself). */
  readonly copy?: (value: T) => T;
  /** JSON form of a value (default: strings and finite numbers as they are, anything else is refused). */
  readonly encode?: (value: T) => WatermarkJsonValue;
  /** Reads a JSON form back (default: accepted if `isValue` accepts it as it is). */
  readonly decode?: (json: unknown) => T;
}

function present(value: unknown): boolean {
  return value !== null && value !== undefined;
}

/** Builds a complete `Ordering` for any ordered value type from its comparator and distance. */
export function defineOrdering<T, D>(spec: OrderingSpec<T, D>): Ordering<T, D> {
  const isValue = spec.isValue ?? ((v: unknown): v is T => present(v));
  const formatValue = spec.formatValue ?? String;
  const name = spec.name;
  return Object.freeze({
    name,
    compare: spec.compare,
    distance: spec.distance,
    compareDistance: spec.compareDistance,
    zero: spec.zero,
    isValue,
    isDistance: spec.isDistance ?? ((v: unknown): v is D => present(v)),
    formatValue,
    formatDistance: spec.formatDistance ?? String,
    copy: spec.copy ?? ((v: T) => v),
    encode:
      spec.encode ??
      ((v: T): WatermarkJsonValue => {
        if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
        throw new InvalidWatermarkValueError(
          `encoding a "${name}" watermark`,
          v,
          'a string or a finite number (give the ordering an `encode` function for other value types)',
        );
      }),
    decode:
      spec.decode ??
      ((json: unknown): T => {
        if (isValue(json)) return json;
        throw new InvalidWatermarkValueError(`decoding a "${name}" watermark`, json, `a "${name}" value`);
      }),
  });
}

/** Three-way comparison of two numbers or two bigints. */
export function compareNatural<V extends number | bigint | string>(a: V, b: V): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Finite numbers (sequence numbers, epoch seconds, versions); distance = difference. NaN and ±Infinity are refused as values. */
export const numberOrdering: Ordering<number, number> = defineOrdering<number, number>({
  name: 'number',
  compare: compareNatural,
  distance: (from, to) => to - from,
  compareDistance: compareNatural,
  zero: 0,
  isValue: isNumber,
  // a tolerance may be Infinity ("any spread is aligned"), never NaN
  isDistance: (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v),
  encode: (v) => v,
  decode: (json) => {
    if (isNumber(json)) return json;
    throw new InvalidWatermarkValueError('decoding a "number" watermark', json, 'a finite JSON number');
  },
});

const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

/** Bigints (LSN positions, sequence numbers beyond 2^53); distance = difference; stored as decimal text. */
export const bigintOrdering: Ordering<bigint, bigint> = defineOrdering<bigint, bigint>({
  name: 'bigint',
  compare: compareNatural,
  distance: (from, to) => to - from,
  compareDistance: compareNatural,
  zero: 0n,
  isValue: (v: unknown): v is bigint => typeof v === 'bigint',
  isDistance: (v: unknown): v is bigint => typeof v === 'bigint',
  formatValue: (v) => v.toString(),
  formatDistance: (d) => d.toString(),
  encode: (v) => v.toString(),
  decode: (json) => {
    if (typeof json === 'string' && DECIMAL.test(json)) return BigInt(json);
    if (typeof json === 'number' && Number.isSafeInteger(json)) return BigInt(json);
    throw new InvalidWatermarkValueError(
      'decoding a "bigint" watermark',
      json,
      'decimal integer text such as "123456789012345678" (or a safe integer number)',
    );
  },
});

/** What `orderingByKey` may override besides the key. */
export interface KeyedOrderingOptions<T, D> {
  /** Runtime check of a value (default: the key function accepts it and the base ordering accepts the key). */
  readonly isValue?: (value: unknown) => value is T;
  /** Prints a value (default `String`). */
  readonly formatValue?: (value: T) => string;
  /** Prints a distance (default: as the base ordering prints it). */
  readonly formatDistance?: (distance: D) => string;
  /** JSON form of a value (default: strings and finite numbers as they are). */
  readonly encode?: (value: T) => WatermarkJsonValue;
  /** Reads a JSON form back (default: accepted if `isValue` accepts it). */
  readonly decode?: (json: unknown) => T;
  /** Copies a mutable value (default: the value itself). */
  readonly copy?: (value: T) => T;
}

/**
 * An ordering of T values by a key of another ordering (e.g. pg_lsn text by its 64-bit position);
 * distances are the base ordering's distances between the keys.
 */
export function orderingByKey<T, K, D>(
  name: string,
  key: (value: T) => K,
  base: Ordering<K, D>,
  options: KeyedOrderingOptions<T, D> = {},
): Ordering<T, D> {
  const isValue =
    options.isValue ??
    ((v: unknown): v is T => {
      if (!present(v)) return false;
      try {
        return base.isValue(key(v as T));
      } catch {
        return false;
      }
    });
  return defineOrdering<T, D>({
    name,
    compare: (a, b) => base.compare(key(a), key(b)),
    distance: (from, to) => base.distance(key(from), key(to)),
    compareDistance: (a, b) => base.compareDistance(a, b),
    zero: base.zero,
    isValue,
    isDistance: (v: unknown): v is D => base.isDistance(v),
    formatValue: options.formatValue ?? String,
    formatDistance: options.formatDistance ?? ((d) => base.formatDistance(d)),
    ...(options.copy ? { copy: options.copy } : {}),
    ...(options.encode ? { encode: options.encode } : {}),
    ...(options.decode ? { decode: options.decode } : {}),
  });
}

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The 64-bit WAL position of pg_lsn text "X/Y"; throws `InvalidWatermarkValueError` for malformed text. */
export function lsnPosition(lsn: string): bigint {
  const m = typeof lsn === 'string' ? LSN.exec(lsn) : null;
  if (!m)
    throw new InvalidWatermarkValueError('pg_lsn', lsn, 'pg_lsn text such as "0/1A2B3C" or "16/B374D848"');
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** pg_lsn text ("16/B374D848") ordered by WAL position, never as strings; distance in WAL bytes. */
export const lsnOrdering: Ordering<string, bigint> = orderingByKey('lsn', lsnPosition, bigintOrdering, {
  isValue: (v: unknown): v is string => typeof v === 'string' && LSN.test(v),
  formatValue: (v) => v,
  formatDistance: (bytes) => `${bytes} bytes`,
});
