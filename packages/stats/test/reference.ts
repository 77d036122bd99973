/**
 * Test oracles and generators. The oracle is the textbook two-pass algorithm with compensated
 * (Neumaier) sums, written independently of src/. The tolerance is 1e-9 relative plus an absolute
 * floor for results near zero, scaled to the data: for n samples of magnitude ≤ M and range R,
 * a stable algorithm's rounding error is O(n·ε·M) on the mean and O(n·ε·M·R) on the variance (R
 * is the size of the deviations the variance is built from); the floor is 8× that, with ε·M added
 * to R so that constant data (R = 0), where the oracle itself is off by ~ε²M², is covered. The
 * floor (plus a few subnormal steps, for results that underflow) is far below the O(ε·M²) error of the cancellation-prone Σx² − n·x̄² formula on offset
 * data, and `stats.test.ts` checks the property rejects that formula — the property can fail.
 */
import fc from 'fast-check';

/** Machine epsilon of a double. */
export const EPS = Number.EPSILON;

/** Neumaier-compensated sum. */
export function sum(xs: readonly number[]): number {
  let s = 0;
  let c = 0;
  for (const x of xs) {
    const t = s + x;
    c += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
    s = t;
  }
  return s + c;
}

/** Two-pass population mean and variance (the oracle). */
export function twoPass(xs: readonly number[]): { mean: number; variance: number } {
  if (xs.length === 0) return { mean: 0, variance: 0 };
  const mean = sum(xs) / xs.length;
  return { mean, variance: sum(xs.map((x) => (x - mean) ** 2)) / xs.length };
}

/** The absolute error floors for the mean and the variance of `xs` (see the header). */
export function floors(xs: readonly number[]): { mean: number; variance: number } {
  const n = Math.max(1, xs.length);
  let m = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of xs) {
    m = Math.max(m, Math.abs(x));
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const range = xs.length === 0 ? 0 : hi - lo;
  // MIN_VALUE: results in the subnormal range are rounded to its grid, not to ε relative
  const tiny = Number.MIN_VALUE;
  return { mean: 8 * n * (EPS * m + tiny), variance: 8 * n * (EPS * m * (range + EPS * m) + tiny) };
}

/** |actual − expected| ≤ 1e-9·|expected| + floor. */
export function close(actual: number, expected: number, floor: number): boolean {
  return Math.abs(actual - expected) <= 1e-9 * Math.abs(expected) + floor;
}

/** Asserts mean and variance of `stats` match the oracle over `xs`; throws with the numbers if not. */
export function expectMatchesTwoPass(
  stats: { readonly mean: number; readonly variance: number },
  xs: readonly number[],
  floorsOf: readonly number[] = xs,
): void {
  const ref = twoPass(xs);
  const f = floors(floorsOf);
  if (!close(stats.mean, ref.mean, f.mean) || !close(stats.variance, ref.variance, f.variance)) {
    throw new Error(
      `mean ${stats.mean} vs ${ref.mean} (floor ${f.mean}), variance ${stats.variance} vs ` +
        `${ref.variance} (floor ${f.variance}) over ${xs.length} samples`,
    );
  }
}

const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

/**
 * Samples of every shape that matters: wide-ranging doubles, integer change counts, a large
 * offset with small noise (near-zero variance relative to the magnitude: where naive formulas
 * fail) and constant runs.
 */
export function samples(opts: { minLength?: number; maxLength?: number } = {}): fc.Arbitrary<number[]> {
  const minLength = opts.minLength ?? 1;
  const maxLength = opts.maxLength ?? 200;
  const len = { minLength, maxLength };
  return fc
    .oneof(
      fc.array(finite(-1e6, 1e6), len),
      fc.array(fc.integer({ min: 0, max: 1_000_000 }), len),
      fc
        .record({
          offset: finite(-1e9, 1e9),
          scale: fc.constantFrom(1e-6, 1e-3, 1, 1e3),
          noise: fc.array(finite(-1, 1), len),
        })
        .map(({ offset, scale, noise }) => noise.map((u) => offset + scale * u)),
      fc
        .tuple(
          finite(-1e9, 1e9),
          fc.integer({ min: minLength, max: Math.max(minLength, Math.min(maxLength, 60)) }),
        )
        .map(([x, n]) => Array.from({ length: n }, () => x)),
      // -0 is stored as 0 (documented, tested by example); keep the oracles' min/max comparable
    )
    .map((xs) => xs.map((x) => x + 0));
}

/** `xs` split at `cuts` (clamped, sorted) into contiguous partitions; repeated cuts give empty ones. */
export function partitions(xs: readonly number[], cuts: readonly number[]): number[][] {
  const points = cuts.map((c) => Math.min(xs.length, Math.max(0, c))).sort((a, b) => a - b);
  const parts: number[][] = [];
  let from = 0;
  for (const p of points) {
    parts.push(xs.slice(from, p));
    from = p;
  }
  parts.push(xs.slice(from));
  return parts;
}

/** fast-check parameters: `base` runs by default; raise with FC_RUNS for a longer soak. */
export function runs(base: number): { numRuns: number } {
  return { numRuns: Number(process.env.FC_RUNS ?? base) };
}
