/**
 * Window functions in the select list (and ORDER BY). Each call `f(args) [FILTER (WHERE …)] OVER
 * …` is resolved while the select list is: its arguments, FILTER, PARTITION BY, ORDER BY and
 * frame offsets with the hooks after grouping (windows run after GROUP BY / HAVING, so
 * `sum(sum(x)) OVER ()` and `rank() OVER (ORDER BY count(*))` read the aggregate's columns), its
 * window inlined from the WINDOW clause (`OVER w`, `OVER (w ORDER BY …)`, chains of named
 * windows, following PostgreSQL's copy rules), and replaced by a reference to a pre-allocated
 * result column. Identical calls share one column. `wrap` puts one window node over the input.
 */
import type { FuncCall, Node, SelectStmt, SortBy, WindowDef } from '@pgsql/types';
import { InvalidQueryError } from '../errors.js';
import { astKey, makeExpr, refNode } from '../ir/expr.js';
import type { Expr, IrNode } from '../ir/types.js';
import { makeWindow, type WindowCall } from '../operators/window.js';
import { asNode, locationOf } from '../parse/ast.js';
import type { QueryCtx } from './context.js';
import { type ExprHooks, functionName, resolveExpr } from './expr.js';
import type { Scope } from './scope.js';

/** Collects the window calls of one SELECT while its select list is resolved. */
export interface WindowCollector {
  /** The `window` hook: resolves a call's arguments and window, returns a reference to its result column. */
  readonly hook: (call: FuncCall, node: Node) => Node;
  /** Wraps the SELECT's input with the window computation (identity if no call was collected). */
  wrap(input: IrNode): IrNode;
}

/** A window definition with every reference to a named window resolved (still unresolved names). */
interface InlinedWindow {
  readonly partitionClause: readonly Node[];
  readonly orderClause: readonly Node[];
  readonly frameOptions: number | undefined;
  readonly startOffset: Node | undefined;
  readonly endOffset: Node | undefined;
}

/** A collected call with its resolved PARTITION BY expressions. */
interface Collected {
  readonly call: WindowCall;
  readonly key: string;
  readonly partition: readonly Expr[];
}

/** A collector for the window calls of `stmt`; `base` resolves their arguments (after grouping, if any). */
export function createWindowCollector(
  stmt: SelectStmt,
  scope: Scope,
  base: ExprHooks,
  q: QueryCtx,
): WindowCollector {
  const { env } = q;
  const named = new Map<string, WindowDef>();
  for (const n of stmt.windowClause ?? []) {
    const def = asNode(n, 'WindowDef');
    if (def?.name !== undefined) named.set(def.name, def);
  }
  const collected: Collected[] = [];

  /** The named window `name`, inlined (its own references resolved). */
  const namedWindow = (name: string, location: number | undefined, depth: number): InlinedWindow => {
    const def = named.get(name);
    if (def === undefined) {
      throw new InvalidQueryError(`Window "${name}" does not exist; define it in the WINDOW clause`, {
        position: env.at(location),
      });
    }
    return inline(def, depth + 1);
  };

  /** A window definition (an OVER clause or a WINDOW clause entry's body) with references inlined. */
  const inline = (def: WindowDef, depth: number): InlinedWindow => {
    if (depth > named.size + 1) {
      throw new InvalidQueryError('The WINDOW clause refers to itself in a cycle', {
        position: env.at(def.location),
      });
    }
    const own: InlinedWindow = {
      partitionClause: def.partitionClause ?? [],
      orderClause: def.orderClause ?? [],
      frameOptions: def.frameOptions,
      startOffset: def.startOffset,
      endOffset: def.endOffset,
    };
    if (def.refname === undefined) return own;
    // `(w …)`: PARTITION BY copied from w, ORDER BY from w unless given here, frame always own.
    const ref = namedWindow(def.refname, def.location, depth);
    return {
      ...own,
      partitionClause: ref.partitionClause,
      orderClause: own.orderClause.length > 0 ? own.orderClause : ref.orderClause,
    };
  };

  /** The window of an OVER clause: `OVER w` is exactly w; `OVER (…)` is inlined. */
  const overWindow = (over: WindowDef): InlinedWindow =>
    over.name !== undefined && over.refname === undefined
      ? namedWindow(over.name, over.location, 0)
      : inline(over, 0);

  const argHooks: ExprHooks = { ...base, clause: 'a window function call' };
  const resolve = (n: Node): Node => resolveExpr(n, scope, env, argHooks).ast;
  const resolveSort = (n: Node): Node => {
    const sort = asNode(n, 'SortBy') as SortBy;
    return { SortBy: { ...sort, node: resolve(sort.node as Node) } };
  };

  return {
    hook(call: FuncCall, node: Node): Node {
      const location = locationOf(node);
      const over = overWindow(call.over as WindowDef);
      if ((call.agg_order?.length ?? 0) > 0 || call.agg_distinct === true) {
        throw new InvalidQueryError(
          `${functionName(call)}(): DISTINCT and ORDER BY inside the arguments are not allowed for window functions`,
          { position: env.at(location) },
        );
      }
      const partition = over.partitionClause.map(resolve);
      const window: WindowDef = {
        ...(partition.length > 0 ? { partitionClause: partition } : {}),
        ...(over.orderClause.length > 0 ? { orderClause: over.orderClause.map(resolveSort) } : {}),
        ...(over.frameOptions === undefined ? {} : { frameOptions: over.frameOptions }),
        ...(over.startOffset === undefined ? {} : { startOffset: resolve(over.startOffset) }),
        ...(over.endOffset === undefined ? {} : { endOffset: resolve(over.endOffset) }),
      };
      const resolved: FuncCall = {
        ...call,
        ...(call.args === undefined ? {} : { args: call.args.map(resolve) }),
        ...(call.agg_filter === undefined ? {} : { agg_filter: resolve(call.agg_filter) }),
        over: window,
      };
      const expr = makeExpr({ FuncCall: resolved }, location);
      const key = astKey(expr.ast);
      const known = collected.find((c) => c.key === key);
      if (known !== undefined) return refNode(known.call.column.id, location);
      const name = `__pgt_win_${collected.length + 1}`;
      collected.push({
        call: { column: { id: env.ids.column(name), name }, call: expr },
        key,
        partition: partition.map((p) => makeExpr(p)),
      });
      return refNode(collected.at(-1)?.call.column.id as string, location);
    },
    wrap(input: IrNode): IrNode {
      if (collected.length === 0) return input;
      return makeWindow(
        env.ids,
        input,
        collected.map((c) => c.call),
        commonPartition(collected),
      );
    },
  };
}

/**
 * The PARTITION BY expressions every call shares (structurally equal), in the first call's order;
 * empty when some call has none in common with the others (the whole input is then one partition).
 */
function commonPartition(calls: readonly Collected[]): Expr[] {
  const [first, ...rest] = calls;
  if (first === undefined) return [];
  const seen = new Set<string>();
  const common: Expr[] = [];
  for (const p of first.partition) {
    const key = astKey(p.ast);
    if (seen.has(key)) continue;
    seen.add(key);
    if (rest.every((c) => c.partition.some((x) => astKey(x.ast) === key))) common.push(p);
  }
  return common;
}
