import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyOf,
  blueGreenSnapshotFrontiers,
  blueMeta,
  ContextProvider,
  ConvergenceGate,
  createGateContext,
  fixedClock,
  hasPendingSourceChanges,
  noPendingChanges,
  parseSnapshot,
  type Snapshot,
  type SnapshotFrontier,
  snapshotCovers,
  snapshotFrontierCovers,
  visibleInSnapshot,
} from '../src/index.js';
import { meta, T0 } from './helpers.js';

/** A random snapshot over xids 3..40: xmin ≤ xmax, xip a subset of [xmin, xmax) containing xmin when xmin < xmax. */
const snapshotArb: fc.Arbitrary<Snapshot> = fc
  .tuple(
    fc.integer({ min: 3, max: 40 }),
    fc.integer({ min: 0, max: 12 }),
    fc.array(fc.nat(), { maxLength: 8 }),
  )
  .map(([xmin, span, picks]) => {
    const xmax = xmin + span;
    const xip = new Set<number>();
    if (span > 0) {
      xip.add(xmin);
      for (const p of picks) xip.add(xmin + (p % span));
    }
    return {
      xmin: BigInt(xmin),
      xmax: BigInt(xmax),
      xip: [...xip].sort((a, b) => a - b).map((x) => BigInt(x)),
    };
  });

const text = (s: Snapshot) => `${s.xmin}:${s.xmax}:${s.xip.join(',')}`;

describe('snapshot frontiers', () => {
  it('parses pg_snapshot text and refuses anything else', () => {
    expect(parseSnapshot('100:104:100,102')).toEqual({ xmin: 100n, xmax: 104n, xip: [100n, 102n] });
    expect(parseSnapshot('7:7:')).toEqual({ xmin: 7n, xmax: 7n, xip: [] });
    expect(() => parseSnapshot('0/16B3')).toThrow(/not a pg_snapshot/);
  });

  it('covers is exactly "every transaction visible to blue is visible to green" (brute force over xids)', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, (g, b) => {
        let expected = true;
        for (let x = 0n; x < 60n; x++)
          if (visibleInSnapshot(x, b) && !visibleInSnapshot(x, g)) expected = false;
        expect(snapshotCovers(text(g), text(b))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('covering is reflexive and transitive', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, snapshotArb, (a, b, c) => {
        expect(snapshotCovers(a, a)).toBe(true);
        if (snapshotCovers(a, b) && snapshotCovers(b, c)) expect(snapshotCovers(a, c)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('snapshot-frontier convergence', () => {
  const clock = fixedClock(T0);
  const blue = meta({ id: 'blue' });
  const st = meta({ id: 'green', greenOf: 'blue' });
  const decide = (
    frontiers: { blue: SnapshotFrontier | null; green: SnapshotFrontier | null },
    pending = true,
  ) =>
    new ConvergenceGate({ checks: [anyOf([snapshotFrontierCovers(), noPendingChanges()])] }).evaluate(
      st,
      createGateContext(st, {
        clock,
        provider: new ContextProvider()
          .provide(blueMeta, () => blue)
          .provide(blueGreenSnapshotFrontiers, () => frontiers)
          .provide(hasPendingSourceChanges, () => pending),
      }),
    );
  const f = (snapshot: string, epochs: Record<string, string> = {}): SnapshotFrontier => ({
    snapshot,
    epochs,
  });

  it('proceeds when green covers blue, skips with the reason otherwise', async () => {
    expect((await decide({ blue: f('10:12:10'), green: f('11:15:11') })).kind).toBe('skip');
    expect((await decide({ blue: f('10:12:10'), green: f('10:15:10') })).kind).toBe('proceed');
    const d = await decide({ blue: f('10:14:'), green: f('10:12:') });
    expect(d).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining("does not cover blue's 10:14:"),
    });
    expect((await decide({ blue: null, green: null })).kind).toBe('proceed');
    expect((await decide({ blue: f('1:1:'), green: null })).kind).toBe('skip');
  });

  it('compares the epochs of shared stream-table sources', async () => {
    expect((await decide({ blue: f('5:5:', { 7: '4' }), green: f('6:6:', { 7: '3' }) })).kind).toBe('skip');
    expect((await decide({ blue: f('5:5:', { 7: '4' }), green: f('6:6:', { 7: '4', 9: '1' }) })).kind).toBe(
      'proceed',
    );
  });

  it('a green with nothing pending has converged even if its stored frontier is older', async () => {
    expect((await decide({ blue: f('10:14:'), green: f('10:12:') }, false)).kind).toBe('proceed');
  });
});
