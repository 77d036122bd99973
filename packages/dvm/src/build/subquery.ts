/**
 * Building a subquery of an expression (EXISTS, IN / ANY / ALL, scalar) for decorrelation.
 *
 * A subquery of the simple shape `SELECT <targets> FROM <from> WHERE <conjuncts>` (no GROUP BY,
 * window, LIMIT / OFFSET, DISTINCT ON or set operation; plain DISTINCT and ORDER BY are dropped,
 * they cannot change existence, membership or an at-most-one-row value; HAVING in a scalar or
 * EXISTS subquery, which then aggregates; a positive LIMIT in EXISTS is ignored, a constant
 * LIMIT / OFFSET of a scalar subquery kept with its ORDER BY) is split into
 * - the right input: its FROM with the conjuncts that read only its own columns placed into it —
 *   an uncorrelated operator tree;
 * - the correlation: the conjuncts that read the enclosing query's columns;
 * - the select list resolved over both (aggregate calls kept as SQL, their arguments resolved),
 *   and whether it aggregates (then the subquery yields exactly one row).
 * Any other subquery is built whole (`buildQuery`) and must be uncorrelated. A right input that
 * still refers to the enclosing query (a correlated FROM item, a nested subquery correlated to
 * this level) is refused.
 */

import type { FuncCall, Node, SelectStmt, SortBy, SubLink } from '@pgsql/types';
import { InvalidQueryError, UnsupportedQueryError } from '../errors.js';
import { onlyChild } from '../ir/children.js';
import { collectRefs, refExpr } from '../ir/expr.js';
import type { Expr, IrNode } from '../ir/types.js';
import { makeSingleRow } from '../operators/constant.js';
import type { ScanNode } from '../operators/scan.js';
import { asNode, locationOf, nameList, sortDirection, walkAst } from '../parse/ast.js';
import { type QueryCtx, withCtes } from './context.js';
import type { BuildEnv } from './env.js';
import { andAll, conjuncts, containsAggregate, type ExprHooks, resolveExpr } from './expr.js';
import { buildFromClause } from './from.js';
import { exprConjuncts } from './outer-join.js';
import { placePredicates } from './pushdown.js';
import { buildQuery } from './query.js';
import { columnRefFields, EMPTY_FROM, Scope } from './scope.js';
import { buildWhereSublink, containsSublink } from './sublink.js';

/** How the enclosing expression uses the subquery. */
export type SubqueryUse = 'exists' | 'in' | 'scalar';

/** A simple subquery split into an uncorrelated right input and its correlation. */
export interface DecorrelatedSubquery {
  readonly kind: 'decorrelated';
  /** FROM and local WHERE conjuncts (and nested subqueries), uncorrelated. */
  readonly right: IrNode;
  /** WHERE conjuncts reading the enclosing query's columns. */
  readonly correlated: readonly Expr[];
  /** WHERE conjuncts reading only the subquery's own columns (placed into `right`). */
  readonly local: readonly Expr[];
  /** The select list (empty for EXISTS). */
  readonly targets: readonly Expr[];
  /** Whether the select list (or HAVING) aggregates: the subquery yields exactly one row. */
  readonly aggregate: boolean;
  readonly having: Expr | null;
  /** The FROM clause's tree (correlated ON conjuncts moved out), before the WHERE conjuncts. */
  readonly from: IrNode | null;
  /** Whether it has no FROM clause (at most one row). */
  readonly fromless: boolean;
  /** ORDER BY (kept only with LIMIT / OFFSET in a scalar subquery; else empty). */
  readonly order: readonly OrderKey[];
  /** Constant LIMIT / OFFSET of a scalar subquery, or null. */
  readonly limit: number | null;
  readonly offset: number | null;
}

/** One resolved ORDER BY key of a subquery. */
export interface OrderKey {
  readonly expr: Expr;
  readonly descending: boolean;
  readonly nullsFirst: boolean;
}

/** Any other subquery: built whole, uncorrelated. */
export interface GeneralSubquery {
  readonly kind: 'general';
  readonly right: IrNode;
  /** Its output columns. */
  readonly targets: readonly Expr[];
}

/** A built subquery. */
export type BuiltSubquery = DecorrelatedSubquery | GeneralSubquery;

/** The value of an integer constant (`LIMIT 1`), else undefined. */
function constInt(node: Node | undefined): number | undefined {
  const c = asNode(node, 'A_Const');
  if (c === undefined || c.ival === undefined) return undefined;
  return c.ival.ival ?? 0;
}

/** Why `stmt` is not of the simple shape, or null. */
function notSimple(stmt: SelectStmt, use: SubqueryUse): string | null {
  if ((stmt.op ?? 'SETOP_NONE') !== 'SETOP_NONE') return 'a set operation';
  if (stmt.valuesLists !== undefined) return 'VALUES';
  if ((stmt.groupClause?.length ?? 0) > 0) return 'GROUP BY';
  if (stmt.havingClause !== undefined && use === 'in') return 'HAVING';
  if ((stmt.windowClause?.length ?? 0) > 0) return 'WINDOW';
  if (stmt.limitCount !== undefined || stmt.limitOffset !== undefined) {
    // EXISTS ignores a positive LIMIT (as PostgreSQL does); a scalar subquery may have constant
    // LIMIT / OFFSET (kept: see atMostOneRow).
    const limit = constInt(stmt.limitCount);
    const offset = constInt(stmt.limitOffset);
    const constant =
      stmt.limitOption !== 'LIMIT_OPTION_WITH_TIES' &&
      (stmt.limitCount === undefined || (limit !== undefined && limit >= 1)) &&
      (stmt.limitOffset === undefined || (offset !== undefined && offset >= 0));
    const fine = use === 'exists' ? constant && stmt.limitOffset === undefined : use === 'scalar' && constant;
    if (!fine) return 'LIMIT / OFFSET';
  }
  const distinct = stmt.distinctClause;
  if (distinct?.some((n) => n !== null && typeof n === 'object' && Object.keys(n).length > 0)) {
    return 'DISTINCT ON';
  }
  if (stmt.lockingClause !== undefined) return 'FOR UPDATE / FOR SHARE';
  return null;
}

/** Builds the subquery of `link` (a query level below `scope`) for `use`; `construct` names it in messages. */
export function buildSubquery(
  link: SubLink,
  scope: Scope,
  q: QueryCtx,
  use: SubqueryUse,
  construct: string,
  outer: ExprHooks | undefined = undefined,
): BuiltSubquery {
  const { env } = q;
  const location = link.location;
  const stmt = asNode(link.subselect, 'SelectStmt');
  if (stmt === undefined) {
    throw new UnsupportedQueryError(construct, 'Use a SELECT as the subquery.', {
      position: env.at(location),
    });
  }
  const reason = notSimple(stmt, use);
  if (reason !== null) {
    if (use === 'scalar') {
      throw new UnsupportedQueryError(
        `a scalar subquery with ${reason}`,
        'Its number of rows cannot be guaranteed to be at most one. Write it as an aggregate without GROUP BY (e.g. (SELECT ' +
          "max(x) FROM …)), or use refreshMode 'FULL'.",
        { position: env.at(location) },
      );
    }
    const built = buildQuery(stmt, { env, ctes: q.ctes, outer: scope, top: false });
    if (freeRefs(built.node).size > 0) {
      throw new UnsupportedQueryError(
        `a correlated ${construct} with ${reason}`,
        'Only correlated subqueries of the form SELECT … FROM … WHERE … can be decorrelated; ' +
          "move the correlation out, or use refreshMode 'FULL'.",
        { position: env.at(location) },
      );
    }
    return { kind: 'general', right: built.node, targets: built.outputs.map((o) => refExpr(o.id)) };
  }
  return decorrelate(stmt, scope, q, use, construct, location, outer);
}

function decorrelate(
  stmt: SelectStmt,
  scope: Scope,
  outerQ: QueryCtx,
  use: SubqueryUse,
  construct: string,
  location: number | undefined,
  outer: ExprHooks | undefined,
): DecorrelatedSubquery {
  const { env } = outerQ;
  const q = withCtes(stmt, { env, ctes: outerQ.ctes, outer: scope, top: false });
  const from = buildFromClause(stmt.fromClause ?? [], q);
  const sub = new Scope(from?.scope ?? EMPTY_FROM, scope, env);
  const replace = enclosingReplace(sub, outer);
  const correlated: Expr[] = [];
  let node: IrNode = from === null ? makeSingleRow(env.ids) : hoistCorrelated(from.node, correlated);
  const fromTree = from === null ? null : node;
  const localIds = new Set(node.columns.map((c) => c.id));

  // WHERE: local conjuncts into the right input, correlated ones out, nested subqueries on top.
  const local: Expr[] = [];
  const nested: Node[] = [];
  for (const c of conjuncts(stmt.whereClause)) {
    if (containsSublink(c)) {
      nested.push(c);
      continue;
    }
    const e = resolveExpr(c, sub, env, {
      clause: 'WHERE',
      replace,
      // PostgreSQL has validated the query: an aggregate here belongs to the enclosing query.
      aggregate: (_call, n) => {
        throw new UnsupportedQueryError(
          `an aggregate of the enclosing query inside the WHERE of ${construct}`,
          "Compute the aggregate in the enclosing query, or use refreshMode 'FULL'.",
          { position: env.at(locationOf(n)) },
        );
      },
    });
    (e.refs.every((r) => localIds.has(r)) ? local : correlated).push(e);
  }
  node = placePredicates(node, local, env);
  for (const c of nested) node = buildWhereSublink(c, node, sub, q);

  // The select list and HAVING, aggregates kept as calls over resolved arguments.
  let aggregate = stmt.havingClause !== undefined;
  const hooks: ExprHooks = {
    clause: 'a subquery select list',
    replace,
    aggregate: (call, n) => {
      aggregate = true;
      return aggregateCall(call, n, sub, localIds, outerQ, construct, replace);
    },
    window: (_call, n) => {
      throw new UnsupportedQueryError(
        `a window function in ${construct}`,
        "Window functions are maintained in the select list of the defining query; use refreshMode 'FULL'.",
        { position: env.at(locationOf(n)) },
      );
    },
  };
  const targets: Expr[] = [];
  if (use === 'exists') {
    aggregate ||= containsAggregate(stmt.targetList ?? [], env);
  } else {
    for (const t of stmt.targetList ?? []) {
      const val = asNode(t, 'ResTarget')?.val as Node;
      const fields = columnRefFields(val);
      if (fields !== undefined && fields.at(-1) === null) {
        for (const col of sub.expandStar(fields, locationOf(val))) targets.push(refExpr(col.id));
        continue;
      }
      targets.push(resolveExpr(val, sub, env, hooks));
    }
  }
  const having = stmt.havingClause === undefined ? null : resolveExpr(stmt.havingClause, sub, env, hooks);
  const limited = use === 'scalar' && (stmt.limitCount !== undefined || stmt.limitOffset !== undefined);
  const order = limited
    ? (stmt.sortClause ?? []).map((n) => orderKey(n, stmt, targets, sub, env, hooks))
    : [];

  if (freeRefs(node).size > 0) {
    throw new UnsupportedQueryError(
      `${construct} whose FROM items or nested subqueries refer to the enclosing query`,
      "Only the subquery's own WHERE conjuncts may refer to the enclosing query; use refreshMode 'FULL'.",
      { position: env.at(location) },
    );
  }
  return {
    kind: 'decorrelated',
    right: node,
    correlated,
    local,
    targets,
    aggregate,
    having,
    from: fromTree,
    fromless: from === null,
    order,
    limit: limited ? (constInt(stmt.limitCount) ?? null) : null,
    offset: limited ? (constInt(stmt.limitOffset) ?? null) : null,
  };
}

/**
 * Moves the conjuncts of inner-join conditions that read columns produced outside `node` (the
 * enclosing query's) into `out`: an inner join's ON is equivalent to WHERE, so a correlated ON
 * conjunct of the subquery's FROM is part of the correlation. Only the inner joins (and filters)
 * at the top of the FROM tree are searched; outer joins and subqueries keep theirs (and are
 * refused later if correlated).
 */
function hoistCorrelated(node: IrNode, out: Expr[]): IrNode {
  const produced = new Set<string>();
  const collect = (n: IrNode): void => {
    for (const c of n.columns) produced.add(c.id);
    for (const child of n.children) collect(child);
  };
  collect(node);
  const visit = (n: IrNode): IrNode => {
    if (n.kind === 'filter') return { ...n, children: [visit(onlyChild(n))] };
    if (n.kind !== 'join') return n;
    const join = n;
    const keep: Expr[] = [];
    for (const c of exprConjuncts(join.condition)) {
      (c.refs.every((r) => produced.has(r)) ? keep : out).push(c);
    }
    return { ...join, condition: andAll(keep), children: join.children.map(visit) };
  };
  return visit(node);
}

/** An ORDER BY item of the subquery: an ordinal or output name (its select-list expression), else an expression. */
function orderKey(
  node: Node,
  stmt: SelectStmt,
  targets: readonly Expr[],
  sub: Scope,
  env: BuildEnv,
  hooks: ExprHooks,
): OrderKey {
  const sort = asNode(node, 'SortBy') as SortBy;
  if (sort.sortby_dir === 'SORTBY_USING') {
    throw new UnsupportedQueryError(
      'ORDER BY … USING <operator> in a subquery',
      "Use ASC or DESC, or refreshMode 'FULL'.",
      {
        position: env.at(locationOf(node)),
      },
    );
  }
  const { descending, nullsFirst } = sortDirection(sort);
  const key = sort.node as Node;
  const ordinal = constInt(key);
  let expr: Expr | undefined = ordinal === undefined ? undefined : targets[ordinal - 1];
  const fields = columnRefFields(key);
  if (expr === undefined && fields?.length === 1 && typeof fields[0] === 'string') {
    const i = (stmt.targetList ?? []).findIndex((t) => asNode(t, 'ResTarget')?.name === fields[0]);
    if (i >= 0) expr = targets[i];
  }
  return { expr: expr ?? resolveExpr(key, sub, env, hooks), descending, nullsFirst };
}

/**
 * The `replace` hook that hands an expression of the subquery reading only columns of the
 * enclosing query level (resolved at depth 1) to that level's own `replace` hook — so a
 * correlated reference to a grouped column becomes a reference to the group key, as in
 * `SELECT c.region, (SELECT … WHERE x.region = c.region) FROM c GROUP BY c.region` (and an
 * ungrouped one is refused as PostgreSQL refuses it). Undefined when the level has none.
 */
function enclosingReplace(sub: Scope, outer: ExprHooks | undefined): ExprHooks['replace'] {
  const replaceOuter = outer?.replace;
  if (replaceOuter === undefined) return undefined;
  return (node: Node): Node | undefined => {
    if (asNode(node, 'SubLink') !== undefined || asNode(node, 'A_Const') !== undefined) return undefined;
    let refs = 0;
    let outerOnly = true;
    walkAst(node, (n) => {
      if (!outerOnly) return false;
      if ('SubLink' in n) {
        outerOnly = false;
        return false;
      }
      const fields = columnRefFields(n);
      if (fields === undefined) return undefined;
      refs++;
      if (fields.includes(null)) {
        outerOnly = false;
        return false;
      }
      try {
        outerOnly = sub.resolve(fields as string[], undefined).depth === 1;
      } catch {
        outerOnly = false;
      }
      return false;
    });
    return refs > 0 && outerOnly ? replaceOuter(node) : undefined;
  };
}

/** An aggregate call of the subquery: its arguments resolved, refused if it belongs to the enclosing query. */
function aggregateCall(
  call: FuncCall,
  node: Node,
  sub: Scope,
  localIds: ReadonlySet<string>,
  q: QueryCtx,
  construct: string,
  replace: ExprHooks['replace'],
): Node {
  const { env } = q;
  const argHooks: ExprHooks = { clause: 'an aggregate argument', replace };
  const resolve = (n: Node): Node => resolveExpr(n, sub, env, argHooks).ast;
  const args = call.args?.map(resolve);
  const filter = call.agg_filter === undefined ? undefined : resolve(call.agg_filter);
  const order = call.agg_order?.map((s) => {
    const sort = asNode(s, 'SortBy') as SortBy;
    return { SortBy: { ...sort, node: resolve(sort.node as Node) } } as Node;
  });
  const resolved: FuncCall = {
    ...call,
    ...(args === undefined ? {} : { args }),
    ...(filter === undefined ? {} : { agg_filter: filter }),
    ...(order === undefined ? {} : { agg_order: order }),
  };
  const refs = collectRefs({ FuncCall: resolved });
  if (refs.length > 0 && !refs.some((r) => localIds.has(r))) {
    // PostgreSQL evaluates an aggregate over outer columns only at the enclosing level.
    throw new UnsupportedQueryError(
      `an aggregate over the enclosing query's columns inside ${construct}`,
      "Compute that aggregate in the enclosing query, or use refreshMode 'FULL'.",
      { position: env.at(locationOf(node)) },
    );
  }
  return { FuncCall: resolved };
}

/**
 * Whether the subquery yields at most one row whatever its sources hold: it aggregates (exactly
 * one row), has no FROM, or its FROM is an inner join of tables each of which is determined —
 * every primary-key column equated (`pk = e`, by a WHERE or ON conjunct) to an expression over
 * the enclosing query, constants and tables already determined (so at most one row of each,
 * hence of the join).
 */
export function atMostOneRow(sub: DecorrelatedSubquery): boolean {
  if (sub.aggregate || sub.fromless) return true;
  if (sub.from === null) return false;
  if (sub.limit === 1 && (totallyOrdered(sub) || orderDeterminesTargets(sub))) return true;
  const scans: ScanNode[] = [];
  const conds: Expr[] = [...sub.local, ...sub.correlated];
  const collect = (n: IrNode): boolean => {
    if (n.kind === 'scan') {
      scans.push(n);
      return true;
    }
    if (n.kind === 'filter') conds.push(...exprConjuncts(n.predicate));
    else if (n.kind === 'join') conds.push(...exprConjuncts(n.condition));
    else return false;
    return n.children.every(collect);
  };
  if (!collect(sub.from)) return false;
  const inScans = new Set(scans.flatMap((s) => s.columns.map((c) => c.id)));
  const determined = new Set<string>();
  const pending = [...scans];
  for (let progress = true; progress && pending.length > 0; ) {
    progress = false;
    for (let i = pending.length - 1; i >= 0; i--) {
      const scan = pending[i] as ScanNode;
      if (!scan.source.keyed || scan.source.kind !== 'table') return false;
      const own = new Set(scan.columns.map((c) => c.id));
      const known = (r: string): boolean => !own.has(r) && (!inScans.has(r) || determined.has(r));
      const ok = scan.source.idColumns.every((name) => {
        const id = scan.sourceColumns.find((c) => c.column === name)?.id;
        return id !== undefined && conds.some((e) => equatesColumn(e.ast, id, known));
      });
      if (ok) {
        for (const c of scan.columns) determined.add(c.id);
        pending.splice(i, 1);
        progress = true;
      }
    }
  }
  return pending.length === 0;
}

/**
 * Whether the subquery's ORDER BY orders its rows totally, so that `LIMIT 1` picks the same row
 * whatever the plan: its FROM is one table and every primary-key column is an ORDER BY key.
 */
/**
 * Whether every column the targets read is a plain ORDER BY key: then `LIMIT 1` gives one value
 * whichever of the tied first rows PostgreSQL picks (e.g. `(SELECT k FROM b ORDER BY k LIMIT 1)`
 * over a table without a key).
 */
function orderDeterminesTargets(sub: DecorrelatedSubquery): boolean {
  if (sub.order.length === 0 || sub.offset !== null) return false;
  const keys = plainOrderKeys(sub);
  return sub.targets.every((t) => collectRefs(t.ast).every((r) => keys.has(r)));
}

/** The column ids the subquery's ORDER BY sorts on directly (keys that are plain columns). */
function plainOrderKeys(sub: DecorrelatedSubquery): Set<string> {
  return new Set(
    sub.order
      .map((k) => columnRefFields(k.expr.ast))
      .flatMap((f) => (f?.length === 1 && typeof f[0] === 'string' ? [f[0]] : [])),
  );
}

function totallyOrdered(sub: DecorrelatedSubquery): boolean {
  const scan = sub.from;
  if (scan === null || scan.kind !== 'scan') return false;
  const s = scan;
  if (!s.source.keyed || s.source.kind !== 'table') return false;
  const keys = plainOrderKeys(sub);
  return s.source.idColumns.every((name) => {
    const id = s.sourceColumns.find((c) => c.column === name)?.id;
    return id !== undefined && keys.has(id);
  });
}

/** Whether `ast` is `<column id> = e` (or `e = <column id>`) with every column e reads `known`. */
function equatesColumn(ast: Node, id: string, known: (ref: string) => boolean): boolean {
  const a = asNode(ast, 'A_Expr');
  if (a === undefined || a.kind !== 'AEXPR_OP') return false;
  const op = nameList(a.name) ?? [];
  if (op.at(-1) !== '=' || (op.length === 2 && op[0] !== 'pg_catalog') || op.length > 2) return false;
  const isId = (n: Node | undefined): boolean => {
    const f = n === undefined ? undefined : columnRefFields(n);
    return f !== undefined && f.length === 1 && f[0] === id;
  };
  const other = isId(a.lexpr) ? a.rexpr : isId(a.rexpr) ? a.lexpr : undefined;
  if (other === undefined) return false;
  return collectRefs(other).every(known);
}

/**
 * Column ids read by expressions anywhere in `node`'s subtree but produced by none of its nodes:
 * references to an enclosing query level.
 */
export function freeRefs(node: IrNode): Set<string> {
  const produced = new Set<string>();
  const used = new Set<string>();
  const visit = (n: IrNode): void => {
    for (const c of n.columns) produced.add(c.id);
    for (const [key, value] of Object.entries(n)) {
      if (key === 'children' || key === 'columns') continue;
      walkAst(value, (x) => {
        const ref = asNode(x, 'ColumnRef');
        const only = ref?.fields?.length === 1 ? asNode(ref.fields[0], 'String')?.sval : undefined;
        if (only !== undefined) used.add(only);
        return undefined;
      });
    }
    for (const child of n.children) visit(child);
  };
  visit(node);
  for (const id of produced) used.delete(id);
  return used;
}

/** Throws the error for a subquery select list with the wrong number of columns. */
export function columnCountError(
  expected: number,
  got: number,
  location: number | undefined,
  q: QueryCtx,
): never {
  throw new InvalidQueryError(
    got > expected ? 'The subquery has too many columns' : 'The subquery has too few columns',
    { position: q.env.at(location) },
  );
}
