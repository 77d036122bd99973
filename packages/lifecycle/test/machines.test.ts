/**
 * Every concrete machine's whole table: the listed transitions are exactly the allowed ones (with
 * their steps), every other (state, event) pair throws PGT_INVALID_TRANSITION, terminal states have
 * no exits. Plus the fuse reset plans, refresh-mode steps, and the type-level check that the state
 * sets equal those of @pgtrickle/gates.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
// Type-only, by relative path: @pgtrickle/gates depends on this package, so a dependency back would be a cycle.
import type {
  FuseStateName as GatesFuseState,
  RefreshMode as GatesRefreshMode,
  StreamTableStatus as GatesStatus,
} from '../../gates/src/meta.js';
import {
  BLUE_GREEN_STEPS,
  type BlueGreenState,
  type BlueGreenStep,
  blueGreenMachine,
  CDC_MODE_STEPS,
  type CdcModeStep,
  cdcModeMachine,
  type EventOf,
  FUSE_RESET_MODES,
  type FuseEvent,
  type FuseState,
  fuseMachine,
  fuseResetPlan,
  InvalidTransitionError,
  isFuseResetMode,
  type Machine,
  parseFuseResetMode,
  REFRESH_MODE_STEPS,
  type RefreshMode,
  type RefreshModeStep,
  refreshModeEvent,
  refreshModeMachine,
  refreshModeTransitionSteps,
  resetFuse,
  type StateOf,
  type StepOf,
  type StreamTableStatus,
  streamTableStatusMachine,
  UnknownValueError,
} from '../src/index.js';

type Row = readonly [from: string, event: string, to: string, steps?: readonly string[]];

/** Checks a machine's table against the expected rows, exhaustively over states × events. */
function expectTable<S extends string, E extends string, X extends string>(
  machine: Machine<S, E, X>,
  rows: readonly Row[],
): void {
  expect(machine.transitions.map((t) => [t.from, t.event, t.to, t.steps])).toEqual(
    rows.map(([f, e, t, steps]) => [f, e, t, steps ?? []]),
  );
  const expected = new Map(rows.map(([f, e, t]) => [`${f}|${e}`, t]));
  for (const state of machine.states) {
    for (const event of machine.events) {
      const to = expected.get(`${state}|${event}`);
      expect(machine.can(state, event)).toBe(to !== undefined);
      if (to !== undefined) {
        expect(machine.transition(state, event)).toBe(to);
        continue;
      }
      let error: unknown;
      try {
        machine.transition(state, event);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidTransitionError);
      expect(error).toMatchObject({
        code: 'PGT_INVALID_TRANSITION',
        machine: machine.name,
        state,
        event,
        allowed: machine.allowed(state),
      });
      const message = (error as Error).message;
      expect(message).toContain(machine.name);
      expect(message).toContain(`"${event}"`);
      expect(message).toContain(`state ${state}`);
      for (const a of machine.allowed(state)) expect(message).toContain(`"${a}"`);
    }
    expect(machine.allowed(state)).toEqual(rows.filter(([f]) => f === state).map(([, e]) => e));
    if (machine.isTerminal(state)) expect(machine.allowed(state)).toEqual([]);
    else expect(machine.allowed(state).length).toBeGreaterThan(0);
  }
}

describe('fuse', () => {
  it('INTACT --blow--> BLOWN --reset--> INTACT, nothing else', () => {
    expectTable(fuseMachine, [
      ['INTACT', 'blow', 'BLOWN'],
      ['BLOWN', 'reset', 'INTACT'],
    ]);
    expect(fuseMachine.terminal).toEqual([]);
    expect(fuseMachine.initial).toBe('INTACT');
    expect(() => fuseMachine.transition('BLOWN', 'blow')).toThrow(
      'fuse: event "blow" is not allowed in state BLOWN (allowed from BLOWN: "reset"); the state is unchanged.',
    );
  });

  it('reset modes are data the caller acts on', () => {
    expect(FUSE_RESET_MODES).toEqual(['apply', 'skip', 'reinitialize']);
    expect(fuseResetPlan('apply')).toMatchObject({
      mode: 'apply',
      state: 'INTACT',
      bypassNextCheck: true,
      skipPendingChanges: false,
      reinitialize: false,
    });
    expect(fuseResetPlan('skip')).toMatchObject({
      bypassNextCheck: false,
      skipPendingChanges: true,
      reinitialize: false,
    });
    expect(fuseResetPlan('reinitialize')).toMatchObject({
      bypassNextCheck: false,
      skipPendingChanges: false,
      reinitialize: true,
    });
    // exactly one action per mode
    for (const mode of FUSE_RESET_MODES) {
      const p = fuseResetPlan(mode);
      expect([p.bypassNextCheck, p.skipPendingChanges, p.reinitialize].filter(Boolean)).toHaveLength(1);
      expect(Object.isFrozen(p)).toBe(true);
    }
  });

  it('resetFuse checks the state: only a blown fuse can be reset', () => {
    expect(resetFuse('BLOWN', 'apply').bypassNextCheck).toBe(true);
    expect(() => resetFuse('INTACT', 'skip')).toThrow(InvalidTransitionError);
    expect(() => resetFuse('BLOWN', 'later' as never)).toThrow(UnknownValueError);
    expect(() => resetFuse('BLOWN', 'later' as never)).toThrow(
      'fuse: "later" is not a fuse reset mode; expected one of "apply", "skip", "reinitialize".',
    );
  });

  it('parses reset modes, accepting pg_trickle’s skip_changes', () => {
    expect(parseFuseResetMode('skip_changes')).toBe('skip');
    expect(parseFuseResetMode('apply')).toBe('apply');
    expect(isFuseResetMode('reinitialize')).toBe(true);
    expect(isFuseResetMode('skip_changes')).toBe(false);
    expect(() => parseFuseResetMode(3)).toThrow(expect.objectContaining({ code: 'PGT_INVALID_ARGUMENT' }));
  });
});

describe('stream-table status', () => {
  it('has exactly the documented table (docs/scheduler.md, "Stream-table status")', () => {
    expectTable(streamTableStatusMachine, [
      ['PENDING', 'created', 'INITIALIZING'],
      ['PENDING', 'permanent_error', 'ERROR'],
      ['PENDING', 'drop', 'DROPPED'],
      ['INITIALIZING', 'populated', 'ACTIVE'],
      ['INITIALIZING', 'refresh_succeeded', 'ACTIVE'],
      ['INITIALIZING', 'refresh_failed_retryable', 'INITIALIZING'],
      ['INITIALIZING', 'suspend', 'SUSPENDED'],
      ['INITIALIZING', 'permanent_error', 'ERROR'],
      ['INITIALIZING', 'reinitialize', 'INITIALIZING'],
      ['INITIALIZING', 'drop', 'DROPPED'],
      ['ACTIVE', 'refresh_succeeded', 'ACTIVE'],
      ['ACTIVE', 'refresh_failed_retryable', 'ACTIVE'],
      ['ACTIVE', 'suspend', 'SUSPENDED'],
      ['ACTIVE', 'permanent_error', 'ERROR'],
      ['ACTIVE', 'reinitialize', 'INITIALIZING'],
      ['ACTIVE', 'drop', 'DROPPED'],
      ['SUSPENDED', 'resume', 'ACTIVE'],
      ['SUSPENDED', 'permanent_error', 'ERROR'],
      ['SUSPENDED', 'reinitialize', 'INITIALIZING'],
      ['SUSPENDED', 'drop', 'DROPPED'],
      ['ERROR', 'resume', 'ACTIVE'],
      ['ERROR', 'reinitialize', 'INITIALIZING'],
      ['ERROR', 'drop', 'DROPPED'],
    ]);
    expect(streamTableStatusMachine.terminal).toEqual(['DROPPED']);
    expect(() => streamTableStatusMachine.transition('DROPPED', 'resume')).toThrow(
      'stream-table status: event "resume" is not allowed in state DROPPED (DROPPED is terminal: no event is allowed)',
    );
  });

  it('its states are exactly StreamTableStatus of @pgtrickle/gates', () => {
    expectTypeOf<StreamTableStatus>().toEqualTypeOf<GatesStatus>();
    // and at run time, the list has each of them once
    const all: Record<GatesStatus, true> = {
      PENDING: true,
      INITIALIZING: true,
      ACTIVE: true,
      SUSPENDED: true,
      ERROR: true,
      DROPPED: true,
    };
    expect([...streamTableStatusMachine.states].sort()).toEqual(Object.keys(all).sort());
    const fromGates: GatesStatus = 'SUSPENDED';
    expect(streamTableStatusMachine.isState(fromGates satisfies StreamTableStatus)).toBe(true);
  });

  it('the fuse and refresh-mode states equal those of @pgtrickle/gates too', () => {
    expectTypeOf<FuseState>().toEqualTypeOf<GatesFuseState>();
    expectTypeOf<RefreshMode>().toEqualTypeOf<GatesRefreshMode>();
  });

  it('the exported step types are exactly the steps the machines use', () => {
    expectTypeOf<StepOf<typeof refreshModeMachine>>().toEqualTypeOf<RefreshModeStep>();
    expectTypeOf<StepOf<typeof cdcModeMachine>>().toEqualTypeOf<CdcModeStep>();
    expectTypeOf<StepOf<typeof blueGreenMachine>>().toEqualTypeOf<BlueGreenStep>();
    expectTypeOf<StepOf<typeof fuseMachine>>().toEqualTypeOf<never>();
    expectTypeOf<StateOf<typeof blueGreenMachine>>().toEqualTypeOf<BlueGreenState>();
    expectTypeOf<EventOf<typeof fuseMachine>>().toEqualTypeOf<FuseEvent>();
    // and every described step is used by some transition
    const used = (m: { transitions: readonly { steps: readonly string[] }[] }) =>
      new Set(m.transitions.flatMap((t) => t.steps));
    expect(used(refreshModeMachine)).toEqual(new Set(Object.keys(REFRESH_MODE_STEPS)));
    expect(used(cdcModeMachine)).toEqual(new Set(Object.keys(CDC_MODE_STEPS)));
    expect(used(blueGreenMachine)).toEqual(new Set(Object.keys(BLUE_GREEN_STEPS)));
  });
});

describe('refresh mode', () => {
  it('allows every switch between two different modes, each with its steps', () => {
    expectTable(refreshModeMachine, [
      [
        'FULL',
        'switch_to_differential',
        'DIFFERENTIAL',
        ['install_change_capture', 'seed_frontier', 'full_refresh'],
      ],
      [
        'FULL',
        'switch_to_immediate',
        'IMMEDIATE',
        ['unregister_change_consumer', 'install_immediate_triggers', 'full_refresh'],
      ],
      ['DIFFERENTIAL', 'switch_to_full', 'FULL', []],
      [
        'DIFFERENTIAL',
        'switch_to_immediate',
        'IMMEDIATE',
        ['unregister_change_consumer', 'install_immediate_triggers', 'full_refresh'],
      ],
      ['IMMEDIATE', 'switch_to_full', 'FULL', ['drop_immediate_triggers', 'full_refresh']],
      [
        'IMMEDIATE',
        'switch_to_differential',
        'DIFFERENTIAL',
        ['drop_immediate_triggers', 'install_change_capture', 'seed_frontier', 'full_refresh'],
      ],
    ]);
  });

  it('refreshModeTransitionSteps gives the ordered steps, [] for the same mode', () => {
    expect(refreshModeTransitionSteps('DIFFERENTIAL', 'IMMEDIATE')).toEqual([
      'unregister_change_consumer',
      'install_immediate_triggers',
      'full_refresh',
    ]);
    expect(refreshModeTransitionSteps('IMMEDIATE', 'DIFFERENTIAL')).toEqual([
      'drop_immediate_triggers',
      'install_change_capture',
      'seed_frontier',
      'full_refresh',
    ]);
    expect(refreshModeTransitionSteps('FULL', 'DIFFERENTIAL')).toEqual([
      'install_change_capture',
      'seed_frontier',
      'full_refresh',
    ]);
    expect(refreshModeTransitionSteps('DIFFERENTIAL', 'FULL')).toEqual([]);
    for (const m of refreshModeMachine.states) expect(refreshModeTransitionSteps(m, m)).toEqual([]);
    expect(refreshModeEvent('IMMEDIATE')).toBe('switch_to_immediate');
    expect(() => refreshModeTransitionSteps('AUTO' as never, 'FULL')).toThrow(UnknownValueError);
  });

  it('keeps its invariants: capture before the frontier, the frontier with a full refresh, triggers gone when leaving IMMEDIATE', () => {
    for (const from of refreshModeMachine.states) {
      for (const to of refreshModeMachine.states) {
        const steps = refreshModeTransitionSteps(from, to);
        for (const s of steps) expect(REFRESH_MODE_STEPS[s]).toEqual(expect.any(String));
        if (to === 'DIFFERENTIAL' && from !== to) {
          expect(steps.indexOf('install_change_capture')).toBeGreaterThanOrEqual(0);
          expect(steps.indexOf('install_change_capture')).toBeLessThan(steps.indexOf('seed_frontier'));
          expect(steps).toContain('full_refresh');
        }
        if (to === 'IMMEDIATE' && from !== to) {
          expect(steps).toContain('install_immediate_triggers');
          expect(steps.at(-1)).toBe('full_refresh');
        }
        if (from === 'IMMEDIATE' && to !== from) expect(steps[0]).toBe('drop_immediate_triggers');
        expect(new Set(steps).size).toBe(steps.length);
      }
    }
  });
});

describe('CDC mode', () => {
  it('TRIGGER → TRANSITIONING → WAL, falling back to TRIGGER on timeout or error', () => {
    expectTable(cdcModeMachine, [
      [
        'TRIGGER',
        'begin_transition',
        'TRANSITIONING',
        ['create_publication', 'create_replication_slot', 'start_decoding'],
      ],
      ['TRANSITIONING', 'decoder_caught_up', 'WAL', ['drop_cdc_triggers']],
      [
        'TRANSITIONING',
        'transition_timeout',
        'TRIGGER',
        ['stop_decoding', 'drop_replication_slot', 'drop_publication'],
      ],
      [
        'TRANSITIONING',
        'transition_failed',
        'TRIGGER',
        ['stop_decoding', 'drop_replication_slot', 'drop_publication'],
      ],
      [
        'TRANSITIONING',
        'revert_to_trigger',
        'TRIGGER',
        ['stop_decoding', 'drop_replication_slot', 'drop_publication'],
      ],
      [
        'WAL',
        'wal_failed',
        'TRIGGER',
        [
          'install_cdc_triggers',
          'stop_decoding',
          'drop_replication_slot',
          'drop_publication',
          'reinitialize_consumers',
        ],
      ],
      [
        'WAL',
        'revert_to_trigger',
        'TRIGGER',
        [
          'install_cdc_triggers',
          'drain_decoder',
          'stop_decoding',
          'drop_replication_slot',
          'drop_publication',
        ],
      ],
    ]);
    expect(cdcModeMachine.terminal).toEqual([]);
    expect(cdcModeMachine.run(['begin_transition', 'decoder_caught_up'])).toBe('WAL');
    expect(() => cdcModeMachine.transition('TRIGGER', 'decoder_caught_up')).toThrow(
      'CDC mode: event "decoder_caught_up" is not allowed in state TRIGGER (allowed from TRIGGER: "begin_transition")',
    );
  });
});

describe('blue-green', () => {
  it('CREATING → CATCHING_UP ⇄ CONVERGED → PROMOTED → RETIRED, rollback from every non-terminal state', () => {
    expectTable(blueGreenMachine, [
      ['CREATING', 'created', 'CATCHING_UP'],
      ['CREATING', 'rollback', 'ROLLED_BACK', ['drop_green']],
      ['CATCHING_UP', 'converged', 'CONVERGED'],
      ['CATCHING_UP', 'force_promote', 'PROMOTED', ['swap_tables', 'retire_blue']],
      ['CATCHING_UP', 'rollback', 'ROLLED_BACK', ['drop_green']],
      ['CONVERGED', 'diverged', 'CATCHING_UP'],
      ['CONVERGED', 'promote', 'PROMOTED', ['swap_tables', 'retire_blue']],
      ['CONVERGED', 'rollback', 'ROLLED_BACK', ['drop_green']],
      ['PROMOTED', 'rollback', 'ROLLED_BACK', ['swap_back', 'drop_green']],
      ['PROMOTED', 'retire', 'RETIRED', ['drop_retired']],
    ]);
    expect(blueGreenMachine.terminal).toEqual(['ROLLED_BACK', 'RETIRED']);
    for (const s of blueGreenMachine.states) {
      expect(blueGreenMachine.can(s, 'rollback')).toBe(!blueGreenMachine.isTerminal(s));
    }
    expect(() => blueGreenMachine.transition('CATCHING_UP', 'promote')).toThrow(InvalidTransitionError);
    expect(() => blueGreenMachine.transition('CONVERGED', 'retire')).toThrow(InvalidTransitionError);
  });
});
