/**
 * Resolving expressions: every column reference in a user expression is replaced by a reference
 * to a column id (see `ir/expr.ts`), and every construct that could make the stream table depend
 * on anything but its sources is checked: volatile functions, time-dependent functions and
 * values (`now()`, `CURRENT_DATE`, `'now'::date`), parameters, whole-row references. Aggregates,
 * window functions, subqueries and GROUPING() are handed to hooks of the clause being built; a
 * clause without the hook refuses them.
 */
import type { FuncCall, Node, SubLink } from '@pgsql/types';
import { InvalidQueryError, UnknownColumnError, UnsupportedQueryError } from '../errors.js';
import { makeExpr, refNode } from '../ir/expr.js';
import type { Expr } from '../ir/types.js';
import { asNode, locationOf, nameList } from '../parse/ast.js';
import type { BuildEnv } from './env.js';
import { qualifiedFromList } from './env.js';
import { columnRefFields, type Scope } from './scope.js';

/** The hint of every refusal of a time-dependent function or value in incremental modes. */
export const TIME_DEPENDENT_HINT =
  'A stream table must depend only on its sources; the current time changes without any source changing. ' +
  "Use refreshMode 'FULL', or store the time in a source table.";

/**
 * Functions whose result depends on the current time (PostgreSQL marks them STABLE or VOLATILE);
 * refused in expressions and as FROM items (`build/lateral.ts`) in incremental modes.
 */
export const TIME_FUNCTIONS: ReadonlySet<string> = new Set([
  'now',
  'statement_timestamp',
  'transaction_timestamp',
  'clock_timestamp',
  'timeofday',
  'current_timestamp',
  'current_date',
  'current_time',
  'localtime',
  'localtimestamp',
]);

/** PostgreSQL's system columns: every table has them, but they are no part of a captured row. */
export const SYSTEM_COLUMNS: ReadonlySet<string> = new Set([
  'xmin',
  'xmax',
  'cmin',
  'cmax',
  'ctid',
  'tableoid',
]);

/** Date/time input words that PostgreSQL evaluates to the current time. */
const TIME_WORDS = new Set(['now', 'today', 'tomorrow', 'yesterday']);
const TIME_TYPES = new Set(['date', 'timestamp', 'timestamptz', 'time', 'timetz']);

/** Hooks of the clause an expression is in. */
export interface ExprHooks {
  /** Where the expression is, for messages ("WHERE", "the select list", …). */
  readonly clause: string;
  /** Replaces a node before it is resolved (e.g. a GROUP BY expression by its key column). */
  readonly replace?: (node: Node) => Node | undefined;
  /** Handles an aggregate call (no OVER); returns its replacement. */
  readonly aggregate?: (call: FuncCall, node: Node) => Node;
  /** Handles a window function call; returns its replacement. */
  readonly window?: (call: FuncCall, node: Node) => Node;
  /** Handles a subquery expression; returns its replacement. */
  readonly sublink?: (link: SubLink, node: Node) => Node;
  /** Handles GROUPING(…); returns its replacement. */
  readonly grouping?: (node: Node) => Node;
}

/** The dotted name of a function call, for messages. */
export function functionName(call: FuncCall): string {
  return (nameList(call.funcname) ?? ['?']).join('.');
}

/** Resolves `ast` in `scope`: the result reads column ids only. */
export function resolveExpr(ast: Node, scope: Scope, env: BuildEnv, hooks: ExprHooks): Expr {
  const resolved = transform(ast, scope, env, hooks) as Node;
  return makeExpr(resolved, locationOf(ast));
}

function transform(value: unknown, scope: Scope, env: BuildEnv, hooks: ExprHooks): unknown {
  if (Array.isArray(value)) return value.map((v) => transform(v, scope, env, hooks));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  const tag = keys[0];
  if (keys.length !== 1 || tag === undefined || !/^[A-Z]/.test(tag)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = transform(v, scope, env, hooks);
    return out;
  }
  const node = value as Node;
  const replaced = hooks.replace?.(node);
  if (replaced !== undefined) return replaced;
  const location = locationOf(node);

  const ref = asNode(node, 'ColumnRef');
  if (ref !== undefined) return columnRef(node, scope, env, location);

  const call = asNode(node, 'FuncCall');
  if (call !== undefined) return funcCall(call, node, scope, env, hooks, location);

  if (asNode(node, 'JsonArrayAgg') !== undefined || asNode(node, 'JsonObjectAgg') !== undefined) {
    env.requireFullFor(
      asNode(node, 'JsonArrayAgg') !== undefined ? 'JSON_ARRAYAGG' : 'JSON_OBJECTAGG',
      location,
      'The SQL/JSON aggregates have no incremental rule yet (json_agg and json_object_agg do).',
    );
  }

  const link = asNode(node, 'SubLink');
  if (link !== undefined) {
    if (hooks.sublink === undefined) {
      env.requireFullFor(
        `a subquery in ${hooks.clause}`,
        location,
        'Subqueries are maintained in WHERE (EXISTS, IN) and as scalar values in the select list.',
      );
      return node;
    }
    return hooks.sublink(link, node);
  }

  if (asNode(node, 'GroupingFunc') !== undefined) {
    if (hooks.grouping === undefined) {
      throw new InvalidQueryError(`GROUPING() is only allowed with GROUP BY, not in ${hooks.clause}`, {
        position: env.at(location),
      });
    }
    return hooks.grouping(node);
  }

  const svf = asNode(node, 'SQLValueFunction');
  if (svf !== undefined) {
    const op = svf.op ?? '';
    if (/CURRENT_DATE|CURRENT_TIME|LOCALTIME/.test(op)) {
      if (env.incremental) {
        throw new UnsupportedQueryError(
          `time-dependent value ${op.replace('SVFOP_', '').replace(/_N$/, '')}`,
          TIME_DEPENDENT_HINT,
          { position: env.at(location) },
        );
      }
    }
    return node;
  }

  if (asNode(node, 'ParamRef') !== undefined) {
    throw new UnsupportedQueryError(
      'a query parameter ($n)',
      'A defining query cannot have parameters; write the value into the query.',
      {
        position: env.at(location),
      },
    );
  }

  const cast = asNode(node, 'TypeCast');
  if (cast !== undefined) {
    const text = asNode(cast.arg, 'A_Const')?.sval?.sval;
    const typeName = (nameList(cast.typeName?.names) ?? []).at(-1);
    if (
      env.incremental &&
      text !== undefined &&
      typeName !== undefined &&
      TIME_TYPES.has(typeName) &&
      TIME_WORDS.has(text.trim().toLowerCase())
    ) {
      throw new UnsupportedQueryError(
        `time-dependent value '${text}'::${typeName}`,
        "A stream table must depend only on its sources. Use refreshMode 'FULL', or store the time in a source table.",
        { position: env.at(location) },
      );
    }
  }

  const out: Record<string, unknown> = {};
  out[tag] = transform((node as Record<string, unknown>)[tag], scope, env, hooks);
  return out;
}

function columnRef(node: Node, scope: Scope, env: BuildEnv, location: number | undefined): Node {
  const fields = columnRefFields(node);
  if (fields === undefined) {
    throw new UnsupportedQueryError(
      'this kind of column reference',
      'Write the column as name or alias.name.',
      {
        position: env.at(location),
      },
    );
  }
  if (fields.includes(null)) {
    return wholeRow(env, location);
  }
  const names = fields as string[];
  try {
    return refNode(scope.resolve(names, location).id, location);
  } catch (error) {
    // `t` alone naming a FROM item is a whole-row reference.
    if (error instanceof UnknownColumnError && names.length === 1 && scope.hasItem(names[0] as string)) {
      return wholeRow(env, location);
    }
    const last = names.at(-1) as string;
    if (error instanceof UnknownColumnError && SYSTEM_COLUMNS.has(last)) {
      env.requireFullFor(
        `the system column ${last}`,
        location,
        'System columns are not captured with a change; a FULL refresh reads them as they are.',
      );
    }
    throw error;
  }
}

function wholeRow(env: BuildEnv, location: number | undefined): Node {
  throw new UnsupportedQueryError(
    'a whole-row reference (t or t.*) inside an expression',
    "Name the columns you need explicitly, e.g. row_to_json(ROW(t.a, t.b)) or json_build_object('a', t.a).",
    { position: env.at(location) },
  );
}

function funcCall(
  call: FuncCall,
  node: Node,
  scope: Scope,
  env: BuildEnv,
  hooks: ExprHooks,
  location: number | undefined,
): Node {
  const parts = nameList(call.funcname) ?? [];
  const qname = qualifiedFromList(parts);
  const name = functionName(call);
  const info = qname === undefined ? undefined : env.functionInfo(qname);
  const bare = parts.at(-1) ?? '';
  if (info === null) {
    throw new InvalidQueryError(`Function ${name}() does not exist. Check its name and schema`, {
      position: env.at(location),
    });
  }
  if (env.incremental && (TIME_FUNCTIONS.has(bare) || (bare === 'age' && (call.args?.length ?? 0) === 1))) {
    throw new UnsupportedQueryError(`time-dependent function ${name}()`, TIME_DEPENDENT_HINT, {
      position: env.at(location),
    });
  }
  if (info?.volatility === 'volatile') {
    if (env.incremental) {
      throw new UnsupportedQueryError(
        `volatile function ${name}()`,
        "Its result can differ on every call, so the stream table could never be kept equal to its query. Remove it, or use refreshMode 'FULL'.",
        { position: env.at(location) },
      );
    }
    env.warnings.push(`volatile function ${name}(): every FULL refresh evaluates it anew`);
  }
  if (call.over !== undefined) {
    if (hooks.window === undefined) {
      throw new InvalidQueryError(`Window functions are not allowed in ${hooks.clause}`, {
        position: env.at(location),
      });
    }
    return hooks.window(call, node);
  }
  if (info?.aggregate === true || call.agg_star === true || call.agg_within_group === true) {
    if (hooks.aggregate === undefined) {
      throw new InvalidQueryError(`Aggregate functions are not allowed in ${hooks.clause}`, {
        position: env.at(location),
      });
    }
    return hooks.aggregate(call, node);
  }
  if (info?.returnsSet === true && env.incremental) {
    throw new UnsupportedQueryError(
      `set-returning function ${name}() in ${hooks.clause}`,
      'Call it in FROM instead, e.g. FROM t CROSS JOIN LATERAL unnest(t.tags) AS tag.',
      { position: env.at(location) },
    );
  }
  return { FuncCall: transform(call, scope, env, hooks) as FuncCall };
}

/** The conjuncts of a predicate (`a AND b AND c` → [a, b, c]). */
export function conjuncts(node: Node | undefined): Node[] {
  if (node === undefined) return [];
  const b = asNode(node, 'BoolExpr');
  if (b?.boolop === 'AND_EXPR') return (b.args ?? []).flatMap((a) => conjuncts(a));
  return [node];
}

/** `a AND b` over resolved expressions. */
export function andExpr(a: Expr, b: Expr): Expr {
  return makeExpr(
    { BoolExpr: { boolop: 'AND_EXPR', args: [...conjunctAsts(a.ast), ...conjunctAsts(b.ast)] } },
    a.location,
  );
}

function conjunctAsts(ast: Node): Node[] {
  const b = asNode(ast, 'BoolExpr');
  return b?.boolop === 'AND_EXPR' ? (b.args ?? []) : [ast];
}

/** AND of a list of resolved expressions (null for none). */
export function andAll(list: readonly Expr[]): Expr | null {
  let acc: Expr | null = null;
  for (const e of list) acc = acc === null ? e : andExpr(acc, e);
  return acc;
}

/**
 * Whether `match` holds for some object in `value` (an AST, a node body, or a list of them),
 * searched depth-first through every property; objects for which `skip` holds are not searched.
 */
export function someInAst(
  value: unknown,
  match: (v: object) => boolean,
  skip: (v: object) => boolean = () => false,
): boolean {
  const visit = (v: unknown): boolean => {
    if (v === null || typeof v !== 'object') return false;
    if (Array.isArray(v)) return v.some(visit);
    if (skip(v)) return false;
    return match(v) || Object.values(v).some(visit);
  };
  return visit(value);
}

/**
 * Whether `value` (an AST or a list of them) calls an aggregate of this query level: a FuncCall
 * without OVER that is an aggregate; subqueries are not searched (their aggregates are theirs).
 */
export function containsAggregate(value: unknown, env: BuildEnv): boolean {
  const isAggregateCall = (v: object): boolean => {
    const call = (v as { FuncCall?: FuncCall }).FuncCall;
    if (call === undefined || call.over !== undefined) return false;
    const q = qualifiedFromList(nameList(call.funcname) ?? []);
    return (
      call.agg_star === true ||
      call.agg_within_group === true ||
      (q !== undefined && env.functionInfo(q)?.aggregate === true)
    );
  };
  return someInAst(value, isAggregateCall, (v) => 'SubLink' in v);
}
