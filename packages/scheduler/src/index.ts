/**
 * @pgtrickle/scheduler: the refresh loop, pure over ports. Each tick: the gate pipeline per stream
 * table, DAG order, consistency groups through the unit executor (a GroupExecutionStrategy in the
 * client), retry with backoff, suspension after repeated failures; between ticks, wake-ups
 * (debounced) with polling as the fallback. No database, socket or real clock in here.
 */
export { Scheduler, type SchedulerOptions, timerSleep } from './loop.js';
export { type MemoCheck, VerdictMemo } from './memo.js';
export { type PlannedGroup, planTick, type SchedulePolicy, type TickPlan } from './plan.js';
export {
  type CatalogSnapshot,
  type MemberResult,
  type ScheduledTable,
  type SchedulerLogger,
  type SchedulerStore,
  type Sleep,
  silentLogger,
  type UnitExecutor,
  type UnitOutcome,
} from './ports.js';
export { backoffMs, DEFAULT_RETRY, type FailureVerdict, type RetryPolicy, RetryTracker } from './retry.js';
export { runTick, type TickDeps, type TickReport, type UnitReport } from './tick.js';
