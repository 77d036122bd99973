/**
 * The verdict memo (src/memo.ts): a tick that reuses previous verdicts decides exactly what the full
 * pipeline decides. Two identical worlds run the same random history (catalog changes, commits,
 * clock moves — forward and back —, failures); one ticks with a memo, the other without; every
 * tick's report and every refresh must be the same.
 */
import type { ScheduleSpec } from '@pgtrickle/dag';
import {
  ContextProvider,
  changedUpstreams,
  defaultPipeline,
  type GatePipeline,
  hasPendingSourceChanges,
  pendingChangeCount,
  type RefreshTier,
  type StreamTableMeta,
} from '@pgtrickle/gates';
import type { ConsistencyGroup, RefreshUnit } from '@pgtrickle/groups';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CatalogSnapshot,
  RetryTracker,
  runTick,
  type SchedulerStore,
  type TickReport,
  type UnitExecutor,
  type UnitOutcome,
  VerdictMemo,
} from '../src/index.js';

interface Table {
  id: string;
  reads: string[];
  schedule: ScheduleSpec | null;
  status: StreamTableMeta['status'];
  tier: RefreshTier;
  needsReinit: boolean;
  lastRefreshAt: Date | null;
  dataTimestamp: Date | null;
  pending: number;
  failNext: number;
}

/** A world whose store keeps its catalog snapshot while the catalog is unchanged and tells which tables' pending answers changed. */
class World implements SchedulerStore, UnitExecutor {
  /** A clock that may also go back (a system clock can). */
  readonly clock = {
    ms: Date.UTC(2026, 0, 1),
    now(): Date {
      return new Date(this.ms);
    },
    advance(ms: number): void {
      this.ms += ms;
    },
  };
  readonly tables = new Map<string, Table>();
  readonly refreshes: string[] = [];
  /** Bumped by every commit (a write, a refresh, a failure record, a catalog change). */
  commits = 0;
  catalog = 0;
  #snapshot: { catalog: number; snapshot: CatalogSnapshot } | null = null;

  table(id: string): Table {
    const t = this.tables.get(id);
    if (t === undefined) throw new Error(`no table ${id}`);
    return t;
  }

  changeCatalog(): void {
    this.catalog++;
    this.commits++;
  }

  async load(): Promise<CatalogSnapshot> {
    this.#previousAnswers = this.#answers;
    this.#answers = this.#answersNow();
    if (this.#snapshot?.catalog === this.catalog) return this.#snapshot.snapshot;
    const snapshot: CatalogSnapshot = {
      declaredGroups: [],
      tables: [...this.tables.values()].map((t) => ({
        meta: {
          id: t.id,
          name: `public.${t.id}`,
          status: t.status,
          refreshMode: 'DIFFERENTIAL',
          schedule: t.schedule ?? { kind: 'calculated', periodMs: 1000 },
          refreshTier: t.tier,
          needsReinit: t.needsReinit,
          lastRefreshAt: t.lastRefreshAt,
          dataTimestamp: t.dataTimestamp,
          consecutiveErrors: 0,
        },
        schedule: t.schedule,
        reads: t.reads,
      })),
    };
    this.#snapshot = { catalog: this.catalog, snapshot };
    return snapshot;
  }

  /** Each table's pending answers at the last two loads (the store's port compares them). */
  #answers = new Map<string, string>();
  #previousAnswers = new Map<string, string>();

  pendingUnchanged(id: string): boolean {
    const now = this.#answers.get(id);
    return now !== undefined && now === this.#previousAnswers.get(id);
  }

  #answersNow(): Map<string, string> {
    const out = new Map<string, string>();
    for (const t of this.tables.values()) {
      const last = t.lastRefreshAt;
      const changed = t.reads.filter((r) => {
        const up = this.tables.get(r)?.dataTimestamp;
        return up != null && (last === null || up.getTime() > last.getTime());
      });
      out.set(t.id, JSON.stringify([t.pending > 0, changed]));
    }
    return out;
  }

  contextProvider(): ContextProvider {
    return new ContextProvider()
      .provide(pendingChangeCount, (st) => this.table(st.id).pending)
      .provide(hasPendingSourceChanges, (st) => this.table(st.id).pending > 0)
      .provide(changedUpstreams, (st) => {
        const last = this.table(st.id).lastRefreshAt;
        return this.table(st.id).reads.filter((r) => {
          const up = this.tables.get(r)?.dataTimestamp;
          return up != null && (last === null || up.getTime() > last.getTime());
        });
      });
  }

  async suspend(id: string): Promise<void> {
    this.table(id).status = 'SUSPENDED';
    this.changeCatalog();
  }

  async applyEffect(): Promise<void> {
    this.changeCatalog();
  }

  async execute(
    unit: RefreshUnit,
    members: readonly string[],
    group: ConsistencyGroup | null,
  ): Promise<UnitOutcome> {
    void unit;
    void group;
    const results = [];
    for (const m of members) {
      await Promise.resolve();
      const t = this.table(m);
      this.refreshes.push(m);
      if (t.failNext > 0) {
        t.failNext--;
        this.commits++;
        return { ok: false, failedMember: m, error: new Error(`${m} failed`), permanent: false };
      }
      const now = this.clock.now();
      const changed =
        t.pending > 0 ||
        t.reads.some(
          (r) => (this.tables.get(r)?.dataTimestamp?.getTime() ?? -1) > (t.lastRefreshAt?.getTime() ?? -1),
        );
      t.lastRefreshAt = now;
      if (changed) t.dataTimestamp = now;
      t.needsReinit = false;
      t.pending = 0;
      this.changeCatalog();
      results.push({ id: m, action: changed ? 'DIFFERENTIAL' : 'NO_DATA' });
    }
    return { ok: true, results };
  }
}

const schedules: (ScheduleSpec | null)[] = [
  null,
  { kind: 'interval', ms: 0 },
  { kind: 'interval', ms: 700 },
  { kind: 'interval', ms: 1000 },
  { kind: 'interval', ms: 5000 },
  { kind: 'cron', expression: '*/2 * * * * *' },
  { kind: 'cron', expression: '0 0 1 1 *' },
  { kind: 'cron', expression: 'not a cron' },
];
const statuses: StreamTableMeta['status'][] = [
  'ACTIVE',
  'ACTIVE',
  'ACTIVE',
  'INITIALIZING',
  'SUSPENDED',
  'ERROR',
];
const tiers: RefreshTier[] = ['hot', 'hot', 'hot', 'warm', 'cold', 'frozen'];

const tableArb = fc.record({
  upstreams: fc.array(fc.nat(), { maxLength: 2 }),
  schedule: fc.nat({ max: schedules.length - 1 }),
  status: fc.nat({ max: statuses.length - 1 }),
  tier: fc.nat({ max: tiers.length - 1 }),
  needsReinit: fc.boolean(),
  refreshedAgoMs: fc.option(fc.nat({ max: 6000 }), { nil: null }),
  pending: fc.nat({ max: 2 }),
  failNext: fc.nat({ max: 1 }),
});

/** Between two ticks: move the clock, commit a write, change a table's row, or nothing. */
const stepArb = fc.oneof(
  fc.record({ kind: fc.constant('clock' as const), ms: fc.integer({ min: -300, max: 2500 }) }),
  fc.record({ kind: fc.constant('write' as const), table: fc.nat() }),
  fc.record({ kind: fc.constant('status' as const), table: fc.nat(), status: fc.nat() }),
  fc.record({ kind: fc.constant('idle' as const) }),
);

type Spec = typeof tableArb extends fc.Arbitrary<infer T> ? T : never;
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

function build(specs: readonly Spec[]): World {
  const w = new World();
  const now = w.clock.now().getTime();
  specs.forEach((s, i) => {
    const ids = [...w.tables.keys()];
    const reads = [
      ...new Set([
        `src${i % 3}`,
        ...s.upstreams.flatMap((u) => (ids.length === 0 ? [] : [ids[u % ids.length]])),
      ]),
    ] as string[];
    const last = s.refreshedAgoMs === null ? null : new Date(now - s.refreshedAgoMs);
    w.tables.set(`t${i}`, {
      id: `t${i}`,
      reads,
      schedule: schedules[s.schedule] ?? null,
      status: statuses[s.status] ?? 'ACTIVE',
      tier: tiers[s.tier] ?? 'hot',
      needsReinit: s.needsReinit && s.schedule % 3 === 0,
      lastRefreshAt: last,
      dataTimestamp: last,
      pending: s.pending,
      failNext: s.failNext,
    });
  });
  return w;
}

function apply(w: World, step: Step): void {
  const ids = [...w.tables.keys()];
  if (step.kind === 'clock') w.clock.advance(step.ms);
  else if (step.kind === 'write') {
    w.table(ids[step.table % ids.length] as string).pending++;
    w.commits++;
  } else if (step.kind === 'status') {
    w.table(ids[step.table % ids.length] as string).status =
      statuses[step.status % statuses.length] ?? 'ACTIVE';
    w.changeCatalog();
  }
}

/** What a tick decided, without identities. */
function decided(report: TickReport): unknown {
  return {
    at: report.at.getTime(),
    nextDueAt: report.nextDueAt?.getTime() ?? null,
    units: report.units.map((u) => ({
      unit: u.unit,
      outcome: u.outcome,
      gate: u.gate,
      reason: u.reason,
      results: u.results,
      verdicts: u.verdicts.map((v) => ({ table: v.streamTable, gate: v.gate, decision: v.decision })),
    })),
  };
}

/** The default pipeline, counting how many times its first gate runs (how many tables were evaluated in full). */
function countingPipeline(): { pipeline: GatePipeline; evaluations: () => number } {
  const pipeline = defaultPipeline();
  const first = pipeline.gates[0] as { evaluate: (...args: never[]) => unknown };
  const evaluate = first.evaluate.bind(first);
  let n = 0;
  first.evaluate = (...args: never[]) => {
    n++;
    return evaluate(...args);
  };
  return { pipeline, evaluations: () => n };
}

describe('VerdictMemo', () => {
  it('a tick that reuses verdicts decides exactly what the full pipeline decides', async () => {
    let full = 0;
    let memoized = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(tableArb, { minLength: 1, maxLength: 8 }),
        fc.array(stepArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 3 }),
        async (specs, steps, concurrency) => {
          const a = build(specs);
          const b = build(specs);
          const pa = countingPipeline();
          const pb = countingPipeline();
          const memo = new VerdictMemo();
          const retryA = new RetryTracker(undefined, () => 0.5);
          const retryB = new RetryTracker(undefined, () => 0.5);
          for (const [i, step] of [{ kind: 'idle' as const }, ...steps].entries()) {
            apply(a, step);
            apply(b, step);
            const common = { tick: i + 1, concurrency };
            const ra = await runTick({
              ...common,
              store: a,
              executor: a,
              clock: a.clock,
              pipeline: pa.pipeline,
              retry: retryA,
              memo,
            });
            const rb = await runTick({
              ...common,
              store: b,
              executor: b,
              clock: b.clock,
              pipeline: pb.pipeline,
              retry: retryB,
            });
            expect(decided(ra)).toEqual(decided(rb));
            // The same refreshes (independent units may start in another order).
            expect([...a.refreshes].sort()).toEqual([...b.refreshes].sort());
            // A repeated tick with nothing changed in between: the same again.
            if (step.kind === 'idle') {
              const again = await runTick({
                ...common,
                store: a,
                executor: a,
                clock: a.clock,
                pipeline: pa.pipeline,
                retry: retryA,
                memo,
              });
              const full2 = await runTick({
                ...common,
                store: b,
                executor: b,
                clock: b.clock,
                pipeline: pb.pipeline,
                retry: retryB,
              });
              expect(decided(again)).toEqual(decided(full2));
            }
          }
          full += pb.evaluations();
          memoized += pa.evaluations();
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 200) },
    );
    // The memo did spare evaluations (the property is not vacuous).
    expect(memoized).toBeLessThan(full);
  }, 120_000);

  it('an idle tick over 1,000 tables evaluates no gate once nothing changed', async () => {
    const w = build(
      Array.from({ length: 1000 }, (_, i) => ({
        upstreams: [],
        schedule: i % 2 === 0 ? 3 : 4,
        status: 0,
        tier: 0,
        needsReinit: false,
        refreshedAgoMs: i % 2 === 0 ? 3000 : 100,
        pending: 0,
        failNext: 0,
      })),
    );
    const { pipeline, evaluations } = countingPipeline();
    const memo = new VerdictMemo();
    const tick = () => runTick({ store: w, executor: w, clock: w.clock, pipeline, memo });
    const first = await tick();
    expect(evaluations()).toBe(1000);
    w.clock.advance(50);
    const second = await tick();
    expect(evaluations()).toBe(1000);
    expect(second.units.map((u) => u.gate)).toEqual(first.units.map((u) => u.gate));
    expect(new Set(second.units.map((u) => u.gate))).toEqual(new Set(['schedule', 'upstream-changes']));
    // A write to one table's source: its "nothing pending" verdict is evaluated again, no other.
    w.table('t0').pending++;
    w.commits++;
    await tick();
    expect(evaluations()).toBe(1001);
    expect(memo.size).toBe(999); // t0 proceeded (and refreshed): nothing to reuse
    // Dropped tables are forgotten (a new catalog: every table is evaluated again).
    for (let i = 0; i < 10; i++) w.tables.delete(`t${i}`);
    w.changeCatalog();
    await tick();
    expect(evaluations()).toBe(1991);
    expect(memo.size).toBe(990);
  });
});
