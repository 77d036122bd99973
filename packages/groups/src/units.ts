/**
 * Refresh units: what a scheduler iterates.
 *
 * Rule: a unit is a consistency group (its members refreshed together, in topological order, in one
 * transaction) or a single stream table outside every group. Units are listed so that every unit
 * comes after all units holding its members' upstream stream tables. If a group is not convex —
 * some stream table outside it lies on a path between two of its members, so the group would have
 * to run both before and after that table — the tables and groups involved (a cycle of units, found
 * as a strongly connected component) are combined into one unit whose group has origin 'merged',
 * the strongest isolation involved and a reason naming what was absorbed. Ties between ready units
 * are broken by the topological position of their first member, so the schedule is deterministic.
 */
import type { Dag } from '@pgtrickle/dag';
import { InvalidGroupError } from './errors.js';
import { type ConsistencyGroup, sortIds } from './group.js';
import { strongestIsolation } from './isolation.js';

/** One schedulable unit of refresh work. */
export interface RefreshUnit {
  /** The group's id, or the stream table's id for a single. */
  readonly id: string;
  /** 'group': refresh members atomically via a GroupExecutionStrategy; 'single': on its own. */
  readonly kind: 'group' | 'single';
  /** Stream tables of the unit, in topological order. */
  readonly members: readonly string[];
  /** The group refreshed by this unit; null for a single. */
  readonly group: ConsistencyGroup | null;
  /** Ids of the units holding this unit's direct upstream stream tables, in schedule order. */
  readonly dependsOn: readonly string[];
}

/** A binary min-heap by comparator (internal). */
class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => number) {}

  /** Number of queued items. */
  get size(): number {
    return this.items.length;
  }

  /** Queues an item. */
  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(a[p]!, item) <= 0) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = item;
  }

  /** Removes and returns the smallest item. */
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && this.less(a[r]!, a[l]!) < 0 ? r : l;
      if (this.less(a[c]!, last) >= 0) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/** Strongly connected components of a small directed graph (iterative Tarjan). */
function sccs(n: number, adj: readonly number[][]): number[] {
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const comp = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  let counter = 0;
  let compCount = 0;
  for (let s = 0; s < n; s++) {
    if (index[s] !== -1) continue;
    const work: Array<[number, number]> = [[s, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const [v, i] = frame;
      if (i === 0) {
        index[v] = low[v] = counter++;
        stack.push(v);
        onStack[v] = 1;
      }
      const edges = adj[v]!;
      if (i < edges.length) {
        frame[1] = i + 1;
        const w = edges[i]!;
        if (index[w] === -1) work.push([w, 0]);
        else if (onStack[w] === 1) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low[parent[0]] = Math.min(low[parent[0]]!, low[v]!);
      if (low[v] === index[v]) {
        for (;;) {
          const w = stack.pop()!;
          onStack[w] = 0;
          comp[w] = compCount;
          if (w === v) break;
        }
        compCount++;
      }
    }
  }
  return Array.from(comp);
}

/**
 * The refresh schedule of `dag` under `groups` (see the module rule). `groups` must be a partition
 * of stream tables of the DAG (use `mergeGroups` first); throws InvalidGroupError otherwise.
 */
export function refreshUnits<M>(dag: Dag<M>, groups: readonly ConsistencyGroup[]): RefreshUnit[] {
  const problems: string[] = [];
  const groupOf = new Map<string, number>();
  const ids = new Set<string>();
  for (const [gi, g] of groups.entries()) {
    if (ids.has(g.id)) problems.push(`two groups share the id "${g.id}"`);
    ids.add(g.id);
    if (g.members.length === 0) problems.push(`group "${g.id}" has no members`);
    for (const m of g.members) {
      if (!dag.has(m)) problems.push(`group "${g.id}": "${m}" is not in the DAG`);
      else if (!dag.isStreamTable(m))
        problems.push(`group "${g.id}": "${m}" is a source, not a stream table`);
      const other = groupOf.get(m);
      if (other !== undefined && other !== gi) {
        problems.push(`"${m}" is in both "${groups[other]!.id}" and "${g.id}"`);
      }
      groupOf.set(m, gi);
    }
  }
  if (problems.length > 0) {
    throw new InvalidGroupError(
      problems,
      'Pass a partition of stream tables, e.g. the result of mergeGroups().',
    );
  }

  const order = dag.topologicalOrder().filter((id) => dag.isStreamTable(id));
  const pos = new Map(order.map((id, i) => [id, i]));
  // Initial units: groups 0..g-1, then one per ungrouped stream table.
  const unitOf = new Map<string, number>();
  for (const [m, gi] of groupOf) unitOf.set(m, gi);
  let unitCount = groups.length;
  for (const id of order) if (!unitOf.has(id)) unitOf.set(id, unitCount++);
  const adjSets: Array<Set<number>> = Array.from({ length: unitCount }, () => new Set());
  for (const id of order) {
    const to = unitOf.get(id)!;
    for (const r of dag.upstream(id)) {
      const from = unitOf.get(r);
      if (from !== undefined && from !== to) adjSets[from]!.add(to);
    }
  }
  const comp = sccs(
    unitCount,
    adjSets.map((s) => [...s]),
  );

  const clash = order.filter((id) => !groupOf.has(id) && ids.has(id));
  if (clash.length > 0) {
    throw new InvalidGroupError(
      clash.map((id) => `group id "${id}" equals the id of an ungrouped stream table`),
      'Rename the group: unit ids must be unique.',
    );
  }
  // Combined units = SCCs; members and contributing groups per SCC.
  const members = new Map<number, string[]>();
  for (const id of order) {
    const c = comp[unitOf.get(id)!]!;
    const list = members.get(c);
    if (list) list.push(id);
    else members.set(c, [id]);
  }
  const groupsIn = new Map<number, number[]>();
  for (let gi = 0; gi < groups.length; gi++) {
    const c = comp[gi]!;
    const list = groupsIn.get(c);
    if (list) list.push(gi);
    else groupsIn.set(c, [gi]);
  }

  const units = new Map<number, Omit<RefreshUnit, 'dependsOn'>>();
  for (const [c, list] of members) {
    const gis = groupsIn.get(c) ?? [];
    if (gis.length === 0) {
      units.set(c, { id: list[0]!, kind: 'single', members: list, group: null });
      continue;
    }
    const grouped = new Set(gis.flatMap((gi) => groups[gi]!.members));
    if (gis.length === 1 && grouped.size === list.length) {
      units.set(c, { id: groups[gis[0]!]!.id, kind: 'group', members: list, group: groups[gis[0]!]! });
      continue;
    }
    const absorbed = list.filter((m) => !grouped.has(m));
    const group: ConsistencyGroup = {
      id: `merged:${sortIds(list).join(',')}`,
      members: list,
      isolation: strongestIsolation(gis.map((gi) => groups[gi]!.isolation)),
      origin: 'merged',
      reason:
        `combined ${sortIds(gis.map((gi) => groups[gi]!.id)).join(', ')}` +
        (absorbed.length > 0 ? ` with ${absorbed.map((m) => `"${m}"`).join(', ')}` : '') +
        ' because they lie on paths between each other’s members',
    };
    units.set(c, { id: group.id, kind: 'group', members: list, group });
  }

  // Kahn over the condensed graph; ready units ordered by their first member's position.
  const upstreamOf = new Map<number, Set<number>>([...units.keys()].map((c) => [c, new Set<number>()]));
  const downstreamOf = new Map<number, Set<number>>([...units.keys()].map((c) => [c, new Set<number>()]));
  for (let from = 0; from < unitCount; from++) {
    for (const to of adjSets[from]!) {
      const a = comp[from]!;
      const b = comp[to]!;
      if (a !== b) {
        upstreamOf.get(b)!.add(a);
        downstreamOf.get(a)!.add(b);
      }
    }
  }
  const key = (c: number) => pos.get(units.get(c)!.members[0]!)!;
  const indeg = new Map([...upstreamOf].map(([c, s]) => [c, s.size]));
  const ready = new MinHeap<number>((a, b) => key(a) - key(b));
  for (const c of units.keys()) if (indeg.get(c) === 0) ready.push(c);
  const schedule: number[] = [];
  while (ready.size > 0) {
    const c = ready.pop()!;
    schedule.push(c);
    for (const d of downstreamOf.get(c)!) {
      const left = indeg.get(d)! - 1;
      indeg.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  const at = new Map(schedule.map((c, i) => [c, i]));
  return schedule.map((c) => ({
    ...units.get(c)!,
    dependsOn: [...upstreamOf.get(c)!].sort((a, b) => at.get(a)! - at.get(b)!).map((u) => units.get(u)!.id),
  }));
}

/** Maps every stream table in `units` to the unit holding it. */
export function unitIndex(units: readonly RefreshUnit[]): Map<string, RefreshUnit> {
  const out = new Map<string, RefreshUnit>();
  for (const u of units) for (const m of u.members) out.set(m, u);
  return out;
}
