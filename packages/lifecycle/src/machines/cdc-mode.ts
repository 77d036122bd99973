/**
 * The CDC-mode machine. Rule: a source's changes are captured by
 * TRIGGER (row triggers writing the change buffer), then optionally by WAL (logical decoding into
 * the same buffer) through TRANSITIONING, where both writers run and duplicates are resolved at
 * refresh. TRANSITIONING → WAL once the decoder has caught up (the triggers are then dropped);
 * TRANSITIONING → TRIGGER on timeout (pg_trickle: 300 s) or error, which loses nothing because the
 * triggers still run. From WAL, an error falls back to TRIGGER too; changes between the failure
 * and the new triggers may be lost, so every consumer of the source is reinitialized. A planned
 * return from WAL installs the triggers first and drains the decoder up to that point, so nothing
 * is lost. Each transition carries these steps as data.
 */
import { defineMachine, type EventOf, type StateOf } from '../machine.js';

/** What the caller must do for a CDC-mode transition, one kind per step. */
export type CdcModeStep =
  | 'create_publication'
  | 'create_replication_slot'
  | 'start_decoding'
  | 'drop_cdc_triggers'
  | 'install_cdc_triggers'
  | 'drain_decoder'
  | 'stop_decoding'
  | 'drop_replication_slot'
  | 'drop_publication'
  | 'reinitialize_consumers';

/** A description of each CDC-mode step. */
export const CDC_MODE_STEPS: Readonly<Record<CdcModeStep, string>> = Object.freeze({
  create_publication: 'create the publication for the source',
  create_replication_slot: 'create the logical replication slot',
  start_decoding: 'start decoding the slot into the change buffer (the triggers keep writing too)',
  drop_cdc_triggers: "drop the source's CDC triggers; the decoder alone writes the buffer",
  install_cdc_triggers: "install the source's CDC triggers",
  drain_decoder: 'decode up to the LSN at which the triggers started, so no change falls in between',
  stop_decoding: 'stop decoding the slot',
  drop_replication_slot: 'drop the replication slot (releasing retained WAL)',
  drop_publication: 'drop the publication',
  reinitialize_consumers:
    'mark every stream table reading the source for reinitialization (changes may be lost)',
});

/** The CDC-mode machine: TRIGGER → TRANSITIONING → WAL, falling back to TRIGGER on timeout or error. */
export const cdcModeMachine = defineMachine({
  name: 'CDC mode',
  states: ['TRIGGER', 'TRANSITIONING', 'WAL'],
  events: [
    'begin_transition',
    'decoder_caught_up',
    'transition_timeout',
    'transition_failed',
    'wal_failed',
    'revert_to_trigger',
  ],
  initial: 'TRIGGER',
  transitions: {
    TRIGGER: {
      begin_transition: {
        to: 'TRANSITIONING',
        steps: ['create_publication', 'create_replication_slot', 'start_decoding'],
        description: 'start logical decoding alongside the triggers',
      },
    },
    TRANSITIONING: {
      decoder_caught_up: {
        to: 'WAL',
        steps: ['drop_cdc_triggers'],
        description: 'the decoder has caught up with the triggers; they are no longer needed',
      },
      transition_timeout: {
        to: 'TRIGGER',
        steps: ['stop_decoding', 'drop_replication_slot', 'drop_publication'],
        description: 'the decoder did not catch up in time; the triggers never stopped, nothing is lost',
      },
      transition_failed: {
        to: 'TRIGGER',
        steps: ['stop_decoding', 'drop_replication_slot', 'drop_publication'],
        description: 'decoding failed; the triggers never stopped, nothing is lost',
      },
      revert_to_trigger: {
        to: 'TRIGGER',
        steps: ['stop_decoding', 'drop_replication_slot', 'drop_publication'],
        description: 'the transition was cancelled; the triggers never stopped',
      },
    },
    WAL: {
      wal_failed: {
        to: 'TRIGGER',
        steps: [
          'install_cdc_triggers',
          'stop_decoding',
          'drop_replication_slot',
          'drop_publication',
          'reinitialize_consumers',
        ],
        description:
          'decoding failed (e.g. the slot was lost); changes may be missing, so consumers are rebuilt',
      },
      revert_to_trigger: {
        to: 'TRIGGER',
        steps: [
          'install_cdc_triggers',
          'drain_decoder',
          'stop_decoding',
          'drop_replication_slot',
          'drop_publication',
        ],
        description: 'a planned return to triggers, without a gap',
      },
    },
  },
  descriptions: {
    states: {
      TRIGGER: 'row triggers write the change buffer',
      TRANSITIONING: 'triggers and logical decoding both write; duplicates are resolved at refresh',
      WAL: 'logical decoding alone writes the change buffer',
    },
  },
});

/** A CDC mode. */
export type CdcMode = StateOf<typeof cdcModeMachine>;

/** An event of the CDC-mode machine. */
export type CdcModeEvent = EventOf<typeof cdcModeMachine>;
