/**
 * Per-row subquery values ("apply"): the left input's rows, each with one more column computed
 * from the rows of the right input (the subquery's FROM and local WHERE, uncorrelated) that
 * satisfy the correlation c(l, r) (the subquery's conjuncts that read the enclosing row):
 * - `scalar`: `(SELECT <target> FROM R r WHERE c [HAVING h])` — a scalar subquery; the builder
 *   only accepts shapes that yield at most one row (an aggregate without GROUP BY: exactly one;
 *   or a primary key of the subquery's single table equated to outer values or constants), so
 *   the value never raises "more than one row returned by a subquery";
 * - `exists`: `EXISTS (SELECT 1 FROM R r WHERE c)` (EXISTS inside an expression);
 * - `quantified`: x op ANY / ALL (SELECT y …) inside an expression, three-valued:
 *   `CASE WHEN some r has c ∧ decisive THEN <decisive value> WHEN some r has c ∧ undecided
 *   THEN NULL ELSE NOT <decisive value> END` (ANY: decisive = `x op y` TRUE → TRUE, undecided
 *   = `x op y` not FALSE; ALL: decisive = `x op y` FALSE → FALSE, undecided = not TRUE).
 *
 * The value of left row l depends only on S(l) = the rows r of R with c(l, r) TRUE (for
 * `quantified`: the rows with c ∧ undecided). Delta rule, v₀ / v₁ = the value over R₀ / R₁:
 *   Σ L₁(l)·[l, v₁(l)] − L₀(l)·[l, v₀(l)] = ΔL·[l, v₀] + L₁·([l, v₁] − [l, v₀])
 * - Part A: every ΔL row (its weight) with its value over R₀;
 * - Part B: the rows of L₁ matching some changed row of |ΔR| by the correlation (found from ΔR)
 *   — the only rows whose value can change; −1 with v₀ and +1 with v₁ where they differ (by text).
 * A value that reads no left column (an uncorrelated subquery) is computed once per side (a
 * one-row CTE); when v₀ and v₁ differ, every row of L₁ changes: part B is then O(|L|), inherent.
 * Snapshots: L₁ (new) in part B; R₀ for part A and v₀, R₁ for v₁ — per row, over the correlated
 * rows only (R₀ of a non-scan input as R₁|c − Δ⁺ + Δ⁻, see `existence.ts`); a constant value reads
 * R₁ once, and R₀ once only when R changed (R₀ of a non-scan input as R₁ − ΔR⁺ + ΔR⁻ over R₁
 * computed once into a CTE);
 * snapshot(side) = L_side with the value computed over R_side (a constant value's new side read
 * from the values CTE when the statement computed the node's delta).
 * Row id: the left row's, passed through; unique iff the left input's ids are.
 */

import type { DiffContext } from '../diff/context.js';
import { twoChildren } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrColumn, IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { quoteIdent } from '../sql/quote.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';
import {
  type Alternative,
  affectedRowsSql,
  alternativeRefs,
  alternativeSql,
  columnList,
  oldProbe,
  type ProbeRelation,
  perRowValuesCte,
  probeAliases,
  probeRelation,
  scanLike,
  sideAliases,
  someMatchSql,
} from './shared/existence.js';
import { netDelta, oldFromNew } from './shared/old-from-new.js';

/** How the value column is computed from the correlated rows of the right input. */
export type SubqueryValue =
  | {
      readonly kind: 'scalar';
      /** The subquery's select-list expression (may call aggregates; reads right and left ids). */
      readonly target: Expr;
      /** Its HAVING condition (aggregate subqueries only), or null. */
      readonly having: Expr | null;
      /** ORDER BY with a constant LIMIT / OFFSET (the builder only accepts a total order). */
      readonly order?: readonly ValueOrder[];
      readonly limit?: number | null;
      readonly offset?: number | null;
    }
  | { readonly kind: 'exists' }
  | {
      readonly kind: 'quantified';
      /** A row satisfying this decides the value: {@link decisiveValue}. */
      readonly decisive: Alternative;
      readonly decisiveValue: boolean;
      /** Rows satisfying one of these (and not the decisive test) make the value NULL. */
      readonly undecided: readonly Alternative[];
    };

/** One ORDER BY key of a scalar subquery with LIMIT / OFFSET. */
export interface ValueOrder {
  readonly expr: Expr;
  readonly descending: boolean;
  readonly nullsFirst: boolean;
}

/** The left input's rows, each with a value computed by a (correlated) subquery over the right input. */
export interface ScalarSubqueryNode extends IrNodeBase {
  readonly kind: 'scalarSubquery';
  /** The value column (the last output column). */
  readonly column: IrColumn;
  readonly value: SubqueryValue;
  /** The correlation: the subquery's conjuncts that read the enclosing row (AND). */
  readonly correlation: Alternative;
  /** Whether the value reads no column outside the right input (one value per snapshot). */
  readonly constant: boolean;
  /** WHERE conjuncts over the left input may be pushed into it. */
  readonly preservedInputs: readonly number[];
}

/** Builds the node: `left`'s columns plus `column`, computed by `value` over `right`. */
export function makeScalarSubquery(
  ids: IdAllocator,
  left: IrNode,
  right: IrNode,
  column: IrColumn,
  value: SubqueryValue,
  correlation: Alternative,
): ScalarSubqueryNode {
  const rightIds = new Set(right.columns.map((c) => c.id));
  const refs = subqueryRefs(correlation, value);
  return {
    kind: 'scalarSubquery',
    nid: ids.node(),
    columns: [...left.columns, column],
    uniqueIds: left.uniqueIds,
    children: [left, right],
    column,
    value,
    correlation,
    constant: [...refs].every((r) => rightIds.has(r)),
    preservedInputs: [0],
  };
}

/** Every column id the correlation and the value read (right input ids, left ids, outer ids). */
export function subqueryRefs(correlation: Alternative, value: SubqueryValue): Set<string> {
  return new Set([...alternativeRefs([correlation]), ...valueRefs(value)]);
}

function valueRefs(value: SubqueryValue): string[] {
  switch (value.kind) {
    case 'scalar':
      return [
        ...value.target.refs,
        ...(value.having?.refs ?? []),
        ...(value.order ?? []).flatMap((o) => o.expr.refs),
      ];
    case 'exists':
      return [];
    case 'quantified':
      return [...alternativeRefs([value.decisive, ...value.undecided])];
  }
}

/**
 * The value for the left row under alias `la` over relation `rel` (a parenthesised SELECT);
 * `perRow` on delta paths (see `someMatchSql`).
 */
function valueSql(
  ctx: DiffContext,
  node: ScalarSubqueryNode,
  rel: ProbeRelation,
  la: string,
  perRow = false,
): string {
  const { ra, aliasOf } = probeAliases(node, la);
  const corr = node.correlation;
  const v = node.value;
  switch (v.kind) {
    case 'scalar': {
      const having = v.having === null ? '' : `\n HAVING ${ctx.render(v.having, aliasOf)}`;
      const order =
        (v.order?.length ?? 0) === 0
          ? ''
          : ` ORDER BY ${(v.order ?? [])
              .map(
                (o) =>
                  `${ctx.render(o.expr, aliasOf)} ${o.descending ? 'DESC' : 'ASC'} NULLS ${o.nullsFirst ? 'FIRST' : 'LAST'}`,
              )
              .join(', ')}`;
      const limit = v.limit === undefined || v.limit === null ? '' : ` LIMIT ${v.limit}`;
      const offset = v.offset === undefined || v.offset === null ? '' : ` OFFSET ${v.offset}`;
      return sql`(SELECT ${ctx.render(v.target, aliasOf)} FROM ${probeRelation(ctx, rel, ra, corr, aliasOf)} AS ${ra} WHERE
  ${alternativeSql(ctx, corr, aliasOf)}${having}${order}${limit}${offset})`;
    }
    case 'exists':
      return someMatchSql(ctx, rel, ra, [corr], aliasOf, perRow);
    case 'quantified': {
      const decisive = someMatchSql(ctx, rel, ra, [[...corr, ...v.decisive]], aliasOf, perRow);
      const undecided = someMatchSql(
        ctx,
        rel,
        ra,
        v.undecided.map((u) => [...corr, ...u]),
        aliasOf,
        perRow,
      );
      return sql`(CASE WHEN ${decisive} THEN ${sql.lit(v.decisiveValue)} WHEN ${undecided} THEN NULL::boolean ELSE ${sql.lit(!v.decisiveValue)} END)`;
    }
  }
}

/** The alternatives by which a changed right row can change a left row's value. */
function dependence(node: ScalarSubqueryNode): Alternative[] {
  const v = node.value;
  if (v.kind === 'quantified') return v.undecided.map((u) => [...node.correlation, ...u]);
  return [node.correlation];
}

/** Whether two values of one type differ in representation (binary images, diff/rowid.ts). */
function distinct(a: string, b: string): string {
  return sql`pg_catalog.record_send(ROW(${a})) IS DISTINCT FROM pg_catalog.record_send(ROW(${b}))`;
}

/** Per statement: the CTE of each constant value's v₀ / v₁ (`__pgt_v1` is the value over R₁). */
const constantValues = new WeakMap<DiffContext, Map<number, string>>();

/**
 * R₁ and R₀ of a constant value's right input. A scan (or filters and projections over one) is
 * read as its snapshots; any other input (an aggregate, a join) is computed once into a CTE for
 * R₁, and R₀ = R₁ − ΔR⁺ + ΔR⁻ (`old-from-new.ts`) reads that CTE and R's netted delta instead
 * of recomputing the whole input over the old snapshots of its sources.
 */
function constantSides(
  ctx: DiffContext,
  node: ScalarSubqueryNode,
  right: IrNode,
  rightEmpty: boolean,
): { r0: string; r1: string } {
  if (rightEmpty || scanLike(right)) {
    return { r0: `(${ctx.snapshot(right, 'old')})`, r1: `(${ctx.snapshot(right, 'new')})` };
  }
  const r1 = ctx.stmt.add(`n${node.nid}_right_new`, ctx.snapshot(right, 'new'), true);
  const net = netDelta(ctx, node, right, ctx.delta(right));
  return { r0: `(${oldFromNew(right, r1, net)})`, r1 };
}

/** The rules of `scalarSubquery` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const scalarSubqueryRules: OperatorRules<ScalarSubqueryNode> = {
  snapshot(node, side, ctx) {
    const [left, right] = twoChildren(node);
    const la = `l${node.nid}`;
    // A constant value whose delta this statement already computed is read from that CTE (it was
    // computed over R₁ by the same statement, so it is the same value).
    const known = side === 'new' ? constantValues.get(ctx)?.get(node.nid) : undefined;
    const value =
      known === undefined
        ? valueSql(ctx, node, `(${ctx.snapshot(right, side)})`, la)
        : sql`(SELECT v.__pgt_v1 FROM ${known} AS v)`;
    return sql`SELECT ${la}.${ROW_ID_COLUMN}${columnList(left, la)}, ${value} AS
  ${sql.id(node.column.id)}
FROM (${ctx.snapshot(left, side)}) AS ${la}`;
  },
  delta(node, ctx) {
    const [left, right] = twoChildren(node);
    const col = quoteIdent(node.column.id);
    const leftEmpty = ctx.isStaticallyEmpty(left);
    const rightEmpty = ctx.isStaticallyEmpty(right);
    const parts: string[] = [];
    const la = `l${node.nid}`;
    if (node.constant) {
      // One value per side, computed once (the value reads no left column, so this CTE is not
      // correlated): v₁ over R₁ (the live tables); v₀ over R₀ only when R changed, else v₁.
      const { r0, r1 } = constantSides(ctx, node, right, rightEmpty);
      const v0 = rightEmpty
        ? 'x.__pgt_v1'
        : sql`CASE WHEN EXISTS (SELECT 1 FROM ${ctx.delta(right)}) THEN ${valueSql(ctx, node, r0, la)} ELSE x.__pgt_v1 END`;
      const vals = ctx.stmt.add(
        `n${node.nid}_subquery_values`,
        sql`SELECT x.__pgt_v1, ${v0} AS __pgt_v0\nFROM (SELECT ${valueSql(ctx, node, rightEmpty ? r0 : r1, la)} AS __pgt_v1) AS x`,
        true,
      );
      let known = constantValues.get(ctx);
      if (known === undefined) {
        known = new Map();
        constantValues.set(ctx, known);
      }
      known.set(node.nid, vals);
      if (!leftEmpty) {
        const dl = ctx.delta(left);
        parts.push(
          sql`SELECT d.${ROW_ID_COLUMN}, d.${WEIGHT_COLUMN}${columnList(left, 'd')}, v.__pgt_v0 AS ${col}\nFROM ${dl} AS d CROSS JOIN ${vals} AS v`,
        );
      }
      if (!rightEmpty) {
        const l1 = `(${ctx.snapshot(left, 'new')})`;
        const changed = distinct('v.__pgt_v0', 'v.__pgt_v1');
        parts.push(
          sql`SELECT l.${ROW_ID_COLUMN}, 1::bigint AS ${WEIGHT_COLUMN}${columnList(left, 'l')}, v.__pgt_v1 AS ${col}
FROM ${l1} AS l CROSS JOIN ${vals} AS v
WHERE ${changed}`,
          sql`SELECT l.${ROW_ID_COLUMN}, -1::bigint AS ${WEIGHT_COLUMN}${columnList(left, 'l')}, v.__pgt_v0 AS ${col}
FROM ${l1} AS l CROSS JOIN ${vals} AS v
WHERE ${changed}`,
        );
      }
      return ctx.stmt.add(`d${node.nid}_subquery`, parts.join('\nUNION ALL\n'));
    }
    const r0 = oldProbe(ctx, node, right);
    if (!leftEmpty) {
      // Part A: ΔL rows with their value over R₀.
      const dl = ctx.delta(left);
      const da = `d${node.nid}`;
      parts.push(
        sql`SELECT ${da}.${ROW_ID_COLUMN}, ${da}.${WEIGHT_COLUMN}${columnList(left, da)}, ${valueSql(ctx, node, r0, da, true)} AS ${col}
FROM ${dl} AS ${da}`,
      );
    }
    if (!rightEmpty) {
      // Part B: L₁ rows correlated with a changed right row: old value out, new value in.
      const dr = ctx.delta(right);
      const ra = `r${node.nid}`;
      const affected = affectedRowsSql(
        ctx,
        `(${ctx.snapshot(left, 'new')})`,
        la,
        dr,
        ra,
        dependence(node),
        sideAliases(left, la, ra),
      );
      const a = `a${node.nid}`;
      const r1 = `(${ctx.snapshot(right, 'new')})`;
      const values = perRowValuesCte(ctx, `n${node.nid}_subquery_affected`, `(${affected})`, a, [
        [valueSql(ctx, node, r1, a, true), '__pgt_v1'],
        [valueSql(ctx, node, r0, a, true), '__pgt_v0'],
      ]);
      const changed = distinct('f.__pgt_v0', 'f.__pgt_v1');
      parts.push(
        sql`SELECT f.${ROW_ID_COLUMN}, 1::bigint AS ${WEIGHT_COLUMN}${columnList(left, 'f')}, f.__pgt_v1 AS ${col}
FROM ${values} AS f
WHERE ${changed}`,
        sql`SELECT f.${ROW_ID_COLUMN}, -1::bigint AS ${WEIGHT_COLUMN}${columnList(left, 'f')}, f.__pgt_v0 AS ${col}
FROM ${values} AS f
WHERE ${changed}`,
      );
    }
    return ctx.stmt.add(`d${node.nid}_subquery`, parts.join('\nUNION ALL\n'));
  },
};
