/**
 * The plan of one tick, from a catalog snapshot: the DAG of sources and stream tables, CALCULATED
 * schedules resolved to periods (as often as the most frequent consumer), consistency groups
 * (diamonds detected, declared groups merged, declared isolation winning), and the refresh units
 * in DAG order — each unit a group refreshed atomically or a single table. Every table's meta is
 * completed with what gates need: its resolved schedule, its group id, a diamond apex's inputs.
 * A table whose reads cannot be placed (a cycle in a corrupted catalog, an unknown group member) is
 * left out and reported, never guessed about.
 * Diamond settings (docs/refresh-control.md, "Diamonds"): a group made only of detected diamonds runs
 * atomically only if every member's `diamondConsistency` is 'atomic'; otherwise it is kept in
 * `groups` (for `diamond_groups()` and `explain`) as not atomic, and its members are planned as
 * single units. A group with a declared part is always atomic (the user asked for it). A group's
 * schedule policy is read from its convergence points: 'slowest' if any of them says so, else
 * 'fastest'.
 */
import { Dag, DEFAULT_PERIOD_MS } from '@pgtrickle/dag';
import type { ResolvedSchedule, StreamTableMeta } from '@pgtrickle/gates';
import {
  type ConsistencyGroup,
  detectedGroupId,
  detectedGroups,
  mergeGroups,
  type RefreshUnit,
  refreshUnits,
} from '@pgtrickle/groups';
import type { CatalogSnapshot } from './ports.js';

/** A group's diamond schedule policy: refresh when any member is due, or only when all are. */
export type SchedulePolicy = 'fastest' | 'slowest';

/** A consistency group of the plan, with what `diamond_groups()` and `explain` show. */
export interface PlannedGroup {
  readonly group: ConsistencyGroup;
  /** The diamonds' convergence points among its members (empty for a declared group alone). */
  readonly convergence: readonly string[];
  /** Whether it runs as one atomic unit; false: its members refresh independently. */
  readonly atomic: boolean;
  /** Why it is not atomic (null when it is). */
  readonly nonAtomicReason: string | null;
  /** Its schedule policy. */
  readonly schedulePolicy: SchedulePolicy;
}

/** The plan of one tick. */
export interface TickPlan {
  readonly dag: Dag;
  /** Refresh units in DAG order (a unit's upstream units come first). */
  readonly units: readonly RefreshUnit[];
  /** Completed metas by table id. */
  readonly metas: ReadonlyMap<string, StreamTableMeta>;
  /** The consistency group of each grouped table. */
  readonly groupOf: ReadonlyMap<string, ConsistencyGroup>;
  /** The unit of each table. */
  readonly unitOf: ReadonlyMap<string, RefreshUnit>;
  /** Tables left out, with why. */
  readonly excluded: readonly { readonly id: string; readonly reason: string }[];
  /** Every consistency group, atomic or not, ordered by first member. */
  readonly groups: readonly PlannedGroup[];
  /** The schedule policy of each group unit, by unit id. */
  readonly schedulePolicyOf: ReadonlyMap<string, SchedulePolicy>;
}

/** Builds the plan of a tick from `snapshot`. */
export function planTick(snapshot: CatalogSnapshot): TickPlan {
  const dag = new Dag();
  const ids = new Set(snapshot.tables.map((t) => t.meta.id));
  const excluded: { id: string; reason: string }[] = [];
  for (const t of snapshot.tables) {
    for (const r of t.reads) if (!ids.has(r) && !dag.has(r)) dag.addSource(r);
  }
  // Add stream tables upstream first (Kahn), so each is added once with its reads: linear, where
  // adding them all and then setting reads re-checks the whole graph per table.
  const byId = new Map(snapshot.tables.map((t) => [t.meta.id, t]));
  const waiting = new Map<string, number>();
  const readers = new Map<string, string[]>();
  for (const t of snapshot.tables) {
    const ups = [...new Set(t.reads.filter((r) => ids.has(r)))];
    waiting.set(t.meta.id, ups.length);
    for (const u of ups) readers.set(u, [...(readers.get(u) ?? []), t.meta.id]);
  }
  const ready = snapshot.tables.filter((t) => waiting.get(t.meta.id) === 0).map((t) => t.meta.id);
  while (ready.length > 0) {
    const id = ready.shift() as string;
    const t = byId.get(id) as (typeof snapshot.tables)[number];
    dag.addStreamTable(id, { reads: t.reads, schedule: t.schedule });
    for (const r of readers.get(id) ?? []) {
      const n = (waiting.get(r) ?? 0) - 1;
      waiting.set(r, n);
      if (n === 0) ready.push(r);
    }
  }
  for (const t of snapshot.tables) {
    if (!dag.has(t.meta.id)) {
      excluded.push({
        id: t.meta.id,
        reason: `"${t.meta.id}" is on (or reads from) a cycle of stream tables and cannot be scheduled`,
      });
    }
  }
  const periods = dag.calculatedSchedules();
  let merged: ConsistencyGroup[];
  try {
    merged = mergeGroups(
      detectedGroups(dag),
      snapshot.declaredGroups.filter((g) => g.members.every((m) => dag.has(m))),
      { dag },
    );
  } catch (error) {
    excluded.push({
      id: '(declared groups)',
      reason: error instanceof Error ? error.message : String(error),
    });
    merged = mergeGroups(detectedGroups(dag), [], { dag });
  }
  const planned = plannedGroups(dag, merged, byId);
  const groups = planned.filter((p) => p.atomic).map((p) => p.group);
  const units = refreshUnits(dag, groups);
  const groupOf = new Map<string, ConsistencyGroup>();
  for (const g of groups) for (const m of g.members) groupOf.set(m, g);
  const unitOf = new Map<string, RefreshUnit>();
  for (const u of units) for (const m of u.members) unitOf.set(m, u);
  const policyOfMember = new Map<string, SchedulePolicy>();
  for (const p of planned)
    if (p.atomic) for (const m of p.group.members) policyOfMember.set(m, p.schedulePolicy);
  const schedulePolicyOf = new Map<string, SchedulePolicy>();
  for (const u of units) {
    if (u.kind !== 'group') continue;
    schedulePolicyOf.set(
      u.id,
      u.members.some((m) => policyOfMember.get(m) === 'slowest') ? 'slowest' : 'fastest',
    );
  }

  // Each diamond apex's direct inputs on its diamond paths.
  const diamondInputs = new Map<string, Set<string>>();
  for (const d of dag.diamonds()) {
    const inputs = diamondInputs.get(d.apex) ?? new Set<string>();
    for (const path of d.paths) {
      const input = path[path.length - 2];
      if (input !== undefined && dag.isStreamTable(input)) inputs.add(input);
    }
    diamondInputs.set(d.apex, inputs);
  }

  const metas = new Map<string, StreamTableMeta>();
  for (const t of snapshot.tables) {
    if (!dag.has(t.meta.id)) continue;
    const schedule: ResolvedSchedule = t.schedule ?? {
      kind: 'calculated',
      periodMs: periods.get(t.meta.id) ?? DEFAULT_PERIOD_MS,
    };
    const inputs = diamondInputs.get(t.meta.id);
    metas.set(t.meta.id, {
      ...t.meta,
      schedule,
      consistencyGroupId: groupOf.get(t.meta.id)?.id ?? null,
      diamondInputs: inputs === undefined ? null : [...inputs],
    });
  }
  return { dag, units, metas, groupOf, unitOf, excluded, groups: planned, schedulePolicyOf };
}

/** The merged groups with their convergence points, atomicity and schedule policy (module rule). */
function plannedGroups(
  dag: Dag,
  merged: readonly ConsistencyGroup[],
  tables: ReadonlyMap<string, CatalogSnapshot['tables'][number]>,
): PlannedGroup[] {
  const apexesOf = new Map(dag.consistencyGroups().map((g) => [detectedGroupId(g.members), g.apexes]));
  const detected = detectedGroups(dag);
  return merged.map((group) => {
    const members = new Set(group.members);
    const convergence = detected
      .filter((d) => d.members.some((m) => members.has(m)))
      .flatMap((d) => apexesOf.get(d.id) ?? []);
    const none = group.members.filter((m) => tables.get(m)?.diamondConsistency === 'none');
    const declaredPart = group.origin !== 'detected';
    const atomic = declaredPart || group.isolation === 'repeatable read' || none.length === 0;
    return {
      group,
      convergence: group.members.filter((m) => convergence.includes(m)),
      atomic,
      nonAtomicReason: atomic
        ? null
        : `diamond_consistency = 'none' on ${none.map((m) => `"${tables.get(m)?.meta.name ?? m}"`).join(', ')}: members refresh independently`,
      schedulePolicy: convergence.some((c) => tables.get(c)?.diamondSchedulePolicy === 'slowest')
        ? 'slowest'
        : 'fastest',
    };
  });
}
