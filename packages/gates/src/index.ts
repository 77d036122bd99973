/**
 * @pgtrickle/gates — RefreshGate, GateDecision (Proceed / Skip / Block), the lazily filled
 * GateContext, the gate pipeline and every gate. Pure: no database driver, no network, no real clock.
 */
export { type Clock, fixedClock, ManualClock } from './clock.js';
export {
  type ContextKey,
  type ContextLoad,
  type ContextOptions,
  ContextProvider,
  type ContextRequest,
  type ContextValue,
  type CreateContextOptions,
  createGateContext,
  defineContextKey,
  defineTickKey,
  type GateContext,
  GateTick,
  type GateTickOptions,
  type KeyOptions,
  type RefreshInitiator,
  type StreamTableKey,
  type StreamTableLoader,
  type TickKey,
  type TickLoader,
  type TickScope,
} from './context.js';
export {
  type BlockDecision,
  type BlowFuseEffect,
  block,
  formatDecision,
  type GateDecision,
  type GateDecisionKind,
  type GateEffect,
  isProceed,
  type ProceedDecision,
  proceed,
  type SkipDecision,
  skip,
  skipUntil,
} from './decision.js';
export {
  DEFAULT_GATE_ORDER,
  type DefaultGateName,
  type DefaultPipelineOptions,
  defaultPipeline,
} from './defaults.js';
export {
  ContextValueError,
  describeError,
  GateConfigError,
  GateError,
  type GateErrorCode,
  GateEvaluationError,
} from './errors.js';
export { defineGate, type RefreshGate } from './gate.js';
export {
  allOf,
  anyOf,
  CONVERGENCE_GATE,
  type ConvergenceCheck,
  ConvergenceGate,
  type ConvergenceGateOptions,
  type ConvergenceResult,
  contentHashEqual,
  convergenceGate,
  dataTimestampCaughtUp,
  type FrontierCheckOptions,
  frontierCaughtUp,
  lagBelow,
  noPendingChanges,
  snapshotFrontierCovers,
} from './gates/convergence.js';
export {
  DIAMOND_GATE,
  DiamondConsistencyGate,
  type DiamondGateOptions,
  diamondConsistencyGate,
  numberOrder,
} from './gates/diamond.js';
export {
  DEFAULT_FUSE_MIN_SAMPLES,
  DEFAULT_FUSE_SENSITIVITY,
  FUSE_GATE,
  FuseGate,
  type FuseGateOptions,
  fuseGate,
  fusePolicy,
  fuseTrip,
} from './gates/fuse.js';
export { type GroupAwareOptions, groupAware } from './gates/group-aware.js';
export {
  type BoundOrder,
  LSN_TICK_GATE,
  LsnTickGate,
  type LsnTickGateOptions,
  lsnOrder,
  lsnTickGate,
} from './gates/lsn-tick.js';
export {
  CronCalculator,
  SCHEDULE_GATE,
  ScheduleGate,
  type ScheduleGateOptions,
  type ScheduleStatus,
  scheduleGate,
  scheduleStatus,
  TIER_MULTIPLIERS,
} from './gates/schedule.js';
export {
  SNAPSHOT_COHERENCE_GATE,
  SnapshotCoherenceGate,
  snapshotCoherenceGate,
} from './gates/snapshot-coherence.js';
export { STATUS_GATE, StatusGate, statusGate } from './gates/status.js';
export { UPSTREAM_CHANGES_GATE, UpstreamChangesGate, upstreamChangesGate } from './gates/upstream-changes.js';
export {
  epochMicrosOrdering,
  WATERMARK_GATE,
  WatermarkGate,
  type WatermarkGateOptions,
  type WatermarkGroupCheck,
  watermarkChecks,
  watermarkGate,
} from './gates/watermark.js';
export {
  blueGreenFrontiers,
  blueGreenSnapshotFrontiers,
  blueMeta,
  changeCountBaseline,
  changedUpstreams,
  contentHashes,
  currentRefreshUnit,
  diamondFrontiers,
  frontierLsn,
  groupMembers,
  hasPendingSourceChanges,
  overCeilingStreak,
  ownConsistencyGroup,
  pendingChangeCount,
  pendingTruncate,
  type SnapshotFrontier,
  tickLsn,
  type WatermarkInputs,
  watermarkInputs,
} from './keys.js';
export { compareLsn, formatLsn, isLsn, parseLsn } from './lsn.js';
export type {
  CalculatedSchedule,
  FuseMeta,
  FuseMode,
  FuseStateName,
  RefreshMode,
  RefreshTier,
  ResolvedSchedule,
  StreamTableMeta,
  StreamTableStatus,
} from './meta.js';
export {
  GatePipeline,
  type GateReport,
  type InsertPosition,
  type PipelineExplanation,
  type PipelineVerdict,
} from './pipeline.js';
export { parseSnapshot, type Snapshot, snapshotCovers, visibleInSnapshot } from './snapshot.js';
