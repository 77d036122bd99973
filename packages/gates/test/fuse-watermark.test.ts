import type { SummaryStatistics } from '@pgtrickle/stats';
import { describe, expect, it } from 'vitest';
import {
  block,
  ContextProvider,
  changeCountBaseline,
  createGateContext,
  epochMicrosOrdering,
  FuseGate,
  type FuseMeta,
  fixedClock,
  fuseGate,
  fusePolicy,
  GateTick,
  groupAware,
  groupMembers,
  pendingChangeCount,
  type StreamTableMeta,
  WatermarkGate,
  type WatermarkInputs,
  watermarkChecks,
  watermarkGate,
  watermarkInputs,
} from '../src/index.js';
import { meta, T0 } from './helpers.js';

const clock = fixedClock(T0);
const steady: SummaryStatistics = { count: 20, mean: 100, variance: 100, stddev: 10 };

function fuseRun(
  fuse: FuseMeta | null,
  count: number,
  baseline: SummaryStatistics = steady,
  st = meta({ fuse }),
) {
  const loaded: string[] = [];
  const provider = new ContextProvider()
    .provide(pendingChangeCount, () => {
      loaded.push('count');
      return count;
    })
    .provide(changeCountBaseline, () => {
      loaded.push('baseline');
      return baseline;
    });
  return { loaded, decision: fuseGate().evaluate(st, createGateContext(st, { clock, provider })) };
}

describe('FuseGate', () => {
  it('proceeds without loading anything when there is no fuse or it is off', async () => {
    for (const fuse of [null, { mode: 'off', state: 'INTACT' } as const]) {
      const r = fuseRun(fuse, 1e9);
      expect((await r.decision).kind).toBe('proceed');
      expect(r.loaded).toEqual([]);
    }
  });

  it('blocks a blown fuse until reset, whatever the mode', async () => {
    const blown: FuseMeta = {
      mode: 'off',
      state: 'BLOWN',
      blownAt: T0,
      blownReason: '50000 changes, ceiling 1000',
    };
    const r = fuseRun(blown, 0);
    expect(await r.decision).toEqual({
      kind: 'block',
      reason:
        "fuse blown at 2024-01-01T12:00:00.000Z (50000 changes, ceiling 1000); reset it with pgtrickle.reset_fuse('public.st1', 'apply' | 'reinitialize' | 'skip_changes') or pgtrickle fuse reset public.st1 once the change volume is understood",
    });
    expect(r.loaded).toEqual([]);
    const custom = new FuseGate({ resetHint: (st) => `trickle.resetFuse('${st.id}')` });
    const st = meta({ fuse: blown });
    expect(await custom.evaluate(st, createGateContext(st, { clock }))).toMatchObject({
      reason: expect.stringContaining("reset it with trickle.resetFuse('st1')"),
    });
  });

  it('fixed mode: trips above the ceiling only, never loading the baseline', async () => {
    const fuse: FuseMeta = { mode: 'fixed', ceiling: 1000, state: 'INTACT' };
    const ok = fuseRun(fuse, 1000);
    expect((await ok.decision).kind).toBe('proceed');
    const trip = fuseRun(fuse, 1001);
    const d = await trip.decision;
    expect(d).toMatchObject({
      kind: 'block',
      reason: expect.stringMatching(/^fuse tripped on 1001 pending changes: .*; the fuse must be blown/),
      effect: { kind: 'blow-fuse', streamTable: 'st1', changeCount: 1001, trigger: 'ceiling' },
    });
    expect(d).toMatchObject({
      effect: { reason: 'change count (1001) exceeded ceiling (1000)', ceiling: 1000 },
    });
    expect(trip.loaded).toEqual(['count']);
  });

  it('skips the check once after a reset that accepted the pending batch', async () => {
    const r = fuseRun({ mode: 'fixed', ceiling: 10, state: 'INTACT', bypassNextCheck: true }, 1e6);
    expect((await r.decision).kind).toBe('proceed');
    expect(r.loaded).toEqual([]);
    expect(
      (await fuseRun({ mode: 'fixed', ceiling: 10, state: 'BLOWN', bypassNextCheck: true }, 0).decision).kind,
    ).toBe('block');
  });

  it('fixed mode without a ceiling is inert: it proceeds whatever the count', async () => {
    expect((await fuseRun({ mode: 'fixed', state: 'INTACT' }, 1e12).decision).kind).toBe('proceed');
    expect((await fuseRun({ mode: 'fixed', ceiling: null, state: 'INTACT' }, 1e12).decision).kind).toBe(
      'proceed',
    );
  });

  it('statistical mode: z-score against the baseline', async () => {
    const fuse: FuseMeta = { mode: 'statistical', sensitivity: 3, minSamples: 10, state: 'INTACT' };
    expect((await fuseRun(fuse, 125).decision).kind).toBe('proceed');
    const d = await fuseRun(fuse, 200).decision;
    expect(d).toMatchObject({
      kind: 'block',
      effect: { kind: 'blow-fuse', trigger: 'z-score', changeCount: 200 },
    });
  });

  it('statistical mode: no z-score before minSamples, but the ceiling still applies', async () => {
    const young: SummaryStatistics = { count: 3, mean: 100, variance: 1, stddev: 1 };
    const fuse: FuseMeta = { mode: 'statistical', minSamples: 10, ceiling: 5000, state: 'INTACT' };
    expect((await fuseRun(fuse, 4000, young).decision).kind).toBe('proceed');
    expect(await fuseRun(fuse, 5001, young).decision).toMatchObject({ effect: { trigger: 'ceiling' } });
  });

  it('maps its configuration to an anomaly policy', () => {
    expect(fusePolicy({ mode: 'statistical', state: 'INTACT' })).toEqual({
      sensitivity: 3,
      ceiling: undefined,
      minSamples: 10,
    });
  });

  it('groupAware: a blown fuse on any member blocks the whole group', async () => {
    const g = (id: string, fuse: FuseMeta): StreamTableMeta =>
      meta({ id, consistencyGroupId: 'detected:b,c,d', fuse });
    const intact: FuseMeta = { mode: 'fixed', ceiling: 100, state: 'INTACT' };
    const members = [g('b', intact), g('c', { ...intact, state: 'BLOWN', blownAt: T0 }), g('d', intact)];
    const provider = new ContextProvider()
      .provide(pendingChangeCount, () => 1)
      .provide(groupMembers, () => members);
    const tick = new GateTick({ clock, provider });
    const gate = groupAware(fuseGate());
    for (const m of members) {
      const d = await gate.evaluate(m, tick.context(m));
      expect(d.kind).toBe('block');
      if (m.id !== 'c')
        expect(d).toMatchObject({
          reason: expect.stringMatching(/^consistency group "detected:b,c,d" member "public.c": fuse blown/),
        });
    }
  });

  it('groupAware: a member tripping passes its blow-fuse effect (targeting that member) to the others', async () => {
    const intact: FuseMeta = { mode: 'fixed', ceiling: 100, state: 'INTACT' };
    const members = ['b', 'c'].map((id) => meta({ id, consistencyGroupId: 'g', fuse: intact }));
    const provider = new ContextProvider()
      .provide(pendingChangeCount, (st) => (st.id === 'c' ? 500 : 1))
      .provide(groupMembers, () => members);
    const tick = new GateTick({ clock, provider });
    const d = await groupAware(fuseGate()).evaluate(members[0]!, tick.context(members[0]!));
    expect(d).toMatchObject({
      kind: 'block',
      effect: { kind: 'blow-fuse', streamTable: 'c', changeCount: 500 },
    });
    expect(block('x').effect).toBeUndefined();
  });
});

describe('WatermarkGate', () => {
  const us = (iso: string) => Date.parse(iso) * 1000;
  const ab = { name: 'ab', sources: ['a', 'b'], tolerance: 0 };
  const run = (inputs: WatermarkInputs<number, number> | null, table: StreamTableMeta = meta()) =>
    watermarkGate().evaluate(
      table,
      createGateContext(table, {
        clock,
        provider: new ContextProvider().provide(watermarkInputs, () => inputs),
      }),
    );
  const wm = (entries: Record<string, string | undefined>) =>
    new Map(Object.entries(entries).map(([k, v]) => [k, v === undefined ? undefined : us(v)]));

  it('proceeds when no group concerns the table', async () => {
    expect((await run(null)).kind).toBe('proceed');
    expect((await run({ sources: ['a', 'b'], groups: [], watermarks: new Map() })).kind).toBe('proceed');
  });

  it('skips a join over two sources whose watermarks differ beyond the tolerance, naming the laggard', async () => {
    expect(
      await run({
        sources: ['a', 'b'],
        groups: [ab],
        watermarks: wm({ a: '2024-01-01T12:05:00Z', b: '2024-01-01T11:55:00Z' }),
        sourceNames: new Map([['b', 'public.b']]),
      }),
    ).toEqual({
      kind: 'skip',
      reason:
        "watermark group 'ab' misaligned: lag 600s exceeds tolerance 0s; waiting for public.b at 2024-01-01T11:55:00.000Z (a is at 2024-01-01T12:05:00.000Z)",
    });
  });

  it('lag equal to the tolerance is aligned; above it is not (microsecond exact)', async () => {
    const g = { name: 't', sources: ['a', 'b'], tolerance: 120_000_000 };
    const at = (b: number) =>
      run({
        sources: ['a', 'b'],
        groups: [g],
        watermarks: new Map([
          ['a', 0],
          ['b', b],
        ]),
      });
    expect((await at(30_000_000)).kind).toBe('proceed');
    expect((await at(120_000_000)).kind).toBe('proceed');
    expect(await at(120_000_001)).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining(
        "watermark group 't' misaligned: lag 120.000001s exceeds tolerance 120s",
      ),
    });
    expect(await at(180_000_000)).toMatchObject({ kind: 'skip' });
  });

  it('a source without a watermark yet makes the group not gate', async () => {
    expect(
      (await run({ sources: ['a', 'b'], groups: [ab], watermarks: wm({ a: '2024-01-01T12:05:00Z' }) })).kind,
    ).toBe('proceed');
  });

  it('a group sharing fewer than two sources with the table does not gate it', async () => {
    const watermarks = wm({ a: '2024-01-01T12:05:00Z', b: '2024-01-01T11:55:00Z' });
    expect((await run({ sources: ['a', 'x'], groups: [ab], watermarks })).kind).toBe('proceed');
  });

  it('compares only the sources the table reads', async () => {
    const abc = { name: 'abc', sources: ['a', 'b', 'c'], tolerance: 0 };
    const watermarks = wm({
      a: '2024-01-01T12:00:00Z',
      b: '2024-01-01T12:00:00Z',
      c: '2024-01-01T10:00:00Z',
    });
    expect((await run({ sources: ['a', 'b'], groups: [abc], watermarks })).kind).toBe('proceed');
    expect((await run({ sources: ['a', 'c'], groups: [abc], watermarks })).kind).toBe('skip');
  });

  it('every relevant group must pass', async () => {
    const cd = { name: 'cd', sources: ['c', 'd'], tolerance: 0 };
    const watermarks = wm({
      a: '2024-01-01T12:00:00Z',
      b: '2024-01-01T12:00:00Z',
      c: '2024-01-01T12:00:00Z',
      d: '2024-01-01T12:00:01Z',
    });
    expect(await run({ sources: ['a', 'b', 'c', 'd'], groups: [ab, cd], watermarks })).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining("watermark group 'cd' misaligned"),
    });
  });

  it('a stuck source holds every table sharing at least one source with its group', async () => {
    const inputs = (sources: string[]): WatermarkInputs<number, number> => ({
      sources,
      groups: [ab],
      watermarks: wm({ a: '2024-01-01T12:00:00Z', b: '2024-01-01T12:00:00Z' }),
      stuck: new Map([['a', 3_000_000]]),
      stuckTimeout: 2_000_000,
    });
    expect(await run(inputs(['b']))).toEqual({
      kind: 'skip',
      reason:
        "watermark group 'ab' holds: the watermark of a is stuck (not advanced for 3s, timeout 2s); advance it to resume",
    });
    expect((await run(inputs(['x']))).kind).toBe('proceed');
  });

  it('reports each group in watermarkChecks', () => {
    const checks = watermarkChecks(
      {
        sources: ['a', 'b', 'z'],
        groups: [
          ab,
          { name: 'yz', sources: ['y', 'z'], tolerance: 0 },
          { name: 'q', sources: ['q', 'r'], tolerance: 0 },
        ],
        watermarks: new Map([
          ['a', 1],
          ['b', 1],
        ]),
      },
      epochMicrosOrdering,
    );
    expect(checks.map((c) => c.kind)).toEqual(['aligned', 'single', 'unrelated']);
  });

  it('prints microsecond timestamps exactly', () => {
    expect(epochMicrosOrdering.formatValue(us('2024-01-01T12:00:00Z') + 5)).toBe(
      '2024-01-01T12:00:00.000005Z',
    );
  });

  it('is generic over the watermark type', () => {
    expect(
      new WatermarkGate({ ordering: { compare: () => 0 } as never, inputs: watermarkInputs as never }).name,
    ).toBe('watermark');
  });
});
