/**
 * A custom scheduler loop composed from @pgtrickle/gates and @pgtrickle/dag over in-memory fakes.
 *
 * The world: four sources (orders, customers, clicks, payments) and six stream tables, including a
 * diamond (order_totals and customer_orders both read orders; dashboard reads both), a watermark
 * group over clicks and payments whose payments watermark lags until tick 4, a statistical fuse on
 * payment_audit that blows on a spike at tick 5 and is reset by an operator at tick 7, a cron table,
 * and a manual refresh attempted on a group member outside its group at tick 2.
 *
 * Each tick: advance the fake clock one second, append the scripted changes to the fake WAL, open
 * a GateTick (which captures the tick's LSN bound once), and walk the refresh units (consistency
 * groups and single tables) in DAG order. Every member of a unit is evaluated by the default gate
 * pipeline. Scheduler policy for a group unit: it fires when no member is blocked, every member
 * that did not proceed only skipped for "not due" or "no pending changes" (the group runs as a
 * whole: such members refresh too, cheaply), and at least one member proceeded; otherwise the whole
 * unit is held. A `blow-fuse` effect moves the table's fuse to BLOWN. A "refresh" here just advances
 * the table's frontier to the tick's bound.
 */
import { Dag, type ScheduleSpec } from '@pgtrickle/dag';
import {
  ContextProvider,
  changeCountBaseline,
  changedUpstreams,
  currentRefreshUnit,
  defaultPipeline,
  diamondFrontiers,
  formatLsn,
  frontierLsn,
  type GateDecision,
  type GateEffect,
  GateTick,
  groupMembers,
  ManualClock,
  ownConsistencyGroup,
  type PipelineVerdict,
  pendingChangeCount,
  type ResolvedSchedule,
  type StreamTableMeta,
  tickLsn,
  watermarkInputs,
} from '@pgtrickle/gates';
import {
  type ConsistencyGroup,
  detectedGroups,
  mergeGroups,
  type RefreshUnit,
  refreshUnits,
} from '@pgtrickle/groups';
import { Welford } from '@pgtrickle/stats';

/** What happened to one stream table in one tick. */
export interface TickLogEntry {
  /** Tick number (1-based). */
  readonly tick: number;
  /** The stream table. */
  readonly table: string;
  /** The refresh unit it was evaluated in ('manual' for the manual request). */
  readonly unit: string;
  /** refresh: it refreshed; skip / block: the pipeline (or its group) held it back. */
  readonly outcome: 'refresh' | 'skip' | 'block';
  /** The gate that decided, null when it refreshed after all gates proceeded. */
  readonly gate: string | null;
  /** Why it did not refresh (or why it refreshed along with its group). */
  readonly reason: string | null;
}

/** Something outside the gates that happened in a tick (effects applied, operator actions). */
export interface TickEvent {
  readonly tick: number;
  readonly event: string;
}

/** The result of a simulation. */
export interface TickLog {
  /** Per-table decisions, in evaluation order. */
  readonly entries: readonly TickLogEntry[];
  /** Effects applied and operator actions. */
  readonly events: readonly TickEvent[];
  /** Human-readable lines, as printed by main.ts. */
  readonly lines: readonly string[];
}

/** Options of the simulation. */
export interface SimulationOptions {
  /** Number of ticks (default 8). */
  readonly ticks?: number;
}

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const WATERMARK_TOLERANCE_MS = 60_000;

/** Scripted changes per source per tick (tick 1 first); payments spikes at tick 5. */
const CHANGES: Readonly<Record<string, readonly number[]>> = {
  orders: [5, 4, 6, 5, 5, 0, 3, 4, 5, 5],
  customers: [1, 1, 0, 1, 0, 0, 1, 0, 1, 0],
  clicks: [20, 22, 19, 21, 20, 18, 20, 22, 21, 20],
  payments: [10, 12, 9, 11, 5000, 10, 10, 9, 11, 10],
};

interface Change {
  readonly source: string;
  readonly lsn: bigint;
}

interface TableState {
  meta: StreamTableMeta;
  /** Frontier: every change at or below it has been consumed. */
  frontier: bigint | null;
  /** Change counts of past refreshes (the fuse baseline). */
  readonly baseline: Welford;
}

/** Builds the graph: sources, stream tables, a diamond at dashboard. */
function buildDag(): Dag {
  const every = (ms: number): ScheduleSpec => ({ kind: 'interval', ms });
  return new Dag()
    .addSource('orders')
    .addSource('customers')
    .addSource('clicks')
    .addSource('payments')
    .addStreamTable('order_totals', { reads: ['orders'] })
    .addStreamTable('customer_orders', { reads: ['orders', 'customers'] })
    .addStreamTable('dashboard', { reads: ['order_totals', 'customer_orders'], schedule: every(1000) })
    .addStreamTable('click_revenue', { reads: ['clicks', 'payments'], schedule: every(1000) })
    .addStreamTable('payment_audit', { reads: ['payments'], schedule: every(1000) })
    .addStreamTable('rollup_5s', {
      reads: ['dashboard'],
      schedule: { kind: 'cron', expression: '*/5 * * * * *' },
    });
}

/** Runs the simulation and returns its log. */
export async function runCustomScheduler(options: SimulationOptions = {}): Promise<TickLog> {
  const ticks = options.ticks ?? 8;
  const dag = buildDag();
  const periods = dag.calculatedSchedules();
  const groups = mergeGroups(detectedGroups(dag), [], { dag });
  const units = refreshUnits(dag, groups);
  const groupOf = new Map<string, ConsistencyGroup>();
  for (const g of groups) for (const m of g.members) groupOf.set(m, g);

  const clock = new ManualClock(T0);
  const wal: Change[] = [];
  let lsn = 0n;
  // Watermarks as microseconds since the epoch (the watermark gate's unit), per source.
  const watermarks = new Map<string, number | undefined>([
    ['clicks', undefined],
    ['payments', undefined],
  ]);

  // For each diamond apex: its direct inputs on diamond paths (the tables it joins).
  const diamondInputs = new Map<string, string[]>();
  for (const d of dag.diamonds()) {
    const inputs = new Set(diamondInputs.get(d.apex) ?? []);
    for (const path of d.paths) {
      const input = path[path.length - 2];
      if (input !== undefined && dag.isStreamTable(input)) inputs.add(input);
    }
    diamondInputs.set(d.apex, [...inputs]);
  }

  const tables = new Map<string, TableState>();
  for (const id of dag.streamTables()) {
    const node = dag.node(id)!;
    const schedule: ResolvedSchedule = node.schedule ?? {
      kind: 'calculated',
      periodMs: periods.get(id) ?? 1000,
    };
    tables.set(id, {
      meta: {
        id,
        name: `public.${id}`,
        status: 'INITIALIZING',
        refreshMode: 'DIFFERENTIAL',
        schedule,
        lastRefreshAt: null,
        dataTimestamp: null,
        consecutiveErrors: 0,
        fuse:
          id === 'payment_audit'
            ? { mode: 'statistical', sensitivity: 3, minSamples: 3, state: 'INTACT' }
            : null,
        consistencyGroupId: groupOf.get(id)?.id ?? null,
        diamondInputs: diamondInputs.get(id) ?? null,
      },
      frontier: null,
      baseline: new Welford(),
    });
  }
  const state = (id: string): TableState => tables.get(id)!;
  const baseSources = (id: string) => dag.upstream(id).filter((u) => !dag.isStreamTable(u));
  const upstreamTables = (id: string) => dag.upstream(id).filter((u) => dag.isStreamTable(u));
  const lsnOf = (f: bigint | null) => (f === null ? undefined : formatLsn(f));

  // The provider port, implemented over the fakes. A real scheduler runs SQL here.
  let bound = 0n;
  let runningUnit: RefreshUnit | null = null;
  const provider = new ContextProvider()
    .provide(tickLsn, () => formatLsn(bound))
    .provide(frontierLsn, (st) => lsnOf(state(st.id).frontier) ?? null)
    .provide(pendingChangeCount, (st) => {
      const sources = new Set(baseSources(st.id));
      const from = state(st.id).frontier ?? -1n;
      return wal.filter((c) => sources.has(c.source) && c.lsn > from && c.lsn <= bound).length;
    })
    .provide(changeCountBaseline, (st) => state(st.id).baseline)
    .provide(changedUpstreams, (st) =>
      upstreamTables(st.id).filter((u) => {
        const changed = state(u).meta.dataTimestamp;
        const last = st.lastRefreshAt;
        return changed != null && (last === null || changed.getTime() > last.getTime());
      }),
    )
    .provide(currentRefreshUnit, () => runningUnit)
    .provide(ownConsistencyGroup, (st) => groupOf.get(st.id) ?? null)
    .provide(groupMembers, (st) => (groupOf.get(st.id)?.members ?? []).map((m) => state(m).meta))
    .provide(
      diamondFrontiers,
      (st) => new Map((st.diamondInputs ?? []).map((u) => [u, lsnOf(state(u).frontier)])),
    )
    // Every table gets the group; the gate holds only those reading two or more of its sources.
    .provide(watermarkInputs, (st) => ({
      sources: baseSources(st.id),
      groups: [{ name: 'ingest', sources: ['clicks', 'payments'], tolerance: WATERMARK_TOLERANCE_MS * 1000 }],
      watermarks,
    }));

  const pipeline = defaultPipeline();
  const entries: TickLogEntry[] = [];
  const events: TickEvent[] = [];
  const lines: string[] = [];

  const refresh = (id: string, tick: GateTick, count: number) => {
    const s = state(id);
    const now = tick.now;
    const last = s.meta.lastRefreshAt?.getTime() ?? Number.NEGATIVE_INFINITY;
    const changedData =
      count > 0 || upstreamTables(id).some((u) => (state(u).meta.dataTimestamp?.getTime() ?? -1) > last);
    s.frontier = bound;
    if (s.meta.fuse) s.baseline.push(count);
    s.meta = {
      ...s.meta,
      status: 'ACTIVE',
      lastRefreshAt: now,
      dataTimestamp: changedData || s.meta.dataTimestamp == null ? now : s.meta.dataTimestamp,
    };
  };

  const applyEffect = (t: number, effect: GateEffect) => {
    const s = state(effect.streamTable);
    if (effect.kind === 'blow-fuse' && s.meta.fuse && s.meta.fuse.state !== 'BLOWN') {
      s.meta = {
        ...s.meta,
        fuse: { ...s.meta.fuse, state: 'BLOWN', blownAt: clock.now(), blownReason: effect.reason },
      };
      events.push({ tick: t, event: `fuse of ${effect.streamTable} BLOWN (${effect.changeCount} changes)` });
      lines.push(`  (effect) fuse of ${effect.streamTable} BLOWN`);
    }
  };

  const record = (
    t: number,
    table: string,
    unit: string,
    outcome: TickLogEntry['outcome'],
    gate: string | null,
    reason: string | null,
  ) => {
    entries.push({ tick: t, table, unit, outcome, gate, reason });
    const what = outcome === 'refresh' ? 'REFRESH' : outcome.toUpperCase();
    lines.push(
      `  ${table.padEnd(16)} ${what.padEnd(7)}${gate ? ` [${gate}]` : ''}${reason ? ` ${reason}` : ''}`,
    );
  };

  for (let t = 1; t <= ticks; t++) {
    const now = clock.advance(1000);
    lines.push(`tick ${t} ${now.toISOString().slice(11, 19)}`);

    // Operator action at tick 7: reset the blown fuse, discarding the pending spike (a
    // "skip changes" reset: the frontier jumps past everything already in the WAL).
    const audit = state('payment_audit');
    if (t === 7 && audit.meta.fuse?.state === 'BLOWN') {
      audit.frontier = lsn;
      audit.meta = {
        ...audit.meta,
        fuse: { ...audit.meta.fuse, state: 'INTACT', blownAt: null, blownReason: null },
      };
      events.push({
        tick: t,
        event: 'operator reset the fuse of payment_audit, discarding the pending spike',
      });
      lines.push('  (operator) fuse of payment_audit reset, pending spike discarded');
    }

    // The world moves: new changes in the WAL, watermarks advance (payments lags until tick 4).
    for (const [source, counts] of Object.entries(CHANGES)) {
      for (let i = 0; i < (counts[t - 1] ?? 0); i++) wal.push({ source, lsn: ++lsn });
    }
    watermarks.set('clicks', (now.getTime() - 5_000) * 1000);
    watermarks.set('payments', (t < 4 ? T0 - 10 * 60_000 : now.getTime() - 20_000) * 1000);

    bound = lsn; // captured once per tick (a real scheduler: pg_current_wal_lsn() after holdback)
    const tick = new GateTick({ clock, provider, tick: t });

    // A manual refresh request for a group member, outside its group: the snapshot gate refuses it.
    // A manual request is its own evaluation, with its own GateTick (its own memo).
    if (t === 2) {
      runningUnit = null;
      const st = state('order_totals').meta;
      const manual = new GateTick({ clock, provider, tick: t });
      const v = await pipeline.evaluate(st, manual.context(st, { initiatedBy: 'manual' }));
      record(
        t,
        st.id,
        'manual',
        v.decision.kind === 'proceed' ? 'refresh' : v.decision.kind,
        v.gate,
        reasonOf(v.decision),
      );
    }

    for (const unit of units) {
      runningUnit = unit;
      const verdicts: PipelineVerdict[] = [];
      const counts = new Map<string, number>();
      for (const id of unit.members) {
        const st = state(id).meta;
        const ctx = tick.context(st);
        const v = await pipeline.evaluate(st, ctx);
        verdicts.push(v);
        if (v.decision.kind === 'proceed') counts.set(id, await ctx.get(pendingChangeCount));
        if (v.decision.kind !== 'proceed' && v.decision.effect) applyEffect(t, v.decision.effect);
      }
      if (unit.kind === 'single') {
        const v = verdicts[0]!;
        if (v.decision.kind === 'proceed') {
          refresh(unit.members[0]!, tick, counts.get(unit.members[0]!) ?? 0);
          record(t, unit.members[0]!, unit.id, 'refresh', null, null);
        } else {
          record(t, unit.members[0]!, unit.id, v.decision.kind, v.gate, reasonOf(v.decision));
        }
        continue;
      }
      const blocker = verdicts.find((v) => v.decision.kind === 'block');
      const hard = verdicts.find(
        (v) => v.decision.kind === 'skip' && v.gate !== 'schedule' && v.gate !== 'upstream-changes',
      );
      const fires = !blocker && !hard && verdicts.some((v) => v.decision.kind === 'proceed');
      for (const v of verdicts) {
        if (fires) {
          const count =
            counts.get(v.streamTable) ??
            (await tick.context(state(v.streamTable).meta).get(pendingChangeCount));
          refresh(v.streamTable, tick, count);
          record(
            t,
            v.streamTable,
            unit.id,
            'refresh',
            null,
            v.decision.kind === 'proceed' ? null : `with its group (${reasonOf(v.decision)})`,
          );
        } else if (v.decision.kind !== 'proceed') {
          record(t, v.streamTable, unit.id, v.decision.kind, v.gate, reasonOf(v.decision));
        } else {
          const cause = blocker ?? hard ?? v;
          const kind = blocker ? 'block' : 'skip';
          record(
            t,
            v.streamTable,
            unit.id,
            kind,
            cause.gate,
            `held with its group: ${cause.streamTable} ${reasonOf(cause.decision) ?? 'has nothing to do'}`,
          );
        }
      }
    }
  }
  return { entries, events, lines };
}

function reasonOf(d: GateDecision): string | null {
  return d.kind === 'proceed' ? null : d.reason;
}
