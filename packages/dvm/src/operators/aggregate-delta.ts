/**
 * The algebraic root delta of the aggregate (COUNT / SUM / AVG / MIN / MAX): the
 * previous state of each affected group is read from the storage table by row id, ΔC is
 * aggregated per group key, and the new state is old ⊕ Δ (counts add; SUM / AVG keep the finite
 * sum, the non-NULL count and NaN / ±Infinity counts). A group whose MIN/MAX extremum may have
 * been deleted (or whose interval SUM / AVG lost an infinite value) is rescanned from the
 * child's new snapshot restricted to those groups; with HAVING so is every affected group that
 * is not stored (new, or failing HAVING: its state is unknown), and a stored group's presence is
 * decided by HAVING on its new values. Emits −1 (old row) / +1 (new row) only for
 * groups whose row changed; a keyed group reaching zero rows disappears, a key-less set's row
 * stays. The new totals of the state counters (non-NULL, NaN, ±Infinity, scale histogram) are
 * computed once per group, next to the stored state, and the new values read them as columns.
 */

import type { DiffContext, KeyedRootDelta, StorageBinding } from '../diff/context.js';
import { rowText } from '../diff/rowid.js';
import { InternalError } from '../errors.js';
import { cannotFail } from '../ir/error-free.js';
import { refNode, substitute } from '../ir/expr.js';
import type { IrColumn } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { quoteIdent } from '../sql/quote.js';
import { sql } from '../sql/sql.js';
import {
  type AggregateNode,
  type AggSpec,
  type AggTypes,
  aggregateChild,
  effectiveKind,
  groupingValue,
  stateOwner,
} from './aggregate-node.js';
import {
  aggRowId,
  finiteCondition,
  keyAt,
  maxScale,
  restrictedAggregate,
  scaleTerm,
  setKeyColumns,
  specialValues,
} from './aggregate-sql.js';
import { nnSource } from './aggregate-state.js';
import { summedDelta } from './shared/summed-delta.js';

const q = quoteIdent;

/**
 * The column holding the ctid of a group's stored row, read with its state by the statement
 * that then updates or deletes that row: the apply reaches it by ctid (no second probe of the
 * row-id index). The storage is written only by the refresh holding the table's lock, so the
 * row the statement read is the row it changes.
 */
const STORED_CTID = '__pgt_ctid';

/** Whether the algebraic root rule applies (every call algebraic after the analysis). */
export function isAlgebraic(node: AggregateNode): boolean {
  return node.analysis !== null && node.aggs.every((_, j) => effectiveKind(node, j) !== 'generic');
}

function typesOf(node: AggregateNode, j: number): AggTypes {
  const t = node.analysis?.aggs[j];
  if (t === undefined) throw new InternalError('the algebraic aggregate delta needs the analysis');
  return t;
}

/** Old value column of node column `id` in the working CTEs. */
const oldCol = (id: string): string => q(`__o_${id}`);
/** New value column of node column `id`. */
const newCol = (id: string): string => q(`__n_${id}`);
/** A per-call delta column. */
const dcol = (what: string, j: number): string => q(`__pgt_d${what}_${j}`);
/** The new total of state counter `what` (n, nan, pinf, ninf, sc) of call `j`, computed once per group. */
const tcol = (what: string, j: number): string => q(`__pgt_t${what}_${j}`);

/**
 * The new totals of call `j`'s state counters, old stored value plus delta (over `u`, the joined
 * state): computed once per group in the state CTE, so the new values read columns instead of
 * repeating the sums in every expression that needs them. Only calls keeping state of their own;
 * the non-NULL count is read where {@link nnSource} says (its own column, the group's row count,
 * or a COUNT call's result).
 */
function totals(node: AggregateNode, spec: AggSpec, t: AggTypes, j: number): string[] {
  if ((t.kind !== 'sum' && t.kind !== 'avg') || t.sum === null || stateOwner(node, j) !== null) return [];
  const out: string[] = [];
  const add = (col: IrColumn | null, d: string): void => {
    if (col !== null)
      out.push(sql`(COALESCE(u.${oldCol(col.id)}, 0) + COALESCE(u.${dcol(d, j)}, 0)) AS ${tcol(d, j)}`);
  };
  const nn = nnSource(node, j);
  if (nn.kind === 'own') add(spec.nnState, 'n');
  else if (nn.kind === 'rows')
    out.push(sql`(COALESCE(u.${oldCol(node.count.id)}, 0) + u.__pgt_dcount) AS ${tcol('n', j)}`);
  else {
    const count = (node.aggs[nn.j] as AggSpec).column.id;
    out.push(sql`(COALESCE(u.${oldCol(count)}, 0) + COALESCE(u.${dcol('c', nn.j)}, 0)) AS ${tcol('n', j)}`);
  }
  add(spec.nanState, 'nan');
  add(spec.pinfState, 'pinf');
  add(spec.ninfState, 'ninf');
  add(spec.scaleState, 'sc');
  return out;
}

/** The delta terms of call `j` over the prepared delta rows `x`. */
function deltaTerms(spec: AggSpec, t: AggTypes, j: number): string[] {
  const f = spec.filter === null ? [] : [`x.${q(`__pgt_f${j}`)}`];
  const where = (...conds: string[]): string => {
    const all = [...conds, ...f];
    return all.length === 0 ? '' : sql` FILTER (WHERE ${all.join(' AND ')})`;
  };
  const a = `x.${q(`__pgt_a${j}`)}`;
  // The non-NULL flag of the row's argument (none for a NOT NULL argument: always true).
  const nn = t.argNotNull ? [] : [`x.${q(`__pgt_n${j}`)}`];
  switch (t.kind) {
    case 'count_star':
      return [sql`pg_catalog.sum(x.__pgt_w)${where()} AS ${dcol('c', j)}`];
    case 'count':
      return [sql`pg_catalog.sum(x.__pgt_w)${where(...nn)} AS ${dcol('c', j)}`];
    case 'sum':
    case 'avg': {
      const plan = t.sum;
      if (plan === null) throw new InternalError('an algebraic SUM/AVG without a plan');
      const acc = plan.acc;
      const v = `(${a})::${acc}`;
      const sv = specialValues(acc);
      const times =
        acc === 'money'
          ? 'x.__pgt_w'
          : acc === 'numeric'
            ? '(x.__pgt_w)::numeric'
            : '(x.__pgt_w)::double precision';
      const weighted =
        acc === 'money'
          ? `${v} * x.__pgt_w`
          : sql`CASE WHEN x.__pgt_w = 1 THEN ${v} WHEN x.__pgt_w = -1 THEN -(${v}) ELSE ${v} * ${times} END`;
      const finite = plan.special === 'count' ? [finiteCondition(v, plan)] : [];
      const terms: string[] = [];
      if (spec.nnState !== null) terms.push(sql`pg_catalog.sum(x.__pgt_w)${where(...nn)} AS ${dcol('n', j)}`);
      terms.push(sql`pg_catalog.sum(${weighted})${where(...nn, ...finite)} AS ${dcol('s', j)}`);
      const counter = (col: IrColumn | null, what: string, value: string): void => {
        if (col !== null)
          terms.push(sql`pg_catalog.sum(x.__pgt_w)${where(`${v} = ${value}`)} AS ${dcol(what, j)}`);
      };
      counter(spec.nanState, 'nan', sv.nan);
      counter(spec.pinfState, 'pinf', sv.pinf);
      counter(spec.ninfState, 'ninf', sv.ninf);
      if (spec.scaleState !== null) {
        terms.push(
          sql`pg_catalog.sum(${scaleTerm(v)} * (x.__pgt_w)::numeric)${where(...nn, ...finite)} AS ${dcol('sc', j)}`,
        );
      }
      if (plan.special === 'rescan') {
        terms.push(
          sql`pg_catalog.bool_or(NOT pg_catalog.isfinite(${v}))${where('x.__pgt_w < 0', ...nn)} AS ${dcol('x', j)}`,
        );
      }
      return terms;
    }
    case 'min':
    case 'max':
      return [
        sql`pg_catalog.${t.kind}(${a})${where('x.__pgt_w > 0')} AS ${dcol('i', j)}`,
        sql`pg_catalog.${t.kind}(${a})${where('x.__pgt_w < 0')} AS ${dcol('r', j)}`,
      ];
    case 'generic':
      throw new InternalError('a generic aggregate reached the algebraic delta');
  }
}

/** The condition that call `j` needs its group rescanned (over `u`, the joined state). */
function rescanCondition(spec: AggSpec, t: AggTypes, j: number): string | null {
  const old = `u.${oldCol(spec.column.id)}`;
  const removed = `u.${dcol('r', j)}`;
  if (t.kind === 'min') return `(${removed} IS NOT NULL AND (${old} IS NULL OR ${removed} <= ${old}))`;
  if (t.kind === 'max') return `(${removed} IS NOT NULL AND (${old} IS NULL OR ${removed} >= ${old}))`;
  if ((t.kind === 'sum' || t.kind === 'avg') && t.sum?.special === 'rescan') {
    return `COALESCE(u.${dcol('x', j)}, false)`;
  }
  return null;
}

/**
 * New-value expressions (by node column id) of call `j`, over `u`. With `owner` (the call whose
 * state it shares, {@link stateOwner}), the state and deltas read are the owner's, and call
 * `j`'s own state columns are NULL.
 */
function newValues(
  spec: AggSpec,
  t: AggTypes,
  j: number,
  owner: { readonly spec: AggSpec; readonly j: number } | null = null,
): [string, string][] {
  const old = (id: string): string => `u.${oldCol(id)}`;
  const out: [string, string][] = [];
  if (owner !== null && t.sum !== null) {
    const nulls: [IrColumn | null, string][] = [
      [spec.sumState, t.sum.acc],
      [spec.nnState, 'bigint'],
      [spec.nanState, 'bigint'],
      [spec.pinfState, 'bigint'],
      [spec.ninfState, 'bigint'],
      [spec.scaleState, 'numeric'],
    ];
    for (const [col, type] of nulls) if (col !== null) out.push([col.id, `NULL::${type}`]);
    const shared = newValues(
      { ...spec, ...stateColumnsOf(owner.spec) },
      { ...t, sum: t.sum },
      owner.j,
    ).filter(([id]) => id === spec.column.id);
    return [...out, ...shared];
  }
  switch (t.kind) {
    case 'count_star':
    case 'count':
      out.push([
        spec.column.id,
        `(COALESCE(${old(spec.column.id)}, 0) + COALESCE(u.${dcol('c', j)}, 0))::bigint`,
      ]);
      break;
    case 'sum':
    case 'avg': {
      const plan = t.sum;
      // An integer / money / interval SUM keeps no finite sum: its result is its running sum.
      const sumId = spec.sumState?.id ?? spec.column.id;
      if (plan === null) throw new InternalError('an algebraic SUM/AVG without its plan');
      const acc = plan.acc;
      const counted = plan.special === 'count';
      // The totals of `totals()`, read from the state CTE (the non-NULL count always; a counter
      // only when kept: a counter the type cannot need is 0).
      const plus = (col: IrColumn | null, d: string): string | null =>
        col === null ? null : `u.${tcol(d, j)}`;
      const nn = `u.${tcol('n', j)}`;
      const nan = counted ? plus(spec.nanState, 'nan') : null;
      const pinf = counted ? plus(spec.pinfState, 'pinf') : null;
      const ninf = counted ? plus(spec.ninfState, 'ninf') : null;
      const nonFinite = [nan, pinf, ninf].filter((c): c is string => c !== null);
      // The sum of the finite arguments: NULL when there is none.
      const finiteCount = nonFinite.length === 0 ? nn : `(${[nn, ...nonFinite].join(' - ')})`;
      const prev = old(t.kind === 'sum' && !counted ? spec.column.id : sumId);
      const ds = `u.${dcol('s', j)}`;
      const fin = sql`(CASE WHEN ${finiteCount} = 0 THEN NULL WHEN ${prev} IS NULL THEN ${ds} WHEN ${ds} IS NULL THEN (${prev})::${acc} ELSE
  (${prev})::${acc} + ${ds} END)`;
      // NaN / ±Infinity decide the result as in PostgreSQL's accumulators.
      const sv = specialValues(acc);
      const cases: string[] = [];
      if (nan !== null || (pinf !== null && ninf !== null)) {
        const nanWhen = [
          ...(nan === null ? [] : [`${nan} > 0`]),
          ...(pinf === null || ninf === null ? [] : [`(${pinf} > 0 AND ${ninf} > 0)`]),
        ];
        cases.push(`WHEN ${nanWhen.join(' OR ')} THEN ${sv.nan}`);
      }
      if (pinf !== null) cases.push(`WHEN ${pinf} > 0 THEN ${sv.pinf}`);
      if (ninf !== null) cases.push(`WHEN ${ninf} > 0 THEN\n  ${sv.ninf}`);
      const special = cases.length === 0 ? null : `(CASE ${cases.join(' ')} END)`;
      // Numeric: the result's display scale is the largest among the finite arguments.
      const scale = plan.scaled ? plus(spec.scaleState, 'sc') : null;
      const shown = scale === null ? fin : `pg_catalog.round(${fin}, ${maxScale(scale)})`;
      const total = special === null ? shown : `COALESCE(${special}, ${shown})`;
      if (spec.scaleState !== null) {
        out.push([spec.scaleState.id, scale === null ? old(spec.scaleState.id) : `${scale}::numeric`]);
      }
      if (spec.nnState !== null) out.push([spec.nnState.id, `${nn}::bigint`]);
      for (const [col, value] of [
        [spec.nanState, nan],
        [spec.pinfState, pinf],
        [spec.ninfState, ninf],
      ] as const) {
        if (col !== null) out.push([col.id, value === null ? old(col.id) : `${value}::bigint`]);
      }
      if (t.kind === 'sum') {
        if (spec.sumState !== null) out.push([spec.sumState.id, counted ? `(${fin})::${acc}` : old(sumId)]);
        out.push([spec.column.id, sql`(CASE WHEN ${nn} = 0 THEN NULL ELSE ${total} END)::${t.resultType}`]);
      } else {
        const div = acc === 'numeric' ? 'numeric' : 'double precision';
        const mean = `${shown} / (${nn})::${div}`;
        if (spec.sumState !== null) out.push([spec.sumState.id, `(${fin})::${acc}`]);
        out.push([
          spec.column.id,
          sql`(CASE WHEN ${nn} = 0 THEN NULL ELSE ${special === null ? mean : `COALESCE(${special}, ${mean})`} END)::${t.resultType}`,
        ]);
      }
      break;
    }
    case 'min':
    case 'max': {
      const fn = t.kind === 'min' ? 'LEAST' : 'GREATEST';
      out.push([spec.column.id, `(${fn}(${old(spec.column.id)}, u.${dcol('i', j)}))::${t.resultType}`]);
      break;
    }
    case 'generic':
      throw new InternalError('a generic aggregate reached the algebraic delta');
  }
  return out;
}

/** The SUM / AVG state columns of a call (to compute another call's result from them). */
function stateColumnsOf(
  spec: AggSpec,
): Pick<AggSpec, 'sumState' | 'nnState' | 'nanState' | 'pinfState' | 'ninfState' | 'scaleState'> {
  return {
    sumState: spec.sumState,
    nnState: spec.nnState,
    nanState: spec.nanState,
    pinfState: spec.pinfState,
    ninfState: spec.ninfState,
    scaleState: spec.scaleState,
  };
}

/**
 * Whether the keys, arguments and FILTERs an aggregate evaluates per input row cannot fail on any
 * row (HAVING is evaluated on the groups' new state only).
 */
function inputsCannotFail(node: AggregateNode): boolean {
  return (
    node.keys.every((k) => cannotFail(k.expr)) &&
    node.aggs.every(
      (a) => (a.arg === null || cannotFail(a.arg)) && (a.filter === null || cannotFail(a.filter)),
    )
  );
}

/**
 * The changed groups of the algebraic root rule, one row per affected group (see
 * {@link KeyedRootDelta}): its row id, whether it is stored (`__pgt_had`), whether its new row is
 * kept, whether its row changed, and its new values as `__n_<column id>`.
 */
export function algebraicRows(
  node: AggregateNode,
  ctx: DiffContext,
  binding: StorageBinding,
): KeyedRootDelta {
  const child = aggregateChild(node);
  // Counts and sums of a linear subtree's changes need no netting per row id (`summed-delta.ts`;
  // MIN / MAX would see values inserted and deleted within the window as candidates, so they take
  // the netted delta; so do keys, arguments and FILTERs that could fail on a state no snapshot saw).
  const summed =
    node.aggs.every((_, j) => !['min', 'max'].includes(typesOf(node, j).kind)) && inputsCannotFail(node);
  const d = (summed ? summedDelta(child, ctx) : null) ?? ctx.delta(child);
  const multi = node.sets.length > 1;

  // The child's delta rows with their keys, arguments, FILTER results and non-NULL flags.
  const dx: string[] = [sql`c.${WEIGHT_COLUMN} AS __pgt_w`];
  node.keys.forEach((k) => {
    dx.push(sql`${ctx.render(k.expr, 'c')} AS ${q(k.column.id)}`);
  });
  node.aggs.forEach((spec, j) => {
    const t = typesOf(node, j);
    if (stateOwner(node, j) !== null) return; // reads its owner's columns
    if (spec.arg !== null) {
      const arg = ctx.render(spec.arg, 'c');
      const typed = t.kind === 'min' || t.kind === 'max' ? `(${arg})::${t.resultType}` : arg;
      dx.push(sql`${typed} AS ${q(`__pgt_a${j}`)}`);
      if (!t.argNotNull) dx.push(sql`(pg_catalog.num_nonnulls(${arg}) = 1) AS ${q(`__pgt_n${j}`)}`);
    }
    if (spec.filter !== null) dx.push(sql`(${ctx.render(spec.filter, 'c')}) AS ${q(`__pgt_f${j}`)}`);
  });
  const rows = ctx.stmt.add(
    `n${node.nid}_drows`,
    sql`SELECT ${dx.join(', ')}\nFROM ${d} AS c`,
    multi ? true : undefined,
  );

  // ΔC aggregated per group key, per grouping set.
  // A call sharing another's state adds no delta terms of its own.
  const terms = node.aggs.flatMap((spec, j) =>
    stateOwner(node, j) === null ? deltaTerms(spec, typesOf(node, j), j) : [],
  );
  const branches = node.sets.map((set, s) => {
    const cols = setKeyColumns(node, s, (i) => `x.${q(keyAt(node, i).column.id)}`);
    for (const g of node.groupings) cols.push(sql`${groupingValue(g, set)}::integer AS ${q(g.column.id)}`);
    cols.push(
      sql`${sql.lit(set.length === 0)} AS __pgt_total`,
      'pg_catalog.sum(x.__pgt_w)::bigint AS __pgt_dcount',
      ...terms,
    );
    const tail =
      set.length > 0 ? `\nGROUP BY ${set.map((i) => i + 1).join(', ')}` : '\nHAVING pg_catalog.count(*) > 0';
    return sql`SELECT ${cols.join(', ')}\nFROM ${rows} AS x${tail}`;
  });
  const grouped = ctx.stmt.add(
    `n${node.nid}_dgroups`,
    sql`SELECT ${aggRowId(node, 'g')} AS ${ROW_ID_COLUMN}, g.*\nFROM (${branches.join('\nUNION ALL\n')}) AS g`,
  );

  // The stored state of those groups (by row id: the storage table's unique index).
  const rescans = node.aggs
    .map((spec, j) => rescanCondition(spec, typesOf(node, j), j))
    .filter((c): c is string => c !== null);
  // With HAVING, the state of a group that is not stored (new, or failing HAVING) is unknown.
  if (node.having !== null) rescans.push('NOT u.__pgt_had');
  const stored = node.columns.map((c) => sql`, s.${q(binding.column(c.id))} AS ${oldCol(c.id)}`).join('');
  const joined = ctx.stmt.add(
    `n${node.nid}_state`,
    sql`SELECT d.*, (s.${q(ROW_ID_COLUMN)} IS NOT NULL) AS __pgt_had, s.ctid AS ${STORED_CTID}${stored}
FROM ${grouped} AS d
LEFT JOIN ${binding.relation} AS s ON s.${q(ROW_ID_COLUMN)} = d.${ROW_ID_COLUMN}`,
  );
  const sums = node.aggs.flatMap((spec, j) => totals(node, spec, typesOf(node, j), j));
  const upd = ctx.stmt.add(
    `n${node.nid}_upd`,
    sql`SELECT u.*, ${rescans.length === 0 ? 'false' : rescans.join(' OR ')} AS __pgt_rescan${sums.map((x) => `, ${x}`).join('')}\nFROM ${joined} AS u`,
    true,
  );

  // Groups whose extremum may have left: recomputed from the child's new snapshot.
  let resc: string | null = null;
  if (rescans.length > 0) {
    const keys = ctx.stmt.add(
      `n${node.nid}_rescan_keys`,
      sql`SELECT u.* FROM ${upd} AS u WHERE u.__pgt_rescan`,
      true,
    );
    resc = ctx.stmt.add(
      `n${node.nid}_rescan`,
      restrictedAggregate(node, ctx, ctx.snapshot(child, 'new'), keys),
      true,
    );
  }

  // Old and new rows side by side.
  const values = new Map<string, string>();
  values.set(node.count.id, `(COALESCE(u.${oldCol(node.count.id)}, 0) + u.__pgt_dcount)`);
  node.aggs.forEach((spec, j) => {
    const o = stateOwner(node, j);
    const owner = o === null ? null : { spec: node.aggs[o] as AggSpec, j: o };
    for (const [id, sql] of newValues(spec, typesOf(node, j), j, owner)) values.set(id, sql);
  });
  const count = values.get(node.count.id) as string;
  const plainHas = `(${count} > 0 OR u.__pgt_total)`;
  const newCols = node.columns.map((c) => {
    const alg = values.get(c.id);
    if (alg === undefined) return sql`u.${q(c.id)} AS ${newCol(c.id)}`;
    return resc === null
      ? sql`${alg} AS ${newCol(c.id)}`
      : sql`CASE WHEN u.__pgt_rescan THEN r.${q(c.id)} ELSE ${alg} END AS ${newCol(c.id)}`;
  });
  const has =
    resc === null
      ? plainHas
      : sql`CASE WHEN u.__pgt_rescan THEN r.${ROW_ID_COLUMN} IS NOT NULL ELSE ${plainHas} END`;
  const oldCols = node.columns.map((c) => `u.${oldCol(c.id)}`);
  const oldText = rowText(
    'x',
    node.columns.map((c) => `__o_${c.id}`),
  );
  const newText = rowText(
    'x',
    node.columns.map((c) => `__n_${c.id}`),
  );
  // Old and new side by side, and whether they differ (compared once per group; OFFSET 0 keeps
  // the new values computed once, not again inside the comparison). A group whose row count
  // changed has a changed row (its stored count differs): its images are not compared.
  const fin = ctx.stmt.add(
    `n${node.nid}_rows`,
    sql`SELECT x.*, (x.__pgt_dcount <> 0 OR ${oldText} IS DISTINCT FROM ${newText}) AS __pgt_changed
FROM (SELECT u.${ROW_ID_COLUMN}, u.${STORED_CTID}, u.__pgt_had, u.__pgt_dcount, ${has} AS __pgt_has, ${oldCols.join(', ')}, ${newCols.join(', ')}
FROM ${upd} AS u${resc === null ? '' : sql`\nLEFT JOIN ${resc} AS r ON u.__pgt_rescan AND r.${ROW_ID_COLUMN} = u.${ROW_ID_COLUMN}`}
OFFSET 0) AS x`,
    true,
  );
  const changed = 'f.__pgt_changed';
  // HAVING on the new values (a rescanned group passed it already; applying it again is harmless).
  const ids = new Set(node.columns.map((c) => c.id));
  const keep =
    node.having === null
      ? 'f.__pgt_has'
      : `(f.__pgt_has AND (${ctx.render(
          substitute(node.having, (id) => refNode(ids.has(id) ? `__n_${id}` : id)),
          'f',
        )}) IS TRUE)`;
  return {
    relation: fin,
    had: 'f.__pgt_had',
    keep,
    changed,
    column: (id) => `__n_${id}`,
    storedCtid: STORED_CTID,
  };
}

/**
 * The algebraic root rule as a delta: per changed group the stored row as −1 (its `__o_` values)
 * and the new row as +1, from {@link algebraicRows}.
 */
export function algebraicDelta(node: AggregateNode, ctx: DiffContext, binding: StorageBinding): string {
  const { relation: fin, keep, changed } = algebraicRows(node, ctx, binding);
  const out = (col: (id: string) => string) =>
    node.columns.map((c) => sql`, f.${col(c.id)} AS ${q(c.id)}`).join('');
  return ctx.stmt.add(
    `d${node.nid}_aggregate`,
    sql`SELECT f.${ROW_ID_COLUMN}, -1::bigint AS ${WEIGHT_COLUMN}${out(oldCol)}
FROM ${fin} AS f WHERE f.__pgt_had AND (NOT ${keep} OR ${changed})
UNION ALL
SELECT f.${ROW_ID_COLUMN}, 1::bigint AS ${WEIGHT_COLUMN}${out(newCol)}
FROM ${fin} AS f WHERE ${keep} AND (NOT f.__pgt_had OR ${changed})`,
  );
}
