/** The fuse's rules beyond the basics: TRUNCATE, consecutive over-ceiling checks, the statistical rule's numbers. */

import type { SummaryStatistics } from '@pgtrickle/stats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ContextProvider,
  changeCountBaseline,
  createGateContext,
  type FuseMeta,
  fixedClock,
  fuseGate,
  fuseTrip,
  overCeilingStreak,
  pendingChangeCount,
  pendingTruncate,
} from '../src/index.js';
import { meta, T0 } from './helpers.js';

const clock = fixedClock(T0);
const none: SummaryStatistics = { count: 0, mean: 0, variance: 0, stddev: 0 };

function run(
  fuse: FuseMeta,
  values: { count: number; truncated?: boolean; streak?: number; baseline?: SummaryStatistics },
) {
  const loaded: string[] = [];
  const provider = new ContextProvider()
    .provide(pendingChangeCount, () => {
      loaded.push('count');
      return values.count;
    })
    .provide(pendingTruncate, () => {
      loaded.push('truncate');
      return values.truncated ?? false;
    })
    .provide(overCeilingStreak, () => {
      loaded.push('streak');
      return values.streak ?? 0;
    })
    .provide(changeCountBaseline, () => {
      loaded.push('baseline');
      return values.baseline ?? none;
    });
  const st = meta({ fuse });
  return { loaded, decision: fuseGate().evaluate(st, createGateContext(st, { clock, provider })) };
}

describe('fuse rules', () => {
  it('a TRUNCATE among the pending changes blows an on or auto fuse, whatever the count', async () => {
    for (const fuse of [
      { mode: 'fixed', ceiling: 1000 },
      { mode: 'statistical', ceiling: null },
    ] as const) {
      const d = await run({ ...fuse, state: 'INTACT' }, { count: 0, truncated: true }).decision;
      expect(d).toMatchObject({
        kind: 'block',
        effect: { kind: 'blow-fuse', trigger: 'truncate', reason: expect.stringContaining('TRUNCATE') },
      });
    }
    expect((await run({ mode: 'off', state: 'INTACT' }, { count: 0, truncated: true }).decision).kind).toBe(
      'proceed',
    );
    // an 'on' fuse without any ceiling is inert: it loads nothing and never blows
    const inert = run({ mode: 'fixed', ceiling: null, state: 'INTACT' }, { count: 1e9, truncated: true });
    expect((await inert.decision).kind).toBe('proceed');
    expect(inert.loaded).toEqual([]);
  });

  it('the ceiling is strict: equal passes', async () => {
    expect((await run({ mode: 'fixed', ceiling: 50, state: 'INTACT' }, { count: 50 }).decision).kind).toBe(
      'proceed',
    );
    expect((await run({ mode: 'fixed', ceiling: 50, state: 'INTACT' }, { count: 51 }).decision).kind).toBe(
      'block',
    );
  });

  it('sensitivity 3: over the ceiling after 0 or 1 over-ceiling batches proceeds; after 2 it blows', async () => {
    const fuse: FuseMeta = { mode: 'fixed', ceiling: 50, consecutive: 3, state: 'INTACT' };
    expect((await run(fuse, { count: 200, streak: 0 }).decision).kind).toBe('proceed');
    expect((await run(fuse, { count: 200, streak: 1 }).decision).kind).toBe('proceed');
    const d = await run(fuse, { count: 200, streak: 2 }).decision;
    expect(d).toMatchObject({
      kind: 'block',
      effect: { reason: 'change count (200) exceeded ceiling (50) on 3 consecutive checks' },
    });
    // under the ceiling, the streak is not even loaded
    const under = run(fuse, { count: 10, streak: 99 });
    expect((await under.decision).kind).toBe('proceed');
    expect(under.loaded).not.toContain('streak');
  });

  it('law: with sensitivity n, an over-ceiling count blows iff the streak before it is at least n − 1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        (n, streak, count, ceiling) => {
          const trip = fuseTrip(
            { mode: 'fixed', ceiling, consecutive: n, state: 'INTACT' },
            count,
            false,
            streak,
            none,
          );
          expect(trip !== null).toBe(count > ceiling && streak >= n - 1);
        },
      ),
    );
  });

  it('statistical: blows on μ + k·σ with the numbers in the reason; σ = 0 trips on anything above μ', async () => {
    const fuse: FuseMeta = { mode: 'statistical', state: 'INTACT' };
    const baseline: SummaryStatistics = { count: 20, mean: 120, variance: 45 * 45, stddev: 45 };
    expect((await run(fuse, { count: 255, baseline }).decision).kind).toBe('proceed');
    const d = await run(fuse, { count: 50_000, baseline }).decision;
    expect(d).toMatchObject({
      kind: 'block',
      effect: {
        trigger: 'z-score',
        reason:
          'change count (50000) exceeded μ + k·σ = 255 (μ 120, σ 45, k 3, over the last 20 applied refreshes)',
        baseline: { mean: 120, stddev: 45, k: 3, samples: 20 },
      },
    });
    const flat: SummaryStatistics = { count: 10, mean: 100, variance: 0, stddev: 0 };
    expect((await run(fuse, { count: 100, baseline: flat }).decision).kind).toBe('proceed');
    expect((await run(fuse, { count: 101, baseline: flat }).decision).kind).toBe('block');
  });

  it('statistical: inactive below min samples (only the ceiling applies); a fixed fuse never loads the baseline', async () => {
    const young: SummaryStatistics = { count: 9, mean: 1, variance: 0, stddev: 0 };
    expect(
      (await run({ mode: 'statistical', state: 'INTACT' }, { count: 1e6, baseline: young }).decision).kind,
    ).toBe('proceed');
    expect(
      (
        await run({ mode: 'statistical', ceiling: 10, state: 'INTACT' }, { count: 11, baseline: young })
          .decision
      ).kind,
    ).toBe('block');
    const fixed = run({ mode: 'fixed', ceiling: 10, state: 'INTACT' }, { count: 5 });
    await fixed.decision;
    expect(fixed.loaded).not.toContain('baseline');
  });

  it('law: trips are monotone in the count (statistical rule, any baseline, k, min samples)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e4, noNaN: true }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        fc.integer({ min: 2, max: 30 }),
        fc.integer({ min: 0, max: 2e6 }),
        fc.integer({ min: 0, max: 1000 }),
        (count, mean, stddev, k, minSamples, value, extra) => {
          const fuse: FuseMeta = { mode: 'statistical', sensitivity: k, minSamples, state: 'INTACT' };
          const baseline = { count, mean, stddev, variance: stddev * stddev };
          if (fuseTrip(fuse, value, false, 0, baseline) !== null) {
            expect(fuseTrip(fuse, value + extra, false, 0, baseline)).not.toBeNull();
          }
          if (count < minSamples) expect(fuseTrip(fuse, value, false, 0, baseline)).toBeNull();
        },
      ),
    );
  });
});
