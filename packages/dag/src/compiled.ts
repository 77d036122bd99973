/**
 * The integer snapshot of a Dag (internal). Rule: nodes are numbered 0..n-1 in insertion order;
 * `pred` lists each node's reads in declared order and `succ` each node's readers in ascending
 * index order, both as compressed adjacency arrays (CSR). Every graph algorithm of the package runs
 * on this form in O(n + e) (times log n where a heap breaks ties); it is rebuilt lazily when the
 * Dag's version changes.
 */
import { IntMinHeap } from './heap.js';

/** Compressed, index-based view of one version of a Dag. */
export interface Compiled {
  /** Dag version this snapshot was built from. */
  readonly version: number;
  /** Node ids by index (insertion order). */
  readonly ids: readonly string[];
  /** Id → index. */
  readonly index: ReadonlyMap<string, number>;
  /** 1 for stream tables, 0 for sources. */
  readonly isStream: Uint8Array;
  /** pred[predStart[v] .. predStart[v+1]) are v's direct inputs. */
  readonly predStart: Int32Array;
  readonly pred: Int32Array;
  /** succ[succStart[v] .. succStart[v+1]) are v's direct readers, ascending. */
  readonly succStart: Int32Array;
  readonly succ: Int32Array;
}

/** Builds the CSR snapshot from node ids (insertion order), kinds and reads. */
export function compile(
  version: number,
  nodes: ReadonlyArray<{ readonly id: string; readonly stream: boolean; readonly reads: readonly string[] }>,
): Compiled {
  const n = nodes.length;
  const ids: string[] = new Array<string>(n);
  const index = new Map<string, number>();
  const isStream = new Uint8Array(n);
  let e = 0;
  for (let i = 0; i < n; i++) {
    const node = nodes[i]!;
    ids[i] = node.id;
    index.set(node.id, i);
    isStream[i] = node.stream ? 1 : 0;
    e += node.reads.length;
  }
  const predStart = new Int32Array(n + 1);
  const pred = new Int32Array(e);
  const outDeg = new Int32Array(n + 1);
  let k = 0;
  for (let i = 0; i < n; i++) {
    predStart[i] = k;
    for (const r of nodes[i]!.reads) {
      const u = index.get(r)!;
      pred[k++] = u;
      outDeg[u + 1]!++;
    }
  }
  predStart[n] = k;
  const succStart = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) succStart[i + 1] = succStart[i]! + outDeg[i + 1]!;
  const fill = succStart.slice(0, n);
  const succ = new Int32Array(e);
  // Visiting readers in ascending index order leaves every succ list sorted.
  for (let v = 0; v < n; v++) {
    for (let j = predStart[v]!; j < predStart[v + 1]!; j++) {
      const u = pred[j]!;
      succ[fill[u]!++] = v;
    }
  }
  return { version, ids, index, isStream, predStart, pred, succStart, succ };
}

/**
 * Kahn's algorithm; among ready nodes the smallest index (earliest inserted) goes first, so the
 * order is the lexicographically smallest topological order by insertion index.
 */
export function topoOrder(c: Compiled): Int32Array {
  const n = c.ids.length;
  const indeg = new Int32Array(n);
  const heap = new IntMinHeap(Math.min(n, 1024));
  for (let v = 0; v < n; v++) {
    indeg[v] = c.predStart[v + 1]! - c.predStart[v]!;
    if (indeg[v] === 0) heap.push(v);
  }
  const order = new Int32Array(n);
  let k = 0;
  while (heap.size > 0) {
    const u = heap.pop();
    order[k++] = u;
    for (let j = c.succStart[u]!; j < c.succStart[u + 1]!; j++) {
      const v = c.succ[j]!;
      const d = indeg[v]! - 1;
      indeg[v] = d;
      if (d === 0) heap.push(v);
    }
  }
  // k < n cannot happen: every mutation keeps the graph acyclic.
  return k === n ? order : order.subarray(0, k);
}

/** Position of every node in `order`. */
export function positions(order: Int32Array, n: number): Int32Array {
  const pos = new Int32Array(n);
  for (let i = 0; i < order.length; i++) pos[order[i]!] = i;
  return pos;
}

/** Nodes reachable from `start` (excluded) along succ (`forward`) or pred edges, in BFS order. */
export function closure(c: Compiled, start: number, forward: boolean, mark: Uint8Array): number[] {
  const start_ = forward ? c.succStart : c.predStart;
  const adj = forward ? c.succ : c.pred;
  const out: number[] = [];
  // `start` stays unmarked: in a DAG it is never reachable from itself.
  const queue: number[] = [start];
  for (let qi = 0; qi < queue.length; qi++) {
    const u = queue[qi]!;
    for (let j = start_[u]!; j < start_[u + 1]!; j++) {
      const v = adj[j]!;
      if (mark[v] === 0) {
        mark[v] = 1;
        out.push(v);
        queue.push(v);
      }
    }
  }
  return out;
}

/**
 * Topological order of the subgraph induced by `nodes` (all marked 1 in `mark`), ties by index.
 * Runs in O(k log k + edges touching the subset).
 */
export function inducedTopoOrder(c: Compiled, nodes: readonly number[], mark: Uint8Array): number[] {
  const indeg = new Map<number, number>();
  const heap = new IntMinHeap(Math.max(nodes.length, 1));
  for (const v of nodes) {
    let d = 0;
    for (let j = c.predStart[v]!; j < c.predStart[v + 1]!; j++) if (mark[c.pred[j]!] === 1) d++;
    indeg.set(v, d);
    if (d === 0) heap.push(v);
  }
  const out: number[] = [];
  while (heap.size > 0) {
    const u = heap.pop();
    out.push(u);
    for (let j = c.succStart[u]!; j < c.succStart[u + 1]!; j++) {
      const v = c.succ[j]!;
      const d = indeg.get(v);
      if (d === undefined) continue;
      if (d === 1) heap.push(v);
      indeg.set(v, d - 1);
    }
  }
  return out;
}
