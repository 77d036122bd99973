/**
 * The name PostgreSQL gives an unnamed select-list expression (its FigureColname rules): a column
 * reference its last field, a function call its name, a cast its argument's name or else its type,
 * CASE "case", and so on; anything else "?column?". Used for the columns of subqueries and CTEs;
 * storage column names come from the server's own description of the query.
 */
import type { Node } from '@pgsql/types';
import { asNode, nameList } from '../parse/ast.js';

/** The column name PostgreSQL would give the expression `node`. */
export function figureColname(node: Node | undefined): string {
  return figure(node) ?? '?column?';
}

function figure(node: Node | undefined): string | undefined {
  if (node === undefined) return undefined;
  const ref = asNode(node, 'ColumnRef');
  if (ref !== undefined) {
    const last = ref.fields?.at(-1);
    return asNode(last, 'String')?.sval;
  }
  const ind = asNode(node, 'A_Indirection');
  if (ind !== undefined) {
    const last = ind.indirection?.at(-1);
    const s = asNode(last, 'String')?.sval;
    return s ?? figure(ind.arg);
  }
  const call = asNode(node, 'FuncCall');
  if (call !== undefined) return (nameList(call.funcname) ?? []).at(-1);
  const expr = asNode(node, 'A_Expr');
  if (expr !== undefined) return expr.kind === 'AEXPR_NULLIF' ? 'nullif' : undefined;
  const cast = asNode(node, 'TypeCast');
  if (cast !== undefined) {
    const inner = figure(cast.arg);
    if (inner !== undefined) return inner;
    const names = nameList(cast.typeName?.names) ?? [];
    const last = names.at(-1);
    return last === undefined ? undefined : (TYPE_NAMES[last] ?? last);
  }
  const coll = asNode(node, 'CollateClause');
  if (coll !== undefined) return figure(coll.arg);
  const link = asNode(node, 'SubLink');
  if (link !== undefined) {
    if (link.subLinkType === 'EXISTS_SUBLINK') return 'exists';
    if (link.subLinkType === 'ARRAY_SUBLINK') return 'array';
    if (link.subLinkType === 'EXPR_SUBLINK') {
      const sel = asNode(link.subselect, 'SelectStmt');
      const first = sel?.targetList?.[0];
      const target = asNode(first, 'ResTarget');
      return target?.name ?? figure(target?.val);
    }
    return undefined;
  }
  if (asNode(node, 'CaseExpr') !== undefined) return 'case';
  if (asNode(node, 'A_ArrayExpr') !== undefined) return 'array';
  if (asNode(node, 'RowExpr') !== undefined) return 'row';
  if (asNode(node, 'CoalesceExpr') !== undefined) return 'coalesce';
  const mm = asNode(node, 'MinMaxExpr');
  if (mm !== undefined) return mm.op === 'IS_GREATEST' ? 'greatest' : 'least';
  if (asNode(node, 'GroupingFunc') !== undefined) return 'grouping';
  const svf = asNode(node, 'SQLValueFunction');
  if (svf !== undefined) return SVF_NAMES[svf.op ?? ''];
  return undefined;
}

const TYPE_NAMES: Record<string, string> = {
  int4: 'int4',
  int8: 'int8',
  bool: 'bool',
};

const SVF_NAMES: Record<string, string> = {
  SVFOP_CURRENT_DATE: 'current_date',
  SVFOP_CURRENT_TIME: 'current_time',
  SVFOP_CURRENT_TIME_N: 'current_time',
  SVFOP_CURRENT_TIMESTAMP: 'current_timestamp',
  SVFOP_CURRENT_TIMESTAMP_N: 'current_timestamp',
  SVFOP_LOCALTIME: 'localtime',
  SVFOP_LOCALTIME_N: 'localtime',
  SVFOP_LOCALTIMESTAMP: 'localtimestamp',
  SVFOP_LOCALTIMESTAMP_N: 'localtimestamp',
  SVFOP_CURRENT_ROLE: 'current_role',
  SVFOP_CURRENT_USER: 'current_user',
  SVFOP_USER: 'user',
  SVFOP_SESSION_USER: 'session_user',
  SVFOP_CURRENT_CATALOG: 'current_catalog',
  SVFOP_CURRENT_SCHEMA: 'current_schema',
};
