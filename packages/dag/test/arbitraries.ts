/**
 * Test helpers: random DAG descriptions for fast-check and brute-force reference algorithms
 * (path enumeration, naive closures) that the fast implementations are checked against.
 */
import fc from 'fast-check';
import { Dag } from '../src/index.js';

/** A DAG description: node i may read only nodes < i; sources first. */
export interface DagSpec {
  sources: number;
  reads: number[][];
  names: string[];
}

/** Arbitrary DAG descriptions with up to `maxStreams` stream tables. */
export function dagSpec(maxSources = 4, maxStreams = 10, maxReads = 3): fc.Arbitrary<DagSpec> {
  return fc
    .tuple(fc.integer({ min: 1, max: maxSources }), fc.integer({ min: 0, max: maxStreams }))
    .chain(([sources, streams]) =>
      fc.record({
        sources: fc.constant(sources),
        reads: fc.tuple(
          ...Array.from({ length: streams }, (_, k) =>
            fc.uniqueArray(fc.integer({ min: 0, max: sources + k - 1 }), { maxLength: maxReads }),
          ),
        ),
        names: fc.shuffledSubarray(
          Array.from({ length: sources + streams }, (_, i) => `n${String(i).padStart(2, '0')}`),
          { minLength: sources + streams, maxLength: sources + streams },
        ),
      }),
    );
}

/** Builds the Dag of a description. */
export function buildDag(spec: DagSpec): Dag {
  const dag = new Dag();
  for (let i = 0; i < spec.sources; i++) dag.addSource(spec.names[i]!);
  spec.reads.forEach((reads, k) => {
    const i = spec.sources + k;
    dag.addStreamTable(spec.names[i]!, { reads: reads.map((r) => spec.names[r]!) });
  });
  return dag;
}

/** A comparable picture of a Dag's full state. */
export function snapshot(dag: Dag): unknown {
  return dag.nodes().map((id) => dag.node(id));
}

/** Successor map built from `dag.edges()`. */
export function successors(dag: Dag): Map<string, string[]> {
  const succ = new Map<string, string[]>(dag.nodes().map((id) => [id, []]));
  for (const [from, to] of dag.edges()) succ.get(from)!.push(to);
  return succ;
}

/** Naive reachability: nodes reachable from `id` (excluded). */
export function reachable(succ: Map<string, string[]>, id: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(succ.get(id) ?? [])];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    stack.push(...(succ.get(v) ?? []));
  }
  return seen;
}

/** Every path from `from` to `to` (small graphs only). */
export function allPaths(succ: Map<string, string[]>, from: string, to: string): string[][] {
  const out: string[][] = [];
  const walk = (v: string, path: string[]) => {
    if (v === to) {
      out.push(path);
      return;
    }
    for (const w of succ.get(v) ?? []) walk(w, [...path, w]);
  };
  walk(from, [from]);
  return out;
}

/** Whether two paths share only their endpoints. */
export function internallyDisjoint(a: readonly string[], b: readonly string[]): boolean {
  const inner = new Set(a.slice(1, -1));
  return b.slice(1, -1).every((v) => !inner.has(v));
}

/** Brute force: does (root, apex) have two internally disjoint paths? */
export function isDiamondBrute(succ: Map<string, string[]>, root: string, apex: string): boolean {
  const paths = allPaths(succ, root, apex);
  for (let i = 0; i < paths.length; i++) {
    for (let j = i + 1; j < paths.length; j++) {
      if (internallyDisjoint(paths[i]!, paths[j]!)) return true;
    }
  }
  return false;
}

/** Canonical form of a partition for comparison. */
export function canonicalPartition(groups: readonly (readonly string[])[]): string[][] {
  return groups.map((g) => [...g].sort()).sort((a, b) => (a.join() < b.join() ? -1 : 1));
}
