/**
 * Benchmarks of @pgtrickle/scheduler: one idle tick over in-memory ports — the JavaScript part of
 * the sidecar's idle tick. 1,000 stream tables (`PGTRICKLE_BENCH_TABLES`), each reading its own
 * base source, schedule 1s, fuse off, no watermark group: the store answers like the PostgreSQL
 * store on a quiet tick (the same catalog snapshot object every tick, one shared pending answer
 * for every table, nothing pending). Cases: every table due (the tick asks whether anything is
 * pending for each), and none due (each skipped by its schedule), each through the full gate
 * pipeline (no memo) and as the `Scheduler` runs it (its verdict memo reuses the previous tick's
 * verdicts: the store says nothing changed since).
 */
import {
  ContextProvider,
  changedUpstreams,
  defaultPipeline,
  fixedClock,
  hasPendingSourceChanges,
  pendingChangeCount,
  pendingTruncate,
  watermarkInputs,
} from '@pgtrickle/gates';
import { defineSuite } from '../../../bench/harness.js';
import {
  type CatalogSnapshot,
  runTick,
  type SchedulerStore,
  type UnitExecutor,
  VerdictMemo,
} from '../src/index.js';

const TABLES = Number(process.env.PGTRICKLE_BENCH_TABLES ?? 1000);
const now = new Date('2026-12-07T12:00:00Z');

function snapshotWith(lastRefreshAt: Date): CatalogSnapshot {
  return {
    declaredGroups: [],
    tables: Array.from({ length: TABLES }, (_, i) => ({
      meta: {
        id: String(i + 1),
        name: `public.st_${i + 1}`,
        status: 'ACTIVE' as const,
        refreshMode: 'DIFFERENTIAL' as const,
        schedule: { kind: 'calculated' as const, periodMs: 1000 },
        lastRefreshAt,
        dataTimestamp: lastRefreshAt,
        needsReinit: false,
        consecutiveErrors: 0,
        lastError: null,
        fuse: { mode: 'off' as const, ceiling: null, consecutive: 1, state: 'INTACT' as const },
      },
      schedule: { kind: 'interval' as const, ms: 1000 },
      reads: [`table:${100_000 + i}`],
    })),
  };
}

/** A store answering like the PostgreSQL store on a quiet tick. */
function quietStore(snapshot: CatalogSnapshot): SchedulerStore {
  const nothing = new Map<string, boolean>();
  let pending: Promise<Map<string, boolean>> | null = null;
  return {
    load: async () => {
      pending = null;
      return snapshot;
    },
    contextProvider: () =>
      new ContextProvider()
        .provide(hasPendingSourceChanges, async (st) => {
          pending ??= Promise.resolve(nothing);
          return (await pending).get(st.id) ?? false;
        })
        .provide(changedUpstreams, () => [])
        .provide(pendingChangeCount, () => 0)
        .provide(pendingTruncate, () => false)
        .provide(watermarkInputs, () => null),
    suspend: async () => undefined,
    applyEffect: async () => undefined,
    beginTick: async () => undefined,
    endTick: async () => undefined,
    pendingUnchanged: () => true,
  };
}

const executor: UnitExecutor = {
  execute: async () => {
    throw new Error('an idle tick refreshed something');
  },
};

const due = quietStore(snapshotWith(new Date(now.getTime() - 5_000)));
const notDue = quietStore(snapshotWith(new Date(now.getTime() - 500)));
const clock = fixedClock(now);

const pipeline = defaultPipeline();
const memos = { due: new VerdictMemo(), notDue: new VerdictMemo() };

async function idleTick(
  store: SchedulerStore,
  expect: 'upstream-changes' | 'schedule',
  memo?: VerdictMemo,
): Promise<void> {
  const report = await runTick({ store, executor, clock, pipeline, ...(memo === undefined ? {} : { memo }) });
  const first = report.units[0];
  if (report.units.length !== TABLES || first?.outcome !== 'skipped' || first.gate !== expect) {
    throw new Error(`unexpected idle tick: ${JSON.stringify(first)}`);
  }
}

export default defineSuite({
  name: `scheduler idle tick, ${TABLES} stream tables, in-memory ports`,
  async setup() {
    await idleTick(due, 'upstream-changes');
    await idleTick(notDue, 'schedule');
    await idleTick(due, 'upstream-changes', memos.due);
    await idleTick(notDue, 'schedule', memos.notDue);
  },
  cases: [
    { name: 'every table due, nothing pending', unit: 'ticks', fn: () => idleTick(due, 'upstream-changes') },
    { name: 'no table due', unit: 'ticks', fn: () => idleTick(notDue, 'schedule') },
    {
      name: 'every table due, nothing pending, verdict memo',
      unit: 'ticks',
      fn: () => idleTick(due, 'upstream-changes', memos.due),
    },
    {
      name: 'no table due, verdict memo',
      unit: 'ticks',
      fn: () => idleTick(notDue, 'schedule', memos.notDue),
    },
  ],
});
