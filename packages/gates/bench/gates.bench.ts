/**
 * Benchmarks of @pgtrickle/gates: default-pipeline evaluations per second over a fake, synchronous
 * context — every gate proceeding (a table in a watermark group and a consistency group with a
 * statistical fuse, so every gate loads its values), the short-circuit case (a SUSPENDED table:
 * the status gate decides, nothing is loaded), and a full `explain`. Each call is one fresh tick.
 */
import type { RefreshUnit } from '@pgtrickle/groups';
import { defineSuite } from '../../../bench/harness.js';
import {
  ContextProvider,
  changeCountBaseline,
  changedUpstreams,
  currentRefreshUnit,
  defaultPipeline,
  diamondFrontiers,
  fixedClock,
  frontierLsn,
  GateTick,
  groupMembers,
  pendingChangeCount,
  type StreamTableMeta,
  tickLsn,
  watermarkInputs,
} from '../src/index.js';

const now = new Date('2024-01-01T12:00:10Z');
const clock = fixedClock(now);

const base: StreamTableMeta = {
  id: 'dashboard',
  name: 'public.dashboard',
  status: 'ACTIVE',
  refreshMode: 'DIFFERENTIAL',
  schedule: { kind: 'interval', ms: 1000 },
  lastRefreshAt: new Date('2024-01-01T12:00:00Z'),
  consecutiveErrors: 0,
  fuse: { mode: 'statistical', ceiling: 1_000_000, sensitivity: 3, minSamples: 5, state: 'INTACT' },
  consistencyGroupId: 'g',
  diamondInputs: ['left', 'right'],
};
const members: StreamTableMeta[] = [
  { ...base, id: 'left', name: 'public.left' },
  { ...base, id: 'right', name: 'public.right' },
  base,
];
const unit: RefreshUnit = {
  id: 'g',
  kind: 'group',
  members: ['left', 'right', 'dashboard'],
  group: {
    id: 'g',
    members: ['left', 'right', 'dashboard'],
    isolation: 'read committed',
    origin: 'detected',
  },
  dependsOn: [],
};
const watermarks = new Map<string, number | undefined>([
  ['clicks', Date.parse('2024-01-01T12:00:05Z') * 1000],
  ['payments', Date.parse('2024-01-01T12:00:04Z') * 1000],
]);
const frontiers = new Map<string, string | undefined>([
  ['left', '0/4000'],
  ['right', '0/4000'],
]);

const provider = new ContextProvider()
  .provide(tickLsn, () => '0/5000')
  .provide(frontierLsn, () => '0/4000')
  .provide(pendingChangeCount, () => 100)
  .provide(changeCountBaseline, () => ({ count: 50, mean: 100, variance: 400, stddev: 20 }))
  .provide(changedUpstreams, () => [])
  .provide(groupMembers, () => members)
  .provide(currentRefreshUnit, () => unit)
  .provide(watermarkInputs, () => ({
    sources: ['clicks', 'payments'],
    groups: [{ name: 'ingest', sources: ['clicks', 'payments'], tolerance: 60_000_000 }],
    watermarks,
  }))
  .provide(diamondFrontiers, () => frontiers);

const pipeline = defaultPipeline();
const suspended: StreamTableMeta = { ...base, status: 'SUSPENDED' };

export default defineSuite({
  name: 'gates',
  async setup() {
    const v = await pipeline.evaluate(base, new GateTick({ clock, provider }).context(base));
    if (v.decision.kind !== 'proceed')
      throw new Error(`bench fixture does not proceed: ${JSON.stringify(v)}`);
  },
  cases: [
    {
      name: 'default pipeline, all 8 gates proceed (fresh tick)',
      unit: 'evaluations',
      fn: () => pipeline.evaluate(base, new GateTick({ clock, provider }).context(base)),
    },
    {
      name: 'default pipeline, short-circuit at status',
      unit: 'evaluations',
      fn: () => pipeline.evaluate(suspended, new GateTick({ clock, provider }).context(suspended)),
    },
    {
      name: 'default pipeline explain (all gates)',
      unit: 'explains',
      fn: () => pipeline.explain(suspended, new GateTick({ clock, provider }).context(suspended)),
    },
  ],
});
