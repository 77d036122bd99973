/**
 * Example tests of monotonic watermarks: forward, equal and backwards advances, the regression
 * error, value checks, lag, JSON storage, and the other orderings (pg_lsn, defineOrdering, by key).
 */
import { describe, expect, it } from 'vitest';
import {
  advanceWatermark,
  bigintOrdering,
  defineOrdering,
  InvalidWatermarkValueError,
  lag,
  lsnOrdering,
  lsnPosition,
  numberOrdering,
  orderingByKey,
  timeOrdering,
  Watermark,
  WatermarkError,
  WatermarkRegressionError,
} from '../src/index.js';

const noon = new Date('2024-01-01T12:00:00Z');
const tenTo = new Date('2024-01-01T11:50:00Z');
const later = new Date('2024-01-01T12:05:00Z');

describe('Watermark.advance', () => {
  it('moves forward, reporting how far', () => {
    const w = Watermark.of('clicks', noon, timeOrdering);
    const r = w.advance(later);
    expect(r.changed).toBe(true);
    if (!r.changed) return;
    expect(r.watermark.value).toEqual(later);
    expect(r.previous).toEqual(noon);
    expect(r.by).toBe(300_000);
    expect(w.value).toEqual(noon); // immutable: the old value is untouched
  });

  it('an equal advance is a no-op that returns the same watermark', () => {
    const w = Watermark.of('clicks', noon, timeOrdering);
    const r = w.advance(new Date(noon.getTime()));
    expect(r).toEqual({ changed: false, watermark: w });
    expect(r.watermark).toBe(w);
  });

  it('a backwards advance throws a typed error saying which source, both values and what to do', () => {
    const w = Watermark.of('payments', noon, timeOrdering);
    let error: unknown;
    try {
      w.advance(tenTo);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WatermarkRegressionError);
    expect(error).toBeInstanceOf(WatermarkError);
    expect(error).toMatchObject({
      name: 'WatermarkRegressionError',
      code: 'PGT_WATERMARK_REGRESSION',
      source: 'payments',
      current: noon,
      attempted: tenTo,
    });
    expect((error as Error).message).toBe(
      'watermark of source "payments" cannot move back from 2024-01-01T12:00:00.000Z to ' +
        '2024-01-01T11:50:00.000Z (600000 ms (10 minutes) earlier): a watermark declares the source ' +
        'complete up to that point, so it only moves forward. Advance it to 2024-01-01T12:00:00.000Z or ' +
        'later; to deliberately move it back (older data was reloaded), reset the watermark of "payments" ' +
        'and reinitialize the stream tables that read it.',
    );
    expect(w.value).toEqual(noon);
  });

  it('keeps a private copy of Date values', () => {
    const d = new Date(noon.getTime());
    const w = Watermark.of('clicks', d, timeOrdering);
    d.setTime(0);
    expect(w.value).toEqual(noon);
    w.value.setTime(0);
    expect(w.value).toEqual(noon);
    expect(Object.isFrozen(w)).toBe(true);
  });

  it('rejects invalid values and source ids', () => {
    expect(() => Watermark.of('clicks', new Date(Number.NaN), timeOrdering)).toThrow(
      InvalidWatermarkValueError,
    );
    expect(() => Watermark.of('clicks', new Date(Number.NaN), timeOrdering)).toThrow(
      'watermark of source "clicks": Invalid Date is not valid',
    );
    expect(() => Watermark.of('n', Number.NaN, numberOrdering)).toThrow(/NaN is not valid/);
    expect(() => Watermark.of('n', Number.POSITIVE_INFINITY, numberOrdering)).toThrow(
      InvalidWatermarkValueError,
    );
    expect(() => Watermark.of('', 1, numberOrdering)).toThrow(/non-empty source id/);
    const w = Watermark.of('n', 5, numberOrdering);
    expect(() => w.advance(Number.NaN)).toThrow(expect.objectContaining({ code: 'PGT_INVALID_ARGUMENT' }));
    expect(() => w.advance(Number.NaN)).toThrow('new watermark of source "n": NaN is not valid');
    expect(() => lag(1, Number.NaN, numberOrdering)).toThrow('lag: the reference: NaN is not valid');
    expect(() => advanceWatermark('n', Number.NaN, 1, numberOrdering)).toThrow(
      'current watermark of source "n": NaN is not valid',
    );
  });

  it('compares and measures lag against a reference', () => {
    const w = Watermark.of('seq', 10n, bigintOrdering);
    expect(w.compareTo(11n)).toBeLessThan(0);
    expect(w.compareTo(10n)).toBe(0);
    expect(w.lag(25n)).toBe(15n);
    expect(w.lag(3n)).toBe(0n);
    expect(lag(tenTo, noon, timeOrdering)).toBe(600_000);
    expect(lag(later, noon, timeOrdering)).toBe(0);
    expect(String(w)).toBe('seq@10');
  });
});

describe('advanceWatermark (raw values)', () => {
  it('a first watermark, forward, equal, backwards', () => {
    expect(advanceWatermark('s', undefined, 3, numberOrdering)).toEqual({
      changed: true,
      value: 3,
      previous: undefined,
      by: undefined,
    });
    expect(advanceWatermark('s', 3, 7, numberOrdering)).toEqual({
      changed: true,
      value: 7,
      previous: 3,
      by: 4,
    });
    expect(advanceWatermark('s', 7, 7, numberOrdering)).toEqual({
      changed: false,
      value: 7,
      previous: 7,
      by: 0,
    });
    expect(() => advanceWatermark('s', 7, 6, numberOrdering)).toThrow(
      'watermark of source "s" cannot move back from 7 to 6 (1 earlier)',
    );
  });
});

describe('JSON storage', () => {
  it('time, number and bigint watermarks round-trip through JSON text', () => {
    const t = Watermark.of('clicks', noon, timeOrdering);
    expect(JSON.stringify(t)).toBe('{"source":"clicks","kind":"time","value":"2024-01-01T12:00:00.000Z"}');
    expect(Watermark.fromJSON(JSON.parse(JSON.stringify(t)), timeOrdering).value).toEqual(noon);

    const n = Watermark.of('batch', 42.5, numberOrdering);
    expect(n.toJSON()).toEqual({ source: 'batch', kind: 'number', value: 42.5 });
    expect(Watermark.fromJSON(n.toJSON(), numberOrdering).value).toBe(42.5);

    const big = 2n ** 64n + 1n;
    const b = Watermark.of('seq', big, bigintOrdering);
    expect(b.toJSON()).toEqual({ source: 'seq', kind: 'bigint', value: '18446744073709551617' });
    expect(Watermark.fromJSON(JSON.parse(JSON.stringify(b)), bigintOrdering).value).toBe(big);
    expect(Watermark.fromJSON({ source: 'seq', kind: 'bigint', value: 12 }, bigintOrdering).value).toBe(12n);
  });

  it('refuses malformed or mismatched stored forms with PGT_INVALID_ARGUMENT', () => {
    const bad: [unknown, RegExp][] = [
      [null, /an object \{ source, kind, value \}/],
      [{ kind: 'time', value: '2024-01-01T12:00:00Z' }, /non-empty "source"/],
      [{ source: 's', kind: 'bigint', value: '1' }, /kind "time" \(it is "bigint"/],
      [{ source: 's', kind: 'time', value: 'yesterday' }, /ISO-8601 text/],
      [{ source: 's', kind: 'time', value: '2024-01-01T12:00:00' }, /time zone offset/],
      [{ source: 's', kind: 'time', value: 1704110400000 }, /ISO-8601 text/],
    ];
    for (const [json, message] of bad) {
      expect(() => Watermark.fromJSON(json, timeOrdering)).toThrow(message);
      expect(() => Watermark.fromJSON(json, timeOrdering)).toThrow(InvalidWatermarkValueError);
    }
    expect(() => Watermark.fromJSON({ source: 's', kind: 'bigint', value: '1.5' }, bigintOrdering)).toThrow(
      /decimal integer text/,
    );
    expect(() => Watermark.fromJSON({ source: 's', kind: 'number', value: '1' }, numberOrdering)).toThrow(
      /finite JSON number/,
    );
    expect(
      Watermark.fromJSON({ source: 's', kind: 'time', value: '2024-01-01T13:00:00+01:00' }, timeOrdering)
        .value,
    ).toEqual(noon);
  });
});

describe('other orderings', () => {
  it('lsnOrdering compares pg_lsn text by position, not as strings', () => {
    expect(lsnOrdering.compare('0/FFFFFFFF', '1/0')).toBeLessThan(0);
    expect(lsnOrdering.compare('0/FF', '0/100')).toBeLessThan(0);
    expect('0/FF' > '0/100').toBe(true); // as strings they would compare the other way
    expect(lsnOrdering.compare('0/1A', '0/1a')).toBe(0);
    expect(lsnOrdering.distance('0/FFFFFFFF', '1/10')).toBe(17n);
    expect(lsnOrdering.formatDistance(17n)).toBe('17 bytes');
    expect(lsnPosition('16/B374D848')).toBe(0x16b374d848n);
    expect(() => lsnPosition('16-B3')).toThrow(/pg_lsn text/);
    const w = Watermark.of('wal', '0/10', lsnOrdering);
    expect(() => w.advance('0/F')).toThrow('cannot move back from 0/10 to 0/F (1 bytes earlier)');
    expect(Watermark.fromJSON(JSON.parse(JSON.stringify(w)), lsnOrdering).value).toBe('0/10');
    expect(() => Watermark.of('wal', 'nope', lsnOrdering)).toThrow(InvalidWatermarkValueError);
  });

  it('defineOrdering builds an ordering for any ordered type from a comparator and a distance', () => {
    // semantic versions [major, minor], distance = number of minor releases at 100 per major
    type Version = readonly [number, number];
    const versionOrdering = defineOrdering<Version, number>({
      name: 'version',
      compare: (a, b) => a[0] - b[0] || a[1] - b[1],
      distance: (a, b) => (b[0] - a[0]) * 100 + (b[1] - a[1]),
      compareDistance: (a, b) => a - b,
      zero: 0,
      isValue: (v: unknown): v is Version => Array.isArray(v) && v.length === 2,
      formatValue: (v) => `v${v[0]}.${v[1]}`,
      encode: (v) => `${v[0]}.${v[1]}`,
      decode: (json) => {
        const [a, b] = String(json).split('.').map(Number);
        return [a ?? 0, b ?? 0];
      },
    });
    const w = Watermark.of('schema', [1, 4] as const, versionOrdering);
    expect(w.advance([1, 4]).changed).toBe(false);
    expect(() => w.advance([0, 9])).toThrow('cannot move back from v1.4 to v0.9 (95 earlier)');
    expect(Watermark.fromJSON(JSON.parse(JSON.stringify(w)), versionOrdering).value).toEqual([1, 4]);

    // the defaults: String formatting, strings/numbers stored as they are, anything else refused
    const plain = defineOrdering<string, number>({
      name: 'word',
      compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
      distance: (a, b) => (a === b ? 0 : 1),
      compareDistance: (a, b) => a - b,
      zero: 0,
    });
    expect(Watermark.fromJSON(Watermark.of('w', 'b', plain).toJSON(), plain).value).toBe('b');
    expect(() => Watermark.fromJSON({ source: 'w', kind: 'word', value: null }, plain)).toThrow(
      'decoding a "word" watermark: null is not valid',
    );
    const objects = defineOrdering<{ n: number }, number>({
      name: 'boxed',
      compare: (a, b) => a.n - b.n,
      distance: (a, b) => b.n - a.n,
      compareDistance: (a, b) => a - b,
      zero: 0,
    });
    expect(() => Watermark.of('b', { n: 1 }, objects).toJSON()).toThrow(
      /give the ordering an `encode` function/,
    );
  });

  it('orderingByKey orders values by a key of another ordering', () => {
    const byLength = orderingByKey('length', (s: string) => s.length, numberOrdering);
    expect(byLength.compare('aa', 'b')).toBeGreaterThan(0);
    expect(byLength.distance('a', 'abcd')).toBe(3);
    expect(byLength.isValue('x')).toBe(true);
    expect(byLength.isValue(null)).toBe(false);
    expect(byLength.isValue(3)).toBe(false); // (3).length is undefined, not a number
  });
});
