/**
 * In-memory fakes of the scheduler's ports: a world of sources and stream tables with pending
 * change counts, an executor that records every refresh's start and end (with a configurable
 * delay and failures), over a manual clock.
 */
import type { ScheduleSpec } from '@pgtrickle/dag';
import {
  ContextProvider,
  changedUpstreams,
  diamondFrontiers,
  frontierLsn,
  type GateEffect,
  hasPendingSourceChanges,
  ManualClock,
  pendingChangeCount,
  type StreamTableMeta,
  tickLsn,
} from '@pgtrickle/gates';
import type { ConsistencyGroup, DeclaredGroup, RefreshUnit } from '@pgtrickle/groups';
import type { CatalogSnapshot, SchedulerStore, UnitExecutor, UnitOutcome } from '../src/index.js';

/** One fake stream table. */
export interface FakeTable {
  id: string;
  reads: string[];
  schedule: ScheduleSpec | null;
  status: StreamTableMeta['status'];
  lastRefreshAt: Date | null;
  dataTimestamp: Date | null;
  /** Pending changes in its base sources. */
  pending: number;
  /** Fail the next n refreshes (retryable). */
  failNext: number;
  /** Fail the next n refreshes transiently (a cancel, a deadlock: never counted towards suspension). */
  failTransientNext?: number;
  /** Fail permanently. */
  broken: boolean;
}

/** A refresh as the executor saw it. */
export interface RefreshEvent {
  readonly tick: number;
  readonly unit: string;
  readonly member: string;
  readonly start: number;
  readonly end: number;
}

/** The fake world. */
export class FakeWorld implements SchedulerStore, UnitExecutor {
  readonly clock = new ManualClock(Date.UTC(2026, 0, 1));
  readonly tables = new Map<string, FakeTable>();
  readonly events: RefreshEvent[] = [];
  readonly suspended: { id: string; reason: string }[] = [];
  readonly effects: GateEffect[] = [];
  declared: DeclaredGroup[] = [];
  tickNo = 0;
  /** Logical time for start/end ordering (increments on every executor step). */
  private step = 0;
  private readonly active = new Set<string>();
  /** Violations seen by the executor (two refreshes of one table at once). */
  readonly violations: string[] = [];
  /** Most units in flight at once. */
  maxInFlight = 0;
  private inFlight = 0;
  /** Delay per refresh in microtask turns (interleaving). */
  delayTurns = 3;

  add(id: string, reads: string[], schedule: ScheduleSpec | null = null): this {
    this.tables.set(id, {
      id,
      reads,
      schedule,
      status: 'ACTIVE',
      lastRefreshAt: null,
      dataTimestamp: null,
      pending: 1,
      failNext: 0,
      broken: false,
    });
    return this;
  }

  table(id: string): FakeTable {
    const t = this.tables.get(id);
    if (t === undefined) throw new Error(`no fake table ${id}`);
    return t;
  }

  meta(t: FakeTable): StreamTableMeta {
    return {
      id: t.id,
      name: `public.${t.id}`,
      status: t.status,
      refreshMode: 'DIFFERENTIAL',
      schedule: t.schedule ?? { kind: 'calculated', periodMs: 1000 },
      lastRefreshAt: t.lastRefreshAt,
      dataTimestamp: t.dataTimestamp,
      consecutiveErrors: 0,
    };
  }

  async load(): Promise<CatalogSnapshot> {
    return {
      tables: [...this.tables.values()].map((t) => ({
        meta: this.meta(t),
        schedule: t.schedule,
        reads: t.reads,
      })),
      declaredGroups: this.declared,
    };
  }

  contextProvider(): ContextProvider {
    return new ContextProvider()
      .provide(tickLsn, () => `0/${(this.tickNo + 1) * 100}`)
      .provide(frontierLsn, (st) =>
        this.table(st.id).lastRefreshAt === null ? null : `0/${this.tickNo * 100}`,
      )
      .provide(
        diamondFrontiers,
        (st) =>
          new Map(
            (st.diamondInputs ?? []).map((i) => [
              i,
              this.table(i).lastRefreshAt === null ? undefined : `0/${this.tickNo * 100}`,
            ]),
          ),
      )
      .provide(pendingChangeCount, (st) => this.table(st.id).pending)
      .provide(hasPendingSourceChanges, (st) => this.table(st.id).pending > 0)
      .provide(changedUpstreams, (st) =>
        this.table(st.id).reads.filter((r) => {
          const up = this.tables.get(r);
          const last = this.table(st.id).lastRefreshAt;
          return up?.dataTimestamp != null && (last === null || up.dataTimestamp.getTime() > last.getTime());
        }),
      );
  }

  async suspend(id: string, reason: string): Promise<void> {
    this.suspended.push({ id, reason });
    this.table(id).status = 'SUSPENDED';
  }

  async applyEffect(effect: GateEffect): Promise<void> {
    this.effects.push(effect);
  }

  async execute(
    unit: RefreshUnit,
    members: readonly string[],
    group: ConsistencyGroup | null,
  ): Promise<UnitOutcome> {
    void group;
    for (const m of members) {
      if (this.active.has(m)) this.violations.push(`two refreshes of ${m} at once`);
      this.active.add(m);
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const results = [];
      for (const m of members) {
        const start = ++this.step;
        for (let i = 0; i < this.delayTurns; i++) await Promise.resolve();
        const t = this.table(m);
        if (t.broken)
          return { ok: false, failedMember: m, error: new Error(`${m} is broken`), permanent: true };
        if ((t.failTransientNext ?? 0) > 0) {
          t.failTransientNext = (t.failTransientNext ?? 0) - 1;
          return {
            ok: false,
            failedMember: m,
            error: new Error(`${m} cancelled`),
            permanent: false,
            transient: true,
          };
        }
        if (t.failNext > 0) {
          t.failNext--;
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
        t.pending = 0;
        this.events.push({ tick: this.tickNo, unit: unit.id, member: m, start, end: ++this.step });
        results.push({ id: m, action: changed ? 'DIFFERENTIAL' : 'NO_DATA' });
      }
      return { ok: true, results };
    } finally {
      this.inFlight--;
      for (const m of members) this.active.delete(m);
    }
  }
}
