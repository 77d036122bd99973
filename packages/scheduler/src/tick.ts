/**
 * One tick. Rules:
 * - Load the catalog once, plan the units (DAG order), read the clock once (`GateTick`). A plan
 *   is a function of the catalog snapshot: the same snapshot object is planned once.
 * - A unit is evaluated only when every unit holding one of its upstream stream tables has
 *   settled in this tick (refreshed, skipped or failed), so its gates see what the upstreams just
 *   did, and it never refreshes before them. Ready units run in parallel, at most `concurrency`
 *   at a time; a table belongs to exactly one unit and a unit runs at most once per tick, so no
 *   table is ever refreshed twice at once.
 * - Each member goes through the gate pipeline (backing-off members are held first). A single
 *   unit refreshes when its table proceeds. A group unit refreshes as a whole when no member is
 *   blocked, no member skipped for a reason other than "not due" / "nothing pending" (those
 *   refresh along, cheaply, but only if they pass every other gate: a member skipped as "not
 *   due" is still checked by the fuse and watermark gates), and at least one proceeded; otherwise
 *   it is held. Under the group's schedule policy 'slowest' it is also held while any member's
 *   schedule is not due.
 * - Gate effects (blow a fuse) go to the store. Failures back off; repeated ones suspend (transient
 *   ones never do); permanent ones are left in ERROR by the executor.
 * - With a verdict memo (`memo.ts`), a single-table unit whose previous verdict the full pipeline
 *   would give again is settled with it at once, without running the gates (an idle tick's
 *   fast path); the unit's report is built by the same code either way.
 */
import {
  type Clock,
  currentRefreshUnit,
  defaultPipeline,
  type GatePipeline,
  GateTick,
  groupMembers,
  ownConsistencyGroup,
  type PipelineVerdict,
} from '@pgtrickle/gates';
import type { RefreshUnit } from '@pgtrickle/groups';
import type { VerdictMemo } from './memo.js';
import { planTick, type TickPlan } from './plan.js';
import type {
  CatalogSnapshot,
  MemberResult,
  SchedulerLogger,
  SchedulerStore,
  UnitExecutor,
} from './ports.js';
import { silentLogger } from './ports.js';
import { RetryTracker } from './retry.js';

/** Gates whose Skip only means "nothing to do now": a group member skipped by them refreshes with its group. */
const SOFT_SKIP_GATES = new Set(['schedule', 'upstream-changes']);

/** What happened to one unit in a tick. */
export interface UnitReport {
  readonly unit: string;
  readonly kind: RefreshUnit['kind'];
  readonly members: readonly string[];
  /** refreshed; skipped / blocked by a gate (or backoff); failed; suspended (failed too often). */
  readonly outcome: 'refreshed' | 'skipped' | 'blocked' | 'failed' | 'suspended';
  /** The gate that held it (null when refreshed or failed). */
  readonly gate: string | null;
  readonly reason: string | null;
  /** Per-member results when refreshed. */
  readonly results?: readonly MemberResult[];
  /** The error when failed or suspended. */
  readonly error?: unknown;
  /** Per-member verdicts, for status views. */
  readonly verdicts: readonly PipelineVerdict[];
}

/** What one tick did. */
export interface TickReport {
  readonly tick: number;
  /** The tick's instant. */
  readonly at: Date;
  readonly units: readonly UnitReport[];
  /** Tables left out of the plan, with why. */
  readonly excluded: readonly { readonly id: string; readonly reason: string }[];
  /** The pipeline's gate names in evaluation order (a verdict's gate decided; the ones before it proceeded). */
  readonly gates: readonly string[];
  /** The earliest instant a gate said a skipped table may proceed (e.g. its next due time); null if none said. */
  readonly nextDueAt: Date | null;
}

/** Everything a tick needs. */
export interface TickDeps {
  readonly store: SchedulerStore;
  readonly executor: UnitExecutor;
  readonly clock: Clock;
  readonly pipeline?: GatePipeline;
  readonly retry?: RetryTracker;
  /** Units refreshed at the same time, at most (default 4). */
  readonly concurrency?: number;
  readonly logger?: SchedulerLogger;
  /** Tick number for logs. */
  readonly tick?: number;
  /** The verdicts of previous ticks to reuse where the full pipeline would give them again (one memo per scheduler). */
  readonly memo?: VerdictMemo;
}

/** Plans already made, by snapshot: a store returns the same snapshot object while its catalog is unchanged. */
const plans = new WeakMap<CatalogSnapshot, TickPlan>();

function planOf(snapshot: CatalogSnapshot): TickPlan {
  let plan = plans.get(snapshot);
  if (plan === undefined) {
    plan = planTick(snapshot);
    plans.set(snapshot, plan);
  }
  return plan;
}

/** Which units each unit waits on, by plan position: fixed for a plan, so worked out once. */
interface UnitOrder {
  /** How many distinct units each unit depends on. */
  readonly waitingOn: readonly number[];
  /** The positions of the units depending on each unit, by unit id. */
  readonly dependents: ReadonlyMap<string, readonly number[]>;
  /** The positions of the units that depend on none, ascending. */
  readonly roots: readonly number[];
}

const orders = new WeakMap<TickPlan, UnitOrder>();

function orderOf(plan: TickPlan): UnitOrder {
  let order = orders.get(plan);
  if (order === undefined) {
    const waitingOn: number[] = [];
    const dependents = new Map<string, number[]>();
    const roots: number[] = [];
    for (const [i, unit] of plan.units.entries()) {
      const ups = new Set(unit.dependsOn);
      waitingOn.push(ups.size);
      for (const d of ups) {
        const list = dependents.get(d);
        if (list === undefined) dependents.set(d, [i]);
        else list.push(i);
      }
      if (ups.size === 0) roots.push(i);
    }
    order = { waitingOn, dependents, roots };
    orders.set(plan, order);
  }
  return order;
}

/** Runs one tick. */
export async function runTick(deps: TickDeps): Promise<TickReport> {
  const logger = deps.logger ?? silentLogger;
  const retry = deps.retry ?? new RetryTracker();
  const pipeline = deps.pipeline ?? defaultPipeline();
  const concurrency = Math.max(1, Math.floor(deps.concurrency ?? 4));
  try {
    return await tickBody(deps, logger, retry, pipeline, concurrency);
  } finally {
    await deps.store
      .endTick?.()
      .catch((error: unknown) => logger.error('end-tick-failed', { error: String(error) }));
  }
}

async function tickBody(
  deps: TickDeps,
  logger: SchedulerLogger,
  retry: RetryTracker,
  pipeline: GatePipeline,
  concurrency: number,
): Promise<TickReport> {
  const snapshot = await deps.store.load();
  const plan = planOf(snapshot);
  await deps.store.beginTick?.(plan);
  for (const e of plan.excluded) logger.error('table-excluded', { table: e.id, reason: e.reason });
  const provider = deps.store
    .contextProvider(snapshot)
    .provide(currentRefreshUnit, (st) => plan.unitOf.get(st.id) ?? null)
    .provide(ownConsistencyGroup, (st) => plan.groupOf.get(st.id) ?? null)
    .provide(groupMembers, (st) =>
      (plan.groupOf.get(st.id)?.members ?? []).flatMap((m) => plan.metas.get(m) ?? []),
    );
  const tick = new GateTick({ clock: deps.clock, provider, tick: deps.tick ?? 0 });
  const nowMs = tick.now.getTime();

  const reports = new Map<string, UnitReport>();
  const memo = deps.memo;
  memo?.beginTick(pipeline, plan.metas);
  const running = new Map<string, Promise<void>>();

  // Readiness, kept incrementally: a unit is ready once every unit it depends on has settled.
  const order = orderOf(plan);
  const waitingOn = order.waitingOn.slice();
  const ready = order.roots.slice();
  const settle = (unit: RefreshUnit, report: UnitReport): void => {
    reports.set(unit.id, report);
    for (const down of order.dependents.get(unit.id) ?? []) {
      const n = (waitingOn[down] as number) - 1;
      waitingOn[down] = n;
      if (n === 0) insertSorted(ready, down);
    }
  };
  const quietUpstreams = (unit: RefreshUnit): boolean =>
    unit.dependsOn.every((d) => {
      const outcome = reports.get(d)?.outcome;
      return outcome === 'skipped' || outcome === 'blocked';
    });

  const runUnit = async (unit: RefreshUnit): Promise<void> => {
    let report: UnitReport;
    try {
      report = await evaluateAndRun(unit, plan, tick, pipeline, deps, retry, nowMs, logger);
    } catch (error) {
      // A gate or the store failed: this unit is held this tick; nothing was refreshed.
      logger.error('unit-evaluation-failed', { unit: unit.id, error: String(error) });
      for (const m of unit.members) memo?.forget(m);
      report = {
        unit: unit.id,
        kind: unit.kind,
        members: unit.members,
        outcome: 'failed',
        gate: null,
        reason: `evaluation failed: ${error instanceof Error ? error.message : String(error)}`,
        error,
        verdicts: [],
      };
    }
    running.delete(unit.id);
    settle(unit, report);
  };

  for (;;) {
    // Ready units in plan order: settled at once from the memo, or started while there is room.
    // Settling inserts a unit's dependents into `ready`, after the cursor (they come later in plan order).
    const waiting: number[] = [];
    for (let k = 0; k < ready.length; k++) {
      const i = ready[k] as number;
      const unit = plan.units[i] as RefreshUnit;
      const fast =
        memo === undefined ? undefined : reused(unit, plan, memo, retry, nowMs, deps.store, quietUpstreams);
      if (fast !== undefined) settle(unit, fast);
      else if (running.size < concurrency) running.set(unit.id, runUnit(unit));
      else waiting.push(i);
    }
    ready.length = 0;
    ready.push(...waiting.sort((a, b) => a - b));
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  // Every unit left waits on a unit that is not in the plan: cannot happen for a valid plan.
  for (const unit of plan.units) {
    if (reports.has(unit.id)) continue;
    reports.set(unit.id, {
      unit: unit.id,
      kind: unit.kind,
      members: unit.members,
      outcome: 'skipped',
      gate: null,
      reason: 'upstream unit missing from the plan',
      verdicts: [],
    });
  }
  const units = plan.units.flatMap((u) => reports.get(u.id) ?? []);
  let nextDue: number | null = null;
  for (const u of units)
    for (const v of u.verdicts)
      if (v.decision.kind === 'skip' && v.decision.until !== undefined) {
        const t = v.decision.until.getTime();
        if (nextDue === null || t < nextDue) nextDue = t;
      }
  return {
    tick: tick.tick,
    at: tick.now,
    nextDueAt: nextDue === null ? null : new Date(nextDue),
    units,
    excluded: plan.excluded,
    gates: pipeline.names(),
  };
}

/** Inserts `i` into the ascending array `list`, keeping it ascending. */
function insertSorted(list: number[], i: number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as number) < i) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, i);
}

/** The report of a unit held because a member is backing off after a failure; undefined when none is. */
function backoffReport(unit: RefreshUnit, retry: RetryTracker, nowMs: number): UnitReport | undefined {
  for (const m of unit.members) {
    const until = retry.backingOffUntil(m, nowMs);
    if (until !== null) {
      return {
        unit: unit.id,
        kind: unit.kind,
        members: unit.members,
        outcome: 'skipped',
        gate: 'retry-backoff',
        reason: `"${m}" failed recently; next attempt at ${new Date(until).toISOString()}`,
        verdicts: [],
      };
    }
  }
  return undefined;
}

/**
 * The report of a single-table unit settled from the memo (`memo.ts`): the one the full
 * evaluation would give, or undefined when the unit must be evaluated in full.
 */
function reused(
  unit: RefreshUnit,
  plan: TickPlan,
  memo: VerdictMemo,
  retry: RetryTracker,
  nowMs: number,
  store: SchedulerStore,
  quietUpstreams: (unit: RefreshUnit) => boolean,
): UnitReport | undefined {
  if (unit.kind !== 'single' || unit.members.length !== 1) return undefined;
  const backoff = backoffReport(unit, retry, nowMs);
  if (backoff !== undefined) return backoff;
  const id = unit.members[0] as string;
  const meta = plan.metas.get(id);
  if (meta === undefined) return undefined;
  const verdict = memo.reuse(id, {
    meta,
    nowMs,
    pendingUnchanged: () => quietUpstreams(unit) && store.pendingUnchanged?.(id) === true,
  });
  if (verdict === undefined) return undefined;
  // A reused verdict comes with the same meta, hence the same plan and unit: so is its report.
  let report = reportOfVerdict.get(verdict);
  if (report === undefined) {
    report = heldReport(unit, plan, [verdict]);
    if (report !== undefined) reportOfVerdict.set(verdict, report);
  }
  return report;
}

/** The report of a single-table unit held by a memoized verdict (reports are immutable). */
const reportOfVerdict = new WeakMap<PipelineVerdict, UnitReport>();

/**
 * The report of a unit its members' verdicts hold (the module rule), or undefined when it refreshes.
 */
function heldReport(
  unit: RefreshUnit,
  plan: TickPlan,
  verdicts: readonly PipelineVerdict[],
): UnitReport | undefined {
  const blocked = verdicts.find((v) => v.decision.kind === 'block');
  const hardSkip = verdicts.find(
    (v) => v.decision.kind === 'skip' && !(unit.kind === 'group' && SOFT_SKIP_GATES.has(v.gate ?? '')),
  );
  const anyProceed = verdicts.some((v) => v.decision.kind === 'proceed');
  const notDue =
    unit.kind === 'group' && plan.schedulePolicyOf.get(unit.id) === 'slowest'
      ? verdicts.find((v) => v.decision.kind === 'skip' && v.gate === 'schedule')
      : undefined;
  const holder = blocked ?? hardSkip ?? notDue ?? (anyProceed ? undefined : verdicts[0]);
  if (holder === undefined && verdicts.length > 0) return undefined;
  const d = holder?.decision;
  return {
    unit: unit.id,
    kind: unit.kind,
    members: unit.members,
    outcome: d?.kind === 'block' ? 'blocked' : 'skipped',
    gate: holder?.gate ?? null,
    reason:
      d === undefined || d.kind === 'proceed'
        ? null
        : `${holder === notDue ? "group schedule policy 'slowest', " : ''}${nameOf(plan, holder?.streamTable)}: ${d.reason}`,
    verdicts,
  };
}

async function evaluateAndRun(
  unit: RefreshUnit,
  plan: TickPlan,
  tick: GateTick,
  pipeline: GatePipeline,
  deps: TickDeps,
  retry: RetryTracker,
  nowMs: number,
  logger: SchedulerLogger,
): Promise<UnitReport> {
  const base = { unit: unit.id, kind: unit.kind, members: unit.members };
  const backoff = backoffReport(unit, retry, nowMs);
  if (backoff !== undefined) return backoff;
  const verdicts: PipelineVerdict[] = [];
  for (const id of unit.members) {
    const meta = plan.metas.get(id);
    if (meta === undefined) continue;
    let v = await pipeline.evaluate(meta, tick.context(meta));
    if (unit.kind === 'group' && v.decision.kind === 'skip' && SOFT_SKIP_GATES.has(v.gate ?? '')) {
      // It would refresh along with its group: every other gate (fuse, watermark, …) still applies.
      const soft = pipeline.names().filter((n) => SOFT_SKIP_GATES.has(n));
      const along = await pipeline.without(...soft).evaluate(meta, tick.context(meta));
      if (along.decision.kind !== 'proceed') v = along;
    }
    verdicts.push(v);
    if (unit.kind === 'single') deps.memo?.record(meta, v, nowMs);
    else deps.memo?.forget(id);
    const effect = v.decision.kind === 'proceed' ? undefined : v.decision.effect;
    if (effect !== undefined) await deps.store.applyEffect(effect);
  }
  const held = heldReport(unit, plan, verdicts);
  if (held !== undefined) return held;
  logger.debug('unit-refresh', { unit: unit.id, members: unit.members });
  const outcome = await deps.executor.execute(unit, unit.members, unit.group);
  if (outcome.ok) {
    for (const m of unit.members) retry.succeed(m);
    logger.info('unit-refreshed', { unit: unit.id, results: outcome.results });
    return { ...base, outcome: 'refreshed', gate: null, reason: null, results: outcome.results, verdicts };
  }
  const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
  if (outcome.permanent) {
    for (const m of unit.members) retry.forget(m);
    logger.error('unit-failed-permanently', { unit: unit.id, member: outcome.failedMember, error: message });
    return { ...base, outcome: 'failed', gate: null, reason: message, error: outcome.error, verdicts };
  }
  const failing = outcome.failedMember === null ? unit.members : [outcome.failedMember];
  let suspended = false;
  for (const m of failing) {
    const verdict = outcome.transient === true ? retry.failTransient(m, nowMs) : retry.fail(m, nowMs);
    if (verdict.suspend) {
      suspended = true;
      retry.forget(m);
      await deps.store.suspend(
        m,
        `suspended after ${verdict.failures} consecutive failed refreshes; last error: ${message}`,
      );
    }
  }
  logger.warn(suspended ? 'unit-suspended' : 'unit-failed', {
    unit: unit.id,
    member: outcome.failedMember,
    error: message,
    ...(outcome.transient === true ? { transient: true } : {}),
  });
  return {
    ...base,
    outcome: suspended ? 'suspended' : 'failed',
    gate: null,
    reason: message,
    error: outcome.error,
    verdicts,
  };
}

/** The qualified name of a planned stream table, for messages (its id when it is not in the plan). */
function nameOf(plan: TickPlan, id: string | undefined): string {
  if (id === undefined) return '?';
  return plan.metas.get(id)?.name ?? id;
}
