/**
 * @pgtrickle/watermark — the watermark algebra (docs/scheduler.md, "Watermarks"): watermarks that
 * only move forward, groups of sources with a tolerance, the alignment predicate max(W) − min(W) ≤
 * tolerance and the effective watermark min(W), for any ordered value (times, numbers, bigints,
 * pg_lsn text, your own). Pure: no I/O, never reads the clock (times are passed in). No
 * dependencies.
 */
export {
  type Aligned,
  type AlignmentResult,
  checkAlignment,
  describeAlignment,
  effectiveWatermark,
  type Misaligned,
  type MissingWatermarks,
} from './alignment.js';
export { type Duration, durationMilliseconds, formatDuration, parseIsoInstant } from './duration.js';
export {
  describeValue,
  InvalidWatermarkGroupError,
  InvalidWatermarkValueError,
  WatermarkError,
  type WatermarkErrorCode,
  WatermarkRegressionError,
} from './errors.js';
export {
  type TimeWatermarkGroupSpec,
  timeWatermarkGroup,
  validateWatermarkGroup,
  type WatermarkGroup,
  watermarkGroup,
  watermarkGroupProblems,
} from './group.js';
export {
  bigintOrdering,
  compareNatural,
  defineOrdering,
  type KeyedOrderingOptions,
  lsnOrdering,
  lsnPosition,
  numberOrdering,
  type Ordering,
  type OrderingSpec,
  orderingByKey,
  type WatermarkJsonValue,
} from './ordering.js';
export { formatMilliseconds, type TimeTolerance, timeOrdering, toMilliseconds } from './time.js';
export {
  type AdvanceResult,
  advanceWatermark,
  assertWatermarkValue,
  lag,
  Watermark,
  type WatermarkAdvance,
  type WatermarkJson,
} from './watermark.js';
