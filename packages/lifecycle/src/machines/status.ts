/**
 * The stream-table status machine (docs/scheduler.md, "Stream-table status"). Rule: a table is
 * created PENDING (recorded, not yet set up), INITIALIZING while it is being populated, ACTIVE once
 * populated; SUSPENDED (skipped each tick until resumed) and ERROR (blocked until fixed, then
 * resumed or reinitialized) take it out of the scheduler; DROPPED is terminal. A retryable refresh
 * failure leaves the status as it is: counting consecutive failures and sending `suspend` at the
 * limit (`suspendAfter` of @pgtrickle/scheduler, default 3) is the caller's business. The states
 * are exactly `StreamTableStatus` of @pgtrickle/gates.
 */
import { defineMachine, type EventOf, type StateOf } from '../machine.js';

/** The stream-table status machine. */
export const streamTableStatusMachine = defineMachine({
  name: 'stream-table status',
  states: ['PENDING', 'INITIALIZING', 'ACTIVE', 'SUSPENDED', 'ERROR', 'DROPPED'],
  events: [
    'created',
    'populated',
    'refresh_succeeded',
    'refresh_failed_retryable',
    'suspend',
    'resume',
    'permanent_error',
    'reinitialize',
    'drop',
  ],
  initial: 'PENDING',
  terminal: ['DROPPED'],
  transitions: {
    PENDING: {
      created: { to: 'INITIALIZING', description: 'storage, catalog rows and change capture are in place' },
      permanent_error: { to: 'ERROR', description: 'setting the table up failed and retrying cannot fix it' },
      drop: 'DROPPED',
    },
    INITIALIZING: {
      populated: { to: 'ACTIVE', description: 'the initial population finished' },
      refresh_succeeded: { to: 'ACTIVE', description: 'the first successful refresh populated it' },
      refresh_failed_retryable: 'INITIALIZING',
      suspend: 'SUSPENDED',
      permanent_error: 'ERROR',
      reinitialize: { to: 'INITIALIZING', description: 'start the population over' },
      drop: 'DROPPED',
    },
    ACTIVE: {
      refresh_succeeded: 'ACTIVE',
      refresh_failed_retryable: {
        to: 'ACTIVE',
        description: 'stays ACTIVE; the caller counts consecutive failures and suspends at its limit',
      },
      suspend: 'SUSPENDED',
      permanent_error: 'ERROR',
      reinitialize: { to: 'INITIALIZING', description: 'rebuild from the defining query' },
      drop: 'DROPPED',
    },
    SUSPENDED: {
      resume: { to: 'ACTIVE', description: 'back into the scheduler; the error count is reset' },
      permanent_error: 'ERROR',
      reinitialize: 'INITIALIZING',
      drop: 'DROPPED',
    },
    ERROR: {
      resume: { to: 'ACTIVE', description: 'the cause was fixed; back into the scheduler' },
      reinitialize: {
        to: 'INITIALIZING',
        description: 'the cause was fixed; rebuild from the defining query',
      },
      drop: 'DROPPED',
    },
  },
  descriptions: {
    states: {
      PENDING: 'recorded, not yet set up',
      INITIALIZING: 'being populated; the scheduler refreshes it',
      ACTIVE: 'populated and maintained',
      SUSPENDED: 'skipped every tick until resumed',
      ERROR: 'blocked after a permanent error until fixed, then resumed or reinitialized',
      DROPPED: 'gone',
    },
    events: {
      created: 'the table was set up',
      populated: 'the initial population finished',
      refresh_succeeded: 'a refresh committed',
      refresh_failed_retryable: 'a refresh failed with a retryable error',
      suspend: 'suspended by an operator or after too many consecutive failures',
      resume: 'resumed by an operator',
      permanent_error: 'an error that retrying cannot fix (e.g. a source was dropped or altered)',
      reinitialize: 'rebuild from the defining query',
      drop: 'the table was dropped',
    },
  },
});

/** A stream table's status (the same set as StreamTableStatus in @pgtrickle/gates). */
export type StreamTableStatus = StateOf<typeof streamTableStatusMachine>;

/** An event of the status machine. */
export type StreamTableStatusEvent = EventOf<typeof streamTableStatusMachine>;
