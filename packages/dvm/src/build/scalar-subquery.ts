/**
 * Subqueries as values: scalar subqueries `(SELECT …)` in the select list (and in WHERE / inside
 * expressions), EXISTS and `x op ANY / ALL (SELECT …)` inside expressions (under OR, in CASE, as
 * a select-list column). Each becomes a value column computed per input row by a
 * `scalarSubquery` node (see operators/scalar-subquery.ts) over the subquery's uncorrelated
 * right input, matching on its correlated conjuncts (see `subquery.ts`).
 *
 * A scalar subquery must provably yield at most one row — PostgreSQL raises "more than one row
 * returned by a subquery used as an expression" otherwise, and the stream table must never
 * silently differ from that: accepted are aggregates without GROUP BY (exactly one row; COUNT
 * over no rows is 0, the others NULL, as the aggregate itself computes), a subquery without
 * FROM, and a subquery over one table whose whole primary key is equated to outer values or
 * constants (`(SELECT name FROM customers WHERE id = o.cid)`), and `ORDER BY … LIMIT 1` over one
 * table whose primary key is among the ORDER BY keys (a total order: the same row whatever the
 * plan). Anything else is refused.
 */
import type { Node, SubLink } from '@pgsql/types';
import { InvalidQueryError, UnsupportedQueryError } from '../errors.js';
import { makeExpr, refNode } from '../ir/expr.js';
import type { Expr, IrColumn, IrNode } from '../ir/types.js';
import { makeScalarSubquery, type SubqueryValue, subqueryRefs } from '../operators/scalar-subquery.js';
import type { Alternative, Atom } from '../operators/shared/existence.js';
import { locationOf, nameList } from '../parse/ast.js';
import type { QueryCtx } from './context.js';
import type { ExprHooks } from './expr.js';
import type { Scope } from './scope.js';
import { comparison, isTrue, quantifiedName, refuseSublink, testExpressions } from './sublink.js';
import { atMostOneRow, buildSubquery, columnCountError } from './subquery.js';

/** Collects the scalar subqueries of one select list while it is resolved. */
export interface ScalarSubqueryCollector {
  /** The `sublink` hook: returns a reference to a column carrying the subquery's value. */
  readonly hook: (link: SubLink, node: Node) => Node;
  /** Wraps the input so that the collected subqueries' columns exist (identity if none). */
  wrap(input: IrNode): IrNode;
}

/**
 * A collector for scalar subqueries of a select list whose names are `scope`; `outer` are the
 * select list's own hooks (GROUP BY key replacement), applied to the subqueries' references to it.
 */
export function createScalarSubqueryCollector(
  scope: Scope,
  q: QueryCtx,
  outer?: ExprHooks,
): ScalarSubqueryCollector {
  return createSubqueryValueCollector(scope, q, 'the select list', outer);
}

interface PendingValue {
  readonly right: IrNode;
  readonly column: IrColumn;
  readonly value: SubqueryValue;
  readonly correlation: Alternative;
  readonly location: number | undefined;
}

const TRUE_AST: Node = { A_Const: { boolval: { boolval: true } } };

/**
 * A collector of subqueries used as values in expressions of clause `clause` (names `scope`):
 * its hook replaces each by a reference to a new column, `wrap` adds the nodes computing them.
 */
export function createSubqueryValueCollector(
  scope: Scope,
  q: QueryCtx,
  clause: string,
  outer?: ExprHooks,
): ScalarSubqueryCollector {
  const { env } = q;
  const pending: PendingValue[] = [];
  /** Registers a value column computed by `value` over `right`; returns its reference. */
  const add = (
    right: IrNode,
    value: SubqueryValue,
    correlation: readonly Expr[],
    location: number | undefined,
  ): string => {
    const column = { id: env.ids.column('subquery'), name: '__pgt_subquery' };
    const atoms: Atom[] = correlation.map((expr) => ({ expr, test: 'true' }));
    pending.push({ right, column, value, correlation: atoms, location });
    return column.id;
  };
  const hook = (link: SubLink, node: Node): Node => {
    const location = locationOf(node);
    switch (link.subLinkType) {
      case 'EXPR_SUBLINK': {
        const sub = buildSubquery(link, scope, q, 'scalar', 'a scalar subquery', outer);
        if (sub.kind !== 'decorrelated') throw new InvalidQueryError('unexpected scalar subquery shape');
        if (sub.targets.length !== 1) columnCountError(1, sub.targets.length, location, q);
        if (!atMostOneRow(sub)) {
          throw new UnsupportedQueryError(
            `a scalar subquery that may return more than one row in ${clause}`,
            'PostgreSQL raises an error when it does. Make it an aggregate without GROUP BY (e.g. (SELECT max(x) FROM …)), or ' +
              'equate the whole primary key of its single table (WHERE t.id = o.t_id), or with ORDER BY … LIMIT 1 include that primary key in ' +
              "ORDER BY (a total order), or use refreshMode 'FULL'.",
            { position: env.at(location) },
          );
        }
        const value: SubqueryValue = {
          kind: 'scalar',
          target: sub.targets[0] as Expr,
          having: sub.having,
          order: sub.order,
          limit: sub.limit,
          offset: sub.offset,
        };
        return refNode(add(sub.right, value, sub.correlated, location), location);
      }
      case 'EXISTS_SUBLINK': {
        const sub = buildSubquery(link, scope, q, 'exists', 'EXISTS (subquery)', outer);
        if (sub.kind === 'decorrelated' && sub.aggregate) {
          // One row — unless HAVING h removes it: EXISTS = (SELECT true … HAVING h) IS TRUE.
          if (sub.having === null) return TRUE_AST;
          const value: SubqueryValue = { kind: 'scalar', target: makeExpr(TRUE_AST), having: sub.having };
          return isTrue(add(sub.right, value, sub.correlated, location));
        }
        const correlation = sub.kind === 'decorrelated' ? sub.correlated : [];
        return refNode(add(sub.right, { kind: 'exists' }, correlation, location), location);
      }
      case 'ANY_SUBLINK':
      case 'ALL_SUBLINK': {
        const name = quantifiedName(link);
        const xs = testExpressions(link, scope, env, { ...outer, clause, sublink: hook });
        const sub = buildSubquery(link, scope, q, 'in', name, outer);
        if (sub.targets.length !== xs.length) columnCountError(xs.length, sub.targets.length, location, q);
        const op = nameList(link.operName) ?? ['='];
        const correlation = sub.kind === 'decorrelated' ? sub.correlated : [];
        if (sub.kind === 'decorrelated' && sub.aggregate) {
          if (xs.length !== 1) {
            throw new UnsupportedQueryError(
              `a row comparison with an aggregate subquery (${name})`,
              "Compare one column, or use refreshMode 'FULL'.",
              { position: env.at(location) },
            );
          }
          // Exactly one row y: x op ANY / ALL {y} = x op y.
          const value: SubqueryValue = { kind: 'scalar', target: sub.targets[0] as Expr, having: sub.having };
          const id = add(sub.right, value, correlation, location);
          return comparison(op, xs, [makeExpr(refNode(id, location))]).expr.ast;
        }
        const cmp = comparison(op, xs, sub.targets);
        const value: SubqueryValue =
          link.subLinkType === 'ANY_SUBLINK'
            ? {
                kind: 'quantified',
                decisive: [{ expr: cmp.expr, test: 'true' }],
                decisiveValue: true,
                undecided: cmp.notFalse,
              }
            : {
                kind: 'quantified',
                decisive: [{ expr: cmp.expr, test: 'false' }],
                decisiveValue: false,
                undecided: cmp.notTrue,
              };
        return refNode(add(sub.right, value, correlation, location), location);
      }
      default:
        return refuseSublink(link, q, clause);
    }
  };
  return {
    hook,
    wrap(input: IrNode): IrNode {
      if (pending.length === 0) return input;
      const levelIds = new Set([
        ...scope.from.items.flatMap((i) => i.columns.map((c) => c.id)),
        ...scope.from.merged.map((c) => c.id),
      ]);
      let node = input;
      for (const p of pending) {
        const available = new Set(node.columns.map((c) => c.id));
        const rightIds = new Set(p.right.columns.map((c) => c.id));
        const refs = subqueryRefs(p.correlation, p.value);
        for (const r of refs) {
          if (!rightIds.has(r) && levelIds.has(r) && !available.has(r)) {
            throw new UnsupportedQueryError(
              `a subquery in ${clause} that reads a column of the enclosing query that is not available there (e.g. not grouped)`,
              "Read only grouped columns, or use refreshMode 'FULL'.",
              { position: env.at(p.location) },
            );
          }
        }
        node = makeScalarSubquery(env.ids, node, p.right, p.column, p.value, p.correlation);
      }
      pending.length = 0;
      return node;
    },
  };
}
