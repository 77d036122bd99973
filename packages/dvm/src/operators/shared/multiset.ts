/**
 * Shared machinery of the multiplicity operators (DISTINCT, UNION, INTERSECT [ALL], EXCEPT [ALL]
 * in `distinct.ts` / `set-op.ts`; DISTINCT ON in `distinct.ts`):
 *
 * - Value identity. These operators treat two rows as the same when their values are equal (the
 *   type's `=` under the column's collation, NULL equal to NULL), as PostgreSQL's DISTINCT / set
 *   operations do. Their row id is the row id of (<values>) (diff/rowid.ts): by the types' own
 *   extended hash functions, which hash equal values equally (1.0 = 1.00, bpchar
 *   trailing spaces, jsonb numbers, arrays and ranges of those, nondeterministic collations,
 *   '1 day' = '24 hours', −0 = 0). Types come from PostgreSQL at compile time (`analyze`); a type
 *   without a hash function is hashed through its stand-in (`hashablePart`).
 * - The *counted* rule (DISTINCT / UNION / INTERSECT / EXCEPT and their ALL forms): per distinct
 *   value v, l = copies of v in the left input (every row for DISTINCT), r = copies in the right
 *   input; the result holds f(l, r) copies of v (see {@link copiesSql}). Its child is one relation
 *   whose rows carry an optional side column (1 = left, 2 = right: a UNION ALL of the two inputs,
 *   so PostgreSQL resolves the column types once, in the snapshots and the deltas alike).
 *   Snapshot: the child's snapshot grouped by value id, f(l, r) copies of one representative row
 *   per value (left rows first, then the smallest row text).
 *   Delta (affected-value recomputation, reading only the child's delta and NEW snapshot):
 *   affected values = the ids of ΔC's rows; for each, per (side, row text): n₁ = copies in C₁
 *   (new snapshot restricted to the affected values), n₀ = n₁ − Σ ΔC weights (exact, since
 *   C₀ = C₁ − ΔC as multisets); l/r summed per side; copies₀ = f(l₀, r₀), copies₁ = f(l₁, r₁);
 *   emit −copies₀ × the old representative, +copies₁ × the new one (one net row when both
 *   representatives are the same row text). Cost: O(|ΔC| + rows of C₁ holding an affected
 *   value), index-served when the child is a scan (or join) with an index on the value columns.
 * - `restrictToKeys`: a child snapshot restricted to the rows whose key values match the affected
 *   keys, NULL-safe, written so an index on the key columns can serve it (row `IN` for keys
 *   without NULLs, a separate branch for keys with NULLs).
 */

import type { DiffContext } from '../../diff/context.js';
import { rowIdExpr, rowText } from '../../diff/rowid.js';
import { onlyChild } from '../../ir/children.js';
import type { IrColumn, IrNode, Side } from '../../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../../names.js';
import { sql } from '../../sql/sql.js';
import type { DistinctNode } from '../distinct.js';
import type { AnalyzeTools } from '../rules.js';
import type { SetOpNode } from '../set-op.js';

/** Column id → PostgreSQL type name (as `format_type` prints it), learned at compile time. */
export type ColumnTypes = ReadonlyMap<string, string>;

/** The value-identity row id of columns `ids` of row alias `alias`. */
export function valueRowId(alias: string, ids: readonly string[], types: ColumnTypes | null): string {
  return rowIdExpr(ids.map((id) => ({ expr: sql`${alias}.${sql.id(id)}`, type: types?.get(id) })));
}

/** Learns the column types of `node`'s only child (for value ids). */
export async function childTypes(node: IrNode, tools: AnalyzeTools): Promise<ColumnTypes> {
  const cols = await tools.describe(tools.snapshotSql(onlyChild(node)));
  return new Map(cols.map((c) => [c.name, c.type]));
}

/** `, <alias>."<id>"` for each id. */
export function colList(alias: string, ids: readonly string[]): string {
  return ids.map((id) => sql`, ${alias}.${sql.id(id)}`).join('');
}

/**
 * The rows of snapshot `snapshotSql` (a SELECT with columns `keyIds`) whose key values match a row
 * of CTE `keys` (columns `__pgt_row_id` = the value id of the key, and the key columns under the
 * same ids), NULL-safe. Output: the snapshot's columns (`c.*`).
 */
export function restrictToKeys(
  snapshotSql: string,
  keyIds: readonly string[],
  types: ColumnTypes | null,
  keys: string,
): string {
  const byId = sql`${valueRowId('c', keyIds, types)} IN (SELECT k.${ROW_ID_COLUMN} FROM ${keys} AS k)`;
  if (keyIds.length === 0) return sql`SELECT c.* FROM (${snapshotSql}) AS c WHERE ${byId}`;
  const tuple = (alias: string) => sql`(${keyIds.map((id) => sql`${alias}.${sql.id(id)}`).join(', ')})`;
  const anyNull = (alias: string) => keyIds.map((id) => sql`${alias}.${sql.id(id)} IS NULL`).join(' OR ');
  return sql`SELECT c.* FROM (${snapshotSql}) AS c
WHERE ${tuple('c')} IN (SELECT ${tuple('k').slice(1, -1)} FROM ${keys} AS k) AND ${byId}
UNION ALL
SELECT c.* FROM (${snapshotSql}) AS c
WHERE EXISTS (SELECT 1 FROM ${keys} AS k WHERE ${anyNull('k')}) AND (${anyNull('c')}) AND ${byId}`;
}

/** Which multiplicity a counted node gives each distinct value. */
export type CountRule = 'distinct' | 'intersect' | 'except';

/** The fields of a counted node (DISTINCT / UNION / INTERSECT / EXCEPT). */
export interface CountedFields {
  /** The value columns (ids of the child's columns, which it passes through). */
  readonly outputs: readonly IrColumn[];
  /** The child's side column (1 = left input, 2 = right input), or null: every row is "left". */
  readonly sideId: string | null;
  readonly rule: CountRule;
  /** ALL: f(l, r) copies; otherwise at most one. */
  readonly all: boolean;
  /** The hidden per-value count column (DISTINCT / UNION), or null. */
  readonly countId: string | null;
  /** Set when the node is the stream table's state operator (its count is then kept in storage). */
  stored: boolean;
  /** Child column types (see `analyze`), or null if not analysed. */
  types: ColumnTypes | null;
}

/** A counted node: DISTINCT or a set operation (INTERSECT / EXCEPT, ALL or not, and UNION). */
export type CountedNode = DistinctNode | SetOpNode;

/** The number of copies of a value with `l` left and `r` right copies (both non-NULL bigints). */
export function copiesSql(node: CountedFields, l: string, r: string): string {
  switch (node.rule) {
    case 'distinct':
      return node.all ? l : sql`(CASE WHEN ${l} > 0 THEN 1 ELSE 0 END)::bigint`;
    case 'intersect':
      return node.all
        ? `LEAST(${l}, ${r})`
        : sql`(CASE WHEN ${l} > 0 AND ${r} > 0 THEN 1 ELSE 0 END)::bigint`;
    case 'except':
      return node.all
        ? `GREATEST(${l} - ${r}, 0)`
        : sql`(CASE WHEN ${l} > 0 AND ${r} = 0 THEN 1 ELSE 0 END)::bigint`;
  }
}

function ids(node: CountedNode): string[] {
  return node.outputs.map((c) => c.id);
}

function sideOf(node: CountedNode, alias: string): string {
  return node.sideId === null ? '1' : sql`${alias}.${sql.id(node.sideId)}`;
}

/** The count column of the node's rows (`, <sql> AS "<countId>"`), or nothing. */
function countColumn(node: CountedNode, count: string): string {
  if (node.countId === null) return '';
  return sql`, ${node.stored ? count : 'NULL::bigint'} AS ${sql.id(node.countId)}`;
}

/** Snapshot of a counted node (see the header). */
export function countedSnapshot(node: CountedNode, side: Side, ctx: DiffContext): string {
  const cols = ids(node);
  const inner = sql`SELECT ${valueRowId('c', cols, node.types)} AS ${ROW_ID_COLUMN}, ${rowText('c', cols)} AS __pgt_text, ${sideOf(node, 'c')}
  AS __pgt_side${colList('c', cols)}
FROM (${ctx.snapshot(onlyChild(node), side)}) AS c`;
  const grouped = sql`SELECT DISTINCT ON (x.${ROW_ID_COLUMN}) x.*, pg_catalog.count(*) FILTER (WHERE x.__pgt_side = 1) OVER w AS __pgt_l,
  pg_catalog.count(*) FILTER (WHERE x.__pgt_side <> 1) OVER w AS __pgt_r
FROM (${inner}) AS x
WINDOW w AS (PARTITION BY x.${ROW_ID_COLUMN})
ORDER BY x.${ROW_ID_COLUMN}, x.__pgt_side, x.__pgt_text`;
  const copies = copiesSql(node, 'y.__pgt_l', 'y.__pgt_r');
  const expand = node.all ? sql`\nCROSS JOIN LATERAL pg_catalog.generate_series(1, ${copies}) AS g` : '';
  return sql`SELECT y.${ROW_ID_COLUMN}${colList('y', cols)}${countColumn(node, 'y.__pgt_l')}
FROM (${grouped}) AS y${expand}
WHERE ${copies} > 0`;
}

/** The child's delta with each row's value id, text and side (`__pgt_dw` = its weight). */
export function keyedChildDelta(node: CountedNode, ctx: DiffContext): string {
  const cols = ids(node);
  const d = ctx.delta(onlyChild(node));
  return ctx.stmt.add(
    `n${node.nid}_changed`,
    sql`SELECT ${valueRowId('d', cols, node.types)} AS ${ROW_ID_COLUMN}, ${rowText('d', cols)} AS __pgt_text, ${sideOf(node, 'd')} AS
  __pgt_side, d.${WEIGHT_COLUMN} AS __pgt_dw${colList('d', cols)}
FROM ${d} AS d`,
    true,
  );
}

/** Delta of a counted node by affected-value recomputation (see the header). */
export function countedDelta(node: CountedNode, ctx: DiffContext, label: string): string {
  const cols = ids(node);
  const dk = keyedChildDelta(node, ctx);
  const current = restrictToKeys(ctx.snapshot(onlyChild(node), 'new'), cols, node.types, dk);
  const rows = ctx.stmt.add(
    `n${node.nid}_rows`,
    sql`SELECT ${valueRowId('c', cols, node.types)} AS ${ROW_ID_COLUMN}, ${rowText('c', cols)} AS __pgt_text, ${sideOf(node, 'c')} AS
  __pgt_side, 1::bigint AS __pgt_n1, 0::bigint AS __pgt_dw${colList('c', cols)}
FROM (${current}) AS c
UNION ALL
SELECT k.${ROW_ID_COLUMN}, k.__pgt_text, k.__pgt_side, 0::bigint, k.__pgt_dw${colList('k', cols)}
FROM ${dk} AS k`,
  );
  // Per (value, side, row text): copies in C₁ and the net change.
  const texts = ctx.stmt.add(
    `n${node.nid}_texts`,
    sql`SELECT DISTINCT ON (x.${ROW_ID_COLUMN}, x.__pgt_side, x.__pgt_text) x.${ROW_ID_COLUMN}, x.__pgt_side, x.__pgt_text${colList('x', cols)},
       (pg_catalog.sum(x.__pgt_n1) OVER w)::bigint AS __pgt_n1, (pg_catalog.sum(x.__pgt_dw) OVER w)::bigint AS __pgt_dw
FROM ${rows} AS x
WINDOW w AS (PARTITION BY x.${ROW_ID_COLUMN}, x.__pgt_side, x.__pgt_text)
ORDER BY x.${ROW_ID_COLUMN}, x.__pgt_side, x.__pgt_text`,
    true,
  );
  const sum = (expr: string, left: boolean) =>
    sql`COALESCE(pg_catalog.sum(${expr}) FILTER (WHERE t.__pgt_side ${left ? '=' : '<>'} 1), 0)::bigint`;
  const counts = ctx.stmt.add(
    `n${node.nid}_counts`,
    sql`SELECT p.${ROW_ID_COLUMN}, p.__pgt_l1, ${copiesSql(node, 'p.__pgt_l1', 'p.__pgt_r1')} AS __pgt_c1, p.__pgt_l0,
  ${copiesSql(node, 'p.__pgt_l0', 'p.__pgt_r0')} AS __pgt_c0
FROM (SELECT t.${ROW_ID_COLUMN}, ${sum('t.__pgt_n1', true)} AS __pgt_l1, ${sum('t.__pgt_n1', false)} AS __pgt_r1,
             ${sum('t.__pgt_n1 - t.__pgt_dw', true)} AS __pgt_l0, ${sum('t.__pgt_n1 - t.__pgt_dw', false)} AS __pgt_r0
      FROM ${texts} AS t GROUP BY t.${ROW_ID_COLUMN}) AS p`,
    true,
  );
  // The representative row of each value before and after (left rows first, then smallest text).
  const rep = (name: string, present: string) =>
    ctx.stmt.add(
      `n${node.nid}_${name}`,
      sql`SELECT DISTINCT ON (t.${ROW_ID_COLUMN}) t.${ROW_ID_COLUMN}, t.__pgt_text${colList('t', cols)}
FROM ${texts} AS t WHERE ${present} > 0
ORDER BY t.${ROW_ID_COLUMN}, t.__pgt_side, t.__pgt_text`,
      true,
    );
  const after = rep('rep_new', 't.__pgt_n1');
  const before = rep('rep_old', 't.__pgt_n1 - t.__pgt_dw');
  const out = (alias: string, weight: string, count: string) =>
    sql`SELECT p.${ROW_ID_COLUMN}, ${weight} AS ${WEIGHT_COLUMN}${colList(alias, cols)}${countColumn(node, count)}`;
  // A value's row changes when its representative does (or, with a stored count, its count).
  const changed = sql`(n.__pgt_text IS DISTINCT FROM o.__pgt_text${node.stored && node.countId !== null ? ' OR p.__pgt_l1 <> p.__pgt_l0' : ''})`;
  return ctx.stmt.add(
    `d${node.nid}_${label}`,
    sql`${out('o', '-p.__pgt_c0', 'p.__pgt_l0')}
FROM ${counts} AS p JOIN ${before} AS o ON o.${ROW_ID_COLUMN} = p.${ROW_ID_COLUMN} LEFT JOIN ${after} AS n ON n.${ROW_ID_COLUMN} = p.${ROW_ID_COLUMN}
WHERE p.__pgt_c0 > 0 AND ${changed}
UNION ALL
${out('n', 'p.__pgt_c1', 'p.__pgt_l1')}
FROM ${counts} AS p JOIN ${after} AS n ON n.${ROW_ID_COLUMN} = p.${ROW_ID_COLUMN} LEFT JOIN ${before} AS o ON o.${ROW_ID_COLUMN} = p.${ROW_ID_COLUMN}
WHERE p.__pgt_c1 > 0 AND ${changed}
UNION ALL
${out('n', 'p.__pgt_c1 - p.__pgt_c0', 'p.__pgt_l1')}
FROM ${counts} AS p JOIN ${after} AS n ON n.${ROW_ID_COLUMN} = p.${ROW_ID_COLUMN} JOIN ${before} AS o ON o.${ROW_ID_COLUMN} = p.${ROW_ID_COLUMN}
WHERE NOT ${changed} AND p.__pgt_c1 <> p.__pgt_c0`,
  );
}
