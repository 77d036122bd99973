import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ewma, ewmaAlpha, InvalidSnapshotError, InvalidStatsInputError } from '../src/index.js';
import { close, floors, runs, samples, sum } from './reference.js';

/**
 * The direct definition: weights w₁ = (1 − α)ⁿ⁻¹, wᵢ = α(1 − α)ⁿ⁻ⁱ (i ≥ 2), which sum to 1;
 * mean Σwᵢxᵢ and variance Σwᵢ(xᵢ − mean)².
 */
function direct(alpha: number, xs: readonly number[]): { mean: number; variance: number } {
  const n = xs.length;
  if (n === 0) return { mean: 0, variance: 0 };
  const w = xs.map((_, i) => (i === 0 ? (1 - alpha) ** (n - 1) : alpha * (1 - alpha) ** (n - 1 - i)));
  const mean = sum(xs.map((x, i) => w[i]! * x));
  return { mean, variance: sum(xs.map((x, i) => w[i]! * (x - mean) ** 2)) };
}

const alphas = fc.oneof(fc.double({ min: 0.001, max: 1, noNaN: true }), fc.constantFrom(1, 0.5, 0.1, 0.01));

describe('Ewma: laws', () => {
  it('matches the direct weighted mean and variance', () => {
    fc.assert(
      fc.property(alphas, samples({ minLength: 0, maxLength: 100 }), (alpha, xs) => {
        const e = Ewma.of({ alpha }, xs);
        const ref = direct(alpha, xs);
        const f = floors(xs);
        expect(e.count).toBe(xs.length);
        if (!close(e.mean, ref.mean, f.mean) || !close(e.variance, ref.variance, f.variance)) {
          throw new Error(`mean ${e.mean} vs ${ref.mean}, variance ${e.variance} vs ${ref.variance}`);
        }
        expect(e.variance).toBeGreaterThanOrEqual(0);
        expect(e.stddev).toBe(Math.sqrt(e.variance));
      }),
      runs(500),
    );
  });

  it('a half-life h means α = 1 − 2^(−1/h): weight halves every h samples', () => {
    fc.assert(
      // below h ≈ 0.02, 2^(−1/h) < 2⁻⁵³ and α rounds to 1 (half-life 0)
      fc.property(fc.double({ min: 0.05, max: 1e9, noNaN: true }), (h) => {
        const e = new Ewma({ halfLife: h });
        expect(e.alpha).toBeGreaterThan(0);
        expect(e.alpha).toBeLessThanOrEqual(1);
        expect(Math.exp(h * Math.log1p(-e.alpha))).toBeCloseTo(0.5, 9);
        expect(close(e.halfLife, h, 0)).toBe(true);
      }),
      runs(200),
    );
  });

  it('toJSON / fromJSON round-trips exactly and keeps accumulating identically', () => {
    fc.assert(
      fc.property(
        alphas,
        samples({ minLength: 0 }),
        fc.array(fc.integer(), { maxLength: 10 }),
        (alpha, xs, more) => {
          const e = Ewma.of({ alpha }, xs);
          const restored = Ewma.fromJSON(JSON.parse(JSON.stringify(e)));
          expect(restored.toJSON()).toEqual(e.toJSON());
          expect(JSON.stringify(restored.pushAll(more))).toBe(JSON.stringify(e.pushAll(more)));
          const c = e.clone().push(1);
          expect(c.count).toBe(e.count + 1);
        },
      ),
      runs(200),
    );
  });
});

describe('Ewma: examples and edges', () => {
  it('the first sample sets the mean, variance 0; α = 1 tracks the last sample', () => {
    expect(Ewma.of({ alpha: 0.2 }, [10]).toJSON()).toMatchObject({ count: 1, mean: 10, variance: 0 });
    const last = Ewma.of({ alpha: 1 }, [3, 9, -4]);
    expect([last.mean, last.variance, last.halfLife]).toEqual([-4, 0, 0]);
  });

  it('a known example: α = 0.5 over 0, 4', () => {
    // mean 0 + 0.5·4 = 2; variance 0.5·(0 + 4·2) = 4  (weights 0.5, 0.5 → variance of {0, 4} = 4)
    const e = Ewma.of({ alpha: 0.5 }, [0, 4]);
    expect([e.mean, e.variance, e.stddev]).toEqual([2, 4, 2]);
  });

  it('half-life 1 is α = 0.5', () => {
    expect(ewmaAlpha({ halfLife: 1 })).toBeCloseTo(0.5, 15);
    expect(new Ewma({ halfLife: 10 }).halfLife).toBeCloseTo(10, 10);
  });

  it('is empty at first and after clear (α kept)', () => {
    const e = new Ewma({ alpha: 0.3 });
    expect([e.count, e.mean, e.variance, e.stddev]).toEqual([0, 0, 0, 0]);
    e.pushAll([1, 2, 3]).clear();
    expect([e.count, e.mean, e.variance, e.alpha]).toEqual([0, 0, 0, 0.3]);
  });

  it('rejects bad options and samples with PGT_STATS_INVALID', () => {
    const bad: unknown[] = [
      { alpha: 0 },
      { alpha: 1.5 },
      { alpha: Number.NaN },
      { halfLife: 0 },
      { halfLife: -1 },
      { halfLife: Number.POSITIVE_INFINITY },
      { alpha: 0.5, halfLife: 2 },
      {},
      null,
    ];
    for (const o of bad) {
      expect(() => new Ewma(o as { alpha: number })).toThrow(InvalidStatsInputError);
    }
    expect(() => new Ewma({ alpha: 2 })).toThrow(/Ewma alpha must be a number in \(0, 1\]/);
    expect(() => new Ewma({ alpha: 0.5 }).push(Number.NaN)).toThrow(
      expect.objectContaining({ code: 'PGT_STATS_INVALID' }),
    );
  });

  it('fromJSON rejects malformed snapshots with PGT_STATS_SNAPSHOT', () => {
    const good = Ewma.of({ alpha: 0.5 }, [1, 2]).toJSON();
    for (const s of [
      42,
      { ...good, kind: 'welford' },
      { ...good, version: '1' },
      { ...good, alpha: 0 },
      { ...good, count: -2 },
      { ...good, mean: null },
      { ...good, variance: -1 },
      { ...good, count: 0 },
    ]) {
      expect(() => Ewma.fromJSON(s)).toThrow(InvalidSnapshotError);
    }
  });
});
