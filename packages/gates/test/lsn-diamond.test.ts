import { describe, expect, it } from 'vitest';
import {
  ContextProvider,
  compareLsn,
  createGateContext,
  DiamondConsistencyGate,
  defineContextKey,
  defineTickKey,
  diamondConsistencyGate,
  fixedClock,
  formatLsn,
  frontierLsn,
  GateConfigError,
  GateTick,
  isLsn,
  LsnTickGate,
  lsnTickGate,
  parseLsn,
  type StreamTableMeta,
  tickLsn,
  upstreamEpochs,
} from '../src/index.js';
import { meta, T0 } from './helpers.js';

const clock = fixedClock(T0);

describe('pg_lsn helpers', () => {
  it('parses, formats and orders by position, not by text', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(formatLsn(parseLsn('16/b374d848'))).toBe('16/B374D848');
    expect(compareLsn('0/9', '0/10')).toBeLessThan(0);
    expect(compareLsn('1/0', '0/FFFFFFFF')).toBeGreaterThan(0);
    expect(compareLsn('0/A', '0/a')).toBe(0);
    expect(isLsn('0/1A')).toBe(true);
    expect(isLsn('01A')).toBe(false);
    expect(() => parseLsn('x/1')).toThrow(GateConfigError);
  });
});

describe('LsnTickGate', () => {
  const gate = lsnTickGate();
  const run = (st: StreamTableMeta, bound: string | null, frontier: string | null, tick?: GateTick) => {
    const t =
      tick ??
      new GateTick({
        clock,
        tick: 3,
        provider: new ContextProvider().provide(tickLsn, () => bound).provide(frontierLsn, () => frontier),
      });
    return gate.evaluate(st, t.context(st));
  };

  it('proceeds when the frontier is at or below the tick bound, or absent', async () => {
    expect((await run(meta(), '0/100', '0/FF')).kind).toBe('proceed');
    expect((await run(meta(), '0/100', '0/100')).kind).toBe('proceed');
    expect((await run(meta(), '0/100', null)).kind).toBe('proceed');
  });

  it('skips when no bound was captured', async () => {
    expect(await run(meta(), null, '0/1')).toEqual({
      kind: 'skip',
      reason: 'no tick bound was captured in tick 3; retrying next tick',
    });
  });

  it('skips a table whose frontier is ahead of the bound (capping would regress it)', async () => {
    expect(await run(meta(), '0/100', '0/101')).toEqual({
      kind: 'skip',
      reason:
        '"public.st1" frontier 0/101 is ahead of the tick bound 0/100; a refresh capped at the bound would move it backwards, retrying next tick',
    });
  });

  it('loads the bound once per tick for every table', async () => {
    let captured = 0;
    const tick = new GateTick({
      clock,
      provider: new ContextProvider()
        .provide(tickLsn, () => {
          captured++;
          return '0/100';
        })
        .provide(frontierLsn, () => '0/1'),
    });
    for (const id of ['a', 'b', 'c']) await run(meta({ id }), null, null, tick);
    expect(captured).toBe(1);
  });

  it('works over any bound type', async () => {
    const bound = defineTickKey<bigint | null>('snapshot');
    const frontier = defineContextKey<bigint | null>('snapshotFrontier');
    const g = new LsnTickGate<bigint>({
      order: { compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0) },
      tickBound: bound,
      frontier,
      format: (v) => `#${v}`,
    });
    const st = meta();
    const ctx = createGateContext(st, {
      clock,
      provider: new ContextProvider().provide(bound, () => 10n).provide(frontier, () => 11n),
    });
    expect(await g.evaluate(st, ctx)).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('#11 is ahead of the tick bound #10'),
    });
  });
});

describe('DiamondConsistencyGate', () => {
  const gate = diamondConsistencyGate();
  const apex = meta({ id: 'd', consistencyGroupId: 'detected:b,c,d' });
  const run = (st: StreamTableMeta, epochs: Record<string, number | undefined>) =>
    gate.evaluate(
      st,
      createGateContext(st, {
        clock,
        provider: new ContextProvider().provide(upstreamEpochs, () => new Map(Object.entries(epochs))),
      }),
    );

  it('proceeds when the in-group upstreams share one epoch', async () => {
    expect((await run(apex, { b: 5, c: 5 })).kind).toBe('proceed');
  });

  it('skips naming every upstream that is behind', async () => {
    expect(await run(apex, { b: 5, c: 4, e: 3 })).toEqual({
      kind: 'skip',
      reason: 'diamond inputs of "public.d" not aligned: upstream "c" at 4, "e" at 3 behind "b" at 5',
    });
  });

  it('skips when an upstream has no frontier yet', async () => {
    expect(await run(apex, { b: 5, c: undefined })).toEqual({
      kind: 'skip',
      reason: 'diamond inputs of "public.d" not aligned: upstream "c" has no frontier yet',
    });
  });

  it('proceeds for fewer than two inputs, and for tables in no group without loading', async () => {
    expect((await run(apex, { b: 1 })).kind).toBe('proceed');
    const loner = meta({ id: 'x' });
    expect((await gate.evaluate(loner, createGateContext(loner, { clock }))).kind).toBe('proceed');
  });

  it('accepts custom frontier values', async () => {
    const key = defineContextKey<ReadonlyMap<string, string | undefined>>('lsnFrontiers');
    const g = new DiamondConsistencyGate<string>({ order: { compare: compareLsn }, frontiers: key });
    const ctx = createGateContext(apex, {
      clock,
      provider: new ContextProvider().provide(
        key,
        () =>
          new Map([
            ['b', '0/10'],
            ['c', '0/9'],
          ]),
      ),
    });
    expect(await g.evaluate(apex, ctx)).toMatchObject({
      reason: expect.stringContaining('"c" at 0/9 behind "b" at 0/10'),
    });
  });
});
