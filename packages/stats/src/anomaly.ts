/**
 * The anomaly test behind a statistical fuse. Rule, in order:
 *   1. value > ceiling (when a ceiling is set) → anomalous, reason 'ceiling' — whatever the baseline;
 *   2. baseline.count ≥ max(minSamples, 1) → z = (value − mean) / stddev, anomalous, reason 'z-score',
 *      when z > sensitivity;
 *   3. otherwise not anomalous.
 * Only the high side trips: a fuse guards against change-volume spikes, and a batch smaller than
 * usual is not a reason to halt (z may be negative; it never trips). A baseline with stddev 0
 * (every sample equal) gives z = +∞ for a value above its mean, −∞ below it and 0 at it, so a
 * constant baseline trips on any increase once minSamples is reached — never a NaN. The result is
 * monotone in `value`: if v trips, every larger value trips too.
 */
import { InvalidStatsInputError, requireFinite, requireNotNaN } from './errors.js';
import type { SummaryStatistics } from './summary.js';

/** When a value counts as anomalous against a baseline. */
export interface AnomalyPolicy {
  /** z-score threshold: anomalous when z > sensitivity (≥ 0; `Infinity` = never by z-score). */
  sensitivity: number;
  /** Absolute ceiling: anomalous when value > ceiling, checked first (undefined = none). */
  ceiling?: number | undefined;
  /** Baseline samples needed before the z-score applies (integer ≥ 0; `Infinity` = never). */
  minSamples: number;
  /** What the values count, for the explanation (default 'changes'; '' for bare numbers). */
  unit?: string | undefined;
}

/** Which rule found a value anomalous: the absolute ceiling or the z-score. */
export type AnomalyReason = 'ceiling' | 'z-score';

/** The outcome of `detectAnomaly`. */
export interface AnomalyResult {
  /** Whether the value is anomalous. */
  anomalous: boolean;
  /** The rule that tripped (null when not anomalous). */
  reason: AnomalyReason | null;
  /** (value − mean) / stddev when the baseline had enough samples (±Infinity if stddev is 0), else null. */
  zScore: number | null;
  /** A human sentence with the numbers, e.g. "4810 changes is 6.2σ above the baseline mean 120.5 (…)". */
  explanation: string;
}

/** Tests `value` against `baseline` under `policy` (ceiling first, then z-score); never returns NaN. */
export function detectAnomaly(
  value: number,
  baseline: SummaryStatistics,
  policy: AnomalyPolicy,
): AnomalyResult {
  requireNotNaN('detectAnomaly value', value);
  const { sensitivity, ceiling, minSamples } = validatePolicy(policy);
  if (typeof baseline !== 'object' || baseline === null) {
    throw new InvalidStatsInputError('detectAnomaly baseline', baseline, 'a SummaryStatistics object');
  }
  const count = baseline.count;
  if (typeof count !== 'number' || !(count >= 0)) {
    throw new InvalidStatsInputError('baseline.count', count, 'a number ≥ 0');
  }
  const unit = policy.unit === undefined || policy.unit === null ? 'changes' : String(policy.unit);
  const subject = unit === '' ? fmt(value) : `${fmt(value)} ${unit}`;
  const eligible = count >= minSamples && count >= 1;

  let z: number | null = null;
  let mean = 0;
  let stddev = 0;
  if (eligible) {
    mean = baseline.mean;
    stddev = baseline.stddev;
    if (typeof mean !== 'number' || !Number.isFinite(mean)) {
      throw new InvalidStatsInputError('baseline.mean', mean, 'a finite number');
    }
    if (typeof stddev !== 'number' || !Number.isFinite(stddev) || stddev < 0) {
      throw new InvalidStatsInputError('baseline.stddev', stddev, 'a finite number ≥ 0');
    }
    z = rawZ(value, mean, stddev);
  }
  const samples = `${fmt(count)} ${count === 1 ? 'sample' : 'samples'}`;
  // "6.2σ above the baseline mean 120.5 (σ 7.3, 30 samples)"; only called when z !== null
  const relation = (zz: number): string => {
    if (stddev === 0) {
      const rel = zz > 0 ? 'above' : zz < 0 ? 'below' : 'equal to';
      return `${rel} the baseline mean ${fmt(mean)}, which has not varied (σ 0, ${samples})`;
    }
    const shown = formatZ(Math.abs(zz), zz >= 0 ? sensitivity : Number.POSITIVE_INFINITY);
    return `${shown}σ ${zz >= 0 ? 'above' : 'below'} the baseline mean ${fmt(mean)} (σ ${fmt(stddev)}, ${samples})`;
  };

  if (ceiling !== undefined && value > ceiling) {
    return {
      anomalous: true,
      reason: 'ceiling',
      zScore: z,
      explanation:
        `${subject} is above the ceiling ${fmt(ceiling)}` + (z === null ? '' : ` (and ${relation(z)})`),
    };
  }
  const ceilingNote = ceiling === undefined ? '' : `; not above the ceiling ${fmt(ceiling)}`;
  if (z === null) {
    const why =
      minSamples === Number.POSITIVE_INFINITY
        ? `${subject}: the z-score test is off (minSamples Infinity)`
        : `${subject}: the baseline has ${samples}, fewer than the ${fmt(Math.max(minSamples, 1))} ` +
          'needed for a z-score';
    return { anomalous: false, reason: null, zScore: null, explanation: why + ceilingNote };
  }
  if (z > sensitivity) {
    return {
      anomalous: true,
      reason: 'z-score',
      zScore: z,
      explanation: `${subject} is ${relation(z)}; sensitivity ${fmt(sensitivity)}`,
    };
  }
  const within =
    sensitivity === Number.POSITIVE_INFINITY
      ? 'the z-score never trips (sensitivity Infinity)'
      : z < 0
        ? `only values above the mean can trip; sensitivity ${fmt(sensitivity)}`
        : `within sensitivity ${fmt(sensitivity)}`;
  return {
    anomalous: false,
    reason: null,
    zScore: z,
    explanation: `${subject} is ${relation(z)}; ${within}${ceilingNote}`,
  };
}

/**
 * (value − mean) / stddev, with stddev 0 giving +Infinity above the mean, −Infinity below and 0 at
 * it — never NaN; throws `InvalidStatsInputError` for a NaN value, a non-finite mean or a
 * negative / non-finite stddev.
 */
export function zScore(value: number, mean: number, stddev: number): number {
  requireNotNaN('zScore value', value);
  requireFinite('zScore mean', mean);
  if (typeof stddev !== 'number' || !Number.isFinite(stddev) || stddev < 0) {
    throw new InvalidStatsInputError('zScore stddev', stddev, 'a finite number ≥ 0');
  }
  return rawZ(value, mean, stddev);
}

/** zScore without the checks (value not NaN, mean finite, stddev finite ≥ 0: d is never NaN). */
function rawZ(value: number, mean: number, stddev: number): number {
  const d = value - mean;
  if (stddev === 0) return d > 0 ? Number.POSITIVE_INFINITY : d < 0 ? Number.NEGATIVE_INFINITY : 0;
  return d / stddev;
}

/** Checks `policy` and returns its normalized fields; throws `InvalidStatsInputError`. */
function validatePolicy(policy: AnomalyPolicy): {
  sensitivity: number;
  ceiling: number | undefined;
  minSamples: number;
} {
  if (typeof policy !== 'object' || policy === null) {
    throw new InvalidStatsInputError(
      'detectAnomaly policy',
      policy,
      'an object { sensitivity, minSamples, ceiling? }',
    );
  }
  const { sensitivity, minSamples } = policy;
  if (typeof sensitivity !== 'number' || !(sensitivity >= 0)) {
    throw new InvalidStatsInputError(
      'policy.sensitivity',
      sensitivity,
      'a z-score threshold ≥ 0 (e.g. 3; Infinity disables the z-score test)',
    );
  }
  if (
    typeof minSamples !== 'number' ||
    !(minSamples >= 0) ||
    !(Number.isSafeInteger(minSamples) || minSamples === Number.POSITIVE_INFINITY)
  ) {
    throw new InvalidStatsInputError(
      'policy.minSamples',
      minSamples,
      'an integer ≥ 0 (e.g. 10; Infinity disables the z-score test)',
    );
  }
  // null is treated like undefined for callers reading a nullable database column
  const raw = policy.ceiling as number | null | undefined;
  const ceiling = raw === null || raw === undefined ? undefined : raw;
  if (ceiling !== undefined && (typeof ceiling !== 'number' || Number.isNaN(ceiling))) {
    throw new InvalidStatsInputError('policy.ceiling', ceiling, 'a number or undefined (no ceiling)');
  }
  return { sensitivity, ceiling, minSamples };
}

/** A number for a sentence: integers as is, others to 1 decimal (2 significant digits below 1). */
function fmt(x: number): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1) return String(Number(x.toFixed(1)));
  return String(Number(x.toPrecision(2)));
}

/** |z| to 1 decimal, with more decimals when rounding would blur which side of `sensitivity` it is. */
function formatZ(z: number, sensitivity: number): string {
  if (!Number.isFinite(z)) return String(z);
  for (let digits = 1; digits <= 6; digits++) {
    const shown = Number(z.toFixed(digits));
    if (z > sensitivity === shown > sensitivity && (shown !== sensitivity || z === sensitivity)) {
      return z.toFixed(digits);
    }
  }
  return String(z);
}
