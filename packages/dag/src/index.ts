/**
 * @pgtrickle/dag — the graph of sources and stream tables: topological order, cycle rejection,
 * closures, levels, diamonds, consistency groups and CALCULATED schedules. Pure, zero dependencies.
 */
export {
  DEFAULT_PERIOD_MS,
  type ScheduleExplanation,
  type ScheduleOptions,
  type ScheduleSource,
} from './calculated.js';
export {
  calculatedSchedules,
  consistencyGroups,
  Dag,
  diamonds,
  explainSchedules,
  type LevelOptions,
  type NodeInfo,
  type NodeKind,
  type RemoveOptions,
  type StreamTableSpec,
} from './dag.js';
export type { Diamond, DiamondGroup, DiamondOptions, DiamondRoots } from './diamonds.js';
export {
  CycleError,
  DagError,
  type DagErrorCode,
  DependentsExistError,
  DuplicateNodeError,
  formatCycle,
  InvalidArgumentError,
  UnknownNodeError,
} from './errors.js';
export {
  type CronSchedule,
  cronSchedule,
  formatSchedule,
  type IntervalSchedule,
  intervalSchedule,
  parseSchedule,
  type ScheduleSpec,
  validateSchedule,
} from './schedule.js';
