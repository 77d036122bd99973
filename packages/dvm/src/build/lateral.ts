/**
 * LATERAL items in FROM: functions (`unnest`, `jsonb_array_elements`, `generate_series`,
 * `ROWS FROM (…)`, any immutable or stable function; volatile ones are refused in incremental
 * modes) and LATERAL subqueries, joined to the items before them (comma / CROSS JOIN / JOIN …
 * ON: INNER; LEFT JOIN LATERAL … ON: LEFT).
 *
 * Names follow PostgreSQL: a function's columns come from its result shape (`lateral-shapes.ts`):
 * a scalar result is one column named after the item's alias when it is the only function (else
 * after the function), a composite / OUT-parameter result has its own column names, a column
 * definition list names its columns, WITH ORDINALITY adds `ordinality`; `AS u(a, b)` renames the
 * first columns. The item's alias defaults to the (first) function's name.
 *
 * Operators: a function reading the items before it → `lateralFunction` (flat-map); a function
 * over constants → a `lateralFunction` without input, cross-joined (`join`) to the items before
 * it for INNER; `LATERAL (VALUES …)` → `lateralFunction` over VALUES rows; a function whose
 * arguments hold subqueries (`generate_series(1, (SELECT max(n) FROM t))`,
 * `unnest((SELECT array_agg(x) FROM u WHERE u.k = t.k))`) → each subquery a value column of the
 * items before it (`scalarSubquery`, the select list's rules: at most one row, correlated on the
 * items before it), or of a single constant row when the function is the first item, and a
 * `lateralFunction` flat-mapped over that input reading the value columns; a LATERAL subquery
 * that reads the items before it → `lateralSubquery`; an uncorrelated one under INNER → a plain
 * `join`. Not supported: a whole-row reference to a function item (refused by the expression
 * checks), a LATERAL item reading FROM items before the JOIN it is part of (PostgreSQL allows
 * `FROM a, b JOIN LATERAL f(a.x) …`; here only the join's left side is visible).
 */
import type { Node, RangeFunction, RangeSubselect, SelectStmt, SubLink } from '@pgsql/types';
import { InvalidQueryError, UnsupportedQueryError } from '../errors.js';
import { makeExpr } from '../ir/expr.js';
import type { Expr, IrColumn, IrNode } from '../ir/types.js';
import { makeSingleRow } from '../operators/constant.js';
import { makeJoin } from '../operators/join.js';
import { type LateralCall, makeLateralFunction } from '../operators/lateral.js';
import { makeLateralSubquery } from '../operators/lateral-subquery.js';
import { asNode, locationOf, nameList } from '../parse/ast.js';
import { deparseNode } from '../parse/deparse.js';
import { sql } from '../sql/sql.js';
import type { QueryCtx } from './context.js';
import { qualifiedFromList } from './env.js';
import { resolveExpr, TIME_DEPENDENT_HINT, TIME_FUNCTIONS } from './expr.js';
import { type FromPart, renameColumns, subqueryPart } from './from.js';
import { builtinShape, callLocation, type FunctionShape, fromFunctionCalls } from './lateral-shapes.js';
import { buildQuery, onOutputs } from './query.js';
import { createSubqueryValueCollector } from './scalar-subquery.js';
import { concatScopes, EMPTY_FROM, type FromScope, itemScope, Scope } from './scope.js';
import { containsSublink } from './sublink.js';

/** Whether a FROM item is LATERAL (a LATERAL subquery, or any function in FROM). */
export function isLateralItem(item: Node): boolean {
  const sub = asNode(item, 'RangeSubselect');
  if (sub !== undefined) return sub.lateral === true;
  return asNode(item, 'RangeFunction') !== undefined;
}

/**
 * Builds a LATERAL item joined to `left` (null when it is the first FROM item) with join kind
 * INNER (comma / CROSS JOIN / JOIN … ON) or LEFT (LEFT JOIN LATERAL … ON cond).
 */
export function buildLateral(
  item: Node,
  left: FromPart | null,
  kind: 'INNER' | 'LEFT',
  condition: Node | undefined,
  q: QueryCtx,
): FromPart {
  const rf = asNode(item, 'RangeFunction');
  if (rf !== undefined) return buildFunctionItem(rf, item, { left, kind, condition }, q);
  const sub = asNode(item, 'RangeSubselect');
  if (sub !== undefined && left !== null) return buildLateralSubquery(sub, { left, kind, condition }, q);
  throw new UnsupportedQueryError(
    `${Object.keys(item)[0]} as a LATERAL item`,
    'Use a function or a subquery.',
    {
      position: q.env.at(locationOf(item)),
    },
  );
}

/** How a LATERAL item joins the FROM items before it (`left`: null when it is the first). */
interface LateralJoin<Left extends FromPart | null = FromPart | null> {
  readonly left: Left;
  readonly kind: 'INNER' | 'LEFT';
  readonly condition: Node | undefined;
}

/** The join's ON condition resolved over `scope` (the items before it and the item), or null. */
function joinCondition(condition: Node | undefined, scope: FromScope, q: QueryCtx): Expr | null {
  if (condition === undefined) return null;
  return resolveExpr(condition, new Scope(scope, q.outer, q.env), q.env, { clause: 'a JOIN condition' });
}

/** Whether a function call's arguments contain a subquery. */
function argsHaveSublink(call: Node): boolean {
  const fc = asNode(call, 'FuncCall');
  return (fc?.args ?? []).some((a) => containsSublink(a));
}

/** One checked, resolved call of a function item. */
interface BuiltCall {
  readonly call: LateralCall;
  readonly shape: FunctionShape;
  /** The function name as written (last part), PostgreSQL's default column / alias name. */
  readonly bare: string;
}

function buildCall(
  call: Node,
  coldefs: readonly Node[] | undefined,
  scope: Scope,
  q: QueryCtx,
  itemLocation: number | undefined,
  sublink: ((link: SubLink, node: Node) => Node) | undefined,
): BuiltCall {
  const { env } = q;
  const fc = asNode(call, 'FuncCall');
  if (fc === undefined) {
    throw new UnsupportedQueryError(
      `${Object.keys(call)[0]} as a FROM item`,
      'Call a function in FROM (e.g. unnest(…), generate_series(…)), or compute the value in the select list.',
      { position: env.at(locationOf(call) ?? itemLocation) },
    );
  }
  const parts = nameList(fc.funcname) ?? [];
  const name = parts.join('.');
  const bare = parts.at(-1) ?? '?';
  const location = fc.location;
  if (
    fc.over !== undefined ||
    fc.agg_order !== undefined ||
    fc.agg_filter !== undefined ||
    fc.agg_star === true
  ) {
    throw new InvalidQueryError(`${name}() in FROM cannot be an aggregate or window call`, {
      position: env.at(location),
    });
  }
  const qname = qualifiedFromList(parts);
  const info = qname === undefined ? undefined : env.functionInfo(qname);
  if (info === null) {
    throw new InvalidQueryError(`Function ${name}() does not exist. Check its name and schema`, {
      position: env.at(location),
    });
  }
  if (info?.aggregate === true || info?.window === true) {
    throw new InvalidQueryError(`${name}() in FROM cannot be an aggregate or window function`, {
      position: env.at(location),
    });
  }
  if (env.incremental && TIME_FUNCTIONS.has(bare)) {
    throw new UnsupportedQueryError(`time-dependent function ${name}() in FROM`, TIME_DEPENDENT_HINT, {
      position: env.at(location),
    });
  }
  if (info?.volatility === 'volatile') {
    if (env.incremental) {
      throw new UnsupportedQueryError(
        `volatile ${info.returnsSet ? 'set-returning ' : ''}function ${name}() in FROM`,
        "Its rows can differ on every call, so the stream table could never be kept equal to its query. Remove it, or use refreshMode 'FULL'.",
        { position: env.at(location) },
      );
    }
    env.warnings.push(`volatile function ${name}(): every FULL refresh evaluates it anew`);
  }
  const args = (fc.args ?? []).map((a) =>
    resolveExpr(a, scope, env, {
      clause: `the arguments of ${name}() in FROM`,
      ...(sublink === undefined ? {} : { sublink }),
    }),
  );
  const expr = makeExpr({ FuncCall: { ...fc, args: args.map((a) => a.ast) } }, location);
  let shape: FunctionShape | undefined;
  let coldefSql: string | null = null;
  if (coldefs !== undefined) {
    const names = coldefs.map((d) => asNode(d, 'ColumnDef')?.colname ?? '?column?');
    shape = { kind: 'named', names };
    coldefSql = sql`${sql.join(coldefs.map((d) => deparseNode(d)))}`;
  } else {
    const probed = location === undefined ? undefined : env.facts.functionShapes?.get(location);
    shape = probed ?? builtinShape(parts);
  }
  if (shape === undefined) {
    throw new UnsupportedQueryError(
      `the function ${name}() in FROM`,
      'Its result columns could not be determined before compiling (PostgreSQL cannot describe it without its argument types, ' +
        "e.g. a polymorphic function). Give it a column definition list if it returns record, or use refreshMode 'FULL'.",
      { position: env.at(location) },
    );
  }
  return { call: { expr, coldefs: coldefSql, name }, shape, bare };
}

function buildFunctionItem(rf: RangeFunction, item: Node, join: LateralJoin, q: QueryCtx): FromPart {
  const { env } = q;
  const { kind } = join;
  const location = locationOf(item) ?? callLocation((fromFunctionCalls(rf)[0]?.call ?? {}) as Node);
  const scope = new Scope(join.left?.scope ?? EMPTY_FROM, q.outer, env);
  const items = fromFunctionCalls(rf);
  // Subqueries in the arguments become value columns of the items before the function (or of
  // a single row when it is the first item), computed by `scalarSubquery` nodes; the function
  // then reads them like any column of its input (a flat-map over that input).
  const values = items.some((c) => argsHaveSublink(c.call))
    ? createSubqueryValueCollector(scope, q, 'the arguments of a function in FROM')
    : undefined;
  const calls = items.map((c) => buildCall(c.call, c.coldefs, scope, q, location, values?.hook));
  if (calls.length === 0) throw new InvalidQueryError('A function item in FROM needs a function call');
  const left: FromPart | null =
    values === undefined
      ? join.left
      : {
          node: values.wrap(join.left?.node ?? makeSingleRow(env.ids)),
          scope: join.left?.scope ?? EMPTY_FROM,
        };
  const alias = rf.alias?.aliasname ?? (calls[0] as BuiltCall).bare;

  // PostgreSQL's column names, then the alias's renames.
  const names: string[] = [];
  for (const c of calls) {
    if (c.shape.kind === 'named') names.push(...c.shape.names);
    else names.push(calls.length === 1 && rf.alias !== undefined ? alias : c.bare);
  }
  const width = names.length;
  if (rf.ordinality === true) names.push('ordinality');
  const renamed =
    rf.coldeflist !== undefined && rf.is_rowsfrom !== true
      ? names
      : renameColumns(names, rf.alias, q, locationOf((rf.functions ?? [])[0]));
  const columns: IrColumn[] = renamed.map((n) => ({ id: env.ids.column(`${alias}_${n}`), name: n }));
  const functionColumns = columns.slice(0, width);
  const ordinality = rf.ordinality === true ? (columns[width] as IrColumn) : null;
  const fnScope = itemScope({ alias, schema: null, columns });
  const scopeAll: FromScope = left === null ? fnScope : concatScopes(left.scope, fnScope);

  const leftIds = new Set(left?.node.columns.map((c) => c.id) ?? []);
  const refs = calls.flatMap((c) => c.call.expr.refs);
  const readsLeft = refs.some((r) => leftIds.has(r));
  const correlated = refs.some((r) => !leftIds.has(r));
  const on = joinCondition(join.condition, scopeAll, q);
  const spec = {
    calls: calls.map((c) => c.call),
    functionColumns,
    ordinality,
    correlated,
    valueIds: values !== undefined,
  };
  let node: IrNode;
  if (left === null) {
    node = makeLateralFunction(env.ids, null, { ...spec, join: 'INNER', condition: null });
  } else if (!readsLeft && !correlated && kind === 'INNER') {
    // A function over constants: a constant relation, cross-joined to the items before it.
    const fn = makeLateralFunction(env.ids, null, { ...spec, join: 'INNER', condition: null });
    node = makeJoin(env.ids, left.node, fn, on);
  } else {
    const outerOn = on?.refs.some((r) => !leftIds.has(r) && !columns.some((c) => c.id === r)) === true;
    node = makeLateralFunction(env.ids, left.node, {
      ...spec,
      correlated: correlated || outerOn,
      join: kind,
      condition: on,
    });
  }
  return { node, scope: scopeAll };
}

/** JSON text of a ColumnRef field naming column id `id` (how a resolved reference to it looks). */
function refText(id: string): string {
  return JSON.stringify({ String: { sval: id } });
}

function buildLateralSubquery(sub: RangeSubselect, join: LateralJoin<FromPart>, q: QueryCtx): FromPart {
  const stmt = asNode(sub.subquery, 'SelectStmt');
  if (stmt === undefined) throw new UnsupportedQueryError('this subquery in FROM', 'Use a SELECT.', {});
  if (stmt.valuesLists !== undefined) return buildLateralValues(stmt, sub, join, q);
  const { left, kind } = join;
  const outer = new Scope(left.scope, q.outer, q.env);
  const built = buildQuery(stmt, { env: q.env, ctes: q.ctes, outer, top: false });
  const subNode = onOutputs(built, q);
  const alias = sub.alias?.aliasname ?? 'unnamed_subquery';
  const names = renameColumns(
    built.outputs.map((c) => c.name),
    sub.alias,
    q,
    locationOf(sub.subquery),
  );
  const part = subqueryPart(subNode, built.outputs, names, alias, null);
  const scope = concatScopes(left.scope, part.scope);
  const on = joinCondition(join.condition, scope, q);
  // Does the subquery read the items before it? (Resolved references are one-field ColumnRefs
  // naming column ids, which are unique in the tree.)
  const seen = new WeakSet<object>();
  const text = JSON.stringify(subNode, (_key, value: unknown) => {
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return undefined; // shared or cyclic (e.g. a recursive CTE's leaf → CTE)
    seen.add(value);
    return value;
  });
  const correlated = left.node.columns.some((c) => text.includes(refText(c.id)));
  const node =
    !correlated && kind === 'INNER'
      ? makeJoin(q.env.ids, left.node, subNode, on)
      : makeLateralSubquery(q.env.ids, left.node, subNode, kind, on);
  return { node, scope };
}

/**
 * `LATERAL (VALUES (…), (…)) AS v(a, b)`: rows of expressions over the items before it, a
 * flat-map like a function item (the row's position is its ordinality).
 */
function buildLateralValues(
  stmt: SelectStmt,
  sub: RangeSubselect,
  join: LateralJoin<FromPart>,
  q: QueryCtx,
): FromPart {
  const { env } = q;
  const { left, kind } = join;
  const rows = (stmt.valuesLists ?? []).map((l) => asNode(l, 'List')?.items ?? []);
  const width = rows[0]?.length ?? 0;
  if (rows.some((r) => r.length !== width))
    throw new InvalidQueryError('VALUES lists must all be the same length');
  const scope = new Scope(left.scope, q.outer, env);
  const values = rows.map((row) => row.map((v: Node) => resolveExpr(v, scope, env, { clause: 'VALUES' })));
  const alias = sub.alias?.aliasname ?? 'unnamed_subquery';
  const names = renameColumns(
    Array.from({ length: width }, (_, i) => `column${i + 1}`),
    sub.alias,
    q,
    locationOf(sub.subquery),
  );
  const functionColumns: IrColumn[] = names.map((n) => ({ id: env.ids.column(`${alias}_${n}`), name: n }));
  const item = itemScope({ alias, schema: null, columns: functionColumns });
  const scopeAll = concatScopes(left.scope, item);
  const on = joinCondition(join.condition, scopeAll, q);
  const leftIds = new Set(left.node.columns.map((c) => c.id));
  const own = new Set(functionColumns.map((c) => c.id));
  const refs = [...values.flat().flatMap((e) => e.refs), ...(on?.refs ?? [])];
  const node = makeLateralFunction(env.ids, left.node, {
    join: kind,
    calls: [],
    values,
    functionColumns,
    ordinality: null,
    condition: on,
    correlated: refs.some((r) => !leftIds.has(r) && !own.has(r)),
  });
  return { node, scope: scopeAll };
}
