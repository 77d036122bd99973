/**
 * The delta framework: what a refresh reads its changes from (the {@link DeltaSource}), the
 * per-statement context operators generate SQL in, and the dispatch of `snapshot` / `delta` to
 * the rules of a node's kind (`OPERATOR_RULES`).
 */
import { InternalError } from '../errors.js';
import { renderExpr } from '../ir/expr.js';
import type { Expr, IrNode, Side, SourceRef } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { rulesOf } from '../operators/index.js';
import { sql } from '../sql/sql.js';
import { emptyDeltaSql } from './recompute.js';
import { shapeKey } from './shape.js';
import { StatementBuilder } from './statement.js';

/**
 * Where the changes of a refresh come from. `changeBuffer`: every source's change buffer, over
 * the window since the stored frontier (bound through statement parameters). `transitionTable`:
 * one source's statement-level transition tables (IMMEDIATE mode); every other source is unchanged.
 */
export type DeltaSource =
  | { readonly kind: 'changeBuffer' }
  | {
      readonly kind: 'transitionTable';
      /** The source key (see {@link SourceRef.key}). */
      readonly source: string;
      /** Name of the OLD transition table, or null (INSERT). */
      readonly oldTable: string | null;
      /** Name of the NEW transition table, or null (DELETE). */
      readonly newTable: string | null;
      /**
       * `oldTable` / `newTable` name a row trigger's record variables (`old`, `new`: one row each)
       * instead of transition tables: a row-level trigger's delta.
       */
      readonly rowVariables?: boolean;
    };

/**
 * The statement parameters of a change-buffer delta: `$1` is the previous frontier's snapshot
 * (a `pg_snapshot`, shared by every base-table source), then one `bigint` per stream-table source
 * (the last upstream epoch consumed), in the plan's source order.
 */
export interface DeltaParam {
  /** 1-based parameter number (`$1`). */
  readonly index: number;
  /** `prevSnapshot`: the frontier snapshot; `prevEpoch`: the epoch of stream-table source `source`. */
  readonly kind: 'prevSnapshot' | 'prevEpoch';
  /** For `prevEpoch`: the source key. */
  readonly source: string | null;
  /** For `prevEpoch`: the upstream stream table's id. */
  readonly pgtId: number | null;
}

/** The parameter list for the given sources: the snapshot, then each stream-table source's epoch. */
export function deltaParams(sources: readonly SourceRef[]): DeltaParam[] {
  const params: DeltaParam[] = [{ index: 1, kind: 'prevSnapshot', source: null, pgtId: null }];
  for (const s of sources) {
    if (s.kind === 'streamTable') {
      params.push({ index: params.length + 1, kind: 'prevEpoch', source: s.key, pgtId: s.pgtId });
    }
  }
  return params;
}

/** Where the state of the stream table's top operator is stored (see `OperatorRules.rootState`). */
export interface StorageBinding {
  /** The storage table, quoted and qualified. */
  readonly relation: string;
  /** The node whose state the storage table keeps. */
  readonly stateNid: number;
  /** The storage column (unquoted name) holding column id `id` of that node. */
  column(id: string): string;
}

/**
 * The root operator's changes one row per changed row id (alias `f` in every expression), for an
 * apply that needs no netting of −1 / +1 rows: `had` says whether the id is stored, `keep`
 * whether its new row exists, `changed` whether a stored row that stays differs from the new
 * one; `column(id)` is the new value of the operator's column `id`.
 */
export interface KeyedRootDelta {
  /** The relation (a CTE name) holding one row per affected row id, `__pgt_row_id` first. */
  readonly relation: string;
  readonly had: string;
  readonly keep: string;
  readonly changed: string;
  /** The column (unquoted name) of `relation` holding the new value of the operator's column `id`. */
  column(id: string): string;
  /**
   * The column (unquoted name) of `relation` holding the ctid of the id's stored row, read in the
   * same statement (NULL when not stored): the apply then reaches stored rows by ctid.
   */
  readonly storedCtid?: string;
}

/** The context one generated statement is built in. */
export class DiffContext {
  /** The CTEs of the statement. */
  readonly stmt = new StatementBuilder();
  /** Where changes come from. */
  readonly deltaSource: DeltaSource;
  private readonly deltas = new Map<number, string>();
  private readonly deltasByShape = new Map<string, { node: IrNode; name: string }>();
  private readonly sourceDeltas = new Map<string, string>();
  private readonly sources = new Map<string, SourceRef>();

  /** The storage binding of the top operator's state, when the statement maintains a stream table. */
  readonly storage: StorageBinding | null;

  /** The statement's parameters (change-buffer deltas). */
  readonly params: readonly DeltaParam[];

  constructor(
    deltaSource: DeltaSource,
    params: readonly DeltaParam[] = [],
    storage: StorageBinding | null = null,
  ) {
    this.deltaSource = deltaSource;
    this.params = params;
    this.storage = storage;
  }

  private outer = new Map<string, string>();

  /**
   * Renders a resolved expression: column id → `<alias>."<id>"` with `aliasOf` for the operator's
   * own inputs; ids of an enclosing query level (correlated references, see {@link withOuter})
   * get that level's alias. Operators render every expression through here.
   */
  render(expr: Expr, aliasOf: string | ((id: string) => string)): string {
    if (this.outer.size === 0) return renderExpr(expr, aliasOf);
    const local = typeof aliasOf === 'string' ? () => aliasOf : aliasOf;
    return renderExpr(expr, (id) => this.outer.get(id) ?? local(id));
  }

  /**
   * Runs `fn` (which generates SQL nested inside a relation aliased per `aliases`) with the
   * given outer column ids rendered under those aliases. SQL generated this way is correlated:
   * it may be inlined there (snapshots), never put into a statement-level CTE.
   */
  withOuter<T>(aliases: ReadonlyMap<string, string>, fn: () => T): T {
    const saved = this.outer;
    this.outer = new Map([...saved, ...aliases]);
    try {
      return fn();
    } finally {
      this.outer = saved;
    }
  }

  /** The storage binding if `node` is the operator whose state the storage table keeps. */
  storageFor(node: IrNode): StorageBinding | null {
    return this.storage !== null && this.storage.stateNid === node.nid ? this.storage : null;
  }

  private readonly sharedSnapshots = new Map<number, string>();

  /**
   * SELECT of `node`'s snapshot: columns `__pgt_row_id`, then its column ids. A new snapshot
   * already written once as a shared CTE (see {@link sharedSnapshot}) is read from it.
   */
  snapshot(node: IrNode, side: Side): string {
    const shared = side === 'new' && this.outer.size === 0 ? this.sharedSnapshots.get(node.nid) : undefined;
    if (shared !== undefined) return sql`SELECT * FROM ${shared}`;
    return rulesOf(node).snapshot(node, side, this);
  }

  /**
   * A relation (a CTE name, or a parenthesised SELECT) holding `node`'s new snapshot, written once
   * per statement as a `NOT MATERIALIZED` CTE: PostgreSQL inlines it at every reference (each
   * is planned with its own restrictions, as if written out), and the statement's text grows
   * linearly with a join chain instead of repeating every lower join's snapshot at each level.
   * Inside a correlated context the snapshot is written out in place.
   */
  sharedSnapshot(node: IrNode): string {
    if (this.outer.size > 0) return `(${this.snapshot(node, 'new')})`;
    const known = this.sharedSnapshots.get(node.nid);
    if (known !== undefined) return known;
    const name = this.stmt.add(`n${node.nid}_new`, rulesOf(node).snapshot(node, 'new', this), false);
    this.sharedSnapshots.set(node.nid, name);
    return name;
  }

  /**
   * Name of the CTE holding `node`'s delta: `__pgt_row_id`, `__pgt_weight`, then its column ids.
   * Memoised. A statically empty node (see {@link isStaticallyEmpty}) gets the empty delta of its
   * shape here, once for every operator: its rules' `delta` is only asked when something it reads
   * may change.
   */
  delta(node: IrNode): string {
    const known = this.deltas.get(node.nid);
    if (known !== undefined) return known;
    // A subtree of the same shape as one whose delta is already written (the same subquery
    // named twice): its delta is that one's, under this node's column ids.
    const shape = this.storageFor(node) === null && node.kind !== 'scan' ? shapeKey(node) : null;
    const twin = shape === null ? undefined : this.deltasByShape.get(shape);
    let name: string;
    if (twin !== undefined) {
      const cols = node.columns.map(
        (c, i) => sql`, d.${sql.id(twin.node.columns[i]?.id ?? c.id)} AS ${sql.id(c.id)}`,
      );
      name = this.stmt.add(
        `d${node.nid}_same`,
        sql`SELECT d.${ROW_ID_COLUMN}, d.${WEIGHT_COLUMN}${cols.join('')}\nFROM ${twin.name} AS d`,
      );
    } else {
      name = this.isStaticallyEmpty(node)
        ? this.stmt.add(`d${node.nid}_empty`, emptyDeltaSql(node, this.snapshot(node, 'new')))
        : rulesOf(node).delta(node, this);
      if (shape !== null) this.deltasByShape.set(shape, { node, name });
    }
    this.deltas.set(node.nid, name);
    return name;
  }

  /**
   * The CTE holding one source's delta with its columns named as in the source
   * (`__pgt_row_id`, `__pgt_weight`, <visible columns>), built once per statement by `build`.
   */
  sourceDelta(source: SourceRef, build: () => string): string {
    this.sources.set(source.key, source);
    const known = this.sourceDeltas.get(source.key);
    if (known !== undefined) return known;
    const name = build();
    this.sourceDeltas.set(source.key, name);
    return name;
  }

  /** The sources whose deltas this statement reads, in order of first use. */
  sourcesRead(): SourceRef[] {
    return [...this.sources.values()];
  }

  /** The parameter carrying `source`'s previous frontier, as a typed SQL expression (`$1::pg_snapshot`). */
  param(source: SourceRef): string {
    if (this.deltaSource.kind !== 'changeBuffer') {
      throw new InternalError('a frontier parameter was requested outside a change-buffer delta');
    }
    this.sources.set(source.key, source);
    const p =
      source.kind === 'streamTable'
        ? this.params.find((x) => x.kind === 'prevEpoch' && x.source === source.key)
        : this.params[0];
    if (p === undefined) throw new InternalError(`no frontier parameter for source ${source.name}`);
    return sql`$${p.index}::${p.kind === 'prevEpoch' ? 'bigint' : 'pg_snapshot'}`;
  }

  /** Whether `node`'s delta is certainly empty (a transition-table delta of a source it does not read). */
  isStaticallyEmpty(node: IrNode): boolean {
    if (this.deltaSource.kind !== 'transitionTable') return false;
    const key = this.deltaSource.source;
    const reads = (n: IrNode): boolean =>
      (n.kind === 'scan' && n.source.key === key) || n.children.some(reads);
    return !reads(node);
  }
}
