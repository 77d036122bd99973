/**
 * Subqueries in WHERE. A conjunct that is a subquery test under any number of NOTs becomes a
 * semi- or anti-join of the input with the subquery's (uncorrelated) right input, matching on
 * the subquery's correlated conjuncts plus the comparison (see `subquery.ts` for the split):
 *
 * | conjunct                 | node  | a right row r matches when                         |
 * |--------------------------|-------|----------------------------------------------------|
 * | EXISTS (…)               | semi  | corr(r)                                            |
 * | NOT EXISTS (…)           | anti  | corr(r)                                            |
 * | x op ANY (…), x IN (…)   | semi  | corr(r) ∧ (x op y) IS TRUE                         |
 * | NOT (x op ANY (…)), NOT IN | anti | corr(r) ∧ (x op y) IS NOT FALSE                   |
 * | x op ALL (…)             | anti  | corr(r) ∧ (x op y) IS NOT TRUE                     |
 * | NOT (x op ALL (…))       | semi  | corr(r) ∧ (x op y) IS FALSE                        |
 *
 * These are SQL's rules exactly: `x op ANY S` is TRUE iff some comparison is TRUE and FALSE iff
 * all are FALSE (S empty included), NULL otherwise; WHERE keeps a row only when TRUE. So
 * `x NOT IN S` keeps x iff S is empty, or x is not NULL and no y is NULL or equal to x. "Not
 * FALSE" is split into index-friendly alternatives for a standard comparison (`x = y`, y is
 * NULL, x is NULL). A subquery that aggregates without GROUP BY yields exactly one row: EXISTS is
 * TRUE, and `x op ANY/ALL (SELECT agg …)` is just `x op (SELECT agg …)`, a value column.
 * Any other conjunct with subqueries (inside OR, CASE, comparisons with scalar subqueries)
 * resolves its subqueries to value columns (`scalar-subquery.ts`) and becomes a filter.
 */
import type { Node, SubLink } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import { makeExpr, refNode } from '../ir/expr.js';
import type { Expr, IrNode } from '../ir/types.js';
import { makeFilter } from '../operators/filter.js';
import { makeScalarSubquery } from '../operators/scalar-subquery.js';
import { makeSemiJoin } from '../operators/semi-join.js';
import type { Alternative, Atom } from '../operators/shared/existence.js';
import { asNode, locationOf, nameList, walkAst } from '../parse/ast.js';
import type { QueryCtx } from './context.js';
import type { BuildEnv } from './env.js';
import { type ExprHooks, resolveExpr } from './expr.js';
import { createSubqueryValueCollector } from './scalar-subquery.js';
import type { Scope } from './scope.js';
import { buildSubquery, columnCountError } from './subquery.js';

/** Whether `node` contains a subquery (not counting nested ones' contents). */
export function containsSublink(node: Node): boolean {
  let found = false;
  walkAst(node, (n) => {
    if ('SubLink' in n) found = true;
    return !found;
  });
  return found;
}

/**
 * Builds a WHERE conjunct that contains a subquery over `input` (whose names are `scope`),
 * returning the new input (a semi/anti join with the input's columns, or a filter over value
 * columns).
 */
export function buildWhereSublink(conjunct: Node, input: IrNode, scope: Scope, q: QueryCtx): IrNode {
  let negated = false;
  let core = conjunct;
  for (;;) {
    const b = asNode(core, 'BoolExpr');
    if (b?.boolop !== 'NOT_EXPR' || b.args?.length !== 1) break;
    negated = !negated;
    core = b.args[0] as Node;
  }
  const link = asNode(core, 'SubLink');
  const type = link?.subLinkType;
  if (link !== undefined && type === 'EXISTS_SUBLINK') return existsJoin(link, negated, input, scope, q);
  if (link !== undefined && (type === 'ANY_SUBLINK' || type === 'ALL_SUBLINK')) {
    return quantifiedJoin(link, negated, input, scope, q);
  }
  const values = createSubqueryValueCollector(scope, q, 'WHERE');
  const expr = resolveExpr(conjunct, scope, q.env, { clause: 'WHERE', sublink: values.hook });
  return makeFilter(q.env.ids, values.wrap(input), expr);
}

function trueAtoms(exprs: readonly Expr[]): Atom[] {
  return exprs.map((expr) => ({ expr, test: 'true' }));
}

const FALSE_EXPR: Expr = makeExpr({ A_Const: { boolval: {} } });
const TRUE_EXPR: Expr = makeExpr({ A_Const: { boolval: { boolval: true } } });

/** `<column id> IS TRUE` (negated: `IS NOT TRUE`). */
export function isTrue(id: string, negated = false): Node {
  return { BooleanTest: { arg: refNode(id), booltesttype: negated ? 'IS_NOT_TRUE' : 'IS_TRUE' } };
}

function existsJoin(link: SubLink, negated: boolean, input: IrNode, scope: Scope, q: QueryCtx): IrNode {
  const sub = buildSubquery(
    link,
    scope,
    q,
    'exists',
    negated ? 'NOT EXISTS (subquery)' : 'EXISTS (subquery)',
  );
  if (sub.kind === 'decorrelated' && sub.aggregate) {
    // An aggregate without GROUP BY yields one row: EXISTS is TRUE — unless HAVING h removes
    // it: then EXISTS = (SELECT true … HAVING h) IS TRUE, a value column.
    if (sub.having === null) return negated ? makeFilter(q.env.ids, input, FALSE_EXPR) : input;
    const column = { id: q.env.ids.column('subquery'), name: '__pgt_subquery' };
    const left = makeScalarSubquery(
      q.env.ids,
      input,
      sub.right,
      column,
      { kind: 'scalar', target: TRUE_EXPR, having: sub.having },
      trueAtoms(sub.correlated),
    );
    return makeFilter(q.env.ids, left, makeExpr(isTrue(column.id, negated)));
  }
  const corr = sub.kind === 'decorrelated' ? trueAtoms(sub.correlated) : [];
  return makeSemiJoin(q.env.ids, input, sub.right, negated, [corr]);
}

/** The name of a quantified subquery test, for messages. */
export function quantifiedName(link: SubLink): string {
  const op = nameList(link.operName);
  if (link.subLinkType === 'ALL_SUBLINK') return `${(op ?? ['op']).join('.')} ALL (subquery)`;
  return op === undefined ? 'IN (subquery)' : `${op.join('.')} ANY (subquery)`;
}

/** The left-hand expressions of `x op ANY (…)` / `(a, b) IN (…)`, resolved in `scope`. */
export function testExpressions(link: SubLink, scope: Scope, env: BuildEnv, hooks: ExprHooks): Expr[] {
  const test = link.testexpr as Node;
  const row = asNode(test, 'RowExpr');
  const items = row?.args ?? [test];
  return items.map((n) => resolveExpr(n, scope, env, hooks));
}

function quantifiedJoin(link: SubLink, negated: boolean, input: IrNode, scope: Scope, q: QueryCtx): IrNode {
  const { env } = q;
  const name = quantifiedName(link);
  const values = createSubqueryValueCollector(scope, q, 'WHERE');
  const xs = testExpressions(link, scope, env, { clause: 'WHERE', sublink: values.hook });
  let left = values.wrap(input);
  const sub = buildSubquery(link, scope, q, 'in', negated ? `NOT ${name}` : name);
  if (sub.targets.length !== xs.length) columnCountError(xs.length, sub.targets.length, link.location, q);
  const op = nameList(link.operName) ?? ['='];
  const any = link.subLinkType === 'ANY_SUBLINK';
  if (sub.kind === 'decorrelated' && sub.aggregate) {
    // Exactly one row y: x op ANY {y} = x op ALL {y} = x op y.
    const target = sub.targets[0] as Expr;
    if (xs.length !== 1) {
      throw new UnsupportedQueryError(
        `a row comparison with an aggregate subquery (${name})`,
        "Compare one column, or use refreshMode 'FULL'.",
        {
          position: env.at(link.location),
        },
      );
    }
    const column = { id: env.ids.column('subquery'), name: '__pgt_subquery' };
    left = makeScalarSubquery(
      env.ids,
      left,
      sub.right,
      column,
      { kind: 'scalar', target, having: sub.having },
      trueAtoms(sub.correlated),
    );
    const cmp = comparison(op, xs, [makeExpr(refNode(column.id))]).expr;
    return makeFilter(env.ids, left, negated ? notExpr(cmp) : cmp);
  }
  const corr = sub.kind === 'decorrelated' ? trueAtoms(sub.correlated) : [];
  const cmp = comparison(op, xs, sub.targets);
  if (any !== negated) {
    // Semi-join: some comparison TRUE (ANY) / FALSE (NOT ALL).
    return makeSemiJoin(env.ids, left, sub.right, false, [
      [...corr, { expr: cmp.expr, test: any ? 'true' : 'false' }],
    ]);
  }
  // Anti-join: no comparison that is not FALSE (NOT ANY) / not TRUE (ALL).
  const alts = any ? cmp.notFalse : cmp.notTrue;
  return makeSemiJoin(
    env.ids,
    left,
    sub.right,
    true,
    alts.map((a) => [...corr, ...a]),
  );
}

/** `NOT e`. */
export function notExpr(e: Expr): Expr {
  return makeExpr({ BoolExpr: { boolop: 'NOT_EXPR', args: [e.ast] } }, e.location);
}

/** A comparison `xs op ys` with its "not FALSE" and "not TRUE" tests as alternatives. */
export interface Comparison {
  readonly expr: Expr;
  /** Alternatives whose OR is "the comparison is not FALSE". */
  readonly notFalse: readonly Alternative[];
  /** Alternatives whose OR is "the comparison is not TRUE". */
  readonly notTrue: readonly Alternative[];
}

const STANDARD_OPS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);

function opNode(op: readonly string[], l: Node, r: Node): Node {
  return {
    A_Expr: { kind: 'AEXPR_OP', name: op.map((s) => ({ String: { sval: s } })), lexpr: l, rexpr: r },
  };
}

/**
 * The comparison of the test expressions `xs` with the subquery's columns `ys` by operator `op`,
 * as PostgreSQL compares them (one pair, or a row comparison). Its NULL tests use "is the SQL
 * NULL value" (`num_nulls`) for standard operators, which are NULL exactly when an operand is.
 */
export function comparison(op: readonly string[], xs: readonly Expr[], ys: readonly Expr[]): Comparison {
  const last = op.at(-1) ?? '=';
  const standard = STANDARD_OPS.has(last) && (op.length === 1 || (op.length === 2 && op[0] === 'pg_catalog'));
  const generic = (expr: Expr): Comparison => ({
    expr,
    notFalse: [[{ expr, test: 'notFalse' }]],
    notTrue: [[{ expr, test: 'notTrue' }]],
  });
  if (xs.length === 1) {
    const x = xs[0] as Expr;
    const y = ys[0] as Expr;
    const expr = makeExpr(opNode(op, x.ast, y.ast), x.location);
    if (!standard) return generic(expr);
    const nulls: Alternative[] = [[{ expr: y, test: 'nulls' }], [{ expr: x, test: 'nulls' }]];
    return {
      expr,
      notFalse: [[{ expr, test: 'true' }], ...nulls],
      notTrue: [[{ expr, test: 'false' }], ...nulls],
    };
  }
  if (standard && last === '=') {
    // Row equality = AND of the pairs (three-valued, as PostgreSQL expands it).
    const pairs = xs.map((x, i) => makeExpr(opNode(op, x.ast, (ys[i] as Expr).ast), x.location));
    const expr = makeExpr({ BoolExpr: { boolop: 'AND_EXPR', args: pairs.map((p) => p.ast) } });
    const options = pairs.map((p, i): Alternative[] => [
      [{ expr: p, test: 'true' }],
      [{ expr: ys[i] as Expr, test: 'nulls' }],
      [{ expr: xs[i] as Expr, test: 'nulls' }],
    ]);
    // not TRUE: some pair not TRUE; not FALSE: every pair not FALSE (a product, kept small).
    const notTrue = pairs.flatMap((p, i): Alternative[] => [
      [{ expr: p, test: 'false' }],
      ...(options[i] as Alternative[]).slice(1),
    ]);
    let notFalse: Alternative[] = [[]];
    if (pairs.length <= 2) {
      for (const opt of options) notFalse = notFalse.flatMap((acc) => opt.map((o) => [...acc, ...o]));
    } else {
      notFalse = [[{ expr, test: 'notFalse' }]];
    }
    return { expr, notFalse, notTrue };
  }
  const row = (list: readonly Expr[]): Node => ({
    RowExpr: { args: list.map((e) => e.ast), row_format: 'COERCE_IMPLICIT_CAST' },
  });
  return generic(makeExpr(opNode(op, row(xs), row(ys)), xs[0]?.location));
}

/** Refuses a subquery form nobody maintains (ARRAY(…), row comparisons with a subquery). */
export function refuseSublink(link: SubLink, q: QueryCtx, clause: string): never {
  const type = link.subLinkType ?? 'subquery';
  const name =
    type === 'ARRAY_SUBLINK'
      ? 'ARRAY(subquery)'
      : type === 'ROWCOMPARE_SUBLINK'
        ? 'a row comparison with a subquery'
        : `a ${type.replace('_SUBLINK', '').toLowerCase()} subquery`;
  throw new UnsupportedQueryError(`${name} in ${clause}`, "Use refreshMode 'FULL' for this query.", {
    position: q.env.at(link.location ?? locationOf({ SubLink: link })),
  });
}
