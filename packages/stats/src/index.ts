/**
 * @pgtrickle/stats — streaming statistics for change-volume baselines: Welford mean/variance
 * (mergeable, persistable), a fixed-size rolling window, EWMA, and the anomaly test of a
 * statistical fuse. Pure: no dependencies, no I/O, no clock, no randomness.
 */
export {
  type AnomalyPolicy,
  type AnomalyReason,
  type AnomalyResult,
  detectAnomaly,
  zScore,
} from './anomaly.js';
export {
  InvalidSnapshotError,
  InvalidStatsInputError,
  StatsError,
  type StatsErrorCode,
} from './errors.js';
export { Ewma, type EwmaOptions, type EwmaSnapshot, ewmaAlpha } from './ewma.js';
export { RollingWindow, type RollingWindowSnapshot } from './rolling.js';
export { type SummaryStatistics, summaryOf } from './summary.js';
export { Welford, type WelfordSnapshot } from './welford.js';
