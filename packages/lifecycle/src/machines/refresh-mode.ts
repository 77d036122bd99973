/**
 * The refresh-mode machine: switching mode is a lifecycle transition.
 * Rule: a stream table is maintained FULL (recomputed each refresh), DIFFERENTIAL (captured changes
 * applied at refresh time) or IMMEDIATE (maintained inside the writers' transactions by
 * statement triggers); every switch between two different modes is allowed and carries the ordered
 * steps that tear down the old mode's infrastructure and set up the new one's. The caller runs the
 * steps in order, in one transaction with the table suspended. Invariants the steps keep:
 * - DIFFERENTIAL needs change capture on every source and a frontier consistent with the table's
 *   contents, so entering it installs capture first, then seeds the frontier at the snapshot of a
 *   full refresh;
 * - IMMEDIATE needs its triggers and a table equal to its query when they start, and no change
 *   buffer consumer registration (which would hold back buffer cleanup forever), so entering it
 *   unregisters the consumer, installs the triggers, then fully refreshes;
 * - FULL needs nothing: its next refresh recomputes the table. Leaving IMMEDIATE for FULL drops the
 *   triggers and refreshes once, since nothing else would bring the table up to date before the
 *   next scheduled refresh.
 * A "switch" to the current mode is no transition (`refreshModeTransitionSteps` returns []).
 */
import { defineMachine, type EventOf, type StateOf } from '../machine.js';

/** What the caller must do to switch refresh mode, one kind per step. */
export type RefreshModeStep =
  | 'install_change_capture'
  | 'unregister_change_consumer'
  | 'seed_frontier'
  | 'install_immediate_triggers'
  | 'drop_immediate_triggers'
  | 'full_refresh';

/** A description of each refresh-mode step. */
export const REFRESH_MODE_STEPS: Readonly<Record<RefreshModeStep, string>> = Object.freeze({
  install_change_capture:
    'install CDC triggers and change buffers on every source that lacks them, and register the table as a consumer',
  unregister_change_consumer:
    "remove the table's change-buffer consumer registration and frontier, so buffers are cleaned without it (capture shared with other consumers stays)",
  seed_frontier: 'record the frontier at the snapshot the full refresh reads, in the same transaction',
  install_immediate_triggers:
    'install the compiled statement-level AFTER triggers (with transition tables) on every source',
  drop_immediate_triggers: "drop the table's IMMEDIATE triggers from every source",
  full_refresh: 'recompute the table from its defining query',
});

/** The refresh-mode machine: FULL ⇄ DIFFERENTIAL ⇄ IMMEDIATE ⇄ FULL, each switch with its steps. */
export const refreshModeMachine = defineMachine({
  name: 'refresh mode',
  states: ['FULL', 'DIFFERENTIAL', 'IMMEDIATE'],
  events: ['switch_to_full', 'switch_to_differential', 'switch_to_immediate'],
  initial: 'DIFFERENTIAL',
  transitions: {
    FULL: {
      switch_to_differential: {
        to: 'DIFFERENTIAL',
        steps: ['install_change_capture', 'seed_frontier', 'full_refresh'],
        description: 'start consuming changes from a frontier consistent with a fresh full refresh',
      },
      switch_to_immediate: {
        to: 'IMMEDIATE',
        steps: ['unregister_change_consumer', 'install_immediate_triggers', 'full_refresh'],
        description: 'maintain in the writers’ transactions from a freshly recomputed table',
      },
    },
    DIFFERENTIAL: {
      switch_to_full: {
        to: 'FULL',
        steps: [],
        description:
          'nothing to set up: the next refresh recomputes the table (each FULL refresh records a fresh frontier, so buffer cleanup is not held back)',
      },
      switch_to_immediate: {
        to: 'IMMEDIATE',
        steps: ['unregister_change_consumer', 'install_immediate_triggers', 'full_refresh'],
        description: 'stop consuming buffered changes; maintain in the writers’ transactions',
      },
    },
    IMMEDIATE: {
      switch_to_differential: {
        to: 'DIFFERENTIAL',
        steps: ['drop_immediate_triggers', 'install_change_capture', 'seed_frontier', 'full_refresh'],
        description: 'capture changes again and apply them at refresh time, from a fresh frontier',
      },
      switch_to_full: {
        to: 'FULL',
        steps: ['drop_immediate_triggers', 'full_refresh'],
        description: 'stop in-transaction maintenance; recompute on schedule from now on',
      },
    },
  },
  descriptions: {
    states: {
      FULL: 'recomputed on every refresh',
      DIFFERENTIAL: 'captured changes applied at refresh time',
      IMMEDIATE: 'maintained inside the writers’ transactions by statement triggers',
    },
  },
});

/** A refresh mode (the same set as RefreshMode in @pgtrickle/gates). */
export type RefreshMode = StateOf<typeof refreshModeMachine>;

/** An event of the refresh-mode machine: the request to switch to a mode. */
export type RefreshModeEvent = EventOf<typeof refreshModeMachine>;

const EVENT_FOR: Readonly<Record<RefreshMode, RefreshModeEvent>> = Object.freeze({
  FULL: 'switch_to_full',
  DIFFERENTIAL: 'switch_to_differential',
  IMMEDIATE: 'switch_to_immediate',
});

/** The event that requests a switch to `mode`. */
export function refreshModeEvent(mode: RefreshMode): RefreshModeEvent {
  return EVENT_FOR[refreshModeMachine.parseState(mode)];
}

/** The ordered steps of switching from `from` to `to` ([] when they are the same mode). */
export function refreshModeTransitionSteps(from: RefreshMode, to: RefreshMode): readonly RefreshModeStep[] {
  if (refreshModeMachine.parseState(from) === refreshModeMachine.parseState(to)) return [];
  return refreshModeMachine.step(from, refreshModeEvent(to)).steps;
}
