/**
 * UNION, INTERSECT [ALL], EXCEPT [ALL] (UNION ALL is built by the query builder itself):
 * - UNION = DISTINCT over the UNION ALL of both inputs (each re-projected onto its outputs); a
 *   left input that is itself a UNION or a UNION ALL is flattened (`a UNION b UNION c` is one
 *   DISTINCT over a three-branch UNION ALL). Right inputs are not flattened: PostgreSQL resolves
 *   the column types of `a UNION (b UNION c)` in that nesting.
 * - INTERSECT / EXCEPT: a set-op node over `UNION ALL(left ⊕ side 1, right ⊕ side 2)`.
 * Columns are matched by position; names come from the left input; PostgreSQL resolves the
 * types (the UNION ALL's SQL is one set operation, in snapshots and deltas alike).
 */
import type { Node } from '@pgsql/types';
import { makeExpr, refExpr } from '../ir/expr.js';
import type { IrNode } from '../ir/types.js';
import { type DistinctNode, makeDistinct } from '../operators/distinct.js';
import { makeProject } from '../operators/project.js';
import { makeSetOp } from '../operators/set-op.js';
import { makeUnionAll } from '../operators/union-all.js';
import type { BuiltQuery, QueryCtx } from './context.js';
import { onOutputs } from './query.js';

/** Builds `left <op> [ALL] right`; column names come from the left input. */
export function buildSetOperation(
  op: 'UNION' | 'INTERSECT' | 'EXCEPT',
  all: boolean,
  left: BuiltQuery,
  right: BuiltQuery,
  q: QueryCtx,
): BuiltQuery {
  const ids = q.env.ids;
  const named = (node: IrNode, count: number): BuiltQuery => ({
    node,
    outputs: node.columns
      .slice(0, count)
      .map((c, i) => ({ name: left.outputs[i]?.name ?? c.name, id: c.id })),
  });
  const width = left.outputs.length;
  if (op === 'UNION') {
    const union = makeUnionAll(ids, [...unionBranches(left, q), onOutputs(right, q)]);
    const outputs = union.columns.map((c, i) => ({ id: c.id, name: left.outputs[i]?.name ?? c.name }));
    return named(makeDistinct(ids, union, outputs, true), width);
  }
  const tagged = (b: BuiltQuery, side: number): IrNode =>
    makeProject(ids, b.node, [
      ...b.outputs.map((o) => ({ name: o.name, expr: refExpr(o.id) })),
      { name: '__pgt_side', expr: makeExpr(sideLiteral(side)) },
    ]);
  const union = makeUnionAll(ids, [tagged(left, 1), tagged(right, 2)]);
  const outputs = union.columns
    .slice(0, width)
    .map((c, i) => ({ id: c.id, name: left.outputs[i]?.name ?? c.name }));
  const sideId = (union.columns[width] as { id: string }).id;
  const rule = op === 'INTERSECT' ? 'intersect' : 'except';
  return named(makeSetOp(ids, union, outputs, sideId, rule, all), width);
}

/** The branches a UNION's left input contributes: its own branches if it is a UNION [ALL]. */
function unionBranches(left: BuiltQuery, q: QueryCtx): IrNode[] {
  const node = left.node;
  const onItsColumns = (n: IrNode) =>
    left.outputs.length <= n.columns.length && left.outputs.every((o, i) => n.columns[i]?.id === o.id);
  if (node.kind === 'distinct' && (node as DistinctNode).union && onItsColumns(node)) {
    const inner = node.children[0];
    if (inner !== undefined && inner.kind === 'unionAll') return [...inner.children];
  }
  if (node.kind === 'unionAll' && onItsColumns(node) && node.columns.length === left.outputs.length) {
    return [...node.children];
  }
  return [onOutputs(left, q)];
}

/** The integer literal `n` as a parse tree. */
function sideLiteral(n: number): Node {
  return { A_Const: { ival: { ival: n } } } as Node;
}
