/**
 * Welford's online mean and variance, mergeable (Chan, Golub & LeVeque's parallel combination).
 * Rule, per pushed sample x (n counts samples, M2 = Σ(xᵢ − x̄)²):
 *   n ← n + 1;  δ = x − x̄;  x̄ ← x̄ + δ / n;  M2 ← M2 + δ · (x − x̄)
 * and merging A into B:
 *   n = nA + nB;  δ = x̄B − x̄A;  x̄ = x̄A + δ · nB / n;  M2 = M2A + M2B + δ² · nA · nB / n
 * population variance = M2 / n, sample variance = M2 / (n − 1). Both updates avoid the
 * catastrophic cancellation of Σx² − n·x̄², so a baseline of values near 10⁹ that vary by 1 stays
 * accurate. Samples must be finite; squared deviations must be representable (|x| ≲ 1e150).
 */
import { InvalidSnapshotError, requireFinite } from './errors.js';
import type { SummaryStatistics } from './summary.js';

/** The JSON form of a Welford accumulator (`toJSON()`), e.g. for a catalog `jsonb` column. */
export interface WelfordSnapshot {
  /** Always 'welford'. */
  readonly kind: 'welford';
  /** Snapshot format version (1). */
  readonly version: 1;
  /** Number of samples. */
  readonly count: number;
  /** Running mean (0 when empty). */
  readonly mean: number;
  /** Sum of squared deviations from the mean, M2 (0 when empty). */
  readonly m2: number;
  /** Smallest sample (null when empty). */
  readonly min: number | null;
  /** Largest sample (null when empty). */
  readonly max: number | null;
}

/** Online mean / variance / min / max of every sample pushed, numerically stable and mergeable. */
export class Welford implements SummaryStatistics {
  #n = 0;
  #mean = 0;
  #m2 = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  /** A Welford accumulator over `values` (one pass). */
  static of(values: Iterable<number>): Welford {
    return new Welford().pushAll(values);
  }

  /** Restores an accumulator from `toJSON()` output; throws `InvalidSnapshotError` if malformed. */
  static fromJSON(snapshot: unknown): Welford {
    const s = validateSnapshot(snapshot);
    const w = new Welford();
    w.#n = s.count;
    w.#mean = s.mean;
    w.#m2 = s.m2;
    w.#min = s.min ?? Number.POSITIVE_INFINITY;
    w.#max = s.max ?? Number.NEGATIVE_INFINITY;
    return w;
  }

  /** Adds one finite sample (O(1)); throws `InvalidStatsInputError` for NaN or ±Infinity. */
  push(x: number): this {
    requireFinite('Welford.push(x): x', x);
    x += 0; // -0 → 0, so snapshots round-trip through JSON exactly
    const n = this.#n + 1;
    const delta = x - this.#mean;
    this.#mean += delta / n;
    this.#m2 += delta * (x - this.#mean);
    this.#n = n;
    if (x < this.#min) this.#min = x;
    if (x > this.#max) this.#max = x;
    return this;
  }

  /** Adds every sample of `values`, in order. */
  pushAll(values: Iterable<number>): this {
    for (const x of values) this.push(x);
    return this;
  }

  /** Folds `other`'s samples into this one (Chan et al.); equals pushing them here. `other` is unchanged. */
  merge(other: Welford): this {
    const nb = other.#n;
    if (nb === 0) return this;
    const na = this.#n;
    const meanB = other.#mean;
    const m2B = other.#m2;
    const minB = other.#min;
    const maxB = other.#max;
    if (na === 0) {
      this.#n = nb;
      this.#mean = meanB;
      this.#m2 = m2B;
    } else {
      const n = na + nb;
      const delta = meanB - this.#mean;
      this.#mean += delta * (nb / n);
      this.#m2 += m2B + delta * delta * ((na / n) * nb);
      this.#n = n;
    }
    if (minB < this.#min) this.#min = minB;
    if (maxB > this.#max) this.#max = maxB;
    return this;
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

  /** Sum of squared deviations from the mean, M2. */
  get m2(): number {
    return this.#m2;
  }

  /** Smallest sample (undefined when empty). */
  get min(): number | undefined {
    return this.#n === 0 ? undefined : this.#min;
  }

  /** Largest sample (undefined when empty). */
  get max(): number | undefined {
    return this.#n === 0 ? undefined : this.#max;
  }

  /** An independent copy. */
  clone(): Welford {
    return new Welford().merge(this);
  }

  /** Forgets every sample. */
  clear(): this {
    this.#n = 0;
    this.#mean = 0;
    this.#m2 = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = Number.NEGATIVE_INFINITY;
    return this;
  }

  /** A plain JSON-safe snapshot; `Welford.fromJSON` restores it exactly. */
  toJSON(): WelfordSnapshot {
    const empty = this.#n === 0;
    return {
      kind: 'welford',
      version: 1,
      count: this.#n,
      mean: this.#mean,
      m2: this.#m2,
      min: empty ? null : this.#min,
      max: empty ? null : this.#max,
    };
  }
}

/** Checks a parsed Welford snapshot; throws `InvalidSnapshotError` naming the first problem. */
function validateSnapshot(snapshot: unknown): WelfordSnapshot {
  const fail = (problem: string): never => {
    throw new InvalidSnapshotError('welford', problem);
  };
  if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
  const s = snapshot as Record<string, unknown>;
  if (s.kind !== 'welford') fail(`kind must be 'welford', got ${JSON.stringify(s.kind)}`);
  if (s.version !== 1) fail(`unsupported version ${JSON.stringify(s.version)} (this release reads 1)`);
  const { count, mean, m2, min, max } = s;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    fail('count must be a non-negative integer');
  }
  if (typeof mean !== 'number' || !Number.isFinite(mean)) fail('mean must be a finite number');
  if (typeof m2 !== 'number' || !Number.isFinite(m2) || m2 < 0) fail('m2 must be a finite number ≥ 0');
  if (count === 0) {
    if (mean !== 0 || m2 !== 0 || min !== null || max !== null) {
      fail('an empty snapshot must have mean 0, m2 0, min null and max null');
    }
  } else {
    if (
      typeof min !== 'number' ||
      typeof max !== 'number' ||
      !Number.isFinite(min) ||
      !Number.isFinite(max)
    ) {
      fail('min and max must be finite numbers when count > 0');
    }
    if ((min as number) > (max as number)) fail('min must not exceed max');
  }
  return s as unknown as WelfordSnapshot;
}
