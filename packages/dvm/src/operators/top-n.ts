/**
 * Top-N: `ORDER BY … LIMIT n OFFSET m` (also `FETCH FIRST n ROWS ONLY` and `… WITH TIES`): the
 * child's rows in sort-key order, the first m skipped, the next n kept (WITH TIES: plus every
 * row that ties with the last kept one on all sort keys). Limit and offset are constants.
 *
 * Delta rule (recomputation): top-N is not linear, and any change of the input may move rows
 * across the boundary, so
 *   ΔC = ∅  →  Δ = ∅   (nothing read; both sides are guarded by "ΔC is not empty"),
 *   else       Δ = T(C₁) − T(C₀)   (`differenceDelta`),
 * where T(C₁) re-runs ORDER BY … LIMIT over the child's new snapshot (an index on the sort key
 * makes it O(n + m)), and T(C₀), the previous result, is read from the storage table when this
 * node is the stream table's top operator (`rootState`: the storage holds exactly the previous
 * result; O(n)). Below the root, T(C₀) = T(P − Δ⁺ + Δ⁻) for the prefix P of the first
 * n + m + |Δ⁺| rows of C₁ (proof in `delta`); only the new snapshot and the delta are read.
 * Snapshots: T(C₀) / T(C₁) over the child's snapshot on the same side.
 * Row id: the child row's id (unique iff the child's are).
 * Determinism: a plain LIMIT (or OFFSET) whose boundary falls inside a group of rows tied on the
 * sort keys keeps an arbitrary subset of them in PostgreSQL, so such a result cannot be checked
 * against its query; use a total order (e.g. add the primary key as the last sort key) or WITH
 * TIES, which is deterministic.
 */

import type { DiffContext } from '../diff/context.js';
import { differenceDelta } from '../diff/recompute.js';
import { onlyChild } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';
import { addedCount, netDelta, oldFromNew } from './shared/old-from-new.js';

/** One sort key of a top-N: a child column, direction and NULL placement. */
export interface TopNKey {
  readonly id: string;
  readonly descending: boolean;
  readonly nullsFirst: boolean;
}

/** ORDER BY … LIMIT / OFFSET over `child`. */
export interface TopNNode extends IrNodeBase {
  readonly kind: 'topN';
  readonly sortKeys: readonly TopNKey[];
  /** The row count (a constant expression), or null for no limit. */
  readonly limit: Expr | null;
  /** The rows skipped first (a constant expression), or null. */
  readonly offset: Expr | null;
  /** FETCH FIRST … WITH TIES. */
  readonly withTies: boolean;
}

/** Builds a top-N over `child` (sort keys are child column ids). */
export function makeTopN(
  ids: IdAllocator,
  child: IrNode,
  sortKeys: readonly TopNKey[],
  limit: Expr | null,
  offset: Expr | null,
  withTies: boolean,
): TopNNode {
  return {
    kind: 'topN',
    nid: ids.node(),
    columns: child.columns,
    uniqueIds: child.uniqueIds,
    children: [child],
    sortKeys,
    limit,
    offset,
    withTies,
  };
}

function columnList(node: IrNode, alias: string): string {
  return node.columns.map((c) => sql`, ${alias}.${sql.id(c.id)}`).join('');
}

/** `ORDER BY …` of the sort keys over alias `alias`. */
function orderBy(node: TopNNode, alias: string): string {
  const keys = node.sortKeys.map(
    (k) =>
      sql`${alias}.${sql.id(k.id)} ${k.descending ? 'DESC' : 'ASC'} NULLS ${k.nullsFirst ? 'FIRST' : 'LAST'}`,
  );
  return `ORDER BY ${keys.join(', ')}`;
}

/** `ORDER BY … [OFFSET …] [LIMIT … | FETCH FIRST … ROWS WITH TIES]` with SQL limit / offset (null: none). */
function limitClause(node: TopNNode, alias: string, limit: string | null, offset: string | null): string {
  const parts = [orderBy(node, alias)];
  if (node.withTies) {
    if (offset !== null) parts.push(`OFFSET ${offset} ROWS`);
    if (limit !== null) parts.push(`FETCH FIRST ${limit} ROWS WITH TIES`);
  } else {
    if (limit !== null) parts.push(`LIMIT ${limit}`);
    if (offset !== null) parts.push(`OFFSET ${offset}`);
  }
  return parts.join(' ');
}

/** The node's limit and offset as SQL (null: none). */
function bounds(node: TopNNode, ctx: DiffContext): { limit: string | null; offset: string | null } {
  return {
    limit: node.limit === null ? null : `(${ctx.render(node.limit, 'c')})`,
    offset: node.offset === null ? null : `(${ctx.render(node.offset, 'c')})`,
  };
}

/** T(input): the top-N of a relation with the child's columns. */
function topOf(node: TopNNode, input: string, ctx: DiffContext): string {
  const { limit, offset } = bounds(node, ctx);
  return sql`SELECT c.${ROW_ID_COLUMN}${columnList(node, 'c')}\nFROM (${input}) AS c\n${limitClause(node, 'c', limit, offset)}`;
}

/** Name of the hidden storage column keeping column `id` when the top-N is below projections. */
function stateName(id: string): string {
  return `__pgt_topn_${id}`;
}

/** The rules of `topN` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const topNRules: OperatorRules<TopNNode> = {
  snapshot(node, side, ctx) {
    return topOf(node, ctx.snapshot(onlyChild(node), side), ctx);
  },
  delta(node, ctx) {
    const child = onlyChild(node);
    const d = ctx.delta(child);
    const changed = sql`EXISTS (SELECT 1 FROM ${d})`;
    const storage = ctx.storageFor(node);
    if (storage !== null) {
      // At the root the previous result is the storage table.
      const newSql = sql`SELECT t.* FROM (${topOf(node, ctx.snapshot(child, 'new'), ctx)}) AS t WHERE ${changed}`;
      const oldSql = sql`SELECT s.${ROW_ID_COLUMN}${node.columns.map((c) => sql`, s.${sql.id(storage.column(c.id))} AS ${sql.id(c.id)}`).join('')}
FROM ${storage.relation} AS s WHERE ${changed}`;
      return differenceDelta(ctx, node, newSql, oldSql, 'topn');
    }
    // Below the root: both results from a prefix of C₁ long enough for both. A row of the old
    // top that is in C₁ has fewer than limit + offset rows of C₀ before it, hence fewer than
    // limit + offset + |Δ⁺| rows of C₁ (C₁ ⊆ C₀ + Δ⁺): the first limit + offset + |Δ⁺| rows
    // of C₁ (WITH TIES: and their ties), minus Δ⁺, plus Δ⁻, hold the old top (old-from-new.ts).
    const net = netDelta(ctx, node, child, d);
    const { limit, offset } = bounds(node, ctx);
    const length = limit === null ? null : `${limit} + COALESCE(${offset ?? '0'}, 0) + ${addedCount(net)}`;
    const prefixLimit =
      length === null ? '' : node.withTies ? ` FETCH FIRST (${length}) ROWS WITH TIES` : ` LIMIT (${length})`;
    const prefix = ctx.stmt.add(
      `n${node.nid}_prefix`,
      sql`SELECT t.* FROM (SELECT c.${ROW_ID_COLUMN}${columnList(node, 'c')}
FROM (${ctx.snapshot(child, 'new')}) AS c
${orderBy(node, 'c')}${prefixLimit}) AS t
WHERE ${changed}`,
      true,
    );
    const newSql = topOf(node, sql`SELECT * FROM ${prefix}`, ctx);
    const oldSql = topOf(node, oldFromNew(child, prefix, net), ctx);
    return differenceDelta(ctx, node, newSql, oldSql, 'topn');
  },
  rootState(node) {
    // The previous result is the storage table itself; these columns are already stored when the
    // top-N is the root (only a projection above it stores them again, under hidden names).
    return node.columns.map((c) => ({ id: c.id, name: stateName(c.id) }));
  },
};
