/**
 * Diamonds and consistency groups (internal algorithms on the CSR snapshot).
 *
 * Definitions (paths follow edges from a table to the stream table reading it):
 * - A **diamond** is a pair (root R, apex D), D a stream table and R ≠ D any node, such that at
 *   least two R→D paths exist that are *internally vertex-disjoint* (they share only R and D).
 *   The direct edge R→D counts as a path, so "A→D and A→B→D" is a diamond with root A.
 *   By Menger's theorem this holds iff no single node other than R and D lies on every R→D path
 *   and R has two out-edges leading to D; equivalently, in the dominator tree of the reversed
 *   ancestor graph of D (rooted at D), idom(R) = D and R has ≥2 successors among D's ancestors.
 *   `paths` is a maximum set of internally disjoint R→D paths (≥2), found by unit-capacity
 *   max-flow with node splitting, so every reported path set is disjoint by construction.
 * - A fan-in stream table is a diamond apex iff two of its distinct inputs share an ancestor
 *   (or one input is an ancestor of another): the latest node common to two such paths is a root.
 * - The **consistency group** rule: for each diamond (R, D) take every stream table lying on some
 *   R→D path (R itself if it is a stream table, the intermediates, and D) and merge overlapping
 *   sets (union-find). This equals merging the stream tables on the paths of every diamond under
 *   every choice of disjoint paths, and it is the smallest set closure under which every fan-in
 *   node sees all of its diamond inputs at one version. Stream tables in no diamond belong to no
 *   group (callers treat them as singletons).
 * Cost: one dominator pass per fan-in node over its ancestors, O(Σ_D |anc(D)| + edges); diamond
 * paths add one small max-flow per reported diamond.
 */
import type { Compiled } from './compiled.js';

/** A root with ≥2 internally disjoint paths to a fan-in stream table. */
export interface Diamond {
  /** The fan-in stream table where the paths converge. */
  readonly apex: string;
  /** The shared ancestor where the paths split (a source or a stream table). */
  readonly root: string;
  /** ≥2 root→apex paths (each listing root first and apex last) sharing only root and apex. */
  readonly paths: readonly (readonly string[])[];
}

/** Which roots `diamonds()` reports for each apex. */
export type DiamondRoots = 'all' | 'outermost' | 'innermost';

/** Options of `diamonds()`. */
export interface DiamondOptions {
  /**
   * 'all' (default): every diamond root of every apex. 'outermost': only roots with no other root
   * of the same apex upstream of them (their paths span the whole group). 'innermost': only roots
   * with no other root of the same apex downstream of them (the tightest diamonds).
   */
  readonly roots?: DiamondRoots;
}

/** A set of stream tables that must refresh atomically, with the diamonds that required it. */
export interface DiamondGroup {
  /** Member stream tables in topological order. */
  readonly members: readonly string[];
  /** The fan-in stream tables (diamond apexes) that caused the group, topological order. */
  readonly apexes: readonly string[];
  /** The diamond roots of those apexes (sources or stream tables), topological order. */
  readonly roots: readonly string[];
}

/** Scratch state reused across apexes of one call. */
class Analyzer {
  readonly n: number;
  /** stamp[v] === current apex stamp ⇔ v is the apex or one of its ancestors. */
  readonly stamp: Int32Array;
  readonly rank: Int32Array;
  readonly idom: Int32Array;
  readonly succIn: Int32Array;
  readonly iter: Int32Array;
  readonly flag: Int32Array;
  readonly flag2: Int32Array;
  /** Apex and its ancestors, apex first, each node after all of its readers (reverse topological). */
  order: number[] = [];
  current = 0;

  constructor(private readonly c: Compiled) {
    this.n = c.ids.length;
    this.stamp = new Int32Array(this.n);
    this.rank = new Int32Array(this.n);
    this.idom = new Int32Array(this.n);
    this.succIn = new Int32Array(this.n);
    this.iter = new Int32Array(this.n);
    this.flag = new Int32Array(this.n);
    this.flag2 = new Int32Array(this.n);
  }

  /** Analyzes apex `d`; returns its diamond roots in reverse topological order. */
  roots(d: number): number[] {
    const c = this.c;
    const st = d + 1;
    this.current = st;
    const { stamp, rank, idom, succIn, iter } = this;
    // Iterative DFS over inputs: postorder lists ancestors before readers; reversed, apex first.
    const post: number[] = [];
    const stack: number[] = [d];
    stamp[d] = st;
    iter[d] = c.predStart[d]!;
    while (stack.length > 0) {
      const u = stack[stack.length - 1]!;
      const it = iter[u]!;
      if (it < c.predStart[u + 1]!) {
        iter[u] = it + 1;
        const p = c.pred[it]!;
        if (stamp[p] !== st) {
          stamp[p] = st;
          iter[p] = c.predStart[p]!;
          stack.push(p);
        }
      } else {
        stack.pop();
        post.push(u);
      }
    }
    post.reverse();
    this.order = post;
    for (let i = 0; i < post.length; i++) rank[post[i]!] = i;
    // Dominators of the reversed graph rooted at d; a DAG needs one pass in this order.
    idom[d] = d;
    const roots: number[] = [];
    for (let i = 1; i < post.length; i++) {
      const w = post[i]!;
      let x = -1;
      let count = 0;
      for (let j = c.succStart[w]!; j < c.succStart[w + 1]!; j++) {
        const s = c.succ[j]!;
        if (stamp[s] !== st) continue;
        count++;
        if (x < 0) {
          x = s;
        } else {
          let a = x;
          let b = s;
          while (a !== b) {
            while (rank[a]! > rank[b]!) a = idom[a]!;
            while (rank[b]! > rank[a]!) b = idom[b]!;
          }
          x = a;
        }
      }
      idom[w] = x;
      succIn[w] = count;
      if (x === d && count >= 2) roots.push(w);
    }
    return roots;
  }

  /** Marks (flag = stamp) every node of the current apex set at or below one of `roots`. */
  markBelow(roots: readonly number[]): void {
    const c = this.c;
    const { stamp, flag, order } = this;
    const st = this.current;
    for (const r of roots) flag[r] = st;
    for (let i = order.length - 1; i >= 0; i--) {
      const w = order[i]!;
      if (flag[w] === st) continue;
      for (let j = c.predStart[w]!; j < c.predStart[w + 1]!; j++) {
        const p = c.pred[j]!;
        if (stamp[p] === st && flag[p] === st) {
          flag[w] = st;
          break;
        }
      }
    }
  }

  /** Filters roots to those with no other root strictly upstream (outermost) or downstream. */
  filterRoots(d: number, roots: number[], mode: DiamondRoots): number[] {
    if (mode === 'all' || roots.length < 2) return roots;
    const c = this.c;
    const { stamp, order, flag2 } = this;
    const st = this.current;
    const isRoot = new Set(roots);
    // flag2[w] === st ⇔ some root lies strictly upstream (outermost) / downstream (innermost) of w.
    if (mode === 'outermost') {
      for (let i = order.length - 1; i >= 0; i--) {
        const w = order[i]!;
        for (let j = c.predStart[w]!; j < c.predStart[w + 1]!; j++) {
          const p = c.pred[j]!;
          if (stamp[p] === st && (isRoot.has(p) || flag2[p] === st)) {
            flag2[w] = st;
            break;
          }
        }
      }
    } else {
      for (let i = 1; i < order.length; i++) {
        const w = order[i]!;
        for (let j = c.succStart[w]!; j < c.succStart[w + 1]!; j++) {
          const s = c.succ[j]!;
          if (s !== d && stamp[s] === st && (isRoot.has(s) || flag2[s] === st)) {
            flag2[w] = st;
            break;
          }
        }
      }
    }
    return roots.filter((r) => flag2[r] !== st);
  }

  /** A maximum set of internally vertex-disjoint r→d paths (node indices), via max-flow. */
  disjointPaths(r: number, d: number): number[][] {
    const c = this.c;
    const st = this.current;
    const { stamp } = this;
    // Interval: nodes reachable from r among d's ancestors; local ids by discovery order.
    const local = new Map<number, number>([[r, 0]]);
    const nodes: number[] = [r];
    for (let qi = 0; qi < nodes.length; qi++) {
      const u = nodes[qi]!;
      if (u === d) continue;
      for (let j = c.succStart[u]!; j < c.succStart[u + 1]!; j++) {
        const v = c.succ[j]!;
        if (stamp[v] === st && !local.has(v)) {
          local.set(v, nodes.length);
          nodes.push(v);
        }
      }
    }
    const m = nodes.length;
    // Split graph: node i → in 2i, out 2i+1; unit capacities everywhere.
    const head = new Int32Array(2 * m).fill(-1);
    const to: number[] = [];
    const cap: number[] = [];
    const next: number[] = [];
    const addEdge = (u: number, v: number): void => {
      to.push(v, u);
      cap.push(1, 0);
      next.push(head[u]!, head[v]!);
      head[u] = to.length - 2;
      head[v] = to.length - 1;
    };
    const dl = local.get(d)!;
    // Added in reverse so that adjacency lists iterate in ascending discovery order.
    for (let i = m - 1; i >= 0; i--) {
      const u = nodes[i]!;
      if (u === d) continue;
      for (let j = c.succStart[u + 1]! - 1; j >= c.succStart[u]!; j--) {
        const lv = local.get(c.succ[j]!);
        if (lv !== undefined) addEdge(2 * i + 1, 2 * lv);
      }
      if (i !== 0) addEdge(2 * i, 2 * i + 1);
    }
    const source = 1;
    const sink = 2 * dl;
    const parentEdge = new Int32Array(2 * m);
    const seen = new Int32Array(2 * m);
    let round = 0;
    for (;;) {
      round++;
      const queue: number[] = [source];
      seen[source] = round;
      let found = false;
      for (let qi = 0; qi < queue.length && !found; qi++) {
        const u = queue[qi]!;
        for (let e = head[u]!; e !== -1; e = next[e]!) {
          const v = to[e]!;
          if (cap[e]! > 0 && seen[v] !== round) {
            seen[v] = round;
            parentEdge[v] = e;
            if (v === sink) {
              found = true;
              break;
            }
            queue.push(v);
          }
        }
      }
      if (!found) break;
      for (let v = sink; v !== source; ) {
        const e = parentEdge[v]!;
        cap[e]!--;
        cap[e ^ 1]!++;
        v = to[e ^ 1]!;
      }
    }
    // Decompose: forward edges (even index) with no capacity left carry one unit of flow; every
    // in-node carries at most one unit, so each unit path is followed without ambiguity.
    const usedEdgeFrom = (u: number): number => {
      for (let e = head[u]!; e !== -1; e = next[e]!) if ((e & 1) === 0 && cap[e] === 0) return to[e]!;
      return -1;
    };
    const paths: number[][] = [];
    for (let e0 = head[source]!; e0 !== -1; e0 = next[e0]!) {
      if ((e0 & 1) !== 0 || cap[e0] !== 0) continue;
      const path: number[] = [r];
      let node = to[e0]!;
      while (node !== sink) {
        path.push(nodes[node >> 1]!);
        node = usedEdgeFrom(usedEdgeFrom(node));
      }
      path.push(d);
      paths.push(path);
    }
    return paths;
  }
}

/** Lexicographic comparison of index paths, shorter first. */
function comparePaths(a: readonly number[], b: readonly number[], pos: Int32Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    const diff = pos[a[i]!]! - pos[b[i]!]!;
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Every diamond of the graph, by apex then root in topological order. */
export function findDiamonds(
  c: Compiled,
  order: Int32Array,
  pos: Int32Array,
  options: DiamondOptions,
): Diamond[] {
  const mode = options.roots ?? 'all';
  const analyzer = new Analyzer(c);
  const out: Diamond[] = [];
  for (let i = 0; i < order.length; i++) {
    const d = order[i]!;
    if (c.isStream[d] === 0 || c.predStart[d + 1]! - c.predStart[d]! < 2) continue;
    const roots = analyzer.filterRoots(d, analyzer.roots(d), mode);
    roots.sort((a, b) => pos[a]! - pos[b]!);
    for (const r of roots) {
      const paths = analyzer.disjointPaths(r, d);
      paths.sort((a, b) => comparePaths(a, b, pos));
      out.push({ apex: c.ids[d]!, root: c.ids[r]!, paths: paths.map((p) => p.map((v) => c.ids[v]!)) });
    }
  }
  return out;
}

/** Consistency groups by the rule in the header, groups ordered by their first member. */
export function findConsistencyGroups(c: Compiled, order: Int32Array, pos: Int32Array): DiamondGroup[] {
  const n = c.ids.length;
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (x: number): number => {
    let r = x;
    while (parent[r] !== r) r = parent[r]!;
    while (parent[x] !== r) {
      const nx = parent[x]!;
      parent[x] = r;
      x = nx;
    }
    return r;
  };
  const member = new Uint8Array(n);
  const analyzer = new Analyzer(c);
  const causes: Array<{ apex: number; roots: number[] }> = [];
  for (let i = 0; i < order.length; i++) {
    const d = order[i]!;
    if (c.isStream[d] === 0 || c.predStart[d + 1]! - c.predStart[d]! < 2) continue;
    const roots = analyzer.roots(d);
    if (roots.length === 0) continue;
    causes.push({ apex: d, roots });
    analyzer.markBelow(roots);
    const st = analyzer.current;
    member[d] = 1;
    for (const w of analyzer.order) {
      if (analyzer.flag[w] === st && c.isStream[w] === 1) {
        member[w] = 1;
        const a = find(w);
        const b = find(d);
        if (a !== b) parent[a] = b;
      }
    }
  }
  const groupOf = new Map<number, { members: string[]; apexes: Set<number>; roots: Set<number> }>();
  for (let i = 0; i < order.length; i++) {
    const v = order[i]!;
    if (member[v] === 0) continue;
    const r = find(v);
    let g = groupOf.get(r);
    if (!g) {
      g = { members: [], apexes: new Set(), roots: new Set() };
      groupOf.set(r, g);
    }
    g.members.push(c.ids[v]!);
  }
  for (const { apex, roots } of causes) {
    const g = groupOf.get(find(apex))!;
    g.apexes.add(apex);
    for (const r of roots) g.roots.add(r);
  }
  const byPos = (a: number, b: number) => pos[a]! - pos[b]!;
  return [...groupOf.values()].map((g) => ({
    members: g.members,
    apexes: [...g.apexes].sort(byPos).map((v) => c.ids[v]!),
    roots: [...g.roots].sort(byPos).map((v) => c.ids[v]!),
  }));
}
