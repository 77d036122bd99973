/**
 * Example tests of the generic machine: inferred types, compile-time and run-time validation of
 * definitions, transitions and their errors, runtime parsing, explain/Mermaid, Lifecycle instances.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  defineMachine,
  InvalidMachineError,
  InvalidTransitionError,
  LifecycleError,
  type Machine,
  type MachineSpec,
  machineProblems,
  type Transition,
  UnknownValueError,
} from '../src/index.js';

const door = defineMachine({
  name: 'door',
  states: ['OPEN', 'CLOSED', 'LOCKED', 'GONE'],
  events: ['close', 'open', 'lock', 'unlock', 'remove'],
  initial: 'CLOSED',
  terminal: ['GONE'],
  transitions: {
    OPEN: {
      close: 'CLOSED',
      remove: { to: 'GONE', steps: ['unscrew', 'carry'], description: 'take it away' },
    },
    CLOSED: { open: 'OPEN', lock: { to: 'LOCKED', steps: ['turn key'] } },
    LOCKED: { unlock: 'CLOSED' },
  },
  descriptions: { states: { LOCKED: 'needs the key' }, events: { lock: 'turn the key' } },
});

describe('defineMachine', () => {
  it('infers the state, event and step unions', () => {
    expectTypeOf(door).toEqualTypeOf<
      Machine<
        'OPEN' | 'CLOSED' | 'LOCKED' | 'GONE',
        'close' | 'open' | 'lock' | 'unlock' | 'remove',
        'unscrew' | 'carry' | 'turn key'
      >
    >();
    expectTypeOf(door.transition('OPEN', 'close')).toEqualTypeOf<'OPEN' | 'CLOSED' | 'LOCKED' | 'GONE'>();
    expectTypeOf(door.step('OPEN', 'remove').steps).toEqualTypeOf<
      readonly ('unscrew' | 'carry' | 'turn key')[]
    >();
    // @ts-expect-error: not a state of the machine
    expect(() => door.transition('AJAR', 'close')).toThrow(UnknownValueError);
    // @ts-expect-error: not an event of the machine
    expect(() => door.transition('OPEN', 'slam')).toThrow(InvalidTransitionError);
    const plain = defineMachine({
      name: 'p',
      states: ['A', 'B'],
      events: ['go'],
      initial: 'A',
      terminal: ['B'],
      transitions: { A: { go: 'B' } },
    });
    expectTypeOf(plain.step('A', 'go')).toEqualTypeOf<Transition<'A' | 'B', 'go', never>>();
  });

  it('rejects typos in the definition at compile time', () => {
    const base = { name: 'x', states: ['A', 'B'], events: ['go'], initial: 'A', terminal: ['B'] } as const;
    // @ts-expect-error: the target is not a state
    expect(() => defineMachine({ ...base, transitions: { A: { go: 'C' } } })).toThrow(InvalidMachineError);
    // @ts-expect-error: the event is not declared
    expect(() => defineMachine({ ...base, transitions: { A: { goo: 'B' } } })).toThrow(InvalidMachineError);
    // @ts-expect-error: the initial state is not a state
    expect(() => defineMachine({ ...base, initial: 'Z', transitions: { A: { go: 'B' } } })).toThrow(
      InvalidMachineError,
    );
  });

  it('validates at run time, listing every problem', () => {
    const spec = {
      name: 'broken',
      states: ['A', 'B', 'B', 'C', 'D', 'E'],
      events: ['go', 'go', 'unused', 'back'],
      initial: 'A',
      terminal: ['C', 'Q'],
      transitions: {
        A: { go: 'B', nope: 'A' },
        B: { go: 'X' },
        C: { back: 'A' },
        Z: { go: 'A' },
        E: { go: { to: 'A', steps: [1] } },
      },
    } as unknown as MachineSpec<string, string, string>;
    expect(machineProblems(spec)).toEqual([
      'states "B" are listed more than once',
      'events "go" are listed more than once',
      'terminal state "Q" is not one of the states',
      '"A" has a transition on "nope", which is not one of the events',
      '"B" --go--> "X": the target is not one of the states',
      'transitions are given from "Z", which is not one of the states',
      '"E" --go--> "A": steps must be a list of non-empty names',
      'state "B" has no transitions out; add some or declare it terminal',
      'terminal state "C" has transitions out',
      'state "D" has no transitions out; add some or declare it terminal',
      'event "unused" is used by no transition',
      'states "C", "D", "E" cannot be reached from "A"',
    ]);
    let error: unknown;
    try {
      defineMachine(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidMachineError);
    expect(error).toBeInstanceOf(LifecycleError);
    expect(error).toMatchObject({ code: 'PGT_INVALID_ARGUMENT', machine: 'broken' });
    expect((error as Error).message).toMatch(
      /^invalid state machine "broken": states "B" are listed more than once; /,
    );
    expect(
      machineProblems({
        name: '',
        states: [],
        events: [],
        initial: 'A',
        transitions: {},
      } as unknown as MachineSpec<string, string, string>),
    ).toEqual([
      'the name must be non-empty text',
      'it needs at least one state',
      'the initial state "A" is not one of the states',
    ]);
  });
});

describe('Machine', () => {
  it('transition / step / can / allowed / exits / isTerminal', () => {
    expect(door.transition('CLOSED', 'lock')).toBe('LOCKED');
    expect(door.step('CLOSED', 'lock')).toEqual({
      from: 'CLOSED',
      event: 'lock',
      to: 'LOCKED',
      steps: ['turn key'],
      description: null,
    });
    expect(door.can('LOCKED', 'open')).toBe(false);
    expect(door.can('LOCKED', 'unlock')).toBe(true);
    expect(door.allowed('OPEN')).toEqual(['close', 'remove']);
    expect(door.allowed('GONE')).toEqual([]);
    expect(door.exits('CLOSED').map((t) => t.to)).toEqual(['OPEN', 'LOCKED']);
    expect(door.isTerminal('GONE')).toBe(true);
    expect(door.isTerminal('OPEN')).toBe(false);
  });

  it('an invalid event throws a typed error naming machine, state, event and the allowed events', () => {
    let error: unknown;
    try {
      door.transition('LOCKED', 'open');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({
      name: 'InvalidTransitionError',
      code: 'PGT_INVALID_TRANSITION',
      machine: 'door',
      state: 'LOCKED',
      event: 'open',
      allowed: ['unlock'],
    });
    expect((error as Error).message).toBe(
      'door: event "open" is not allowed in state LOCKED (allowed from LOCKED: "unlock"); the state is unchanged. ' +
        'Send one of the allowed events, or check that the state you hold is current.',
    );
    expect(() => door.transition('GONE', 'open')).toThrow(
      'door: event "open" is not allowed in state GONE (GONE is terminal: no event is allowed); the state is unchanged. ' +
        'Check that the state you hold is current.',
    );
  });

  it('parses runtime values (e.g. catalog text) as states and events', () => {
    expect(door.isState('OPEN')).toBe(true);
    expect(door.isState('open')).toBe(false);
    expect(door.isState(undefined)).toBe(false);
    expect(door.isEvent('lock')).toBe(true);
    expect(door.parseState('LOCKED')).toBe('LOCKED');
    expect(() => door.parseState('AJAR')).toThrow(
      'door: "AJAR" is not a state; expected one of "OPEN", "CLOSED", "LOCKED", "GONE".',
    );
    expect(() => door.parseEvent(7)).toThrow(UnknownValueError);
    expect(() => door.allowed('AJAR' as never)).toThrow(
      expect.objectContaining({ code: 'PGT_INVALID_ARGUMENT', kind: 'state' }),
    );
  });

  it('run applies a sequence and stops at the first invalid event', () => {
    expect(door.run(['open', 'close', 'lock', 'unlock'])).toBe('CLOSED');
    expect(door.run([], 'OPEN')).toBe('OPEN');
    expect(door.run(['close'], 'OPEN')).toBe('CLOSED');
    expect(() => door.run(['open', 'lock'])).toThrow(
      expect.objectContaining({ state: 'OPEN', event: 'lock' }),
    );
  });

  it('the table is frozen data', () => {
    expect(Object.isFrozen(door)).toBe(true);
    expect(Object.isFrozen(door.transitions)).toBe(true);
    expect(Object.isFrozen(door.transitions[0])).toBe(true);
    expect(door.transitions).toHaveLength(5);
    expect(door.describeState('LOCKED')).toBe('needs the key');
    expect(door.describeEvent('lock')).toBe('turn the key');
    expect(door.describeState('OPEN')).toBeUndefined();
  });

  it('explains itself as text and as a Mermaid diagram', () => {
    expect(door.explain()).toBe(
      [
        'state machine "door" (initial CLOSED)',
        'OPEN',
        '  close → CLOSED',
        '  remove → GONE [unscrew, carry]: take it away',
        'CLOSED',
        '  open → OPEN',
        '  lock → LOCKED [turn key]: turn the key',
        'LOCKED — needs the key',
        '  unlock → CLOSED',
        'GONE (terminal)',
      ].join('\n'),
    );
    expect(door.toMermaid()).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> CLOSED',
        '  OPEN --> CLOSED: close',
        '  OPEN --> GONE: remove',
        '  CLOSED --> OPEN: open',
        '  CLOSED --> LOCKED: lock',
        '  LOCKED --> CLOSED: unlock',
        '  GONE --> [*]',
      ].join('\n'),
    );
  });
});

describe('Lifecycle (a running instance)', () => {
  it('holds a state that changes only by allowed events', () => {
    const d = door.start();
    expect(d.state).toBe('CLOSED');
    expect(d.send('lock')).toMatchObject({ from: 'CLOSED', to: 'LOCKED', steps: ['turn key'] });
    expect(d.state).toBe('LOCKED');
    expect(d.can('open')).toBe(false);
    expect(d.allowed()).toEqual(['unlock']);
    expect(() => d.send('open')).toThrow(InvalidTransitionError);
    expect(d.state).toBe('LOCKED');
    d.send('unlock');
    d.send('open');
    d.send('remove');
    expect(d.isTerminal()).toBe(true);
    expect(door.start('OPEN').state).toBe('OPEN');
    expect(() => door.start('AJAR' as never)).toThrow(UnknownValueError);
  });
});
