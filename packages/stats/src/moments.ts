/**
 * Count, mean and M2 = Σ(xᵢ − x̄)² of a set of samples, and the statistics derived from them: the
 * common core of `Welford` (every sample) and `RollingWindow` (the last N samples). A sample is
 * added with Welford's update
 *   n ← n + 1;  δ = x − x̄;  x̄ ← x̄ + δ / n;  M2 ← M2 + δ · (x − x̄)
 * population variance = M2 / n, sample variance = M2 / (n − 1) (both 0 when undefined).
 */
import type { SummaryStatistics } from './summary.js';

/** Base class of the accumulators that keep n, x̄ and M2 (not exported from the package). */
export abstract class Moments implements SummaryStatistics {
  #n = 0;
  #mean = 0;
  #m2 = 0;

  /** Adds sample `x` (Welford's update). */
  protected addSample(x: number): void {
    const n = this.#n + 1;
    const delta = x - this.#mean;
    this.#mean += delta / n;
    this.#m2 += delta * (x - this.#mean);
    this.#n = n;
  }

  /** Replaces n, x̄ and M2 (restoring, merging, recomputing or clearing). */
  protected setMoments(n: number, mean: number, m2: number): void {
    this.#n = n;
    this.#mean = mean;
    this.#m2 = m2;
  }

  /** Sum of squared deviations from the mean, M2. */
  protected get squaredDeviations(): number {
    return this.#m2;
  }

  /** Number of samples. */
  get count(): number {
    return this.#n;
  }

  /** Mean of the samples (0 when empty). */
  get mean(): number {
    return this.#mean;
  }

  /** Population variance M2 / n (0 when empty). */
  get variance(): number {
    return this.#n === 0 ? 0 : this.#m2 / this.#n;
  }

  /** Sample (Bessel-corrected) variance M2 / (n − 1) (0 with fewer than 2 samples). */
  get sampleVariance(): number {
    return this.#n < 2 ? 0 : this.#m2 / (this.#n - 1);
  }

  /** Population standard deviation √variance. */
  get stddev(): number {
    return Math.sqrt(this.variance);
  }

  /** Sample standard deviation √sampleVariance. */
  get sampleStddev(): number {
    return Math.sqrt(this.sampleVariance);
  }
}
