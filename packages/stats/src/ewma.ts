/**
 * Exponentially weighted moving mean and variance (Finch, "Incremental calculation of weighted
 * mean and variance", 2009). Rule, with smoothing factor α ∈ (0, 1]: the first sample sets
 * μ = x₁, σ² = 0; every later sample x does
 *   δ = x − μ;  μ ← μ + α·δ;  σ² ← (1 − α)·(σ² + α·δ²)
 * which equals, exactly, the weighted mean and weighted population variance of x₁…xₙ with weights
 * w₁ = (1 − α)ⁿ⁻¹ and wᵢ = α·(1 − α)ⁿ⁻ⁱ for i ≥ 2 (they sum to 1). A half-life h (in samples)
 * gives α = 1 − 2^(−1/h): a sample's weight halves every h newer samples.
 */
import { InvalidStatsInputError, requireFinite } from './errors.js';
import { isCount, isFiniteNumber, readSnapshot } from './snapshot.js';
import type { SummaryStatistics } from './summary.js';

/** How fast an Ewma forgets: a smoothing factor `alpha` ∈ (0, 1] or a `halfLife` in samples (> 0). */
export type EwmaOptions = { readonly alpha: number } | { readonly halfLife: number };

/** The JSON form of an Ewma (`toJSON()`). */
export interface EwmaSnapshot {
  /** Always 'ewma'. */
  readonly kind: 'ewma';
  /** Snapshot format version (1). */
  readonly version: 1;
  /** Smoothing factor α. */
  readonly alpha: number;
  /** Number of samples pushed. */
  readonly count: number;
  /** Weighted mean (0 when empty). */
  readonly mean: number;
  /** Weighted population variance (0 when empty). */
  readonly variance: number;
}

/** The smoothing factor `options` stand for; throws `InvalidStatsInputError` when out of range. */
export function ewmaAlpha(options: EwmaOptions): number {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidStatsInputError('Ewma options', options, 'an object { alpha } or { halfLife }');
  }
  const hasAlpha = 'alpha' in options && options.alpha !== undefined;
  const hasHalfLife = 'halfLife' in options && options.halfLife !== undefined;
  if (hasAlpha === hasHalfLife) {
    throw new InvalidStatsInputError(
      'Ewma options',
      options,
      'exactly one of { alpha } (smoothing factor in (0, 1]) or { halfLife } (samples, > 0)',
    );
  }
  if (hasAlpha) {
    const alpha = (options as { alpha: unknown }).alpha;
    if (typeof alpha !== 'number' || !(alpha > 0 && alpha <= 1)) {
      throw new InvalidStatsInputError('Ewma alpha', alpha, 'a number in (0, 1] (1 = only the last sample)');
    }
    return alpha;
  }
  const halfLife = (options as { halfLife: unknown }).halfLife;
  if (typeof halfLife !== 'number' || !Number.isFinite(halfLife) || halfLife <= 0) {
    throw new InvalidStatsInputError('Ewma halfLife', halfLife, 'a finite number of samples > 0');
  }
  // 1 − 2^(−1/h), computed without cancellation for large h
  return Math.min(1, -Math.expm1(-Math.LN2 / halfLife));
}

/** Exponentially weighted mean and variance of the samples pushed, with their count. */
export class Ewma implements SummaryStatistics {
  /** Smoothing factor α: the weight of the newest sample. */
  readonly alpha: number;
  #n = 0;
  #mean = 0;
  #variance = 0;

  /** An empty EWMA with smoothing `{ alpha }` or `{ halfLife }` (in samples). */
  constructor(options: EwmaOptions) {
    this.alpha = ewmaAlpha(options);
  }

  /** An EWMA with `options` over `values`. */
  static of(options: EwmaOptions, values: Iterable<number>): Ewma {
    return new Ewma(options).pushAll(values);
  }

  /** Restores an EWMA from `toJSON()` output exactly; throws `InvalidSnapshotError` if malformed. */
  static fromJSON(snapshot: unknown): Ewma {
    const { fields, fail } = readSnapshot(snapshot, 'ewma');
    const { alpha, count, mean, variance } = fields;
    if (typeof alpha !== 'number' || !(alpha > 0 && alpha <= 1)) fail('alpha must be a number in (0, 1]');
    if (!isCount(count)) fail('count must be a non-negative integer');
    if (!isFiniteNumber(mean)) fail('mean must be a finite number');
    if (!isFiniteNumber(variance) || variance < 0) fail('variance must be a finite number ≥ 0');
    if (count === 0 && (mean !== 0 || variance !== 0))
      fail('an empty snapshot must have mean 0 and variance 0');
    const e = new Ewma({ alpha: alpha as number });
    e.#n = count as number;
    e.#mean = mean as number;
    e.#variance = variance as number;
    return e;
  }

  /** Adds one finite sample (O(1)); throws `InvalidStatsInputError` for NaN or ±Infinity. */
  push(x: number): this {
    requireFinite('Ewma.push(x): x', x);
    x += 0; // -0 → 0, so snapshots round-trip through JSON exactly
    if (this.#n === 0) {
      this.#mean = x;
      this.#variance = 0;
    } else {
      const delta = x - this.#mean;
      const increment = this.alpha * delta;
      this.#mean += increment;
      this.#variance = (1 - this.alpha) * (this.#variance + delta * increment);
    }
    this.#n++;
    return this;
  }

  /** Adds every sample of `values`, in order. */
  pushAll(values: Iterable<number>): this {
    for (const x of values) this.push(x);
    return this;
  }

  /** The half-life in samples that α stands for: ln 2 / −ln(1 − α) (0 when α = 1). */
  get halfLife(): number {
    return this.alpha === 1 ? 0 : -Math.LN2 / Math.log1p(-this.alpha);
  }

  /** Number of samples pushed. */
  get count(): number {
    return this.#n;
  }

  /** Exponentially weighted mean (0 when empty). */
  get mean(): number {
    return this.#mean;
  }

  /** Exponentially weighted population variance (0 when empty or after one sample). */
  get variance(): number {
    return this.#variance;
  }

  /** √variance. */
  get stddev(): number {
    return Math.sqrt(this.#variance);
  }

  /** An independent, exact copy. */
  clone(): Ewma {
    return Ewma.fromJSON(this.toJSON());
  }

  /** Forgets every sample (α is kept). */
  clear(): this {
    this.#n = 0;
    this.#mean = 0;
    this.#variance = 0;
    return this;
  }

  /** A plain JSON-safe snapshot; `Ewma.fromJSON` restores it exactly. */
  toJSON(): EwmaSnapshot {
    return {
      kind: 'ewma',
      version: 1,
      alpha: this.alpha,
      count: this.#n,
      mean: this.#mean,
      variance: this.#variance,
    };
  }
}
