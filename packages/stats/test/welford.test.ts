import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidSnapshotError, InvalidStatsInputError, StatsError, Welford } from '../src/index.js';
import { expectMatchesTwoPass, partitions, runs, samples, twoPass } from './reference.js';

/** The textbook one-pass formula Σx²/n − x̄², which cancels catastrophically on offset data. */
function naive(xs: readonly number[]): { mean: number; variance: number } {
  let s = 0;
  let s2 = 0;
  for (const x of xs) {
    s += x;
    s2 += x * x;
  }
  const mean = s / xs.length;
  return { mean, variance: Math.max(0, s2 / xs.length - mean * mean) };
}

describe('Welford: laws', () => {
  it('equals the two-pass mean and variance (1e-9 relative, scaled absolute floor)', () => {
    fc.assert(
      fc.property(samples(), (xs) => {
        const w = Welford.of(xs);
        expect(w.count).toBe(xs.length);
        expectMatchesTwoPass(w, xs);
        expect(w.stddev).toBe(Math.sqrt(w.variance));
        expect(w.min).toBe(Math.min(...xs));
        expect(w.max).toBe(Math.max(...xs));
        const n = xs.length;
        expect(w.sampleVariance).toBe(n < 2 ? 0 : w.m2 / (n - 1));
      }),
      runs(500),
    );
  });

  it('the same property rejects the cancellation-prone Σx² − n·x̄² formula (it can fail)', () => {
    const result = fc.check(
      fc.property(samples(), (xs) => {
        expectMatchesTwoPass(naive(xs), xs);
      }),
      { numRuns: 500, seed: 1 },
    );
    expect(result.failed).toBe(true);
    // and a concrete case: values near 1e8 that vary by ~1
    const xs = [1e8 + 4, 1e8 + 7, 1e8 + 13, 1e8 + 16];
    expect(() => expectMatchesTwoPass(naive(xs), xs)).toThrow();
    expect(Welford.of(xs).variance).toBe(22.5);
  });

  it('merging arbitrary partitions equals one pass', () => {
    fc.assert(
      fc.property(samples(), fc.array(fc.nat(200), { maxLength: 8 }), (xs, cuts) => {
        const parts = partitions(xs, cuts).map((p) => Welford.of(p));
        const merged = parts.reduce((acc, p) => acc.merge(p), new Welford());
        expect(merged.count).toBe(xs.length);
        expectMatchesTwoPass(merged, xs);
        expect(merged.min).toBe(Math.min(...xs));
        expect(merged.max).toBe(Math.max(...xs));
      }),
      runs(500),
    );
  });

  it('merge order does not matter (right fold, random tree) beyond the tolerance', () => {
    fc.assert(
      fc.property(samples(), fc.array(fc.nat(200), { maxLength: 8 }), fc.nat(), (xs, cuts, seed) => {
        const parts = partitions(xs, cuts).map((p) => Welford.of(p));
        // combine a random pair until one accumulator is left
        let pool = parts;
        let r = seed;
        while (pool.length > 1) {
          r = (r * 1103515245 + 12345) >>> 0;
          const i = r % (pool.length - 1);
          const combined = pool[i]!.clone().merge(pool[i + 1]!);
          pool = [...pool.slice(0, i), combined, ...pool.slice(i + 2)];
        }
        expectMatchesTwoPass(pool[0]!, xs);
      }),
    );
  });

  it('toJSON / fromJSON round-trips through JSON text exactly, and keeps accumulating identically', () => {
    fc.assert(
      fc.property(
        samples({ minLength: 0 }),
        fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 20 }),
        (xs, more) => {
          const w = Welford.of(xs);
          const restored = Welford.fromJSON(JSON.parse(JSON.stringify(w)));
          expect(JSON.stringify(restored)).toBe(JSON.stringify(w));
          expect([restored.count, restored.mean, restored.variance]).toEqual([w.count, w.mean, w.variance]);
          w.pushAll(more);
          restored.pushAll(more);
          expect(JSON.stringify(restored)).toBe(JSON.stringify(w));
        },
      ),
    );
  });

  it('clone is independent and exact', () => {
    fc.assert(
      fc.property(samples({ minLength: 0 }), fc.integer(), (xs, extra) => {
        const w = Welford.of(xs);
        const c = w.clone();
        expect(c.toJSON()).toEqual(w.toJSON());
        c.push(extra);
        expect(w.count).toBe(xs.length);
        expect(c.count).toBe(xs.length + 1);
      }),
    );
  });
});

describe('Welford: examples and edges', () => {
  it('is empty at first: count 0, mean/variance/stddev 0, min/max undefined', () => {
    const w = new Welford();
    expect([w.count, w.mean, w.variance, w.sampleVariance, w.stddev]).toEqual([0, 0, 0, 0, 0]);
    expect(w.min).toBeUndefined();
    expect(w.max).toBeUndefined();
    expect(w.toJSON()).toEqual({
      kind: 'welford',
      version: 1,
      count: 0,
      mean: 0,
      m2: 0,
      min: null,
      max: null,
    });
  });

  it('computes a known example', () => {
    const w = Welford.of([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(w.count).toBe(8);
    expect(w.mean).toBe(5);
    expect(w.variance).toBe(4);
    expect(w.stddev).toBe(2);
    expect(w.sampleVariance).toBeCloseTo(32 / 7, 14);
    expect(w.sampleStddev).toBeCloseTo(Math.sqrt(32 / 7), 14);
    expect([w.min, w.max]).toEqual([2, 9]);
  });

  it('one sample: variance 0, sample variance 0 (undefined → 0, documented)', () => {
    const w = new Welford().push(42);
    expect([w.mean, w.variance, w.sampleVariance, w.min, w.max]).toEqual([42, 0, 0, 42, 42]);
  });

  it('stays exact on large offsets with unit noise (where Σx² cancels)', () => {
    const xs = [1e9 + 1, 1e9 + 2, 1e9 + 3];
    const w = Welford.of(xs);
    expect(w.mean).toBe(1e9 + 2);
    expect(w.variance).toBeCloseTo(2 / 3, 9);
    expect(twoPass(xs).variance).toBeCloseTo(2 / 3, 9);
  });

  it('merging an empty accumulator, into an empty one, and with itself', () => {
    const a = Welford.of([1, 2, 3]);
    expect(a.clone().merge(new Welford()).toJSON()).toEqual(a.toJSON());
    expect(new Welford().merge(a).toJSON()).toEqual(a.toJSON());
    const self = a.clone().merge(a);
    expect(self.count).toBe(6);
    expect(self.mean).toBe(2);
    expect(self.variance).toBeCloseTo(2 / 3, 14);
    expect(a.count).toBe(3);
  });

  it('stores -0 as 0, so a snapshot survives JSON text unchanged', () => {
    const w = Welford.of([-0]);
    expect(Object.is(w.min, 0)).toBe(true);
    expect(JSON.parse(JSON.stringify(w))).toEqual(w.toJSON());
  });

  it('clear forgets everything; push and merge chain', () => {
    const w = new Welford()
      .push(1)
      .push(2)
      .merge(Welford.of([3]));
    expect(w.count).toBe(3);
    expect(w.clear().toJSON()).toEqual(new Welford().toJSON());
  });

  it('rejects NaN and ±Infinity samples with PGT_STATS_INVALID, leaving the accumulator unchanged', () => {
    const w = Welford.of([1, 2]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const err = (() => {
        try {
          w.push(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InvalidStatsInputError);
      expect(err).toBeInstanceOf(StatsError);
      expect(err).toMatchObject({ code: 'PGT_STATS_INVALID', name: 'InvalidStatsInputError' });
      expect((err as Error).message).toMatch(/^Welford\.push\(x\): x must be a finite number/);
    }
    expect(() => w.push('3' as unknown as number)).toThrow(/got "3"/);
    expect(w.toJSON()).toEqual(Welford.of([1, 2]).toJSON());
  });

  it('fromJSON rejects malformed snapshots with PGT_STATS_SNAPSHOT', () => {
    const good = Welford.of([1, 2, 3]).toJSON();
    const bad: unknown[] = [
      null,
      'welford',
      { ...good, kind: 'ewma' },
      { ...good, version: 2 },
      { ...good, count: -1 },
      { ...good, count: 1.5 },
      { ...good, mean: Number.NaN },
      { ...good, m2: -1 },
      { ...good, min: null },
      { ...good, min: 5, max: 1 },
      { ...new Welford().toJSON(), mean: 3 },
    ];
    for (const s of bad) {
      expect(() => Welford.fromJSON(s)).toThrow(InvalidSnapshotError);
    }
    expect(() => Welford.fromJSON({ ...good, version: 2 })).toThrow(
      expect.objectContaining({ code: 'PGT_STATS_SNAPSHOT', message: expect.stringContaining('version 2') }),
    );
    expect(Welford.fromJSON(good).toJSON()).toEqual(good);
  });
});
