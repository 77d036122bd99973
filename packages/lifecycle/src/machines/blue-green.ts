/**
 * The blue-green deployment machine. Rule: a green copy of a stream table is
 * CREATING (being set up and populated), then CATCHING_UP (refreshed on its own frontier over the
 * shared change buffers), CONVERGED once the convergence checks pass (it may fall back to
 * CATCHING_UP if it diverges again), then PROMOTED (atomically swapped in for blue, the old blue
 * kept as a retired copy) — from CONVERGED, or from CATCHING_UP when forced. A promoted deployment
 * ends RETIRED (the retired copy dropped) or ROLLED_BACK (swapped back); both are terminal. A
 * rollback is allowed from every non-terminal state: before a promotion it discards the green.
 */
import { defineMachine, type EventOf, type StateOf } from '../machine.js';

/** What the caller must do for a blue-green transition, one kind per step. */
export type BlueGreenStep = 'swap_tables' | 'retire_blue' | 'drop_green' | 'swap_back' | 'drop_retired';

/** A description of each blue-green step. */
export const BLUE_GREEN_STEPS: Readonly<Record<BlueGreenStep, string>> = Object.freeze({
  swap_tables: 'in one transaction: refresh green a last time, swap it in for blue and repoint readers',
  retire_blue: 'keep the old blue, suspended, under its retired name (for a rollback)',
  drop_green: 'drop the green table and release its change-buffer consumer registration',
  swap_back: 'in one transaction: swap the retired blue back in, refresh it, and repoint readers',
  drop_retired: 'drop the retired blue and release its change-buffer consumer registration',
});

/** The blue-green machine: CREATING → CATCHING_UP ⇄ CONVERGED → PROMOTED → RETIRED, or ROLLED_BACK from anywhere. */
export const blueGreenMachine = defineMachine({
  name: 'blue-green',
  states: ['CREATING', 'CATCHING_UP', 'CONVERGED', 'PROMOTED', 'ROLLED_BACK', 'RETIRED'],
  events: ['created', 'converged', 'diverged', 'promote', 'force_promote', 'rollback', 'retire'],
  initial: 'CREATING',
  terminal: ['ROLLED_BACK', 'RETIRED'],
  transitions: {
    CREATING: {
      created: {
        to: 'CATCHING_UP',
        description: 'green is set up and populated; it now refreshes on its own',
      },
      rollback: { to: 'ROLLED_BACK', steps: ['drop_green'] },
    },
    CATCHING_UP: {
      converged: { to: 'CONVERGED', description: 'the convergence checks pass' },
      force_promote: {
        to: 'PROMOTED',
        steps: ['swap_tables', 'retire_blue'],
        description: 'green replaces blue atomically although it has not converged (forced)',
      },
      rollback: { to: 'ROLLED_BACK', steps: ['drop_green'] },
    },
    CONVERGED: {
      diverged: { to: 'CATCHING_UP', description: 'green fell behind again' },
      promote: {
        to: 'PROMOTED',
        steps: ['swap_tables', 'retire_blue'],
        description: 'green replaces blue atomically',
      },
      rollback: { to: 'ROLLED_BACK', steps: ['drop_green'] },
    },
    PROMOTED: {
      rollback: {
        to: 'ROLLED_BACK',
        steps: ['swap_back', 'drop_green'],
        description: 'the retired blue replaces green again atomically; green is dropped',
      },
      retire: {
        to: 'RETIRED',
        steps: ['drop_retired'],
        description: 'the promotion is kept; the retired blue is dropped',
      },
    },
  },
  descriptions: {
    states: {
      CREATING: 'green is being set up and populated',
      CATCHING_UP: 'green refreshes on its own frontier; blue serves readers',
      CONVERGED: 'green has caught up with blue',
      PROMOTED: 'green replaced blue; the old blue is kept, suspended, for a rollback',
      ROLLED_BACK: 'green was discarded; blue stays (or is back)',
      RETIRED: 'green replaced blue for good; the old blue is dropped',
    },
  },
});

/** A blue-green deployment state. */
export type BlueGreenState = StateOf<typeof blueGreenMachine>;

/** An event of the blue-green machine. */
export type BlueGreenEvent = EventOf<typeof blueGreenMachine>;
