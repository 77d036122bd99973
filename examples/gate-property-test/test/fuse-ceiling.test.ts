/**
 * "The fuse gate never blocks below its ceiling in fixed mode" — and always blocks above it,
 * asking the scheduler to blow the fuse. Written the way a user would test a gate: a fake context
 * (the provider returns the generated change count), a fixed clock, fast-check for the inputs.
 */
import {
  ContextProvider,
  createGateContext,
  type FuseMeta,
  fixedClock,
  fuseGate,
  pendingChangeCount,
  type StreamTableMeta,
} from '@pgtrickle/gates';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const NOW = new Date('2024-06-01T00:00:00Z');

function tableWithFuse(fuse: FuseMeta): StreamTableMeta {
  return {
    id: 'orders_rollup',
    name: 'public.orders_rollup',
    status: 'ACTIVE',
    refreshMode: 'DIFFERENTIAL',
    schedule: { kind: 'interval', ms: 1000 },
    lastRefreshAt: NOW,
    consecutiveErrors: 0,
    fuse,
  };
}

async function decide(fuse: FuseMeta, changes: number) {
  const st = tableWithFuse(fuse);
  const provider = new ContextProvider().provide(pendingChangeCount, () => changes);
  return fuseGate().evaluate(st, createGateContext(st, { clock: fixedClock(NOW), provider }));
}

describe('fuse gate, fixed mode', () => {
  it('never blocks at or below its ceiling', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(1_000_000), fc.nat(1_000_000), async (ceiling, below) => {
        const changes = Math.min(below, ceiling);
        const d = await decide({ mode: 'fixed', ceiling, state: 'INTACT' }, changes);
        expect(d.kind).toBe('proceed');
      }),
    );
  });

  it('always blocks above its ceiling, asking for the fuse to be blown', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(1_000_000), fc.integer({ min: 1, max: 1_000_000 }), async (ceiling, excess) => {
        const d = await decide({ mode: 'fixed', ceiling, state: 'INTACT' }, ceiling + excess);
        expect(d.kind).toBe('block');
        if (d.kind === 'block') {
          expect(d.effect).toMatchObject({
            kind: 'blow-fuse',
            streamTable: 'orders_rollup',
            trigger: 'ceiling',
          });
        }
      }),
    );
  });

  it('a blown fuse blocks whatever the change count, until reset', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(1_000_000), fc.nat(1_000_000), async (ceiling, changes) => {
        const d = await decide({ mode: 'fixed', ceiling, state: 'BLOWN' }, changes);
        expect(d.kind).toBe('block');
        if (d.kind === 'block') expect(d.effect).toBeUndefined();
      }),
    );
  });
});
