/**
 * One SELECT block, in SQL's logical order: FROM → WHERE (plain conjuncts placed into the join
 * tree, subquery conjuncts as semi/anti joins) → GROUP BY / aggregates / HAVING → scalar
 * subqueries and window functions of the select list → the projection → DISTINCT [ON] →
 * ORDER BY with LIMIT / OFFSET (an ORDER BY without LIMIT has no effect on a table and is
 * dropped). ORDER BY and DISTINCT ON keys resolve like PostgreSQL's: an ordinal or an output
 * column name first, else an expression over the input (carried as a hidden column).
 */
import type { Node, ResTarget, SelectStmt, SortBy } from '@pgsql/types';
import { InvalidQueryError, UnsupportedQueryError } from '../errors.js';
import { makeExpr, refNode } from '../ir/expr.js';
import type { Expr, IrNode } from '../ir/types.js';
import { makeSingleRow } from '../operators/constant.js';
import { makeProject, type ProjectItem } from '../operators/project.js';
import { asNode, locationOf, sortDirection } from '../parse/ast.js';
import { figureColname } from './colname.js';
import type { BuiltQuery, QueryCtx, SortKey } from './context.js';
import { buildDistinct } from './distinct.js';
import { conjuncts, containsAggregate, type ExprHooks, resolveExpr } from './expr.js';
import { buildFromClause } from './from.js';
import { buildGrouping } from './grouping.js';
import { placePredicates } from './pushdown.js';
import { createScalarSubqueryCollector } from './scalar-subquery.js';
import { columnRefFields, EMPTY_FROM, Scope, type ScopeColumn } from './scope.js';
import { buildWhereSublink, containsSublink } from './sublink.js';
import { buildTopN, withTies } from './topn.js';
import { buildValues } from './values.js';
import { createWindowCollector } from './window.js';

/** Builds one SELECT block (no set operation at its top). */
export function buildSelectBlock(stmt: SelectStmt, q: QueryCtx): BuiltQuery {
  const { env } = q;
  if (stmt.valuesLists !== undefined) return buildValues(stmt, q);
  if (stmt.lockingClause !== undefined) {
    throw new UnsupportedQueryError(
      'FOR UPDATE / FOR SHARE',
      'A stream table query only reads; remove the locking clause.',
      {},
    );
  }
  if (stmt.intoClause !== undefined) {
    throw new UnsupportedQueryError('SELECT … INTO', 'A stream table query only reads; remove INTO.', {});
  }

  // FROM
  const from = buildFromClause(stmt.fromClause ?? [], q);
  const scope = new Scope(from?.scope ?? EMPTY_FROM, q.outer, env);
  let input: IrNode = from?.node ?? makeSingleRow(env.ids);

  // WHERE: plain conjuncts into the join tree, then subquery conjuncts on top.
  const plain: Expr[] = [];
  const withSublinks: Node[] = [];
  for (const c of conjuncts(stmt.whereClause)) {
    if (containsSublink(c)) withSublinks.push(c);
    else plain.push(resolveExpr(c, scope, env, { clause: 'WHERE' }));
  }
  input = placePredicates(input, plain, env);
  for (const c of withSublinks) input = buildWhereSublink(c, input, scope, q);

  // GROUP BY / aggregates / HAVING
  const grouping = buildGrouping(stmt, input, scope, q, (v) => containsAggregate(v, env));
  let base: ExprHooks = { clause: 'the select list' };
  if (grouping !== null) {
    input = grouping.node;
    base = grouping.hooks;
  }

  // The select list (with its scalar subqueries and window functions).
  const subqueries = createScalarSubqueryCollector(scope, q, base);
  const windows = createWindowCollector(stmt, scope, base, q);
  const hooks: ExprHooks = {
    ...base,
    clause: 'the select list',
    sublink: subqueries.hook,
    window: windows.hook,
  };
  const items: ProjectItem[] = [];
  for (const node of stmt.targetList ?? []) {
    const target = asNode(node, 'ResTarget') as ResTarget;
    const val = target.val as Node;
    const fields = columnRefFields(val);
    if (fields !== undefined && fields.at(-1) === null) {
      if (target.name !== undefined)
        throw new InvalidQueryError('A * in the select list cannot have an alias');
      for (const col of scope.expandStar(fields, locationOf(val))) {
        const ref = starReference(scope, col);
        items.push({ name: col.name, expr: resolveExpr(ref, scope, env, hooks) });
      }
      continue;
    }
    items.push({ name: target.name ?? figureColname(val), expr: resolveExpr(val, scope, env, hooks) });
  }
  if (items.length === 0) {
    throw new UnsupportedQueryError('a SELECT without columns', 'Select at least one column.', {});
  }

  // ORDER BY / DISTINCT ON keys, only needed when LIMIT / OFFSET or DISTINCT ON give them meaning.
  const outputIds = items.map((item) => env.ids.column(item.name));
  const limited = stmt.limitCount !== undefined || stmt.limitOffset !== undefined;
  const distinctOn = distinctOnList(stmt);
  const keyHooks: ExprHooks = { ...hooks, clause: 'ORDER BY' };
  const hidden: ProjectItem[] = [];
  const keyColumn = (ast: Node): string => {
    const byOutput = outputReference(ast, items);
    if (byOutput !== undefined) return outputIds[byOutput] as string;
    const expr = resolveExpr(ast, scope, env, keyHooks);
    const same = items.findIndex((i) => astKey(i.expr) === astKey(expr));
    if (same >= 0) return outputIds[same] as string;
    const known = hidden.find((h) => astKey(h.expr) === astKey(expr));
    if (known?.id !== undefined) return known.id;
    const name = `__pgt_key_${hidden.length + 1}`;
    const item = { name, expr, id: env.ids.column(name) };
    hidden.push(item);
    return item.id;
  };
  let sortKeys: SortKey[] = [];
  let distinctIds: string[] | null = null;
  if (limited || distinctOn !== null) {
    sortKeys = (stmt.sortClause ?? []).map((s) => sortKey(asNode(s, 'SortBy') as SortBy, keyColumn));
    if (distinctOn !== null) distinctIds = distinctOn.map((d) => keyColumn(d));
  } else if ((stmt.sortClause?.length ?? 0) > 0 && q.top) {
    env.warnings.push(
      'ORDER BY without LIMIT has no effect on a stream table (a table has no row order) and was ignored',
    );
  }

  input = windows.wrap(subqueries.wrap(input));
  let node: IrNode = makeProject(env.ids, input, [...withIds(items, outputIds), ...hidden]);
  const outputs: ScopeColumn[] = items.map((item, i) => ({ name: item.name, id: outputIds[i] as string }));

  if (stmt.distinctClause !== undefined) {
    node = buildDistinct(node, outputs, distinctIds, sortKeys, q);
  }
  if (limited) {
    node = buildTopN(node, outputs, sortKeys, stmt.limitCount, stmt.limitOffset, q, withTies(stmt));
  }
  return { node, outputs };
}

/** The DISTINCT ON expressions, or null for plain DISTINCT / no DISTINCT. */
function distinctOnList(stmt: SelectStmt): Node[] | null {
  const list = stmt.distinctClause;
  if (list === undefined) return null;
  const exprs = list.filter((n) => n !== null && typeof n === 'object' && Object.keys(n).length > 0);
  return exprs.length === 0 ? null : exprs;
}

function withIds(items: readonly ProjectItem[], ids: readonly string[]): ProjectItem[] {
  return items.map((item, i) => ({ ...item, id: ids[i] as string }));
}

/** A ColumnRef AST that resolves to the star-expanded column `col` in `scope`. */
function starReference(scope: Scope, col: ScopeColumn): Node {
  const merged = scope.from.merged.some((m) => m.id === col.id);
  if (merged) return { ColumnRef: { fields: [{ String: { sval: col.name } }] } };
  const item = scope.from.items.find((i) => i.columns.some((c) => c.id === col.id));
  if (item === undefined) return refNode(col.id);
  return { ColumnRef: { fields: [{ String: { sval: item.alias } }, { String: { sval: col.name } }] } };
}

/**
 * An ORDER BY / DISTINCT ON item that names an output column: an ordinal (`ORDER BY 2`) or a
 * bare name equal to an output column's name.
 */
function outputReference(ast: Node, items: readonly ProjectItem[]): number | undefined {
  const ordinal = asNode(ast, 'A_Const')?.ival;
  if (ordinal !== undefined) {
    const n = ordinal.ival ?? 0;
    if (n < 1 || n > items.length) {
      throw new InvalidQueryError(`ORDER BY position ${n} is not in the select list (1–${items.length})`);
    }
    return n - 1;
  }
  const fields = columnRefFields(ast);
  if (fields?.length === 1 && typeof fields[0] === 'string') {
    const matches = items.map((it, i) => ({ it, i })).filter(({ it }) => it.name === fields[0]);
    if (matches.length > 1) {
      throw new InvalidQueryError(
        `ORDER BY "${fields[0]}" is ambiguous: several output columns have that name`,
      );
    }
    if (matches[0] !== undefined) return matches[0].i;
  }
  return undefined;
}

function sortKey(sort: SortBy, keyColumn: (ast: Node) => string): SortKey {
  if (sort.sortby_dir === 'SORTBY_USING') {
    throw new UnsupportedQueryError('ORDER BY … USING <operator>', 'Use ASC or DESC.', {});
  }
  const { descending, nullsFirst } = sortDirection(sort);
  return { id: keyColumn(sort.node as Node), descending, nullsFirst, location: locationOf(sort.node) };
}

function astKey(expr: Expr): string {
  return JSON.stringify(expr.ast, (k, v) => (k === 'location' ? undefined : v));
}

/** A resolved expression reading just column `id`. */
export function columnExpr(id: string): Expr {
  return makeExpr(refNode(id));
}
