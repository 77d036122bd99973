/**
 * The common read-only view of a sample's statistics. Rule: `variance` is the population variance
 * σ² = Σ(xᵢ − x̄)² / n (EWMA: the exponentially weighted variance) and `stddev` = √variance; an
 * empty summary has count 0 and mean = variance = stddev = 0. Welford, RollingWindow and Ewma
 * satisfy `SummaryStatistics`, and so does any plain object with these four numbers.
 */
/** Count, mean, population variance and standard deviation of a sample (read-only). */
export interface SummaryStatistics {
  /** Number of samples summarised (0 = empty). */
  readonly count: number;
  /** Mean of the samples (0 when empty). */
  readonly mean: number;
  /** Population variance Σ(xᵢ − x̄)² / n (0 when empty). */
  readonly variance: number;
  /** Standard deviation √variance (0 when empty). */
  readonly stddev: number;
}

/** A frozen plain copy of `stats` (to log it, or to pass a baseline that must not change). */
export function summaryOf(stats: SummaryStatistics): Readonly<SummaryStatistics> {
  return Object.freeze({
    count: stats.count,
    mean: stats.mean,
    variance: stats.variance,
    stddev: stats.stddev,
  });
}
