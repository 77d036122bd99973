/**
 * The dependency graph of sources and stream tables.
 *
 * Rules: nodes are sources (base tables, never read anything) and stream tables (read sources and
 * other stream tables); an edge runs from each read node to the stream table reading it. The graph
 * is a mutable object that is acyclic at all times: every change is validated first (unknown ids,
 * cycles, bad schedules) and a rejected change throws and leaves the graph exactly as it was.
 * Unknown read ids are rejected (`UnknownNodeError`), never auto-added. Reads are de-duplicated,
 * keeping the first occurrence. Every successful change bumps `version`, so callers can cache
 * derived results (topological order, groups) per version. Query results are fresh arrays;
 * orders are deterministic: ties are broken by insertion order (earlier-added node first).
 */

import {
  explanations,
  periodsMap,
  resolvePeriods,
  type ScheduleExplanation,
  type ScheduleOptions,
} from './calculated.js';
import { type Compiled, closure, compile, inducedTopoOrder, positions, topoOrder } from './compiled.js';
import {
  type Diamond,
  type DiamondGroup,
  type DiamondOptions,
  findConsistencyGroups,
  findDiamonds,
} from './diamonds.js';
import {
  CycleError,
  DependentsExistError,
  DuplicateNodeError,
  InvalidArgumentError,
  UnknownNodeError,
} from './errors.js';
import { type ScheduleSpec, validateSchedule } from './schedule.js';

/** The two kinds of node. */
export type NodeKind = 'source' | 'streamTable';

/** A snapshot of one node. */
export interface NodeInfo<M = unknown> {
  /** The node id. */
  readonly id: string;
  /** Source (base table) or stream table. */
  readonly kind: NodeKind;
  /** Direct inputs in declared order (always empty for sources). */
  readonly reads: readonly string[];
  /** Declared schedule; null = CALCULATED (always null for sources). */
  readonly schedule: ScheduleSpec | null;
  /** Caller-supplied metadata, if any. */
  readonly meta: M | undefined;
}

/** What `addStreamTable` needs. */
export interface StreamTableSpec<M = unknown> {
  /** Ids of the sources and stream tables it reads; all must exist. */
  readonly reads: readonly string[];
  /** Explicit schedule, or null/absent for CALCULATED. */
  readonly schedule?: ScheduleSpec | null;
  /** Caller-supplied metadata. */
  readonly meta?: M;
}

/** Options of `removeNode`. */
export interface RemoveOptions {
  /** Also remove every stream table that (transitively) reads the node. */
  readonly cascade?: boolean;
}

/** Options of `levels`. */
export interface LevelOptions {
  /** Only stream tables, with depth counted through stream tables only (sources are not refreshed). */
  readonly streamTablesOnly?: boolean;
}

interface NodeRecord<M> {
  readonly id: string;
  readonly kind: NodeKind;
  reads: string[];
  schedule: ScheduleSpec | null;
  meta: M | undefined;
}

function dedupe(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

/** A mutable, always-acyclic graph of sources and stream tables. */
export class Dag<M = unknown> {
  #nodes = new Map<string, NodeRecord<M>>();
  #readers = new Map<string, Set<string>>();
  #edgeCount = 0;
  #version = 0;
  #compiled: Compiled | undefined;

  /** Increments on every successful change; use it to cache derived results. */
  get version(): number {
    return this.#version;
  }

  /** Number of nodes. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Number of edges (reads). */
  get edgeCount(): number {
    return this.#edgeCount;
  }

  /** Whether a node with this id exists. */
  has(id: string): boolean {
    return this.#nodes.has(id);
  }

  /** The kind of a node, or undefined when it does not exist. */
  kind(id: string): NodeKind | undefined {
    return this.#nodes.get(id)?.kind;
  }

  /** Whether `id` exists and is a stream table. */
  isStreamTable(id: string): boolean {
    return this.#nodes.get(id)?.kind === 'streamTable';
  }

  /** A snapshot of one node, or undefined. */
  node(id: string): NodeInfo<M> | undefined {
    const rec = this.#nodes.get(id);
    if (!rec) return undefined;
    return { id: rec.id, kind: rec.kind, reads: [...rec.reads], schedule: rec.schedule, meta: rec.meta };
  }

  /** All node ids in insertion order. */
  nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  /** Source ids in insertion order. */
  sources(): string[] {
    return this.nodes().filter((id) => this.#nodes.get(id)!.kind === 'source');
  }

  /** Stream table ids in insertion order. */
  streamTables(): string[] {
    return this.nodes().filter((id) => this.#nodes.get(id)!.kind === 'streamTable');
  }

  /** All edges as [from, to] pairs (from = read node, to = reading stream table). */
  edges(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const rec of this.#nodes.values()) for (const r of rec.reads) out.push([r, rec.id]);
    return out;
  }

  /** Adds a source (base table). Throws DuplicateNodeError if the id exists. */
  addSource(id: string, meta?: M): this {
    this.#checkNewId(id);
    this.#nodes.set(id, { id, kind: 'source', reads: [], schedule: null, meta });
    this.#readers.set(id, new Set());
    this.#changed();
    return this;
  }

  /**
   * Adds a stream table reading `spec.reads`. Throws DuplicateNodeError, UnknownNodeError (some
   * read is missing), CycleError (it reads itself) or InvalidArgumentError (bad schedule).
   */
  addStreamTable(id: string, spec: StreamTableSpec<M>): this {
    this.#checkNewId(id);
    const reads = dedupe(spec.reads);
    if (reads.includes(id)) throw new CycleError([id, id]);
    this.#checkKnown(reads, `reads of "${id}"`);
    const schedule = spec.schedule ?? null;
    validateSchedule(schedule, id);
    this.#nodes.set(id, { id, kind: 'streamTable', reads, schedule, meta: spec.meta });
    this.#readers.set(id, new Set());
    for (const r of reads) this.#readers.get(r)!.add(id);
    this.#edgeCount += reads.length;
    this.#changed();
    return this;
  }

  /**
   * Replaces the reads of a stream table (ALTER). Throws CycleError naming one cycle if the new
   * reads would close one, UnknownNodeError for missing ids; the graph is unchanged on error.
   */
  setReads(id: string, reads: readonly string[]): this {
    const rec = this.#streamTable(id, 'setReads');
    const next = dedupe(reads);
    if (next.includes(id)) throw new CycleError([id, id]);
    this.#checkKnown(next, `reads of "${id}"`);
    const current = new Set(rec.reads);
    const added = next.filter((r) => !current.has(r));
    if (added.length > 0) {
      const cycle = this.#cycleThrough(id, added);
      if (cycle) throw new CycleError(cycle);
    }
    for (const r of rec.reads) this.#readers.get(r)!.delete(id);
    for (const r of next) this.#readers.get(r)!.add(id);
    this.#edgeCount += next.length - rec.reads.length;
    rec.reads = next;
    this.#changed();
    return this;
  }

  /** Adds one read to a stream table (no-op if already read); same checks as setReads. */
  addRead(id: string, upstream: string): this {
    const rec = this.#streamTable(id, 'addRead');
    if (rec.reads.includes(upstream)) return this;
    return this.setReads(id, [...rec.reads, upstream]);
  }

  /** Changes a stream table's schedule (null = CALCULATED). */
  setSchedule(id: string, schedule: ScheduleSpec | null): this {
    const rec = this.#streamTable(id, 'setSchedule');
    validateSchedule(schedule, id);
    rec.schedule = schedule;
    this.#changed();
    return this;
  }

  /** Replaces a node's metadata. */
  setMeta(id: string, meta: M | undefined): this {
    const rec = this.#nodes.get(id);
    if (!rec) throw new UnknownNodeError([id]);
    rec.meta = meta;
    this.#changed();
    return this;
  }

  /**
   * Removes a node. If stream tables read it, throws DependentsExistError unless `cascade`, which
   * also removes every descendant. Returns the removed ids in a safe drop order: every node comes
   * before the nodes it reads (readers first, `id` last).
   */
  removeNode(id: string, options: RemoveOptions = {}): string[] {
    if (!this.#nodes.has(id)) throw new UnknownNodeError([id]);
    const readers = this.#readers.get(id)!;
    if (readers.size === 0) {
      this.#delete(id);
      this.#changed();
      return [id];
    }
    if (!options.cascade) throw new DependentsExistError(id, this.downstream(id));
    const removed = [id, ...this.descendants(id)].reverse();
    for (const r of removed) this.#delete(r);
    this.#changed();
    return removed;
  }

  /** An independent copy (same nodes, reads, schedules, metadata references and version). */
  clone(): Dag<M> {
    const copy = new Dag<M>();
    for (const rec of this.#nodes.values()) copy.#nodes.set(rec.id, { ...rec, reads: [...rec.reads] });
    for (const [id, set] of this.#readers) copy.#readers.set(id, new Set(set));
    copy.#edgeCount = this.#edgeCount;
    copy.#version = this.#version;
    return copy;
  }

  /** Direct inputs of a node, in declared order. */
  upstream(id: string): string[] {
    const rec = this.#nodes.get(id);
    if (!rec) throw new UnknownNodeError([id]);
    return [...rec.reads];
  }

  /** Direct readers of a node, in insertion order. */
  downstream(id: string): string[] {
    const c = this.#compile();
    const v = this.#index(c, id);
    const out: string[] = [];
    for (let j = c.succStart[v]!; j < c.succStart[v + 1]!; j++) out.push(c.ids[c.succ[j]!]!);
    return out;
  }

  /** Every node `id` depends on, transitively (not `id`), in topological order. */
  ancestors(id: string): string[] {
    return this.#closureOf(id, false);
  }

  /** Every node depending on `id`, transitively (not `id`), in topological order. */
  descendants(id: string): string[] {
    return this.#closureOf(id, true);
  }

  /**
   * All nodes in topological order (Kahn's algorithm): every node after all nodes it reads; among
   * nodes ready at the same time, the earliest inserted first. O((n + e) log n).
   */
  topologicalOrder(): string[] {
    const c = this.#compile();
    const order = topoOrder(c);
    const out = new Array<string>(order.length);
    for (let i = 0; i < order.length; i++) out[i] = c.ids[order[i]!]!;
    return out;
  }

  /**
   * Nodes grouped by longest-path depth: level 0 reads nothing (counted within the chosen node set),
   * level k reads something at level k-1 and nothing deeper. Nodes in one level never depend on each
   * other, so a level can be refreshed in parallel once earlier levels are done.
   */
  levels(options: LevelOptions = {}): string[][] {
    const c = this.#compile();
    const order = topoOrder(c);
    const only = options.streamTablesOnly === true;
    const depth = new Int32Array(c.ids.length);
    const levels: string[][] = [];
    for (let i = 0; i < order.length; i++) {
      const v = order[i]!;
      if (only && c.isStream[v] === 0) continue;
      let d = 0;
      for (let j = c.predStart[v]!; j < c.predStart[v + 1]!; j++) {
        const u = c.pred[j]!;
        if (only && c.isStream[u] === 0) continue;
        if (depth[u]! + 1 > d) d = depth[u]! + 1;
      }
      depth[v] = d;
      while (levels.length <= d) levels.push([]);
      levels[d]!.push(c.ids[v]!);
    }
    return levels;
  }

  /** Stream tables with ≥2 direct inputs, in topological order. */
  fanInNodes(): string[] {
    const c = this.#compile();
    const order = topoOrder(c);
    const out: string[] = [];
    for (let i = 0; i < order.length; i++) {
      const v = order[i]!;
      if (c.isStream[v] === 1 && c.predStart[v + 1]! - c.predStart[v]! >= 2) out.push(c.ids[v]!);
    }
    return out;
  }

  /**
   * Stream tables split into weakly connected components of the stream-table-only subgraph
   * (sharing only a base-table source does not connect two stream tables: sources are not
   * refreshed). Distinct branches have no ordering constraint between them and may refresh in
   * parallel. Members in topological order; branches ordered by their first member.
   */
  independentBranches(): string[][] {
    const c = this.#compile();
    const order = topoOrder(c);
    const n = c.ids.length;
    const parent = new Int32Array(n);
    for (let i = 0; i < n; i++) parent[i] = i;
    const find = (x: number): number => {
      while (parent[x] !== x) {
        parent[x] = parent[parent[x]!]!;
        x = parent[x]!;
      }
      return x;
    };
    for (let v = 0; v < n; v++) {
      if (c.isStream[v] === 0) continue;
      for (let j = c.predStart[v]!; j < c.predStart[v + 1]!; j++) {
        const u = c.pred[j]!;
        if (c.isStream[u] === 0) continue;
        const a = find(u);
        const b = find(v);
        if (a !== b) parent[a] = b;
      }
    }
    const branches = new Map<number, string[]>();
    for (let i = 0; i < order.length; i++) {
      const v = order[i]!;
      if (c.isStream[v] === 0) continue;
      const r = find(v);
      const list = branches.get(r);
      if (list) list.push(c.ids[v]!);
      else branches.set(r, [c.ids[v]!]);
    }
    return [...branches.values()];
  }

  /** Every diamond (see `Diamond`), by apex then root in topological order. */
  diamonds(options: DiamondOptions = {}): Diamond[] {
    const c = this.#compile();
    const order = topoOrder(c);
    return findDiamonds(c, order, positions(order, c.ids.length), options);
  }

  /**
   * The smallest disjoint sets of stream tables that must refresh atomically (see `DiamondGroup`):
   * for each diamond, every stream table on a root→apex path (the root only if it is a stream
   * table; the apex always), overlapping sets merged. Stream tables in no diamond are in no group.
   */
  consistencyGroups(): DiamondGroup[] {
    const c = this.#compile();
    const order = topoOrder(c);
    return findConsistencyGroups(c, order, positions(order, c.ids.length));
  }

  /**
   * Effective period (ms) of every stream table, null for cron, in topological order: explicit
   * intervals are kept; CALCULATED takes the minimum of its direct consumers' periods (through
   * chains), or `defaultPeriodMs` (1000) without any; cron consumers contribute nothing.
   */
  calculatedSchedules(options: ScheduleOptions = {}): Map<string, number | null> {
    const c = this.#compile();
    const order = topoOrder(c);
    return periodsMap(c, order, resolvePeriods(c, order, this.#schedules(c), options));
  }

  /** Like calculatedSchedules, with where each period came from; entries in topological order. */
  explainSchedules(options: ScheduleOptions = {}): Map<string, ScheduleExplanation> {
    const c = this.#compile();
    const order = topoOrder(c);
    const schedules = this.#schedules(c);
    return explanations(c, order, schedules, resolvePeriods(c, order, schedules, options));
  }

  #schedules(c: Compiled): Array<ScheduleSpec | null> {
    return c.ids.map((id) => this.#nodes.get(id)!.schedule);
  }

  #changed(): void {
    this.#version++;
    this.#compiled = undefined;
  }

  #compile(): Compiled {
    if (this.#compiled?.version !== this.#version) {
      const nodes = [...this.#nodes.values()].map((r) => ({
        id: r.id,
        stream: r.kind === 'streamTable',
        reads: r.reads,
      }));
      this.#compiled = compile(this.#version, nodes);
    }
    return this.#compiled;
  }

  #index(c: Compiled, id: string): number {
    const v = c.index.get(id);
    if (v === undefined) throw new UnknownNodeError([id]);
    return v;
  }

  #closureOf(id: string, forward: boolean): string[] {
    const c = this.#compile();
    const v = this.#index(c, id);
    const mark = new Uint8Array(c.ids.length);
    const set = closure(c, v, forward, mark);
    return inducedTopoOrder(c, set, mark).map((u) => c.ids[u]!);
  }

  #checkNewId(id: string): void {
    if (typeof id !== 'string' || id === '') {
      throw new InvalidArgumentError(`node id must be a non-empty string, got ${JSON.stringify(id)}.`);
    }
    if (this.#nodes.has(id)) throw new DuplicateNodeError(id);
  }

  #checkKnown(ids: readonly string[], context: string): void {
    const missing = ids.filter((r) => !this.#nodes.has(r));
    if (missing.length > 0) throw new UnknownNodeError(missing, context);
  }

  #streamTable(id: string, op: string): NodeRecord<M> {
    const rec = this.#nodes.get(id);
    if (!rec) throw new UnknownNodeError([id]);
    if (rec.kind !== 'streamTable') {
      throw new InvalidArgumentError(
        `${op}: "${id}" is a source; only stream tables read other nodes or have schedules.`,
      );
    }
    return rec;
  }

  /**
   * If making `id` read each of `added` would close a cycle, returns the shortest such cycle
   * [id, …, r, id]: a path id → … → r among existing edges plus the new edge r → id.
   */
  #cycleThrough(id: string, added: readonly string[]): string[] | null {
    const c = this.#compile();
    const start = this.#index(c, id);
    const targets = new Set(added.map((r) => c.index.get(r)!));
    const parent = new Int32Array(c.ids.length).fill(-1);
    parent[start] = start;
    const queue: number[] = [start];
    for (let qi = 0; qi < queue.length; qi++) {
      const u = queue[qi]!;
      for (let j = c.succStart[u]!; j < c.succStart[u + 1]!; j++) {
        const v = c.succ[j]!;
        if (parent[v] !== -1) continue;
        parent[v] = u;
        if (targets.has(v)) {
          const path: string[] = [];
          for (let x = v; x !== start; x = parent[x]!) path.push(c.ids[x]!);
          path.push(id);
          path.reverse();
          path.push(id);
          return path;
        }
        queue.push(v);
      }
    }
    return null;
  }

  #delete(id: string): void {
    const rec = this.#nodes.get(id)!;
    for (const r of rec.reads) this.#readers.get(r)?.delete(id);
    this.#edgeCount -= rec.reads.length;
    this.#nodes.delete(id);
    this.#readers.delete(id);
  }
}

/** Every diamond of `dag` (same as `dag.diamonds(options)`). */
export function diamonds<M>(dag: Dag<M>, options: DiamondOptions = {}): Diamond[] {
  return dag.diamonds(options);
}

/** The consistency groups of `dag` (same as `dag.consistencyGroups()`). */
export function consistencyGroups<M>(dag: Dag<M>): DiamondGroup[] {
  return dag.consistencyGroups();
}

/** Effective periods of `dag`'s stream tables (same as `dag.calculatedSchedules(options)`). */
export function calculatedSchedules<M>(
  dag: Dag<M>,
  options: ScheduleOptions = {},
): Map<string, number | null> {
  return dag.calculatedSchedules(options);
}

/** Resolved periods with explanations (same as `dag.explainSchedules(options)`). */
export function explainSchedules<M>(
  dag: Dag<M>,
  options: ScheduleOptions = {},
): Map<string, ScheduleExplanation> {
  return dag.explainSchedules(options);
}
