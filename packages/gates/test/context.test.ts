import { describe, expect, it } from 'vitest';
import {
  ContextProvider,
  ContextValueError,
  createGateContext,
  defineContextKey,
  defineTickKey,
  fixedClock,
  GateTick,
  hasPendingSourceChanges,
  ManualClock,
  pendingChangeCount,
  type StreamTableKey,
} from '../src/index.js';
import { meta, T0 } from './helpers.js';

describe('GateContext', () => {
  it('loads a value lazily, once per stream table per tick, sharing one promise', async () => {
    let calls = 0;
    const key = defineContextKey<number>('n');
    const provider = new ContextProvider().provide(key, async (st) => {
      calls++;
      return st.id.length;
    });
    const tick = new GateTick({ clock: fixedClock(T0), provider });
    const ctx = tick.context(meta({ id: 'abc' }));
    expect(calls).toBe(0);
    const [a, b] = await Promise.all([ctx.get(key), ctx.as('other').get(key)]);
    expect([a, b, await ctx.get(key)]).toEqual([3, 3, 3]);
    expect(calls).toBe(1);
    await tick.context(meta({ id: 'abcd' })).get(key);
    expect(calls).toBe(2);
    expect(tick.loadCount).toBe(2);
    // a new tick loads afresh
    await new GateTick({ clock: fixedClock(T0), provider }).context(meta({ id: 'abc' })).get(key);
    expect(calls).toBe(3);
  });

  it('shares tick values across stream tables', async () => {
    let calls = 0;
    const bound = defineTickKey<string>('bound');
    const provider = new ContextProvider().provide(bound, (t) => {
      calls++;
      return `tick ${t.tick}`;
    });
    const tick = new GateTick({ clock: fixedClock(T0), provider, tick: 7 });
    expect(await tick.context(meta({ id: 'a' })).get(bound)).toBe('tick 7');
    expect(await tick.context(meta({ id: 'b' })).get(bound)).toBe('tick 7');
    expect(await tick.get(bound)).toBe('tick 7');
    expect(calls).toBe(1);
    expect(tick.loads()[0]).toMatchObject({
      key: 'bound',
      scope: 'tick',
      streamTable: null,
      status: 'loaded',
    });
  });

  it('reads the clock once per tick', () => {
    const clock = new ManualClock(T0);
    const tick = new GateTick({ clock });
    clock.advance(5000);
    expect(tick.now).toEqual(T0);
    expect(tick.context(meta()).now).toEqual(T0);
  });

  it('uses a key fallback when the provider has no loader, and prefers the provider', async () => {
    const provider = new ContextProvider().provide(pendingChangeCount, () => 4);
    const ctx = createGateContext(meta(), { clock: fixedClock(T0), provider });
    expect(await ctx.get(hasPendingSourceChanges)).toBe(true);
    provider.provide(hasPendingSourceChanges, () => false);
    const ctx2 = createGateContext(meta(), { clock: fixedClock(T0), provider });
    expect(await ctx2.get(hasPendingSourceChanges)).toBe(false);
  });

  it('fails with PGT_CONTEXT_MISSING when nothing can load a value', async () => {
    const ctx = createGateContext(meta(), { clock: fixedClock(T0) });
    const err = await ctx.get(pendingChangeCount).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextValueError);
    expect(err).toMatchObject({ code: 'PGT_CONTEXT_MISSING', key: 'pendingChangeCount' });
  });

  it('memoizes failures: every asker sees the same error, the loader runs once', async () => {
    let calls = 0;
    const key = defineContextKey<number>('boom');
    const provider = new ContextProvider().provide(key, () => {
      calls++;
      throw new Error('db down');
    });
    const ctx = createGateContext(meta(), { clock: fixedClock(T0), provider });
    await expect(ctx.get(key)).rejects.toThrow('db down');
    await expect(ctx.get(key)).rejects.toThrow('db down');
    expect(calls).toBe(1);
    expect(ctx.loads()[0]).toMatchObject({ key: 'boom', status: 'failed' });
  });

  it('detects loader cycles instead of deadlocking', async () => {
    const a: StreamTableKey<number> = defineContextKey<number>('a', {
      fallback: async (_st, ctx) => (await ctx.get(b)) + 1,
    });
    const b: StreamTableKey<number> = defineContextKey<number>('b', {
      fallback: async (_st, ctx) => (await ctx.get(a)) + 1,
    });
    const ctx = createGateContext(meta(), { clock: fixedClock(T0) });
    const err = await ctx.get(a).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PGT_CONTEXT_CYCLE' });
    expect((err as Error).message).toContain('a → b → a');
  });

  it('records who asked for what, and for which table under evaluation', async () => {
    const key = defineContextKey<number>('n');
    const provider = new ContextProvider().provide(key, () => 1);
    const tick = new GateTick({ clock: fixedClock(T0), provider });
    const ctx = tick.context(meta({ id: 'd' }));
    await ctx.as('fuse').get(key);
    await ctx
      .as('fuse')
      .forStreamTable(meta({ id: 'b' }))
      .get(key);
    const loads = ctx.loads();
    expect(loads.map((l) => [l.key, l.streamTable, l.requests])).toEqual([
      ['n', 'd', [{ by: 'fuse', evaluating: 'd' }]],
      ['n', 'b', [{ by: 'fuse', evaluating: 'd' }]],
    ]);
  });

  it('carries the initiator', () => {
    const tick = new GateTick({ clock: fixedClock(T0) });
    expect(tick.context(meta()).initiatedBy).toBe('scheduler');
    expect(tick.context(meta(), { initiatedBy: 'manual' }).initiatedBy).toBe('manual');
  });
});

describe('ManualClock', () => {
  it('advances and refuses to go back', () => {
    const c = new ManualClock(T0);
    expect(c.advance(1000)).toEqual(new Date(T0.getTime() + 1000));
    expect(() => c.advance(-1)).toThrow(RangeError);
    expect(() => c.set(T0)).toThrow(RangeError);
  });
});
