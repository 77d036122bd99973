/**
 * UNION, INTERSECT [ALL], EXCEPT [ALL] (UNION ALL is built by the query builder itself, over
 * {@link setOperationInputs}):
 * - UNION = DISTINCT over the UNION ALL of both inputs (each re-projected onto its outputs); a
 *   left input that is itself a UNION or a UNION ALL is flattened (`a UNION b UNION c` is one
 *   DISTINCT over a three-branch UNION ALL). Right inputs are not flattened: PostgreSQL resolves
 *   the column types of `a UNION (b UNION c)` in that nesting.
 * - INTERSECT / EXCEPT: a set-op node over `UNION ALL(left ⊕ side 1, right ⊕ side 2)`.
 * Columns are matched by position; names come from the left input; PostgreSQL resolves the
 * types (the UNION ALL's SQL is one set operation, in snapshots and deltas alike; untyped literal
 * columns such as `SELECT NULL` are cast to the resolved type, see `operators/set-op.ts`).
 */
import type { Node } from '@pgsql/types';
import { makeExpr, refExpr } from '../ir/expr.js';
import type { IrNode } from '../ir/types.js';
import { makeDistinct } from '../operators/distinct.js';
import { makeProject } from '../operators/project.js';
import { makeSetInput, makeSetInputGroup, makeSetOp } from '../operators/set-op.js';
import { makeUnionAll } from '../operators/union-all.js';
import { asNode } from '../parse/ast.js';
import { deparseNode } from '../parse/deparse.js';
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
  const width = left.outputs.length;
  const named = (node: IrNode): BuiltQuery => ({
    node,
    outputs: node.columns
      .slice(0, width)
      .map((c, i) => ({ name: left.outputs[i]?.name ?? c.name, id: c.id })),
  });
  if (op === 'UNION') {
    const union = makeUnionAll(ids, setOperationInputs([...unionBranches(left), right], q));
    const outputs = union.columns.map((c, i) => ({ id: c.id, name: left.outputs[i]?.name ?? c.name }));
    return named(makeDistinct(ids, union, outputs, true));
  }
  const tagged = (input: IrNode, side: number): IrNode =>
    makeProject(ids, input, [
      ...input.columns.map((c) => ({ name: c.name, expr: refExpr(c.id) })),
      { name: '__pgt_side', expr: makeExpr(sideLiteral(side)) },
    ]);
  const [l, r] = setOperationInputs([left, right], q) as [IrNode, IrNode];
  const union = makeUnionAll(ids, [tagged(l, 1), tagged(r, 2)]);
  const outputs = union.columns
    .slice(0, width)
    .map((c, i) => ({ id: c.id, name: left.outputs[i]?.name ?? c.name }));
  const sideId = (union.columns[width] as { id: string }).id;
  const rule = op === 'INTERSECT' ? 'intersect' : 'except';
  return named(makeSetOp(ids, union, outputs, sideId, rule, all));
}

/**
 * The inputs of one set operation as nodes whose columns are exactly their outputs: each input
 * re-projected onto its outputs, or, when some input has an untyped literal output (`NULL`,
 * `'x'`), all of them as set-operation inputs that cast those literals to the resolved type.
 */
export function setOperationInputs(inputs: readonly BuiltQuery[], q: QueryCtx): IrNode[] {
  const literals = inputs.map(untypedLiterals);
  if (literals.every((l) => l.every((x) => x === null))) return inputs.map((b) => onOutputs(b, q));
  const group = makeSetInputGroup();
  return inputs.map((b, i) =>
    makeSetInput(
      q.env.ids,
      b.node,
      b.outputs.map((o) => ({ id: o.id, name: o.name })),
      literals[i] as (string | null)[],
      group,
    ),
  );
}

/** Per output: the SQL of an untyped literal (`NULL`, a string) computing it directly, or null. */
function untypedLiterals(b: BuiltQuery): (string | null)[] {
  if (b.node.kind !== 'project') return b.outputs.map(() => null);
  const project = b.node;
  return b.outputs.map((o) => {
    const p = project.projections.find((x) => x.column.id === o.id);
    const literal = p === undefined ? undefined : asNode(p.expr.ast, 'A_Const');
    if (p === undefined || literal === undefined) return null;
    return literal.isnull === true || literal.sval !== undefined ? deparseNode(p.expr.ast) : null;
  });
}

/** The inputs a UNION's left input contributes: its own branches if it is a UNION [ALL]. */
function unionBranches(left: BuiltQuery): BuiltQuery[] {
  const node = left.node;
  const onItsColumns = (n: IrNode) =>
    left.outputs.length <= n.columns.length && left.outputs.every((o, i) => n.columns[i]?.id === o.id);
  const branches = (inner: IrNode): BuiltQuery[] =>
    inner.children.map((b) => ({ node: b, outputs: b.columns.map((c) => ({ id: c.id, name: c.name })) }));
  if (node.kind === 'distinct' && node.union && onItsColumns(node)) {
    const inner = node.children[0];
    if (inner !== undefined && inner.kind === 'unionAll') return branches(inner);
  }
  if (node.kind === 'unionAll' && onItsColumns(node) && node.columns.length === left.outputs.length) {
    return branches(node);
  }
  return [left];
}

/** The integer literal `n` as a parse tree. */
function sideLiteral(n: number): Node {
  return { A_Const: { ival: { ival: n } } } as Node;
}
