/**
 * The blue-green deployment machine. Rule: a green copy of a stream table is
 * CREATING (being set up and populated), then CATCHING_UP (refreshed on its own frontier over the
 * shared change buffers), CONVERGED once the convergence checks pass (it may fall back to
 * CATCHING_UP if it diverges again), and finally PROMOTED (atomically swapped in for blue) or
 * ROLLED_BACK (discarded); both are terminal. A rollback is allowed from every non-terminal state;
 * a promotion only from CONVERGED.
 */
import { defineMachine, type EventOf, type StateOf } from '../machine.js';

/** What the caller must do for a blue-green transition, one kind per step. */
export type BlueGreenStep = 'swap_tables' | 'retire_blue' | 'drop_green';

/** A description of each blue-green step. */
export const BLUE_GREEN_STEPS: Readonly<Record<BlueGreenStep, string>> = Object.freeze({
  swap_tables: 'in one transaction: refresh green a last time, swap it in for blue and repoint readers',
  retire_blue: 'drop the old blue table and release its change-buffer consumer registration',
  drop_green: 'drop the green table and release its change-buffer consumer registration',
});

/** The blue-green machine: CREATING → CATCHING_UP ⇄ CONVERGED → PROMOTED, or ROLLED_BACK from anywhere. */
export const blueGreenMachine = defineMachine({
  name: 'blue-green',
  states: ['CREATING', 'CATCHING_UP', 'CONVERGED', 'PROMOTED', 'ROLLED_BACK'],
  events: ['created', 'converged', 'diverged', 'promote', 'rollback'],
  initial: 'CREATING',
  terminal: ['PROMOTED', 'ROLLED_BACK'],
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
  },
  descriptions: {
    states: {
      CREATING: 'green is being set up and populated',
      CATCHING_UP: 'green refreshes on its own frontier; blue serves readers',
      CONVERGED: 'green has caught up with blue',
      PROMOTED: 'green replaced blue',
      ROLLED_BACK: 'green was discarded; blue stays',
    },
  },
});

/** A blue-green deployment state. */
export type BlueGreenState = StateOf<typeof blueGreenMachine>;

/** An event of the blue-green machine. */
export type BlueGreenEvent = EventOf<typeof blueGreenMachine>;
