import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AnomalyPolicy,
  type AnomalyResult,
  detectAnomaly,
  Ewma,
  InvalidStatsInputError,
  RollingWindow,
  StatsError,
  type SummaryStatistics,
  summaryOf,
  Welford,
  zScore,
} from '../src/index.js';
import { runs } from './reference.js';

const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

/** Plain-object baselines, including constant ones (stddev 0) and empty ones. */
const baselines: fc.Arbitrary<SummaryStatistics> = fc
  .record({
    count: fc.oneof(fc.nat(60), fc.constant(0)),
    mean: finite(-1e6, 1e6),
    stddev: fc.oneof(fc.constant(0), finite(0, 1e4)),
  })
  .map(({ count, mean, stddev }) => ({ count, mean, stddev, variance: stddev * stddev }));

const policies: fc.Arbitrary<AnomalyPolicy> = fc.record({
  sensitivity: fc.oneof(finite(0, 10), fc.constant(Number.POSITIVE_INFINITY), fc.constant(0)),
  minSamples: fc.oneof(fc.nat(60), fc.constant(Number.POSITIVE_INFINITY)),
  ceiling: fc.oneof(fc.constant(undefined), finite(-1e6, 1e7)),
});

const values = fc.oneof(finite(-1e7, 1e7), fc.integer({ min: 0, max: 10_000_000 }));

function noNaN(r: AnomalyResult): void {
  expect(r.zScore === null || !Number.isNaN(r.zScore)).toBe(true);
  expect(r.explanation).not.toMatch(/NaN|undefined/);
  expect(r.explanation.length).toBeGreaterThan(0);
}

describe('detectAnomaly: laws', () => {
  it('the ceiling always wins: above it is anomalous with reason ceiling, whatever the baseline', () => {
    fc.assert(
      fc.property(values, baselines, policies, finite(1e-9, 1e6), (v, baseline, policy, excess) => {
        const ceiling = v - excess;
        fc.pre(ceiling < v);
        const r = detectAnomaly(v, baseline, { ...policy, ceiling });
        expect(r.anomalous).toBe(true);
        expect(r.reason).toBe('ceiling');
        expect(r.explanation).toMatch(/is above the ceiling/);
        noNaN(r);
      }),
      runs(500),
    );
  });

  it('never anomalous below minSamples unless over the ceiling (and no z-score is reported)', () => {
    fc.assert(
      fc.property(values, baselines, policies, (v, baseline, policy) => {
        fc.pre(baseline.count < policy.minSamples);
        fc.pre(policy.ceiling === undefined || v <= policy.ceiling);
        const r = detectAnomaly(v, baseline, policy);
        expect(r).toMatchObject({ anomalous: false, reason: null, zScore: null });
        noNaN(r);
      }),
      runs(500),
    );
  });

  it('monotone in value: if v trips, every larger value trips', () => {
    fc.assert(
      fc.property(values, values, baselines, policies, (a, b, baseline, policy) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const rlo = detectAnomaly(lo, baseline, policy);
        const rhi = detectAnomaly(hi, baseline, policy);
        if (rlo.anomalous) expect(rhi.anomalous).toBe(true);
        if (rlo.zScore !== null && rhi.zScore !== null) expect(rhi.zScore).toBeGreaterThanOrEqual(rlo.zScore);
      }),
      runs(500),
    );
  });

  it('with enough samples and no ceiling, trips exactly when (v − mean) / stddev > sensitivity', () => {
    fc.assert(
      fc.property(values, baselines, policies, (v, baseline, policy) => {
        fc.pre(baseline.count >= Math.max(1, policy.minSamples));
        const r = detectAnomaly(v, baseline, { ...policy, ceiling: undefined });
        const d = v - baseline.mean;
        const z = baseline.stddev === 0 ? (d > 0 ? Infinity : d < 0 ? -Infinity : 0) : d / baseline.stddev;
        expect(r.zScore).toBe(z);
        expect(r.anomalous).toBe(z > policy.sensitivity);
        expect(r.reason).toBe(r.anomalous ? 'z-score' : null);
        if (v <= baseline.mean) expect(r.anomalous).toBe(false); // only the high side trips
        noNaN(r);
      }),
      runs(500),
    );
  });

  it('reason is null exactly when not anomalous; never a NaN anywhere', () => {
    fc.assert(
      fc.property(values, baselines, policies, (v, baseline, policy) => {
        const r = detectAnomaly(v, baseline, policy);
        expect(r.reason === null).toBe(!r.anomalous);
        noNaN(r);
      }),
      runs(500),
    );
  });

  it('Welford, RollingWindow and Ewma baselines are SummaryStatistics and decide like their plain copies', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 40 }),
        values,
        policies,
        (xs, v, p) => {
          for (const b of [Welford.of(xs), RollingWindow.of(10, xs), Ewma.of({ halfLife: 5 }, xs)]) {
            expect(detectAnomaly(v, b, p)).toEqual(detectAnomaly(v, summaryOf(b), p));
          }
        },
      ),
      runs(200),
    );
  });
});

describe('detectAnomaly: examples', () => {
  const baseline: SummaryStatistics = { count: 30, mean: 120.5, variance: 7.3 ** 2, stddev: 7.3 };
  const policy: AnomalyPolicy = { sensitivity: 3, minSamples: 10 };

  it('explains a z-score trip with the numbers', () => {
    expect(detectAnomaly(165.8, baseline, policy)).toEqual({
      anomalous: true,
      reason: 'z-score',
      zScore: (165.8 - 120.5) / 7.3,
      explanation: '165.8 changes is 6.2σ above the baseline mean 120.5 (σ 7.3, 30 samples); sensitivity 3',
    });
  });

  it('explains a value within the sensitivity, and one below the mean', () => {
    expect(detectAnomaly(130, baseline, { ...policy, ceiling: 5000 }).explanation).toBe(
      '130 changes is 1.3σ above the baseline mean 120.5 (σ 7.3, 30 samples); within sensitivity 3; ' +
        'not above the ceiling 5000',
    );
    const low = detectAnomaly(0, baseline, policy);
    expect(low).toMatchObject({ anomalous: false, reason: null });
    expect(low.zScore).toBeLessThan(-16);
    expect(low.explanation).toBe(
      '0 changes is 16.5σ below the baseline mean 120.5 (σ 7.3, 30 samples); only values above the mean can trip; sensitivity 3',
    );
  });

  it('shows more decimals when one decimal would blur the side of the sensitivity', () => {
    const just = detectAnomaly(120.5 + 3.01 * 7.3, baseline, policy);
    expect(just.anomalous).toBe(true);
    expect(just.explanation).toMatch(/is 3\.01σ above/);
    const under = detectAnomaly(120.5 + 2.99 * 7.3, baseline, policy);
    expect(under.anomalous).toBe(false);
    expect(under.explanation).toMatch(/is 2\.99σ above/);
  });

  it('explains a ceiling trip, with the z-score when the baseline is old enough', () => {
    expect(
      detectAnomaly(5001, { count: 3, mean: 100, variance: 1, stddev: 1 }, { ...policy, ceiling: 5000 }),
    ).toEqual({
      anomalous: true,
      reason: 'ceiling',
      zScore: null,
      explanation: '5001 changes is above the ceiling 5000',
    });
    const r = detectAnomaly(5001, baseline, { ...policy, ceiling: 5000 });
    expect(r.reason).toBe('ceiling');
    expect(r.zScore).toBeCloseTo((5001 - 120.5) / 7.3, 9);
    expect(r.explanation).toBe(
      '5001 changes is above the ceiling 5000 (and 668.6σ above the baseline mean 120.5 (σ 7.3, 30 samples))',
    );
  });

  it('a young baseline: no z-score; the ceiling still applies', () => {
    const young = { count: 3, mean: 100, variance: 1, stddev: 1 };
    expect(detectAnomaly(4000, young, { ...policy, ceiling: 5000 })).toEqual({
      anomalous: false,
      reason: null,
      zScore: null,
      explanation:
        '4000 changes: the baseline has 3 samples, fewer than the 10 needed for a z-score; not above the ceiling 5000',
    });
  });

  it('a constant baseline (stddev 0): any increase trips, the mean itself and less do not, no NaN', () => {
    const flat = Welford.of([50, 50, 50, 50]);
    const p = { sensitivity: 3, minSamples: 4 };
    expect(detectAnomaly(51, flat, p)).toEqual({
      anomalous: true,
      reason: 'z-score',
      zScore: Number.POSITIVE_INFINITY,
      explanation:
        '51 changes is above the baseline mean 50, which has not varied (σ 0, 4 samples); sensitivity 3',
    });
    expect(detectAnomaly(50, flat, p)).toMatchObject({ anomalous: false, zScore: 0 });
    expect(detectAnomaly(50, flat, p).explanation).toBe(
      '50 changes is equal to the baseline mean 50, which has not varied (σ 0, 4 samples); within sensitivity 3',
    );
    expect(detectAnomaly(49, flat, p)).toMatchObject({ anomalous: false, zScore: Number.NEGATIVE_INFINITY });
    // sensitivity Infinity: even an infinite z does not trip
    expect(detectAnomaly(1e9, flat, { sensitivity: Infinity, minSamples: 0 })).toMatchObject({
      anomalous: false,
      zScore: Number.POSITIVE_INFINITY,
      explanation: expect.stringContaining('the z-score never trips (sensitivity Infinity)'),
    });
  });

  it('fixed-fuse policy (sensitivity and minSamples Infinity): the ceiling only', () => {
    const fixed = { sensitivity: Infinity, minSamples: Infinity, ceiling: 1000 };
    const none = { count: 0, mean: 0, variance: 0, stddev: 0 };
    expect(detectAnomaly(1000, none, fixed)).toEqual({
      anomalous: false,
      reason: null,
      zScore: null,
      explanation: '1000 changes: the z-score test is off (minSamples Infinity); not above the ceiling 1000',
    });
    expect(detectAnomaly(1001, none, fixed)).toMatchObject({ anomalous: true, reason: 'ceiling' });
    expect(detectAnomaly(0, none, { ...fixed, ceiling: 0 }).anomalous).toBe(false);
  });

  it('an empty baseline never gives a z-score, even with minSamples 0', () => {
    expect(detectAnomaly(1e9, new Welford(), { sensitivity: 0, minSamples: 0 })).toMatchObject({
      anomalous: false,
      zScore: null,
      explanation: '1000000000 changes: the baseline has 0 samples, fewer than the 1 needed for a z-score',
    });
  });

  it('names its unit; a null ceiling (nullable column) means none', () => {
    const p = { sensitivity: 3, minSamples: 10, unit: 'rows' };
    expect(detectAnomaly(165.8, baseline, p).explanation).toMatch(/^165\.8 rows is 6\.2σ above/);
    expect(detectAnomaly(165.8, baseline, { ...p, unit: '' }).explanation).toMatch(/^165\.8 is 6\.2σ above/);
    expect(
      detectAnomaly(
        1e9,
        { count: 0, mean: 0, variance: 0, stddev: 0 },
        {
          ...p,
          ceiling: null as unknown as undefined,
        },
      ).anomalous,
    ).toBe(false);
  });

  it('±Infinity values are ordered normally', () => {
    expect(detectAnomaly(Infinity, baseline, policy)).toMatchObject({ anomalous: true, zScore: Infinity });
    expect(detectAnomaly(-Infinity, baseline, policy)).toMatchObject({ anomalous: false, zScore: -Infinity });
    expect(detectAnomaly(Infinity, baseline, { ...policy, ceiling: 10 }).reason).toBe('ceiling');
  });

  it('zScore is exported with the same stddev-0 rule', () => {
    expect([zScore(12, 10, 2), zScore(11, 10, 0), zScore(10, 10, 0), zScore(9, 10, 0)]).toEqual([
      1,
      Infinity,
      0,
      -Infinity,
    ]);
    expect(zScore(Infinity, 10, 0)).toBe(Infinity);
    for (const [v, m, sd] of [
      [Number.NaN, 0, 1],
      [1, Number.NaN, 1],
      [1, Infinity, 1],
      [1, 0, -1],
      [1, 0, Number.NaN],
    ]) {
      expect(() => zScore(v!, m!, sd!)).toThrow(InvalidStatsInputError);
    }
  });
});

describe('detectAnomaly: invalid input', () => {
  const b = { count: 20, mean: 100, variance: 100, stddev: 10 };
  const p = { sensitivity: 3, minSamples: 10 };
  const cases: [string, () => unknown, RegExp][] = [
    [
      'NaN value',
      () => detectAnomaly(Number.NaN, b, p),
      /^detectAnomaly value must be a number \(not NaN\), got NaN/,
    ],
    [
      'negative sensitivity',
      () => detectAnomaly(1, b, { ...p, sensitivity: -1 }),
      /^policy\.sensitivity must be/,
    ],
    ['NaN sensitivity', () => detectAnomaly(1, b, { ...p, sensitivity: Number.NaN }), /got NaN/],
    [
      'negative minSamples',
      () => detectAnomaly(1, b, { ...p, minSamples: -1 }),
      /^policy\.minSamples must be an integer ≥ 0/,
    ],
    ['NaN minSamples', () => detectAnomaly(1, b, { ...p, minSamples: Number.NaN }), /^policy\.minSamples/],
    ['fractional minSamples', () => detectAnomaly(1, b, { ...p, minSamples: 2.5 }), /got 2\.5/],
    ['NaN ceiling', () => detectAnomaly(1, b, { ...p, ceiling: Number.NaN }), /^policy\.ceiling must be/],
    [
      'missing policy',
      () => detectAnomaly(1, b, undefined as unknown as AnomalyPolicy),
      /^detectAnomaly policy/,
    ],
    ['NaN count', () => detectAnomaly(1, { ...b, count: Number.NaN }, p), /^baseline\.count/],
    [
      'NaN mean',
      () => detectAnomaly(1, { ...b, mean: Number.NaN }, p),
      /^baseline\.mean must be a finite number/,
    ],
    ['negative stddev', () => detectAnomaly(1, { ...b, stddev: -1 }, p), /^baseline\.stddev must be/],
    [
      'missing baseline',
      () => detectAnomaly(1, null as unknown as SummaryStatistics, p),
      /^detectAnomaly baseline/,
    ],
  ];
  for (const [name, call, message] of cases) {
    it(`${name} → InvalidStatsInputError PGT_STATS_INVALID`, () => {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidStatsInputError);
      expect(err).toBeInstanceOf(StatsError);
      expect((err as StatsError).code).toBe('PGT_STATS_INVALID');
      expect((err as Error).message).toMatch(message);
    });
  }

  it('a baseline too young for the z-score is not inspected beyond its count', () => {
    expect(
      detectAnomaly(1, { count: 2, mean: Number.NaN, variance: Number.NaN, stddev: Number.NaN }, p),
    ).toMatchObject({
      anomalous: false,
    });
  });
});
