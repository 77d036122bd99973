/**
 * A whole query: its WITH clause, then either a set operation (UNION ALL here; UNION, INTERSECT
 * and EXCEPT in `setop.ts`), with the operation's own ORDER BY / LIMIT, or one SELECT block.
 * Set-operation inputs are matched by position; the result's column names are the left input's.
 */
import type { Node, SelectStmt, SortBy } from '@pgsql/types';
import { InvalidQueryError, UnsupportedQueryError } from '../errors.js';
import { makeExpr, refNode } from '../ir/expr.js';
import type { IrNode } from '../ir/types.js';
import { makeProject } from '../operators/project.js';
import { makeUnionAll } from '../operators/union-all.js';
import { asNode, locationOf, sortDirection } from '../parse/ast.js';
import { type BuiltQuery, type QueryCtx, type SortKey, withCtes } from './context.js';
import { columnRefFields } from './scope.js';
import { buildSelectBlock } from './select.js';
import { buildSetOperation, setOperationInputs } from './setop.js';
import { buildTopN, withTies } from './topn.js';

/** Builds a query (a SELECT block or a set operation) in context `q`. */
export function buildQuery(stmt: SelectStmt, q: QueryCtx): BuiltQuery {
  const inner = withCtes(stmt, q);
  const op = stmt.op ?? 'SETOP_NONE';
  if (op === 'SETOP_NONE') return buildSelectBlock(stmt, inner);
  const branch = { ...inner, top: false };
  const left = buildQuery(stmt.larg as SelectStmt, branch);
  const right = buildQuery(stmt.rarg as SelectStmt, branch);
  if (left.outputs.length !== right.outputs.length) {
    throw new InvalidQueryError(
      `Each ${op.replace('SETOP_', '')} query must have the same number of columns (${left.outputs.length} and ${right.outputs.length})`,
    );
  }
  let built: BuiltQuery;
  if (op === 'SETOP_UNION' && stmt.all === true) {
    built = unionAll(left, right, inner);
  } else {
    const name = op === 'SETOP_UNION' ? 'UNION' : op === 'SETOP_INTERSECT' ? 'INTERSECT' : 'EXCEPT';
    built = buildSetOperation(name, stmt.all === true, left, right, inner);
  }
  const limited = stmt.limitCount !== undefined || stmt.limitOffset !== undefined;
  if (limited) {
    const keys = (stmt.sortClause ?? []).map((s) => setOpSortKey(asNode(s, 'SortBy') as SortBy, built));
    return {
      node: buildTopN(
        built.node,
        built.outputs,
        keys,
        stmt.limitCount,
        stmt.limitOffset,
        inner,
        withTies(stmt),
      ),
      outputs: built.outputs,
    };
  }
  if ((stmt.sortClause?.length ?? 0) > 0 && q.top) {
    q.env.warnings.push(
      'ORDER BY without LIMIT has no effect on a stream table (a table has no row order) and was ignored',
    );
  }
  return built;
}

/** UNION ALL of two built queries; nested UNION ALLs flatten into one node. */
function unionAll(left: BuiltQuery, right: BuiltQuery, q: QueryCtx): BuiltQuery {
  // Each branch re-projected onto its outputs in order (a branch may carry hidden columns);
  // untyped literal columns (`SELECT NULL`) cast to the type the set operation resolves.
  const branches: IrNode[] = setOperationInputs([left, right], q);
  const node = makeUnionAll(q.env.ids, branches);
  return { node, outputs: node.columns.map((c, i) => ({ name: left.outputs[i]?.name ?? c.name, id: c.id })) };
}

/** A node whose columns are exactly `b.outputs`, in order. */
export function onOutputs(b: BuiltQuery, q: QueryCtx): IrNode {
  const ids = b.node.columns.map((c) => c.id);
  const same = ids.length === b.outputs.length && b.outputs.every((o, i) => ids[i] === o.id);
  if (same) return b.node;
  return makeProject(
    q.env.ids,
    b.node,
    b.outputs.map((o) => ({ name: o.name, id: o.id, expr: makeExpr(refNode(o.id)) })),
  );
}

function setOpSortKey(sort: SortBy, built: BuiltQuery): SortKey {
  const node = sort.node as Node;
  const ordinal = asNode(node, 'A_Const')?.ival?.ival;
  let id: string | undefined;
  if (ordinal !== undefined) id = built.outputs[ordinal - 1]?.id;
  const fields = columnRefFields(node);
  if (fields?.length === 1 && typeof fields[0] === 'string')
    id = built.outputs.find((o) => o.name === fields[0])?.id;
  if (id === undefined) {
    throw new UnsupportedQueryError(
      'an ORDER BY expression on a set operation',
      'Order a UNION / INTERSECT / EXCEPT by output column names or positions.',
      { position: undefined },
    );
  }
  const { descending, nullsFirst } = sortDirection(sort);
  return { id, descending, nullsFirst, location: locationOf(node) };
}
