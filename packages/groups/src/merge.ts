/**
 * Merging detected and declared groups into the final partition.
 *
 * Rule: input groups that share a member, directly or through a chain of groups, become one output
 * group, so every stream table is in at most one group. An output made of a single input keeps that
 * input's id, origin and reason; one made of several gets id `merged:<sorted members>`, origin
 * 'merged' and a reason naming its inputs. The output isolation is the strongest isolation of its
 * inputs: detected groups are 'read committed', so in practice the strongest declared isolation
 * wins ('repeatable read' > 'read committed'). The result depends only on the set of inputs (not
 * their order) and merging a result again returns it unchanged.
 */
import type { Dag } from '@pgtrickle/dag';
import { InvalidGroupError } from './errors.js';
import {
  type ConsistencyGroup,
  type DeclaredGroup,
  fromDeclared,
  memberProblems,
  sortIds,
  validateDeclaredGroups,
} from './group.js';
import { isIsolationLevel, strongestIsolation } from './isolation.js';

/** Options of `mergeGroups`. */
export interface MergeOptions<M = unknown> {
  /** When given: members must be stream tables of this DAG and are listed in topological order. */
  readonly dag?: Dag<M>;
}

/** Compares two groups by content (id, members as sets, isolation, origin, reason). */
function sameGroup(a: ConsistencyGroup, b: ConsistencyGroup): boolean {
  if (a.isolation !== b.isolation || a.origin !== b.origin || a.reason !== b.reason) return false;
  if (a.members.length !== b.members.length) return false;
  const set = new Set(a.members);
  return b.members.every((m) => set.has(m));
}

/** Checks ConsistencyGroup inputs and drops exact duplicates (same id and content). */
function checkGroups<M>(groups: readonly ConsistencyGroup[], dag?: Dag<M>): ConsistencyGroup[] {
  const problems: string[] = [];
  const byId = new Map<string, ConsistencyGroup>();
  for (const [i, g] of groups.entries()) {
    const label = typeof g.id === 'string' && g.id !== '' ? `group "${g.id}"` : `group #${i + 1}`;
    if (typeof g.id !== 'string' || g.id === '') problems.push(`${label} has no id`);
    if (!isIsolationLevel(g.isolation))
      problems.push(`${label} has isolation ${JSON.stringify(g.isolation)}`);
    problems.push(...memberProblems(label, g.members, dag));
    const prev = byId.get(g.id);
    if (prev && !sameGroup(prev, g)) problems.push(`two different groups share the id "${g.id}"`);
    if (!prev) byId.set(g.id, g);
  }
  if (problems.length > 0) throw new InvalidGroupError(problems);
  return [...byId.values()];
}

/** Orders members topologically when a DAG is given, else by code unit. */
export function memberOrder<M>(dag?: Dag<M>): (ids: Iterable<string>) => string[] {
  if (!dag) return sortIds;
  const pos = new Map(dag.topologicalOrder().map((id, i) => [id, i]));
  return (ids) => [...ids].sort((a, b) => pos.get(a)! - pos.get(b)!);
}

/**
 * Merges groups into a partition of their members (see the module rule). Validates declared groups
 * (and, with `options.dag`, that every member is a stream table); throws InvalidGroupError.
 * Output groups are ordered by their first member.
 */
export function mergeGroups<M = unknown>(
  detected: readonly ConsistencyGroup[],
  declared: readonly DeclaredGroup[] = [],
  options: MergeOptions<M> = {},
): ConsistencyGroup[] {
  validateDeclaredGroups(declared, options.dag);
  const inputs = checkGroups([...detected, ...declared.map(fromDeclared)], options.dag);
  const order = memberOrder(options.dag);

  // Union-find over input groups, joined through shared members.
  const parent = inputs.map((_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const owner = new Map<string, number>();
  for (const [i, g] of inputs.entries()) {
    for (const m of g.members) {
      const j = owner.get(m);
      if (j === undefined) owner.set(m, i);
      else {
        const a = find(i);
        const b = find(j);
        if (a !== b) parent[a] = b;
      }
    }
  }
  const components = new Map<number, ConsistencyGroup[]>();
  for (const [i, g] of inputs.entries()) {
    const r = find(i);
    const list = components.get(r);
    if (list) list.push(g);
    else components.set(r, [g]);
  }

  const out: ConsistencyGroup[] = [];
  for (const parts of components.values()) {
    const members = order(new Set(parts.flatMap((g) => g.members)));
    if (parts.length === 1) {
      const only = parts[0]!;
      out.push({ ...only, members });
      continue;
    }
    const ids = sortIds(parts.map((g) => g.id));
    out.push({
      id: `merged:${sortIds(members).join(',')}`,
      members,
      isolation: strongestIsolation(parts.map((g) => g.isolation)),
      origin: 'merged',
      reason: `merged ${ids.join(', ')} (they share members)`,
    });
  }
  const first = new Map(out.map((g) => [g, g.members[0]!]));
  const rank = new Map(order(first.values()).map((m, i) => [m, i]));
  return out.sort((a, b) => rank.get(first.get(a)!)! - rank.get(first.get(b)!)!);
}
