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
import { requireFinite } from './errors.js';
import { Moments } from './moments.js';
import { isCount, isFiniteNumber, readSnapshot } from './snapshot.js';

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
export class Welford extends Moments {
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
    w.setMoments(s.count, s.mean, s.m2);
    w.#min = s.min ?? Number.POSITIVE_INFINITY;
    w.#max = s.max ?? Number.NEGATIVE_INFINITY;
    return w;
  }

  /** Adds one finite sample (O(1)); throws `InvalidStatsInputError` for NaN or ±Infinity. */
  push(x: number): this {
    requireFinite('Welford.push(x): x', x);
    x += 0; // -0 → 0, so snapshots round-trip through JSON exactly
    this.addSample(x);
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
    const nb = other.count;
    if (nb === 0) return this;
    const na = this.count;
    const meanB = other.mean;
    const m2B = other.squaredDeviations;
    const minB = other.#min;
    const maxB = other.#max;
    if (na === 0) {
      this.setMoments(nb, meanB, m2B);
    } else {
      const n = na + nb;
      const delta = meanB - this.mean;
      this.setMoments(
        n,
        this.mean + delta * (nb / n),
        this.squaredDeviations + (m2B + delta * delta * ((na / n) * nb)),
      );
    }
    if (minB < this.#min) this.#min = minB;
    if (maxB > this.#max) this.#max = maxB;
    return this;
  }

  /** Sum of squared deviations from the mean, M2. */
  get m2(): number {
    return this.squaredDeviations;
  }

  /** Smallest sample (undefined when empty). */
  get min(): number | undefined {
    return this.count === 0 ? undefined : this.#min;
  }

  /** Largest sample (undefined when empty). */
  get max(): number | undefined {
    return this.count === 0 ? undefined : this.#max;
  }

  /** An independent copy. */
  clone(): Welford {
    return new Welford().merge(this);
  }

  /** Forgets every sample. */
  clear(): this {
    this.setMoments(0, 0, 0);
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = Number.NEGATIVE_INFINITY;
    return this;
  }

  /** A plain JSON-safe snapshot; `Welford.fromJSON` restores it exactly. */
  toJSON(): WelfordSnapshot {
    const empty = this.count === 0;
    return {
      kind: 'welford',
      version: 1,
      count: this.count,
      mean: this.mean,
      m2: this.squaredDeviations,
      min: empty ? null : this.#min,
      max: empty ? null : this.#max,
    };
  }
}

/** Checks a parsed Welford snapshot; throws `InvalidSnapshotError` naming the first problem. */
function validateSnapshot(snapshot: unknown): WelfordSnapshot {
  const { fields, fail } = readSnapshot(snapshot, 'welford');
  const { count, mean, m2, min, max } = fields;
  if (!isCount(count)) fail('count must be a non-negative integer');
  if (!isFiniteNumber(mean)) fail('mean must be a finite number');
  if (!isFiniteNumber(m2) || m2 < 0) fail('m2 must be a finite number ≥ 0');
  if (count === 0) {
    if (mean !== 0 || m2 !== 0 || min !== null || max !== null) {
      fail('an empty snapshot must have mean 0, m2 0, min null and max null');
    }
  } else {
    if (!isFiniteNumber(min) || !isFiniteNumber(max))
      fail('min and max must be finite numbers when count > 0');
    if ((min as number) > (max as number)) fail('min must not exceed max');
  }
  return fields as unknown as WelfordSnapshot;
}
