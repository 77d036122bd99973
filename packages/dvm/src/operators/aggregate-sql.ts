/**
 * SQL building blocks of the aggregate operator: its row id, the aggregation of an input relation
 * (one branch per grouping set, HAVING applied), the affected-keys CTE of a delta, and an input
 * snapshot restricted to affected keys (index-friendly: `IN` for non-NULL keys, a separately
 * gated branch for keys with NULLs).
 */

import type { DiffContext, StorageBinding } from '../diff/context.js';
import { rowIdExpr } from '../diff/rowid.js';
import { InternalError } from '../errors.js';
import { ROW_ID_COLUMN } from '../names.js';
import { quoteIdent } from '../sql/quote.js';
import { sql } from '../sql/sql.js';
import {
  type AggKey,
  type AggregateNode,
  type AggSpec,
  effectiveKind,
  groupingValue,
  type SumPlan,
  stateOwner,
} from './aggregate-node.js';

const q = quoteIdent;

/** Group key `i` of `node`. */
export function keyAt(node: AggregateNode, i: number): AggKey {
  const key = node.keys[i];
  if (key === undefined) throw new InternalError(`aggregate node ${node.nid} has no key ${i}`);
  return key;
}

/**
 * The row id of the node's rows, its columns under alias `a`: ROW(<group key values>) (ROW()
 * without keys); with several grouping sets ROW(<set number>, <every key, NULL when not grouped>).
 * Keys are hashed with their types' own hash functions (diff/rowid.ts), so values equal under
 * the key's equality and collation (1.0 = 1.00, 'Red' = 'red' under a case-insensitive
 * collation, citext) share one group.
 */
export function aggRowId(node: AggregateNode, a: string): string {
  const parts = node.keys.map((k, i) => ({
    expr: `${a}.${q(k.column.id)}`,
    type: node.analysis?.keyTypes[i],
  }));
  if (node.setColumn === null) return rowIdExpr(parts);
  return rowIdExpr([`${a}.${q(node.setColumn.id)}`, ...parts]);
}

/** A NULL of key `i`'s type (a key outside a row's grouping set). */
export function typedNull(node: AggregateNode, i: number): string {
  const type = node.analysis?.keyTypes[i];
  if (type === undefined) {
    throw new InternalError('grouping sets need the key types of the aggregate analysis');
  }
  return `NULL::${type}`;
}

/** The key value columns of grouping set `s` over row alias `a` (keys outside the set NULL). */
export function setKeyColumns(node: AggregateNode, s: number, value: (i: number) => string): string[] {
  const set = node.sets[s] ?? [];
  const cols = node.keys.map(
    (k, i) => sql`${set.includes(i) ? value(i) : typedNull(node, i)} AS ${q(k.column.id)}`,
  );
  if (node.setColumn !== null) cols.push(sql`${s}::integer AS ${q(node.setColumn.id)}`);
  return cols;
}

/** The display-scale histogram term of one numeric value `v`: 10^(19·scale(v)) (NULL for NULL / non-finite). */
export function scaleTerm(v: string): string {
  return `('1e' || (19 * pg_catalog.scale(${v}))::text)::numeric`;
}

/** The largest display scale present in histogram `h` (0 when empty). */
export function maxScale(h: string): string {
  return sql`(CASE WHEN COALESCE(${h}, 0) = 0 THEN 0 ELSE (pg_catalog.length((${h})::text) - 1) / 19 END)`;
}

/** The non-finite values of a SUM / AVG accumulation type, as SQL literals. */
export function specialValues(acc: string): { nan: string; pinf: string; ninf: string } {
  return { nan: `'NaN'::${acc}`, pinf: `'Infinity'::${acc}`, ninf: `'-Infinity'::${acc}` };
}

function filterClause(ctx: DiffContext, spec: AggSpec, ...extra: string[]): string {
  const conds = [...(spec.filter === null ? [] : [ctx.render(spec.filter, 'c')]), ...extra];
  return conds.length === 0 ? '' : sql` FILTER (WHERE ${conds.map((c) => `(${c})`).join(' AND ')})`;
}

/**
 * The condition "`v` is finite" of a SUM / AVG accumulation that counts its non-finite values:
 * not NaN (NULL for NULL), and not ±Infinity when the type can hold them.
 */
export function finiteCondition(v: string, plan: SumPlan): string {
  const sv = specialValues(plan.acc);
  return plan.infinite ? `${v} NOT IN (${sv.nan}, ${sv.pinf}, ${sv.ninf})` : `${v} <> ${sv.nan}`;
}

/** The aggregate columns (result and the state it keeps) of call `j`, over input alias `c`. */
function aggColumns(node: AggregateNode, ctx: DiffContext, j: number): string[] {
  const spec = node.aggs[j] as AggSpec;
  const kind = effectiveKind(node, j);
  const cols = [sql`${ctx.render(spec.call, 'c')} AS ${q(spec.column.id)}`];
  const arg = spec.arg === null ? 'NULL' : ctx.render(spec.arg, 'c');
  const plan = kind === 'sum' || kind === 'avg' ? (node.analysis?.aggs[j]?.sum ?? null) : null;
  const as = (col: { id: string } | null, expr: string): void => {
    if (col !== null) cols.push(sql`${expr} AS ${q(col.id)}`);
  };
  if (plan === null || stateOwner(node, j) !== null) {
    // State columns of a call that keeps none (present only in a node whose state was not trimmed).
    as(spec.sumState, `NULL::${plan?.acc ?? 'numeric'}`);
    for (const c of [spec.nnState, spec.nanState, spec.pinfState, spec.ninfState]) as(c, 'NULL::bigint');
    as(spec.scaleState, 'NULL::numeric');
    return cols;
  }
  const v = `(${arg})::${plan.acc}`;
  const sv = specialValues(plan.acc);
  const counted = plan.special === 'count';
  if (counted) {
    as(spec.sumState, `pg_catalog.sum(${v})${filterClause(ctx, spec, finiteCondition(v, plan))}`);
  } else {
    as(
      spec.sumState,
      kind === 'avg' ? `pg_catalog.sum(${v})${filterClause(ctx, spec)}` : `NULL::${plan.acc}`,
    );
  }
  as(spec.nnState, `pg_catalog.count(${arg})${filterClause(ctx, spec)}`);
  const countOf = (col: { id: string } | null, value: string): void =>
    as(col, counted ? `pg_catalog.count(*)${filterClause(ctx, spec, `${v} = ${value}`)}` : 'NULL::bigint');
  countOf(spec.nanState, sv.nan);
  countOf(spec.pinfState, sv.pinf);
  countOf(spec.ninfState, sv.ninf);
  as(
    spec.scaleState,
    plan.scaled
      ? `pg_catalog.sum(${scaleTerm(v)})${filterClause(ctx, spec, ...(counted ? [finiteCondition(v, plan)] : []))}`
      : 'NULL::numeric',
  );
  return cols;
}

/**
 * The node's relation (`__pgt_row_id`, its column ids) computed from an input: `input(s)` is a
 * SELECT of the child's columns to aggregate for grouping set `s`; `gate(s)`, for sets without
 * keys, a condition that must hold for their one row to exist (restricted recomputation).
 */
export function aggregateSelect(
  node: AggregateNode,
  ctx: DiffContext,
  input: (s: number) => string,
  gate: (s: number) => string | null,
): string {
  const branches = node.sets.map((set, s) => {
    const cols = setKeyColumns(node, s, (i) => ctx.render(keyAt(node, i).expr, 'c'));
    cols.push(sql`pg_catalog.count(*)::bigint AS ${q(node.count.id)}`);
    node.aggs.forEach((_, j) => {
      cols.push(...aggColumns(node, ctx, j));
    });
    for (const g of node.groupings) cols.push(sql`${groupingValue(g, set)}::integer AS ${q(g.column.id)}`);
    const groupBy = set.length > 0 ? `\nGROUP BY ${set.map((i) => i + 1).join(', ')}` : '';
    const g = set.length === 0 ? gate(s) : null;
    const inner = sql`SELECT ${cols.join(', ')}\nFROM (${input(s)}) AS c${groupBy}${g === null ? '' : `\nHAVING ${g}`}`;
    const where = node.having === null ? '' : `\nWHERE ${ctx.render(node.having, 'g')}`;
    const out = node.columns.map((c) => `, g.${q(c.id)}`).join('');
    return sql`SELECT ${aggRowId(node, 'g')} AS ${ROW_ID_COLUMN}${out}\nFROM (${inner}) AS g${where}`;
  });
  return branches.join('\nUNION ALL\n');
}

/** The condition "grouping set `s` has an affected row in `keys`" (row alias `k`). */
function setCondition(node: AggregateNode, s: number, alias: string): string {
  return node.setColumn === null ? '' : ` AND ${alias}.${q(node.setColumn.id)} = ${s}`;
}

/**
 * Adds the MATERIALIZED CTE of the group keys touched by the child delta `d`, per grouping set
 * (columns `__pgt_row_id` of the group, the key ids, the set column) and returns its name.
 */
export function affectedKeys(node: AggregateNode, ctx: DiffContext, d: string, label = 'keys'): string {
  const branches = node.sets.map((set, s) => {
    const cols = setKeyColumns(node, s, (i) => ctx.render(keyAt(node, i).expr, 'c'));
    const tail =
      set.length > 0 ? ` GROUP BY ${set.map((i) => i + 1).join(', ')}` : ' HAVING pg_catalog.count(*) > 0';
    return sql`SELECT ${[...cols, 'true AS __pgt_hit'].join(', ')} FROM ${d} AS c${tail}`;
  });
  return ctx.stmt.add(
    `n${node.nid}_${label}`,
    sql`SELECT ${aggRowId(node, 'a')} AS ${ROW_ID_COLUMN}, a.*\nFROM (${branches.join('\nUNION ALL\n')}) AS a`,
    true,
  );
}

/** The gate of a key-less grouping set over the affected keys `keys`. */
export function keysGate(node: AggregateNode, keys: string): (s: number) => string {
  return (s) => sql`EXISTS (SELECT 1 FROM ${keys} AS k WHERE true${setCondition(node, s, 'k')})`;
}

/**
 * The child's rows (snapshot SELECT `childSql`) whose grouping-set-`s` key is among `keys`,
 * NULL-safe: `k = ANY (ARRAY(…))` for one key, `(k1, …) IN (…)` for several, over the keys without
 * NULLs (index-friendly), plus a branch for keys with a NULL part that only runs when such a key
 * exists.
 */
export function restrictedInput(
  node: AggregateNode,
  ctx: DiffContext,
  childSql: string,
  s: number,
  keys: string,
): string {
  const set = node.sets[s] ?? [];
  const cond = setCondition(node, s, 'k');
  if (set.length === 0) {
    return sql`SELECT c.* FROM (${childSql}) AS c WHERE ${keysGate(node, keys)(s)}`;
  }
  const exprs = set.map((i) => ctx.render(keyAt(node, i).expr, 'c'));
  const kc = set.map((i) => `k.${q(keyAt(node, i).column.id)}`);
  const lhs = exprs.length === 1 ? (exprs[0] as string) : `(${exprs.join(', ')})`;
  const notNull = kc.map((k) => `${k} IS NOT NULL`).join(' AND ');
  const anyNull = kc.map((k) => `${k} IS NULL`).join(' OR ');
  const withNull = sql`EXISTS (SELECT 1 FROM ${keys} AS k WHERE (${anyNull})${cond})`;
  // One key: `= ANY (ARRAY(…))`, an array computed once, so an index on the key is probed for all
  // of them in one (bitmap) scan that can be combined with the child's own index conditions;
  // `IN (SELECT …)` would become a nested loop repeating those other index scans per key.
  const keyList = sql`SELECT ${kc.join(', ')} FROM ${keys} AS k WHERE ${notNull}${cond}`;
  const plain =
    exprs.length === 1
      ? sql`SELECT c.* FROM (${childSql}) AS c\nWHERE ${lhs} = ANY (ARRAY(${keyList}))`
      : sql`SELECT c.* FROM (${childSql}) AS c\nWHERE ${lhs} IN (${keyList})`;
  const nulls =
    exprs.length === 1
      ? sql`SELECT c.* FROM (${childSql}) AS c\nWHERE ${exprs[0]!} IS NULL AND ${withNull}`
      : sql`SELECT c.* FROM (${childSql}) AS c\nWHERE ${withNull} AND EXISTS (SELECT 1 FROM ${keys} AS k WHERE (${anyNull})${cond} AND ${exprs
          .map((e, x) => sql`${e} IS NOT DISTINCT FROM ${kc[x]!}`)
          .join(' AND ')})`;
  return `${plain}\nUNION ALL\n${nulls}`;
}

/** The aggregation of the child's `side` snapshot restricted to the groups in `keys`. */
export function restrictedAggregate(
  node: AggregateNode,
  ctx: DiffContext,
  childSql: string,
  keys: string,
): string {
  return aggregateSelect(
    node,
    ctx,
    (s) => restrictedInput(node, ctx, childSql, s, keys),
    keysGate(node, keys),
  );
}

/** The stored rows (all node columns, from the storage table) of the groups in `keys`. */
export function storedRows(node: AggregateNode, binding: StorageBinding, keys: string): string {
  const cols = node.columns.map((c) => sql`, s.${q(binding.column(c.id))} AS ${q(c.id)}`).join('');
  return sql`SELECT s.${q(ROW_ID_COLUMN)} AS ${ROW_ID_COLUMN}${cols}
FROM ${binding.relation} AS s
WHERE s.${q(ROW_ID_COLUMN)} IN (SELECT k.${ROW_ID_COLUMN} FROM ${keys} AS k)`;
}
