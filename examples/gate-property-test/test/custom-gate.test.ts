/**
 * A custom user-written gate (a daily maintenance window) composed into the default pipeline.
 * Properties:
 * 1. inside the window the composed pipeline never proceeds;
 * 2. outside the window the custom gate is transparent: the composed pipeline decides exactly what
 *    the default pipeline decides;
 * 3. the custom gate can sit anywhere in the order without changing "proceed or not".
 */
import {
  ContextProvider,
  changedUpstreams,
  defaultPipeline,
  fixedClock,
  frontierLsn,
  GateTick,
  pendingChangeCount,
  type StreamTableMeta,
  tickLsn,
} from '@pgtrickle/gates';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inWindow, type MaintenanceWindow, maintenanceWindowGate } from '../src/maintenance-window.js';

const DAY = new Date('2024-06-01T00:00:00Z').getTime();
const MINUTES = 24 * 60;

/** A table refreshed `sinceMs` before `now`, with `changes` pending and a 1 s interval. */
function table(now: number, sinceMs: number): StreamTableMeta {
  return {
    id: 'sales',
    name: 'public.sales',
    status: 'ACTIVE',
    refreshMode: 'DIFFERENTIAL',
    schedule: { kind: 'interval', ms: 1000 },
    lastRefreshAt: new Date(now - sinceMs),
    consecutiveErrors: 0,
  };
}

function provider(changes: number) {
  return new ContextProvider()
    .provide(tickLsn, () => '0/100')
    .provide(frontierLsn, () => '0/80')
    .provide(pendingChangeCount, () => changes)
    .provide(changedUpstreams, () => []);
}

type Position = 'first' | 'after-status' | 'last';

interface Scenario {
  readonly window: MaintenanceWindow;
  readonly minuteOfDay: number;
  readonly sinceMs: number;
  readonly changes: number;
}

const windowArb = fc.record({ startMinute: fc.nat(MINUTES - 1), endMinute: fc.nat(MINUTES - 1) });
const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  window: windowArb,
  minuteOfDay: fc.nat(MINUTES - 1),
  sinceMs: fc.nat(5000),
  changes: fc.nat(20),
});

async function verdicts(s: Scenario, position: Position) {
  const now = DAY + s.minuteOfDay * 60_000;
  const st = table(now, s.sinceMs);
  const base = defaultPipeline();
  const gate = maintenanceWindowGate(s.window);
  const composed =
    position === 'last'
      ? base.with(gate)
      : position === 'first'
        ? base.with(gate, { before: 'status' })
        : base.with(gate, { after: 'status' });
  const tick = new GateTick({ clock: fixedClock(new Date(now)), provider: provider(s.changes) });
  return {
    inside: inWindow(s.window, new Date(now)),
    plain: await base.evaluate(st, tick.context(st)),
    composed: await composed.evaluate(st, tick.context(st)),
  };
}

describe('a maintenance-window gate composed into the default pipeline', () => {
  it('never lets a refresh through inside the window', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenarioArb,
        fc.constantFrom<Position>('first', 'after-status', 'last'),
        async (s, pos) => {
          const v = await verdicts(s, pos);
          if (v.inside) expect(v.composed.decision.kind).not.toBe('proceed');
        },
      ),
    );
  });

  it('is transparent outside the window', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenarioArb,
        fc.constantFrom<Position>('first', 'after-status', 'last'),
        async (s, pos) => {
          const v = await verdicts(s, pos);
          if (!v.inside) expect(v.composed).toEqual(v.plain);
        },
      ),
    );
  });

  it('inside the window, the decision comes from the custom gate or a gate before it', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const v = await verdicts(s, 'first');
        if (v.inside) expect(v.composed.gate).toBe('maintenance-window');
      }),
    );
  });
});
