/**
 * Column pruning: a keyed scan keeps only the source columns the query reads. A column is read
 * when an expression anywhere in the tree names it (a condition, a projection, an aggregate's
 * argument, a correlated reference from a subquery), when it is an output of the root, or when
 * an operator that consumes its input's whole rows (DISTINCT, set operations, windows, top-N,
 * lateral calls, …) sits above it; the primary key columns always stay (the row id is formed from
 * them). Filters, projections, inner / outer / semi joins, subquery values and aggregates read
 * their inputs only through expressions, so a column none of them names changes no result: an
 * update of such a column alone becomes a −1 and a +1 row equal in every kept column, which cancel.
 * Keyless scans (and DEFERRABLE keys) keep every column: their row ids and netting read whole
 * rows. Every node keeps its column ids in order, minus the pruned ones; the scans of one source
 * share one reduced {@link SourceRef} (the union of what they keep), so the source's one delta CTE
 * reads just those columns from the change buffer. Trees with a recursive CTE are left as they are.
 *
 * Aggregate state: only the aggregate whose state the storage table keeps (the top operator below
 * projections) maintains SUM / AVG algebraically and needs their hidden state (finite sum,
 * non-NULL, NaN / ±Infinity counts, scale histogram); an aggregate below it is recomputed per
 * affected group (its results from the calls themselves), so its state columns are dropped and
 * never computed.
 */

import type { IrColumn, IrNode, SourceRef } from '../ir/types.js';
import type { AggregateNode } from '../operators/aggregate-node.js';
import type { ScanNode } from '../operators/scan.js';

/** Operators whose inputs are read only through the column ids their expressions name. */
const BY_EXPRESSION: ReadonlySet<IrNode['kind']> = new Set([
  'scan',
  'filter',
  'project',
  'join',
  'outerJoin',
  'semiJoin',
  'scalarSubquery',
  'aggregate',
]);

/** Fields of a node that are not expressions (its inputs, its own column list, a scan's mapping). */
const STRUCTURAL_FIELDS = new Set(['children', 'columns', 'sourceColumns', 'source']);

function prunable(source: SourceRef): boolean {
  return source.keyed && source.deferrableKey !== true;
}

/** Every string value in `value` (expressions' column references among them). */
function collectStrings(value: unknown, out: Set<string>, seen: WeakSet<object>): void {
  if (typeof value === 'string') out.add(value);
  else if (typeof value === 'object' && value !== null && !seen.has(value)) {
    seen.add(value);
    for (const v of Object.values(value)) collectStrings(v, out, seen);
  }
}

/** The column ids the tree reads (see the module header). */
function readIds(root: IrNode): Set<string> | null {
  const read = new Set(root.columns.map((c) => c.id));
  const seen = new Set<number>();
  const strings = new WeakSet<object>();
  let recursive = false;
  const visit = (node: IrNode): void => {
    if (seen.has(node.nid)) return;
    seen.add(node.nid);
    if (node.kind === 'recursiveCte' || node.kind === 'recursiveSelf') recursive = true;
    for (const [key, value] of Object.entries(node))
      if (!STRUCTURAL_FIELDS.has(key)) collectStrings(value, read, strings);
    if (!BY_EXPRESSION.has(node.kind))
      for (const c of node.children) for (const col of c.columns) read.add(col.id);
    for (const c of node.children) visit(c);
  };
  visit(root);
  return recursive ? null : read;
}

/** The node whose state the storage table keeps: the top one below projections. */
function stateNode(root: IrNode): IrNode {
  let node = root;
  while (node.kind === 'project' && node.children[0] !== undefined) node = node.children[0];
  return node;
}

const STATE_FIELDS = ['sumState', 'nnState', 'nanState', 'pinfState', 'ninfState', 'scaleState'] as const;

/** `node` without the algebraic state of its SUM / AVG calls. */
function withoutState(node: AggregateNode, removed: Set<string>): AggregateNode {
  const aggs = node.aggs.map((spec) => {
    const out = { ...spec };
    for (const f of STATE_FIELDS) {
      const col: IrColumn | null = spec[f];
      if (col !== null) removed.add(col.id);
      out[f] = null;
    }
    return out;
  });
  return { ...node, aggs };
}

/** `root` with every keyed scan reduced to the columns the tree reads (see the module header). */
export function pruneColumns(root: IrNode): IrNode {
  const read = readIds(root);
  if (read === null) return root;
  const scans: ScanNode[] = [];
  const aggregates: AggregateNode[] = [];
  const top = stateNode(root);
  const collect = (node: IrNode): void => {
    if (node.kind === 'scan') scans.push(node);
    if (node.kind === 'aggregate' && node !== top) aggregates.push(node);
    for (const c of node.children) collect(c);
  };
  collect(root);
  // Per source: the columns any of its scans keeps.
  const kept = new Map<string, Set<string>>();
  const removed = new Set<string>();
  for (const s of scans) {
    if (!prunable(s.source)) continue;
    const names = kept.get(s.source.key) ?? new Set(s.source.idColumns);
    for (const c of s.sourceColumns) {
      if (read.has(c.id) || s.source.idColumns.includes(c.column)) names.add(c.column);
      else removed.add(c.id);
    }
    kept.set(s.source.key, names);
  }
  const stripped = new Map<number, AggregateNode>();
  for (const a of aggregates) stripped.set(a.nid, withoutState(a, removed));
  if (removed.size === 0) return root;
  const sources = new Map<string, SourceRef>();
  for (const [key, names] of kept) {
    const source = (scans.find((s) => s.source.key === key) as ScanNode).source;
    sources.set(key, { ...source, visible: source.visible.filter((c) => names.has(c.name)) });
  }
  const rebuilt = new Map<number, IrNode>();
  const rebuild = (node: IrNode): IrNode => {
    const known = rebuilt.get(node.nid);
    if (known !== undefined) return known;
    const columns = node.columns.filter((c) => !removed.has(c.id));
    let next: IrNode;
    if (node.kind === 'scan') {
      next = {
        ...node,
        columns,
        source: sources.get(node.source.key) ?? node.source,
        sourceColumns: node.sourceColumns.filter((c) => !removed.has(c.id)),
      };
    } else {
      const base = stripped.get(node.nid) ?? node;
      next = { ...base, columns, children: node.children.map(rebuild) } as IrNode;
    }
    rebuilt.set(node.nid, next);
    return next;
  };
  return rebuild(root);
}
