/**
 * GROUP BY, aggregates and HAVING. The GROUP BY clause is expanded into grouping sets the way
 * PostgreSQL does it (items combine as a cross product; ROLLUP / CUBE / GROUPING SETS expand;
 * `(a, b)` is a list; GROUP BY DISTINCT drops repeated sets; more than 256 sets are refused in
 * incremental modes); an item may be an ordinal or an output-column name (an input column of
 * that name wins, as in PostgreSQL). Every aggregate call and GROUPING() of the select list,
 * HAVING, the WINDOW clause and (when LIMIT or DISTINCT ON give it meaning) ORDER BY is
 * collected before the aggregate node is built; columns that depend functionally on a grouped
 * primary key become extra group keys. The returned hooks
 * resolve expressions after grouping: a subexpression equal (as resolved ASTs) to a GROUP BY
 * expression reads its key column, an aggregate call its result column, any other column of
 * this query level is an error like PostgreSQL's.
 */
import type { FuncCall, Node, ResTarget, SelectStmt, SortBy, WindowDef } from '@pgsql/types';
import { InvalidQueryError, UnknownColumnError, UnsupportedQueryError } from '../errors.js';
import { astKey, makeExpr, refNode } from '../ir/expr.js';
import type { Expr, IrNode } from '../ir/types.js';
import { type AggCallInput, type AggKind, makeAggregate, withHaving } from '../operators/aggregate-node.js';
import { makeFilter } from '../operators/filter.js';
import { asNode, locationOf, nameList, tagOf, walkAst } from '../parse/ast.js';
import { figureColname } from './colname.js';
import type { QueryCtx } from './context.js';
import { qualifiedFromList } from './env.js';
import { type ExprHooks, resolveExpr, someInAst } from './expr.js';
import { createSubqueryValueCollector } from './scalar-subquery.js';
import { columnRefFields, type Scope } from './scope.js';

/** The aggregated input and the hooks that resolve select-list / ORDER BY expressions over it. */
export interface GroupingResult {
  /** The aggregate (with HAVING applied). */
  readonly node: IrNode;
  /** Resolves expressions after grouping: group keys and aggregate calls map to the node's columns. */
  readonly hooks: ExprHooks;
}

/** Whether the SELECT groups (GROUP BY, HAVING, or an aggregate in its select list / ORDER BY). */
export function isGrouped(stmt: SelectStmt, hasAggregate: (node: unknown) => boolean): boolean {
  return (
    (stmt.groupClause?.length ?? 0) > 0 ||
    stmt.havingClause !== undefined ||
    hasAggregate(stmt.targetList) ||
    hasAggregate(stmt.sortClause)
  );
}

/** PostgreSQL's limit on the number of grouping sets. */
const MAX_GROUPING_SETS = 4096;
/** Grouping sets maintained incrementally at most (each is its own aggregation in every statement). */
const MAX_MAINTAINED_SETS = 256;

/** Node tags that are never an expression on their own (names, sort/window wrappers). */
const NOT_EXPRESSIONS = new Set([
  'String',
  'Integer',
  'Float',
  'Boolean',
  'BitString',
  'A_Star',
  'TypeName',
  'SortBy',
  'WindowDef',
  'ResTarget',
  'GroupingFunc',
  'SubLink',
  'A_Indices',
]);

/** A select-list entry as GROUP BY ordinals and names see it (stars expanded). */
interface TargetEntry {
  readonly name: string;
  readonly ast: Node;
}

/** Builds the grouping of a SELECT over `input` (names in `scope`); null if it does not group. */
export function buildGrouping(
  stmt: SelectStmt,
  input: IrNode,
  scope: Scope,
  q: QueryCtx,
  hasAggregate: (node: unknown) => boolean,
): GroupingResult | null {
  if (!isGrouped(stmt, hasAggregate)) return null;
  const { env } = q;
  const targets = targetEntries(stmt, scope);

  // GROUP BY → keys and grouping sets.
  const keys: Expr[] = [];
  const keyIndex = new Map<string, number>();
  const addKey = (expr: Expr): number => {
    const k = astKey(expr.ast);
    const known = keyIndex.get(k);
    if (known !== undefined) return known;
    keys.push(expr);
    keyIndex.set(k, keys.length - 1);
    return keys.length - 1;
  };
  const groupHooks: ExprHooks = { clause: 'GROUP BY' };
  const resolveItem = (ast: Node): number => addKey(groupItem(ast, targets, scope, q, groupHooks));
  let sets: number[][] = [[]];
  for (const item of stmt.groupClause ?? []) {
    const expanded = expandItem(item, resolveItem, q);
    const product: number[][] = [];
    for (const a of sets) for (const b of expanded) product.push(sortedUnion(a, b));
    sets = product;
    if (sets.length > MAX_GROUPING_SETS) {
      throw new InvalidQueryError(`Too many grouping sets (more than ${MAX_GROUPING_SETS})`, {
        position: env.at(locationOf(item)),
      });
    }
  }
  if (stmt.groupDistinct === true) {
    const seen = new Set<string>();
    sets = sets.filter((s) => {
      const k = s.join(',');
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
  if (sets.length > MAX_MAINTAINED_SETS) {
    throw new UnsupportedQueryError(
      `${sets.length} grouping sets`,
      `At most ${MAX_MAINTAINED_SETS} grouping sets are maintained incrementally (each is aggregated separately); use refreshMode 'FULL'.`,
      { position: env.at(locationOf(stmt.groupClause?.[0])) },
    );
  }
  const originalKeys = keys.length;

  // Every aggregate call and GROUPING() that the select list, HAVING, WINDOW and ORDER BY use.
  const aggs: AggCallInput[] = [];
  const aggIndex = new Map<string, number>();
  const groupings: number[][] = [];
  const groupingIndex = new Map<string, number>();
  const referenced = new Set<string>();
  const inner: ExprHooks = { clause: 'aggregate function calls' };
  const resolveCall = (call: FuncCall): { call: FuncCall; key: string } => {
    const args = (call.args ?? []).map((a) => resolveExpr(a, scope, env, inner).ast);
    const order = call.agg_order?.map((s) => {
      const sb = asNode(s, 'SortBy') as SortBy;
      return { SortBy: { ...sb, node: resolveExpr(sb.node as Node, scope, env, inner).ast } } as Node;
    });
    const filter =
      call.agg_filter === undefined
        ? undefined
        : resolveExpr(call.agg_filter, scope, env, { clause: 'FILTER' }).ast;
    const rebuilt: FuncCall = { ...call, args };
    if (call.args === undefined) delete rebuilt.args;
    if (order !== undefined) rebuilt.agg_order = order;
    if (filter !== undefined) rebuilt.agg_filter = filter;
    return { call: rebuilt, key: astKey({ FuncCall: rebuilt }) };
  };
  const resolveGrouping = (node: Node): { args: number[]; key: string } => {
    const g = asNode(node, 'GroupingFunc');
    const args = (g?.args ?? []).map((a) => {
      const k = keyIndex.get(astKey(resolveExpr(a, scope, env, groupHooks).ast));
      if (k === undefined || k >= originalKeys) {
        throw new InvalidQueryError(
          'Arguments to GROUPING must be grouping expressions of the associated query level',
          { position: env.at(locationOf(a)) },
        );
      }
      return k;
    });
    if (args.length > 31) {
      throw new InvalidQueryError('GROUPING must have fewer than 32 arguments', {
        position: env.at(locationOf(node)),
      });
    }
    return { args, key: args.join(',') };
  };
  const collect = (root: unknown): void => {
    walkAst(root, (node, tag) => {
      if (tag === 'SubLink') return false;
      if (tag === 'GroupingFunc') {
        const g = resolveGrouping(node);
        if (!groupingIndex.has(g.key)) {
          groupings.push(g.args);
          groupingIndex.set(g.key, groupings.length - 1);
        }
        return false;
      }
      const call = asNode(node, 'FuncCall');
      if (call !== undefined && call.over === undefined && isAggregateCall(call, q)) {
        refuseOuterAggregate(call, node, scope, q);
        const r = resolveCall(call);
        if (!aggIndex.has(r.key)) {
          aggs.push(aggCallInput(r.call, call));
          aggIndex.set(r.key, aggs.length - 1);
        }
        return false;
      }
      if (tag === 'ColumnRef') {
        const fields = columnRefFields(node);
        if (fields === undefined) return false;
        if (fields.at(-1) === null) {
          try {
            for (const c of scope.expandStar(fields, locationOf(node))) referenced.add(c.id);
          } catch {
            // reported when the select list is resolved
          }
          return false;
        }
        try {
          const r = scope.resolve(fields as string[], locationOf(node));
          if (r.depth === 0) referenced.add(r.id);
        } catch {
          // reported when the expression is resolved
        }
        return false;
      }
      return undefined;
    });
  };
  for (const t of stmt.targetList ?? []) collect((asNode(t, 'ResTarget') as ResTarget).val);
  collect(stmt.havingClause);
  for (const w of stmt.windowClause ?? []) {
    const def = asNode(w, 'WindowDef') as WindowDef;
    collect(def.partitionClause);
    collect(def.orderClause);
  }
  const distinctOn = (stmt.distinctClause ?? []).filter(
    (n) => n !== null && typeof n === 'object' && Object.keys(n).length > 0,
  );
  if (stmt.limitCount !== undefined || stmt.limitOffset !== undefined || distinctOn.length > 0) {
    const outputNames = new Set(targets.map((t) => t.name));
    const isOutputRef = (ast: Node): boolean => {
      if (asNode(ast, 'A_Const')?.ival !== undefined) return true;
      const f = columnRefFields(ast);
      return f?.length === 1 && typeof f[0] === 'string' && outputNames.has(f[0]);
    };
    for (const s of stmt.sortClause ?? []) {
      const node = (asNode(s, 'SortBy') as SortBy).node as Node;
      if (!isOutputRef(node)) collect(node);
    }
    for (const d of distinctOn) if (!isOutputRef(d)) collect(d);
  }

  // Columns functionally dependent on a grouped primary key: extra keys in every set.
  const dependent = dependentColumns(input, keys, sets);
  for (const id of referenced) {
    if (!dependent.has(id) || keyIndex.has(astKey(refNode(id)))) continue;
    const k = addKey(makeExpr(refNode(id)));
    sets = sets.map((s) => sortedUnion(s, [k]));
  }

  const base = makeAggregate(env.ids, input, { keys, sets, aggs, groupings });
  const matchKey = (node: Node): number | undefined => {
    if (NOT_EXPRESSIONS.has(tagOf(node))) return undefined;
    try {
      return keyIndex.get(astKey(resolveExpr(node, scope, env, groupHooks).ast));
    } catch {
      return undefined;
    }
  };
  const hooks: ExprHooks = {
    clause: 'the select list',
    replace(node) {
      const k = matchKey(node);
      if (k !== undefined) return refNode(columnId(base.keys[k]), locationOf(node));
      const fields = columnRefFields(node);
      if (fields === undefined || fields.includes(null)) return undefined;
      let found: { id: string; depth: number };
      try {
        found = scope.resolve(fields as string[], locationOf(node));
      } catch {
        return undefined;
      }
      if (found.depth > 0) return undefined;
      throw new InvalidQueryError(
        `Column ${fields.map((f) => `"${f}"`).join('.')} must appear in the GROUP BY clause or be used in an aggregate function`,
        { position: env.at(locationOf(node)) },
      );
    },
    aggregate(call, node) {
      const j = aggIndex.get(resolveCall(call).key);
      if (j === undefined) {
        throw new UnsupportedQueryError(
          'an aggregate call in this position',
          "Aggregates are maintained in the select list, HAVING, WINDOW and ORDER BY; use refreshMode 'FULL'.",
          { position: env.at(locationOf(node)) },
        );
      }
      return refNode(columnId(base.aggs[j]), locationOf(node));
    },
    grouping(node) {
      const k = groupingIndex.get(resolveGrouping(node).key);
      if (k === undefined) {
        throw new UnsupportedQueryError('GROUPING() in this position', "Use refreshMode 'FULL'.", {
          position: env.at(locationOf(node)),
        });
      }
      return refNode(columnId(base.groupings[k]), locationOf(node));
    },
  };
  if (stmt.havingClause !== undefined && containsSublink(stmt.havingClause)) {
    // A subquery in HAVING: its value joins the groups (a scalar-subquery node over the
    // aggregate), and HAVING becomes a filter above them, so a change on either side is seen.
    const values = createSubqueryValueCollector(scope, q, 'HAVING', hooks);
    const predicate = resolveExpr(stmt.havingClause, scope, env, {
      ...hooks,
      clause: 'HAVING',
      sublink: values.hook,
    });
    return { node: makeFilter(env.ids, values.wrap(base), predicate), hooks };
  }
  const having =
    stmt.havingClause === undefined
      ? null
      : resolveExpr(stmt.havingClause, scope, env, { ...hooks, clause: 'HAVING' });
  return { node: withHaving(base, having), hooks };
}

/** The column id of a built key / aggregate / GROUPING() entry. */
function columnId(entry: { readonly column: { readonly id: string } } | undefined): string {
  if (entry === undefined) throw new InvalidQueryError('Internal error: a grouping entry is missing');
  return entry.column.id;
}

/** The select list with stars expanded into column references (for GROUP BY ordinals and names). */
function targetEntries(stmt: SelectStmt, scope: Scope): TargetEntry[] {
  const out: TargetEntry[] = [];
  for (const t of stmt.targetList ?? []) {
    const target = asNode(t, 'ResTarget') as ResTarget;
    const val = target.val as Node;
    const fields = columnRefFields(val);
    if (fields !== undefined && fields.at(-1) === null) {
      let cols: { id: string; name: string }[] = [];
      try {
        cols = scope.expandStar(fields, locationOf(val));
      } catch {
        // reported when the select list is resolved
      }
      for (const col of cols) out.push({ name: col.name, ast: starReference(scope, col) });
      continue;
    }
    out.push({ name: target.name ?? figureColname(val), ast: val });
  }
  return out;
}

/** A column reference that resolves to the star-expanded column `col` in `scope`. */
function starReference(scope: Scope, col: { id: string; name: string }): Node {
  if (scope.from.merged.some((m) => m.id === col.id)) {
    return { ColumnRef: { fields: [{ String: { sval: col.name } }] } };
  }
  const item = scope.from.items.find((i) => i.columns.some((c) => c.id === col.id));
  if (item === undefined) return refNode(col.id);
  return { ColumnRef: { fields: [{ String: { sval: item.alias } }, { String: { sval: col.name } }] } };
}

/**
 * One GROUP BY expression, resolved: an integer constant is a select-list position; a bare name
 * that is not an input column of this level is an output-column name; anything else an
 * expression over the input.
 */
function groupItem(
  ast: Node,
  targets: readonly TargetEntry[],
  scope: Scope,
  q: QueryCtx,
  hooks: ExprHooks,
): Expr {
  const { env } = q;
  const ordinal = asNode(ast, 'A_Const')?.ival;
  if (ordinal !== undefined) {
    const n = ordinal.ival ?? 0;
    const target = targets[n - 1];
    if (target === undefined) {
      throw new InvalidQueryError(`GROUP BY position ${n} is not in select list`, {
        position: env.at(locationOf(ast)),
      });
    }
    return resolveExpr(target.ast, scope, env, hooks);
  }
  const fields = columnRefFields(ast);
  if (fields?.length === 1 && typeof fields[0] === 'string') {
    const name = fields[0];
    let local = false;
    try {
      local = scope.resolve([name], locationOf(ast)).depth === 0;
    } catch (error) {
      if (!(error instanceof UnknownColumnError)) throw error;
    }
    if (!local) {
      const matches = targets.filter((t) => t.name === name);
      const distinct = new Set(matches.map((t) => astKey(t.ast)));
      if (distinct.size > 1) {
        throw new InvalidQueryError(`GROUP BY "${name}" is ambiguous`, { position: env.at(locationOf(ast)) });
      }
      if (matches[0] !== undefined) return resolveExpr(matches[0].ast, scope, env, hooks);
    }
  }
  return resolveExpr(ast, scope, env, hooks);
}

/** A grouping-set element's keys: `(a, b)` is a list, anything else one expression. */
function elementKeys(node: Node, key: (ast: Node) => number): number[] {
  const row = asNode(node, 'RowExpr');
  if (row !== undefined && row.row_format === 'COERCE_IMPLICIT_CAST') {
    return sortedUnion(
      [],
      (row.args ?? []).map((a) => key(a)),
    );
  }
  return [key(node)];
}

/** The grouping sets one GROUP BY item stands for. */
function expandItem(item: Node, key: (ast: Node) => number, q: QueryCtx): number[][] {
  const gs = asNode(item, 'GroupingSet');
  if (gs === undefined) return [elementKeys(item, key)];
  const content = gs.content ?? [];
  switch (gs.kind) {
    case 'GROUPING_SET_EMPTY':
      return [[]];
    case 'GROUPING_SET_SIMPLE':
      return [content.reduce<number[]>((acc, c) => sortedUnion(acc, elementKeys(c, key)), [])];
    case 'GROUPING_SET_ROLLUP': {
      const els = content.map((c) => elementKeys(c, key));
      const out: number[][] = [];
      for (let n = els.length; n >= 0; n--) {
        out.push(els.slice(0, n).reduce<number[]>((acc, e) => sortedUnion(acc, e), []));
      }
      return out;
    }
    case 'GROUPING_SET_CUBE': {
      const els = content.map((c) => elementKeys(c, key));
      if (els.length > 12) {
        throw new InvalidQueryError(`CUBE is limited to 12 elements`, { position: q.env.at(gs.location) });
      }
      const out: number[][] = [];
      for (let mask = (1 << els.length) - 1; mask >= 0; mask--) {
        let set: number[] = [];
        els.forEach((e, i) => {
          if ((mask & (1 << (els.length - 1 - i))) !== 0) set = sortedUnion(set, e);
        });
        out.push(set);
      }
      return out;
    }
    case 'GROUPING_SET_SETS':
      return content.flatMap((c) => expandItem(c, key, q));
    default:
      throw new UnsupportedQueryError(`grouping set kind ${String(gs.kind)}`, "Use refreshMode 'FULL'.", {
        position: q.env.at(gs.location),
      });
  }
}

function sortedUnion(a: readonly number[], b: readonly number[]): number[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}

/**
 * Refuses an aggregate whose arguments read only columns of enclosing query levels: PostgreSQL
 * evaluates it in the outer query (which it turns into a grouped one), not here.
 */
function refuseOuterAggregate(call: FuncCall, node: Node, scope: Scope, q: QueryCtx): void {
  let local = false;
  let outer = false;
  walkAst([call.args, call.agg_filter, call.agg_order], (n, tag) => {
    if (tag === 'SubLink') return false;
    if (tag !== 'ColumnRef') return undefined;
    const fields = columnRefFields(n);
    if (fields === undefined || fields.includes(null)) return false;
    try {
      if (scope.resolve(fields as string[], locationOf(n)).depth === 0) local = true;
      else outer = true;
    } catch {
      // reported when the call is resolved
    }
    return false;
  });
  if (outer && !local) {
    throw new UnsupportedQueryError(
      'an aggregate over columns of an enclosing query (an outer-level aggregate)',
      "Compute the aggregate in the outer query, or use refreshMode 'FULL'.",
      { position: q.env.at(locationOf(node)) },
    );
  }
}

/** Whether a FuncCall (no OVER) is an aggregate of this query level. */
function isAggregateCall(call: FuncCall, q: QueryCtx): boolean {
  if (call.agg_star === true || call.agg_within_group === true) return true;
  const name = qualifiedFromList(nameList(call.funcname) ?? []);
  return name !== undefined && q.env.functionInfo(name)?.aggregate === true;
}

/** How a resolved aggregate call can be maintained, judged from its form alone. */
function aggCallInput(resolved: FuncCall, original: FuncCall): AggCallInput {
  const parts = nameList(original.funcname) ?? [];
  const fn = parts.at(-1) ?? '';
  const schema = parts.length === 2 ? parts[0] : null;
  const args = resolved.args ?? [];
  const plain =
    (schema === null || schema === 'pg_catalog') &&
    parts.length <= 2 &&
    original.agg_distinct !== true &&
    (original.agg_order?.length ?? 0) === 0 &&
    original.agg_within_group !== true &&
    original.func_variadic !== true &&
    !args.some((a) => asNode(a, 'NamedArgExpr') !== undefined);
  let candidate: AggKind = 'generic';
  if (plain && fn === 'count' && original.agg_star === true) candidate = 'count_star';
  else if (plain && args.length === 1 && ['count', 'sum', 'avg', 'min', 'max'].includes(fn)) {
    candidate = fn as AggKind;
  }
  const arg = candidate === 'generic' || candidate === 'count_star' ? null : makeExpr(args[0] as Node);
  const filter = resolved.agg_filter === undefined ? null : makeExpr(resolved.agg_filter);
  return { call: makeExpr({ FuncCall: resolved }, original.location), candidate, arg, filter };
}

/**
 * The input columns that depend functionally on grouped primary keys: every column of a scanned
 * base table whose primary key columns are all plain GROUP BY columns in every grouping set.
 */
function dependentColumns(input: IrNode, keys: readonly Expr[], sets: readonly number[][]): Set<string> {
  const grouped = new Set<string>();
  keys.forEach((k, i) => {
    const ref = asNode(k.ast, 'ColumnRef');
    const id = ref?.fields?.length === 1 ? asNode(ref.fields[0], 'String')?.sval : undefined;
    if (id !== undefined && sets.every((s) => s.includes(i))) grouped.add(id);
  });
  const out = new Set<string>();
  const visit = (node: IrNode): void => {
    if (node.kind === 'scan') {
      const src = node.source;
      if (src.kind === 'table' && src.keyed) {
        const pk = src.idColumns.map((c) => node.sourceColumns.find((s) => s.column === c)?.id);
        if (pk.every((id) => id !== undefined && grouped.has(id))) {
          for (const c of node.columns) out.add(c.id);
        }
      }
    }
    for (const child of node.children) visit(child);
  };
  visit(input);
  return out;
}

/** Whether `node` holds a subquery (a SubLink) anywhere. */
function containsSublink(node: Node): boolean {
  return someInAst(node, (v) => (v as { SubLink?: unknown }).SubLink !== undefined);
}
