/**
 * Properties of every machine over random event sequences (valid and invalid events mixed): the
 * state is always a declared one; an invalid event throws InvalidTransitionError and leaves the
 * state unchanged; an allowed event moves exactly as the table says; terminal states are
 * absorbing; `run` agrees with a step-by-step instance.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blueGreenMachine,
  cdcModeMachine,
  fuseMachine,
  InvalidTransitionError,
  type Machine,
  refreshModeMachine,
  streamTableStatusMachine,
} from '../src/index.js';

/** Property runs; raise with FC_RUNS for a longer soak. */
const runs = { numRuns: Number(process.env.FC_RUNS ?? 300) };

function suite<S extends string, E extends string, X extends string>(machine: Machine<S, E, X>): void {
  describe(`properties: ${machine.name}`, () => {
    const start = fc.constantFrom(...machine.states);
    const events = fc.array(fc.constantFrom(...machine.events), { maxLength: 60 });

    it('never reaches an undeclared state; a rejected event changes nothing; terminals absorb', () => {
      fc.assert(
        fc.property(start, events, (from, sequence) => {
          const run = machine.start(from);
          let reachedTerminal: S | null = machine.isTerminal(from) ? from : null;
          for (const event of sequence) {
            const before = run.state;
            const expected = machine.transitions.find((t) => t.from === before && t.event === event);
            if (expected === undefined) {
              expect(() => run.send(event)).toThrow(InvalidTransitionError);
              expect(run.state).toBe(before);
            } else {
              expect(run.send(event)).toBe(expected);
              expect(run.state).toBe(expected.to);
            }
            expect(machine.states).toContain(run.state);
            if (reachedTerminal !== null) expect(run.state).toBe(reachedTerminal);
            if (machine.isTerminal(run.state)) reachedTerminal = run.state;
          }
        }),
        runs,
      );
    });

    it('run over the allowed prefix equals stepping one event at a time', () => {
      fc.assert(
        fc.property(start, events, (from, sequence) => {
          const run = machine.start(from);
          const accepted: E[] = [];
          for (const event of sequence) {
            if (!run.can(event)) continue;
            run.send(event);
            accepted.push(event);
          }
          expect(machine.run(accepted, from)).toBe(run.state);
        }),
        runs,
      );
    });
  });
}

suite(fuseMachine);
suite(streamTableStatusMachine);
suite(refreshModeMachine);
suite(cdcModeMachine);
suite(blueGreenMachine);
