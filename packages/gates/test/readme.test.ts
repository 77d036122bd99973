/** The README's example, run as written (with its fakes). */
import { describe, expect, it } from 'vitest';
import {
  ContextProvider,
  changedUpstreams,
  defaultPipeline,
  defineContextKey,
  defineGate,
  GateTick,
  ManualClock,
  pendingChangeCount,
  proceed,
  type StreamTableMeta,
  skip,
} from '../src/index.js';

describe('README example', () => {
  const orders: StreamTableMeta = {
    id: 'order_totals',
    name: 'public.order_totals',
    status: 'ACTIVE',
    refreshMode: 'DIFFERENTIAL',
    schedule: { kind: 'interval', ms: 5_000 },
    lastRefreshAt: new Date('2024-01-01T12:00:00Z'),
    consecutiveErrors: 0,
    fuse: { mode: 'fixed', ceiling: 10_000, state: 'INTACT' },
  };
  const provider = new ContextProvider()
    .provide(pendingChangeCount, () => 50_000)
    .provide(changedUpstreams, () => []);
  const clock = new ManualClock(new Date('2024-01-01T12:00:06Z'));

  it('blocks on the fuse with a blow-fuse effect, and explains every gate', async () => {
    const pipeline = defaultPipeline();
    const tick = new GateTick({ clock, provider, tick: 1 });
    const verdict = await pipeline.evaluate(orders, tick.context(orders));
    expect(verdict).toMatchObject({
      streamTable: 'order_totals',
      gate: 'fuse',
      decision: {
        kind: 'block',
        reason: expect.stringContaining('fuse tripped on 50000 pending changes'),
        effect: { kind: 'blow-fuse', streamTable: 'order_totals', changeCount: 50_000, trigger: 'ceiling' },
      },
    });
    const report = await pipeline.explain(orders, tick.context(orders));
    expect(report.verdict).toEqual(verdict);
    expect(report.gates.map((g) => [g.gate, g.decision?.kind, g.requested])).toEqual([
      ['status', 'proceed', []],
      ['schedule', 'proceed', []],
      ['upstream-changes', 'proceed', ['hasPendingSourceChanges']],
      ['fuse', 'block', ['pendingChangeCount', 'pendingTruncate']],
      ['watermark', 'proceed', ['watermarkInputs']],
      ['snapshot-coherence', 'proceed', []],
    ]);
    // the fallback of hasPendingSourceChanges asked for pendingChangeCount: loaded once in the tick
    expect(report.context.map((l) => [l.key, l.requests.map((r) => r.by)])).toEqual([
      ['hasPendingSourceChanges', ['upstream-changes', 'upstream-changes']],
      ['pendingChangeCount', ['key:hasPendingSourceChanges', 'fuse', 'fuse']],
      ['pendingTruncate', ['fuse', 'fuse']],
      ['watermarkInputs', ['watermark']],
    ]);
  });

  it('composes a user gate after status', async () => {
    const replicaLagMs = defineContextKey<number>('replicaLagMs');
    const replicaLagGate = defineGate('replica-lag', async (_st, ctx) => {
      const lag = await ctx.get(replicaLagMs);
      return lag <= 5_000 ? proceed() : skip(`replica lag ${lag} ms > 5000 ms`);
    });
    const pipeline = defaultPipeline().with(replicaLagGate, { after: 'status' });
    expect(pipeline.names().slice(0, 3)).toEqual(['status', 'replica-lag', 'schedule']);
    provider.provide(replicaLagMs, () => 9_000);
    const tick = new GateTick({ clock, provider });
    expect(await pipeline.evaluate(orders, tick.context(orders))).toMatchObject({
      gate: 'replica-lag',
      decision: { kind: 'skip', reason: 'replica lag 9000 ms > 5000 ms' },
    });
  });
});
