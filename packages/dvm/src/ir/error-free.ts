/**
 * Expressions that cannot fail on any row. Rule (syntactic, conservative): an expression built only
 * of column references, constants, casts of column-free operands, AND / OR / NOT, NULL and boolean
 * tests, comparisons (`=`, `<>`, `<`, `>`, `<=`, `>=`, IS [NOT] DISTINCT FROM, BETWEEN, IN over a
 * list, NULLIF), COALESCE, GREATEST / LEAST and CASE over such parts raises no error whatever the
 * row's values — a cast of a column-free operand fails for every row or none. Anything else
 * (arithmetic, which may overflow or divide by zero; casts of columns; function calls; subqueries)
 * may fail on some values and not on others.
 *
 * Why: a delta read without netting (`operators/shared/summed-delta.ts`) evaluates the query's
 * expressions on a key's states between its first and last change in the window, which no snapshot
 * saw; that is only allowed where no such evaluation can fail where the query's own would not.
 */
import type { Node } from '@pgsql/types';
import { asNode } from '../parse/ast.js';
import type { Expr, IrNode } from './types.js';

const COMPARISONS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);

const SAFE_A_EXPR_KINDS = new Set([
  'AEXPR_DISTINCT',
  'AEXPR_NOT_DISTINCT',
  'AEXPR_NULLIF',
  'AEXPR_IN',
  'AEXPR_BETWEEN',
  'AEXPR_NOT_BETWEEN',
  'AEXPR_BETWEEN_SYM',
  'AEXPR_NOT_BETWEEN_SYM',
]);

/** Whether `value` (a node, a list of nodes, or absent) reads no column. */
function columnFree(value: unknown): boolean {
  if (value === undefined || value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every(columnFree);
  if ('ColumnRef' in value) return false;
  return Object.values(value).every(columnFree);
}

/** Whether every element of an optional node list cannot fail. */
function allSafe(nodes: readonly Node[] | undefined): boolean {
  return (nodes ?? []).every(safeNode);
}

function safeNode(node: Node | undefined): boolean {
  // A column-free part (a constant expression) fails for every row or for none.
  if (node === undefined || columnFree(node)) return true;
  if (asNode(node, 'ColumnRef') !== undefined || asNode(node, 'A_Const') !== undefined) return true;
  const cast = asNode(node, 'TypeCast');
  if (cast !== undefined) return columnFree(cast.arg);
  const list = asNode(node, 'List');
  if (list !== undefined) return allSafe(list.items);
  const bool = asNode(node, 'BoolExpr');
  if (bool !== undefined) return allSafe(bool.args);
  const nullTest = asNode(node, 'NullTest');
  if (nullTest !== undefined) return safeNode(nullTest.arg);
  const boolTest = asNode(node, 'BooleanTest');
  if (boolTest !== undefined) return safeNode(boolTest.arg);
  const coalesce = asNode(node, 'CoalesceExpr');
  if (coalesce !== undefined) return allSafe(coalesce.args);
  const minMax = asNode(node, 'MinMaxExpr');
  if (minMax !== undefined) return allSafe(minMax.args);
  const caseExpr = asNode(node, 'CaseExpr');
  if (caseExpr !== undefined)
    return safeNode(caseExpr.arg) && allSafe(caseExpr.args) && safeNode(caseExpr.defresult);
  const when = asNode(node, 'CaseWhen');
  if (when !== undefined) return safeNode(when.expr) && safeNode(when.result);
  const aExpr = asNode(node, 'A_Expr');
  if (aExpr !== undefined) {
    const operands = safeNode(aExpr.lexpr) && safeNode(aExpr.rexpr);
    if (aExpr.kind === 'AEXPR_OP') {
      const names = aExpr.name ?? [];
      const op = names.length === 1 ? asNode(names[0], 'String')?.sval : undefined;
      return op !== undefined && COMPARISONS.has(op) && operands;
    }
    return aExpr.kind !== undefined && SAFE_A_EXPR_KINDS.has(aExpr.kind) && operands;
  }
  return false;
}

/** Whether evaluating `expr` can fail on no row (see the module header). */
export function cannotFail(expr: Expr): boolean {
  return safeNode(expr.ast);
}

/** Whether `value` looks like a resolved expression. */
function isExpr(value: object): value is Expr {
  return 'ast' in value && 'refs' in value && Array.isArray((value as { refs: unknown }).refs);
}

/** The resolved expressions a node evaluates itself (its children's excluded). */
export function ownExpressions(node: IrNode): Expr[] {
  const found: Expr[] = [];
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const v of value) visit(v);
      return;
    }
    if (isExpr(value)) {
      found.push(value);
      return;
    }
    for (const v of Object.values(value)) visit(v);
  };
  for (const [field, value] of Object.entries(node)) if (field !== 'children') visit(value);
  return found;
}

/** Whether no expression `node` evaluates itself can fail on any row. */
export function ownExpressionsCannotFail(node: IrNode): boolean {
  return ownExpressions(node).every(cannotFail);
}
