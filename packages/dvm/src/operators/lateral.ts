/**
 * Lateral function: a function (usually set-returning: `unnest`, `jsonb_array_elements`,
 * `generate_series`, …, or `ROWS FROM (f(…), g(…))`) in FROM, evaluated for each row of the
 * items before it (`FROM t CROSS JOIN LATERAL unnest(t.tags) AS tag`, `LEFT JOIN LATERAL … ON
 * cond`), or on its own (first FROM item: over constants, or over an enclosing query's row).
 *
 * Delta rule (linear flat-map): the result is Σₗ L(l)·g(l), where g(l) (the function's rows for
 * left row l, filtered by the ON condition; for LEFT a single NULL-padded row when none remain)
 * depends only on l, since the function reads no source and is immutable or stable. So
 *   Δ = Σₗ ΔL(l)·g(l)   — the function applied to ΔL's rows, weights unchanged.
 * Without an input (a function over constants, e.g. `generate_series(1, 3)`) it is a constant
 * relation: Δ = ∅. Subqueries in the arguments are value columns of the input L, computed by
 * `scalarSubquery` nodes below it (over a single constant row when the function is the first
 * FROM item): g(l) still depends only on l, so the rule is unchanged, and a change of a
 * subquery's value reaches the function as ΔL (the old row −1, the new row +1).
 * A function over an enclosing query's row only (inside a correlated
 * subquery) has no delta of its own: the enclosing operator recomputes it (its SQL is inlined).
 * Snapshots: L₀ ⋈ g / L₁ ⋈ g — the input's snapshot on the same side.
 * Row id: the row id of (<left id>, <ordinality>); WITH ORDINALITY is always
 * used internally (the user's ordinality column, if asked for, is the same number); a
 * NULL-padded row of a LEFT join has a NULL ordinality. Without an input: ROW(<ordinality>).
 * Over subquery values (unique input ids, no user ordinality): (<left id>, <row image>,
 * <occurrence among equal rows of that left row>), so a value recomputed with its elements in
 * another order (`array_agg` without ORDER BY) gives the same ids.
 * Unique iff the input's ids are. The same SQL builds population, FULL and delta rows.
 * Shapes: the result columns of each call are checked against PostgreSQL's description at
 * compile time (`analyze`); a mismatch is refused.
 */

import type { DiffContext } from '../diff/context.js';
import { emptyDeltaSql } from '../diff/recompute.js';
import { rowIdExpr, rowText } from '../diff/rowid.js';
import { InternalError, UnsupportedQueryError } from '../errors.js';
import { renderExpr } from '../ir/expr.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrColumn, IrNode, IrNodeBase, Side } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { quoteIdent } from '../sql/quote.js';
import { sql } from '../sql/sql.js';
import type { AnalyzeTools, OperatorRules } from './rules.js';
import './lateral-subquery.js';

/** One function call of a lateral function item. */
export interface LateralCall {
  /** The resolved call (a FuncCall whose arguments read column ids). */
  readonly expr: Expr;
  /** Its column definition list as SQL (`a int, b text`), or null. */
  readonly coldefs: string | null;
  /** The function's name as written, for messages. */
  readonly name: string;
}

/** A function item in FROM, flat-mapped over its input (if any). */
export interface LateralFunctionNode extends IrNodeBase {
  readonly kind: 'lateralFunction';
  /** INNER (comma, CROSS JOIN, JOIN … ON) or LEFT (LEFT JOIN LATERAL … ON). */
  readonly join: 'INNER' | 'LEFT';
  readonly calls: readonly LateralCall[];
  /** Instead of calls: the rows of a `LATERAL (VALUES …)` (expressions over the input), or null. */
  readonly values: readonly (readonly Expr[])[] | null;
  /** The calls' result columns, in order (ordinality excluded). */
  readonly functionColumns: readonly IrColumn[];
  /** The user's WITH ORDINALITY column, or null. */
  readonly ordinality: IrColumn | null;
  /** The SQL name of the ordinality column (the user's column id, or an internal name). */
  readonly ordinalityId: string;
  /** The ON condition (reads input, function and outer ids), or null. */
  readonly condition: Expr | null;
  /** Whether its expressions read columns of an enclosing query level. */
  readonly correlated: boolean;
  /**
   * Whether a row's id is (left id, its value, its occurrence among equal values of that left
   * row) instead of (left id, ordinality): set when its arguments read subquery values (an
   * `array_agg` without ORDER BY may list the same elements in another order when recomputed).
   */
  readonly valueIds: boolean;
  /** WHERE conjuncts over the input alone may be pushed into it. */
  readonly preservedInputs: readonly number[];
  /** Result column count PostgreSQL reported for its calls (set by `analyze`). */
  describedWidth: number | null;
}

/** Fields of {@link makeLateralFunction}. */
export interface LateralFunctionSpec {
  readonly join: 'INNER' | 'LEFT';
  readonly calls: readonly LateralCall[];
  /** The rows of a `LATERAL (VALUES …)` instead of calls. */
  readonly values?: readonly (readonly Expr[])[];
  readonly functionColumns: readonly IrColumn[];
  readonly ordinality: IrColumn | null;
  readonly condition: Expr | null;
  readonly correlated: boolean;
  /** See {@link LateralFunctionNode.valueIds} (default false). */
  readonly valueIds?: boolean;
}

/** Builds a lateral function over `left` (null: no input). */
export function makeLateralFunction(
  ids: IdAllocator,
  left: IrNode | null,
  spec: LateralFunctionSpec,
): LateralFunctionNode {
  const own = [...spec.functionColumns, ...(spec.ordinality === null ? [] : [spec.ordinality])];
  const nid = ids.node();
  return {
    kind: 'lateralFunction',
    nid,
    columns: [...(left?.columns ?? []), ...own],
    uniqueIds: left?.uniqueIds ?? true,
    children: left === null ? [] : [left],
    join: spec.join,
    calls: spec.calls,
    values: spec.values ?? null,
    functionColumns: spec.functionColumns,
    ordinality: spec.ordinality,
    ordinalityId: spec.ordinality?.id ?? `__pgt_ord_${nid}`,
    condition: spec.condition,
    correlated: spec.correlated,
    valueIds: spec.valueIds === true && left !== null && left.uniqueIds && spec.ordinality === null,
    preservedInputs: left === null ? [] : [0],
    describedWidth: null,
  };
}

/** The input alias of node `nid` (unique, so it cannot capture an enclosing level's alias). */
function leftAlias(node: IrNode): string {
  return `__pgt_l${node.nid}`;
}

/** The function alias of node `nid`. */
function fnAlias(node: IrNode): string {
  return `__pgt_f${node.nid}`;
}

/**
 * `ROWS FROM (f(…), g(…) AS (…)) WITH ORDINALITY AS <alias>(<columns>)`, the calls rendered by
 * `render` (column aliases omitted when `named` is false: PostgreSQL then names them).
 */
export function rowsFromSql(
  node: LateralFunctionNode,
  render: (e: Expr) => string,
  alias: string,
  named = true,
): string {
  const cols = [...node.functionColumns.map((c) => c.id), node.ordinalityId].map(quoteIdent).join(', ');
  if (node.values !== null) {
    // The row's position is its ordinality (the last column, as for ROWS FROM).
    const rows = node.values.map((row, i) => `(${[...row.map(render), String(i + 1)].join(', ')})`);
    return sql`(VALUES ${rows.join(', ')}) AS ${alias}(${cols})`;
  }
  const calls = node.calls.map(
    (c) => `${render(c.expr)}${c.coldefs === null ? '' : sql` AS (${c.coldefs})`}`,
  );
  return sql`ROWS FROM (${calls.join(', ')}) WITH ORDINALITY AS ${alias}${named ? `(${cols})` : ''}`;
}

function input(node: LateralFunctionNode): IrNode | null {
  return node.children[0] ?? null;
}

/** The rows of the item over input relation `from` (a snapshot or a delta), or alone. */
function itemSql(
  node: LateralFunctionNode,
  ctx: DiffContext,
  from: string | null,
  weighted: boolean,
): string {
  const f = fnAlias(node);
  const own = [...node.functionColumns, ...(node.ordinality === null ? [] : [node.ordinality])];
  const ownCols = own.map((c) => sql`, ${f}.${sql.id(c.id)}`).join('');
  const left = input(node);
  if (left === null || from === null) {
    const rows = rowsFromSql(node, (e) => ctx.render(e, f), f);
    return sql`SELECT ${rowIdExpr([sql`${f}.${sql.id(node.ordinalityId)}`])} AS ${ROW_ID_COLUMN}${
      weighted
        ? sql`, 1::bigint AS
  ${WEIGHT_COLUMN}`
        : ''
    }${ownCols}
FROM ${rows}`;
  }
  const l = leftAlias(node);
  const leftIds = new Set(left.columns.map((c) => c.id));
  const aliasOf = (id: string) => (leftIds.has(id) ? l : f);
  const rows = node.valueIds
    ? occurrenceRowsSql(node, (e) => ctx.render(e, aliasOf), f)
    : rowsFromSql(node, (e) => ctx.render(e, aliasOf), f);
  const leftCols = left.columns.map((c) => sql`, ${l}.${sql.id(c.id)}`).join('');
  const rowId = node.valueIds
    ? rowIdExpr([
        `${l}.${ROW_ID_COLUMN}`,
        {
          expr: rowText(
            f,
            node.functionColumns.map((c) => c.id),
          ),
          type: 'bytea',
        },
        sql`${f}.${sql.raw(OCCURRENCE)}`,
      ])
    : rowIdExpr([`${l}.${ROW_ID_COLUMN}`, sql`${f}.${sql.id(node.ordinalityId)}`]);
  const on = node.condition === null ? 'true' : ctx.render(node.condition, aliasOf);
  const join =
    node.join === 'LEFT'
      ? sql`LEFT JOIN LATERAL ${rows} ON ${on}`
      : node.condition === null
        ? sql`CROSS JOIN LATERAL ${rows}`
        : sql`JOIN LATERAL ${rows} ON ${on}`;
  return sql`SELECT ${rowId} AS ${ROW_ID_COLUMN}${weighted ? `, ${l}.${WEIGHT_COLUMN}` : ''}${leftCols}${ownCols}\nFROM ${from} AS ${l}\n${join}`;
}

/** The column numbering a function row among the equal rows of its call ({@link occurrenceRowsSql}). */
const OCCURRENCE = '__pgt_occ';

/**
 * The calls' rows under alias `alias` with one more column, {@link OCCURRENCE}: the row's number
 * among the rows of the same call with the same image (numbered inside the call, i.e. per left
 * row). With ids (left id, image, occurrence) the ids of g(l) depend only on the multiset g(l),
 * not on the order the function listed it in ({@link LateralFunctionNode.valueIds}): equal rows of
 * one left row are interchangeable.
 */
function occurrenceRowsSql(node: LateralFunctionNode, render: (e: Expr) => string, alias: string): string {
  const inner = `${alias}_r`;
  const image = rowText(
    inner,
    node.functionColumns.map((c) => c.id),
  );
  return sql`(SELECT ${inner}.*, pg_catalog.row_number() OVER (PARTITION BY ${image}) AS ${sql.raw(OCCURRENCE)}
  FROM ${rowsFromSql(node, render, inner)}) AS ${alias}`;
}

/** Compile-time check of the calls' result width against PostgreSQL's description. */
async function analyzeFunction(node: LateralFunctionNode, tools: AnalyzeTools): Promise<void> {
  if (node.correlated || node.values !== null) return;
  const left = input(node);
  const f = fnAlias(node);
  const l = leftAlias(node);
  const leftIds = new Set(left?.columns.map((c) => c.id) ?? []);
  const rows = rowsFromSql(node, (e) => renderExpr(e, (id) => (leftIds.has(id) ? l : f)), f, false);
  const query =
    left === null
      ? sql`SELECT ${f}.* FROM ${rows}`
      : sql`SELECT ${f}.* FROM (${tools.snapshotSql(left)}) AS ${l} CROSS JOIN LATERAL ${rows}`;
  const names = node.calls.map((c) => `${c.name}()`).join(', ');
  let width: number;
  try {
    width = (await tools.describe(query)).length - 1;
  } catch (error) {
    throw new UnsupportedQueryError(
      `the function item ${names} in FROM`,
      `PostgreSQL could not describe it as generated (${error instanceof Error ? error.message : String(error)}); use refreshMode 'FULL'.`,
      { cause: error },
    );
  }
  if (width !== node.functionColumns.length) {
    throw new UnsupportedQueryError(
      `the function item ${names} in FROM`,
      `Its result has ${width} columns but ${node.functionColumns.length} were expected from its declaration (e.g. a polymorphic ` +
        `function returning a composite type); give it a column definition list, or use refreshMode 'FULL'.`,
    );
  }
  node.describedWidth = width;
}

/** The rules of `lateralFunction` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const lateralFunctionRules: OperatorRules<LateralFunctionNode> = {
  snapshot(node, side: Side, ctx) {
    const left = input(node);
    return itemSql(node, ctx, left === null ? null : `(${ctx.snapshot(left, side)})`, false);
  },
  delta(node, ctx) {
    const left = input(node);
    if (left === null) {
      if (node.correlated) {
        throw new InternalError(
          `the delta of the correlated function item ${node.calls.map((c) => c.name).join(', ')}() was requested; the enclosing ` +
            `operator must recompute it from snapshots`,
        );
      }
      // A constant relation: nothing it reads ever changes.
      return ctx.stmt.add(`d${node.nid}_lateral_fn`, emptyDeltaSql(node, itemSql(node, ctx, null, false)));
    }
    return ctx.stmt.add(`d${node.nid}_lateral_fn`, itemSql(node, ctx, ctx.delta(left), true));
  },
  analyze: analyzeFunction,
};
