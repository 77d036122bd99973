import type { RefreshUnit } from '@pgtrickle/groups';
import { describe, expect, it } from 'vitest';
import {
  ContextProvider,
  compareLsn,
  createGateContext,
  currentRefreshUnit,
  DiamondConsistencyGate,
  defineContextKey,
  defineTickKey,
  diamondConsistencyGate,
  diamondFrontiers,
  fixedClock,
  formatLsn,
  frontierLsn,
  GateConfigError,
  GateTick,
  isLsn,
  LsnTickGate,
  lsnTickGate,
  numberOrder,
  parseLsn,
  type StreamTableMeta,
  tickLsn,
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
  const apex = meta({ id: 'd', consistencyGroupId: 'detected:b,c,d', diamondInputs: ['b', 'c', 'e'] });
  const unitOf = (members: string[]): RefreshUnit => ({
    id: 'u',
    kind: members.length > 1 ? 'group' : 'single',
    members,
    group: null,
    dependsOn: [],
  });
  const run = (
    st: StreamTableMeta,
    frontiers: Record<string, string | undefined>,
    unit: RefreshUnit | null = null,
  ) =>
    gate.evaluate(
      st,
      createGateContext(st, {
        clock,
        provider: new ContextProvider()
          .provide(diamondFrontiers, () => new Map(Object.entries(frontiers)))
          .provide(currentRefreshUnit, () => unit),
      }),
    );

  it('proceeds when the diamond inputs are at one frontier', async () => {
    expect((await run(apex, { b: '0/50', c: '0/50', e: '0/50' })).kind).toBe('proceed');
  });

  it('counts an input missing from the frontier map as never refreshed', async () => {
    expect(await run(apex, { b: '0/50', c: '0/50' })).toMatchObject({
      reason: expect.stringContaining('upstream "e" (never refreshed) behind "b" at 0/50'),
    });
  });

  it('skips naming every input that is behind (pg_lsn order)', async () => {
    expect(await run(apex, { b: '0/10', c: '0/9', e: undefined })).toEqual({
      kind: 'skip',
      reason:
        'diamond inputs of "public.d" not aligned: upstream "c" at 0/9, "e" (never refreshed) behind "b" at 0/10; waiting for them to catch up',
    });
  });

  it('treats inputs that were all never refreshed as aligned', async () => {
    expect((await run(apex, { b: undefined, c: undefined, e: undefined })).kind).toBe('proceed');
  });

  it('leaves out inputs refreshed together in the running unit', async () => {
    expect((await run(apex, { b: '0/10', c: '0/9', e: '0/1' }, unitOf(['b', 'c', 'e', 'd']))).kind).toBe(
      'proceed',
    );
    expect((await run(apex, { b: undefined, c: '0/9' }, unitOf(['b', 'c', 'e', 'd']))).kind).toBe('proceed');
    // only "c" refreshes with d: b and e are compared
    expect(await run(apex, { b: '0/10', c: '0/1', e: '0/8' }, unitOf(['c', 'd']))).toMatchObject({
      reason: expect.stringContaining('upstream "e" at 0/8 behind "b" at 0/10'),
    });
  });

  it('proceeds for tables with fewer than two diamond inputs without loading anything', async () => {
    for (const st of [meta({ id: 'x' }), meta({ id: 'y', diamondInputs: ['b'] })]) {
      expect((await gate.evaluate(st, createGateContext(st, { clock }))).kind).toBe('proceed');
    }
  });

  it('accepts custom frontier values (numeric epochs)', async () => {
    const key = defineContextKey<ReadonlyMap<string, number | undefined>>('epochs');
    const g = new DiamondConsistencyGate<number>({
      order: numberOrder,
      frontiers: key,
      format: (v) => `epoch ${v}`,
    });
    const ctx = createGateContext(apex, {
      clock,
      provider: new ContextProvider()
        .provide(
          key,
          () =>
            new Map([
              ['b', 5],
              ['c', 4],
              ['e', 5],
            ]),
        )
        .provide(currentRefreshUnit, () => null),
    });
    expect(await g.evaluate(apex, ctx)).toMatchObject({
      reason: expect.stringContaining('"c" at epoch 4 behind "b" at epoch 5'),
    });
  });
});
