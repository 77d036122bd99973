/**
 * @pgtrickle/lifecycle — transition-checked state machines (docs/scheduler.md, "State machines"): a
 * small generic `defineMachine` with inferred state/event/step types, and the machines of
 * pgtrickle: fuse, stream-table status, refresh mode, CDC mode and blue-green. Pure, zero
 * dependencies.
 */
export {
  InvalidMachineError,
  InvalidTransitionError,
  LifecycleError,
  type LifecycleErrorCode,
  UnknownValueError,
} from './errors.js';
export {
  defineMachine,
  type EventOf,
  Lifecycle,
  Machine,
  type MachineSpec,
  machineProblems,
  type StateOf,
  type StepOf,
  type Transition,
  type TransitionSpec,
  type TransitionTarget,
} from './machine.js';
export {
  BLUE_GREEN_STEPS,
  type BlueGreenEvent,
  type BlueGreenState,
  type BlueGreenStep,
  blueGreenMachine,
} from './machines/blue-green.js';
export {
  CDC_MODE_STEPS,
  type CdcMode,
  type CdcModeEvent,
  type CdcModeStep,
  cdcModeMachine,
} from './machines/cdc-mode.js';
export {
  FUSE_RESET_MODES,
  type FuseEvent,
  type FuseResetMode,
  type FuseResetPlan,
  type FuseState,
  fuseMachine,
  fuseResetPlan,
  isFuseResetMode,
  parseFuseResetMode,
  resetFuse,
} from './machines/fuse.js';
export {
  REFRESH_MODE_STEPS,
  type RefreshMode,
  type RefreshModeEvent,
  type RefreshModeStep,
  refreshModeEvent,
  refreshModeMachine,
  refreshModeTransitionSteps,
} from './machines/refresh-mode.js';
export {
  type StreamTableStatus,
  type StreamTableStatusEvent,
  streamTableStatusMachine,
} from './machines/status.js';
