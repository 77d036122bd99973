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
 * result; O(n)), else recomputed over the child's old snapshot.
 * Snapshots: T(C₀) / T(C₁) over the child's snapshot on the same side.
 * Row id: the child row's id (unique iff the child's are).
 * Determinism: a plain LIMIT (or OFFSET) whose boundary falls inside a group of rows tied on the
 * sort keys keeps an arbitrary subset of them in PostgreSQL, so such a result cannot be checked
 * against its query; use a total order (e.g. add the primary key as the last sort key) or WITH
 * TIES, which is deterministic.
 */

import type { DiffContext } from '../diff/context.js';
import { differenceDelta } from '../diff/recompute.js';
import { registerOperator } from '../diff/registry.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrNode, IrNodeBase } from '../ir/types.js';
import { quoteIdent } from '../sql/quote.js';
import { onlyChild } from './filter.js';

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
  return node.columns.map((c) => `, ${alias}.${quoteIdent(c.id)}`).join('');
}

/** `ORDER BY … [OFFSET …] [LIMIT … | FETCH FIRST … ROWS WITH TIES]` over alias `alias`. */
function limitClause(node: TopNNode, alias: string, ctx: DiffContext): string {
  const order = node.sortKeys
    .map(
      (k) =>
        `${alias}.${quoteIdent(k.id)} ${k.descending ? 'DESC' : 'ASC'} NULLS ${k.nullsFirst ? 'FIRST' : 'LAST'}`,
    )
    .join(', ');
  const parts = [`ORDER BY ${order}`];
  const offset = node.offset === null ? null : `(${ctx.render(node.offset, alias)})`;
  const limit = node.limit === null ? null : `(${ctx.render(node.limit, alias)})`;
  if (node.withTies) {
    if (offset !== null) parts.push(`OFFSET ${offset} ROWS`);
    if (limit !== null) parts.push(`FETCH FIRST ${limit} ROWS WITH TIES`);
  } else {
    if (limit !== null) parts.push(`LIMIT ${limit}`);
    if (offset !== null) parts.push(`OFFSET ${offset}`);
  }
  return parts.join(' ');
}

/** T(input): the top-N of a relation with the child's columns. */
function topOf(node: TopNNode, input: string, ctx: DiffContext): string {
  return `SELECT c.__pgt_row_id${columnList(node, 'c')}\nFROM (${input}) AS c\n${limitClause(node, 'c', ctx)}`;
}

/** Name of the hidden storage column keeping column `id` when the top-N is below projections. */
function stateName(id: string): string {
  return `__pgt_topn_${id}`;
}

registerOperator<TopNNode>({
  kind: 'topN',
  snapshot(node, side, ctx) {
    return topOf(node, ctx.snapshot(onlyChild(node), side), ctx);
  },
  delta(node, ctx) {
    const child = onlyChild(node);
    if (ctx.isStaticallyEmpty(child)) {
      return ctx.stmt.add(
        `d${node.nid}_topn`,
        `SELECT t.__pgt_row_id, 0::bigint AS __pgt_weight${columnList(node, 't')}\nFROM (${ctx.snapshot(node, 'new')}) AS t\nWHERE false`,
      );
    }
    const d = ctx.delta(child);
    const changed = `EXISTS (SELECT 1 FROM ${d})`;
    const newSql = `SELECT t.* FROM (${topOf(node, ctx.snapshot(child, 'new'), ctx)}) AS t WHERE ${changed}`;
    const storage = ctx.storageFor(node);
    const oldSql =
      storage === null
        ? `SELECT t.* FROM (${topOf(node, ctx.snapshot(child, 'old'), ctx)}) AS t WHERE ${changed}`
        : `SELECT s.__pgt_row_id${node.columns.map((c) => `, s.${quoteIdent(storage.column(c.id))} AS ${quoteIdent(c.id)}`).join('')}\nFROM ${storage.relation} AS s WHERE ${changed}`;
    return differenceDelta(ctx, node, newSql, oldSql, 'topn');
  },
  rootState(node) {
    // The previous result is the storage table itself; these columns are already stored when the
    // top-N is the root (only a projection above it stores them again, under hidden names).
    return node.columns.map((c) => ({ id: c.id, name: stateName(c.id) }));
  },
});
