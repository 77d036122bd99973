/**
 * The plan of one tick, from a catalog snapshot: the DAG of sources and stream tables, CALCULATED
 * schedules resolved to periods (as often as the most frequent consumer), consistency groups
 * (diamonds detected, declared groups merged, declared isolation winning), and the refresh units
 * in DAG order — each unit a group refreshed atomically or a single table. Every table's meta is
 * completed with what gates need: its resolved schedule, its group id, a diamond apex's inputs.
 * A table whose reads cannot be placed (a cycle in a corrupted catalog, an unknown group member) is
 * left out and reported, never guessed about.
 */
import { Dag, DEFAULT_PERIOD_MS } from '@pgtrickle/dag';
import type { ResolvedSchedule, StreamTableMeta } from '@pgtrickle/gates';
import {
  type ConsistencyGroup,
  detectedGroups,
  mergeGroups,
  type RefreshUnit,
  refreshUnits,
} from '@pgtrickle/groups';
import type { CatalogSnapshot } from './ports.js';

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
}

/** Builds the plan of a tick from `snapshot`. */
export function planTick(snapshot: CatalogSnapshot): TickPlan {
  const dag = new Dag();
  const ids = new Set(snapshot.tables.map((t) => t.meta.id));
  const excluded: { id: string; reason: string }[] = [];
  for (const t of snapshot.tables) {
    for (const r of t.reads) if (!ids.has(r) && !dag.has(r)) dag.addSource(r);
  }
  for (const t of snapshot.tables) dag.addStreamTable(t.meta.id, { reads: [], schedule: t.schedule });
  for (const t of snapshot.tables) {
    try {
      dag.setReads(t.meta.id, t.reads);
    } catch (error) {
      excluded.push({ id: t.meta.id, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  for (const e of excluded) dag.removeNode(e.id, { cascade: true });
  const periods = dag.calculatedSchedules();
  let groups: ConsistencyGroup[];
  try {
    groups = mergeGroups(
      detectedGroups(dag),
      snapshot.declaredGroups.filter((g) => g.members.every((m) => dag.has(m))),
      { dag },
    );
  } catch (error) {
    excluded.push({
      id: '(declared groups)',
      reason: error instanceof Error ? error.message : String(error),
    });
    groups = mergeGroups(detectedGroups(dag), [], { dag });
  }
  const units = refreshUnits(dag, groups);
  const groupOf = new Map<string, ConsistencyGroup>();
  for (const g of groups) for (const m of g.members) groupOf.set(m, g);
  const unitOf = new Map<string, RefreshUnit>();
  for (const u of units) for (const m of u.members) unitOf.set(m, u);

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
  return { dag, units, metas, groupOf, unitOf, excluded };
}
