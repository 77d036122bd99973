import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidSnapshotError, InvalidStatsInputError, RollingWindow, Welford } from '../src/index.js';
import { expectMatchesTwoPass, runs, samples } from './reference.js';

describe('RollingWindow: laws', () => {
  it('after every push, equals the two-pass statistics of the last N samples', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), samples({ minLength: 0, maxLength: 250 }), (size, xs) => {
        const w = new RollingWindow(size);
        xs.forEach((x, i) => {
          w.push(x);
          const last = xs.slice(Math.max(0, i + 1 - size), i + 1);
          expect(w.count).toBe(last.length);
          expect(w.values()).toEqual(last);
          // rounding residue can only come from samples since the last exact recompute: ≤ 2N back
          expectMatchesTwoPass(w, last, xs.slice(Math.max(0, i + 1 - 2 * size), i + 1));
          expect(w.stddev).toBe(Math.sqrt(w.variance));
          expect(w.min).toBe(Math.min(...last));
          expect(w.max).toBe(Math.max(...last));
        });
      }),
      runs(200),
    );
  });

  it('a window at least as large as the stream equals Welford over all of it', () => {
    fc.assert(
      fc.property(samples({ minLength: 0 }), (xs) => {
        const w = RollingWindow.of(Math.max(1, xs.length), xs);
        const all = Welford.of(xs);
        expect([w.count, w.mean, w.variance, w.min, w.max]).toEqual([
          all.count,
          all.mean,
          all.variance,
          all.min,
          all.max,
        ]);
      }),
      runs(200),
    );
  });

  it('toJSON / fromJSON round-trips the samples; statistics agree to rounding', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), samples({ minLength: 0 }), (size, xs) => {
        const w = RollingWindow.of(size, xs);
        const restored = RollingWindow.fromJSON(JSON.parse(JSON.stringify(w)));
        expect(restored.size).toBe(size);
        expect(restored.values()).toEqual(w.values());
        expect(JSON.stringify(restored)).toBe(JSON.stringify(w));
        expectMatchesTwoPass(restored, w.values());
        expect([restored.min, restored.max]).toEqual([w.min, w.max]);
      }),
      runs(200),
    );
  });

  it('clone is exact and independent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        samples({ minLength: 0 }),
        fc.integer(),
        (size, xs, extra) => {
          const w = RollingWindow.of(size, xs);
          const c = w.clone();
          const stats = (r: RollingWindow) => [r.count, r.mean, r.variance, r.min, r.max, r.values()];
          expect(stats(c)).toEqual(stats(w));
          c.push(extra);
          w.push(extra);
          expect(stats(c)).toEqual(stats(w));
          c.push(extra);
          expect(w.count).toBe(Math.min(size, xs.length + 1));
        },
      ),
      runs(200),
    );
  });
});

describe('RollingWindow: examples and edges', () => {
  it('keeps the last N', () => {
    const w = RollingWindow.of(3, [1, 2, 3, 4, 5]);
    expect(w.values()).toEqual([3, 4, 5]);
    expect([w.count, w.mean, w.variance, w.min, w.max]).toEqual([3, 4, 2 / 3, 3, 5]);
    expect(w.sampleVariance).toBe(1);
    expect(w.sampleStddev).toBe(1);
  });

  it('is empty at first and after clear', () => {
    const w = new RollingWindow(4);
    expect([w.count, w.mean, w.variance, w.sampleVariance, w.stddev]).toEqual([0, 0, 0, 0, 0]);
    expect([w.min, w.max]).toEqual([undefined, undefined]);
    w.pushAll([5, 6, 7, 8, 9]).clear();
    expect([w.count, w.mean, w.variance, w.min, w.max, w.values()]).toEqual([
      0,
      0,
      0,
      undefined,
      undefined,
      [],
    ]);
    w.push(1);
    expect(w.values()).toEqual([1]);
  });

  it('size 1: the last sample, variance 0', () => {
    const w = RollingWindow.of(1, [3, 1e12, -7]);
    expect([w.count, w.mean, w.variance, w.min, w.max]).toEqual([1, -7, 0, -7, -7]);
  });

  it('a huge sample leaving the window does not leave rounding noise behind', () => {
    // the spike leaves between two periodic recomputes: the cancellation check must catch it
    const w = RollingWindow.of(5, [1, 2, 3, 4, 5, 6]);
    w.push(1e15);
    w.pushAll([7, 8, 9, 10]);
    expect(w.max).toBe(1e15);
    w.push(11); // the spike is gone
    expect(w.values()).toEqual([7, 8, 9, 10, 11]);
    expect(w.mean).toBe(9);
    expect(w.variance).toBe(2);
  });

  it('does not drift over a long stream (a million pushes of an offset series)', () => {
    const w = new RollingWindow(7);
    for (let i = 0; i < 1_000_000; i++) w.push(1e6 + (i % 7));
    expect(w.mean).toBe(1e6 + 3);
    expect(w.variance).toBeCloseTo(4, 9);
  });

  it('min and max follow evictions', () => {
    const w = new RollingWindow(3);
    const seen: [number | undefined, number | undefined][] = [];
    for (const x of [5, 1, 4, 4, 9, 2, 2, 2]) seen.push([w.push(x).min, w.max]);
    expect(seen).toEqual([
      [5, 5],
      [1, 5],
      [1, 5],
      [1, 4],
      [4, 9],
      [2, 9],
      [2, 9],
      [2, 2],
    ]);
  });

  it('rejects a bad size and bad samples with PGT_STATS_INVALID', () => {
    for (const size of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3']) {
      expect(() => new RollingWindow(size as number)).toThrow(InvalidStatsInputError);
    }
    expect(() => new RollingWindow(0)).toThrow(/RollingWindow size must be an integer from 1 to 4294967295/);
    const w = RollingWindow.of(2, [1, 2]);
    expect(() => w.push(Number.NaN)).toThrow(expect.objectContaining({ code: 'PGT_STATS_INVALID' }));
    expect(w.values()).toEqual([1, 2]);
  });

  it('fromJSON rejects malformed snapshots with PGT_STATS_SNAPSHOT', () => {
    const good = RollingWindow.of(3, [1, 2]).toJSON();
    expect(good).toEqual({ kind: 'rolling-window', version: 1, size: 3, values: [1, 2] });
    for (const s of [
      undefined,
      { ...good, kind: 'welford' },
      { ...good, version: 0 },
      { ...good, size: 0 },
      { ...good, values: 'x' },
      { ...good, values: [1, 2, 3, 4] },
      { ...good, values: [1, null] },
    ]) {
      expect(() => RollingWindow.fromJSON(s)).toThrow(InvalidSnapshotError);
    }
  });
});
