/**
 * SELECT DISTINCT (also UNION = DISTINCT over UNION ALL) and SELECT DISTINCT ON.
 *
 * DISTINCT (kind `distinct`): reference counts. Per distinct value v (equal values, NULLs equal,
 * see `multiset.ts`), n = copies of v in the child; the result holds v once iff n > 0.
 * - Delta at the root (the stream table's state operator, count kept in the hidden column
 *   `__pgt_count`): reads only ΔC and the storage table. Per affected value, Σ = the sum of ΔC's
 *   weights; old = the stored count (0 if the value is not stored), new = old + Σ. 0 → >0 emits
 *   +1; >0 → 0 emits −1; any other count change emits −1 (old count) / +1 (new count), which the
 *   apply turns into an update of the hidden count. The stored values are kept for a value that
 *   stays (when this node's columns are the stored ones); a new value takes the smallest row text
 *   among its inserted rows. Cost: O(|ΔC|) plus one storage lookup by row id per affected value.
 * - Delta elsewhere: the counted rule of `multiset.ts` (affected values recomputed from the
 *   child's NEW snapshot restricted to them, old counts = new − Σ ΔC); `__pgt_count` is NULL.
 * - Snapshots: C₀ / C₁ grouped by value (the child's snapshot on the same side); one
 *   representative per value: the smallest row text.
 * - Row id: the row id of (<output values>), by the values' own equality (shared/multiset.ts); unique.
 *
 * DISTINCT ON (kind `distinctOn`): per distinct-on key (equal values, NULLs equal), the first
 * row by the remaining ORDER BY keys (PostgreSQL requires the leading ORDER BY keys to be the
 * DISTINCT ON expressions); remaining ties are broken by the whole row's text. PostgreSQL breaks
 * such ties arbitrarily, so a stream table matches its query exactly only when the ORDER BY is a
 * total order within each key (tests use total orders).
 * - Delta: affected keys K = the keys of ΔC's rows; Δ = Q₁|K − Q₀|K, each side the first row per
 *   key: Q₁|K over the child's NEW snapshot restricted to K (index-friendly `restrictToKeys`),
 *   Q₀|K over C₀|K = C₁|K − ΔC (the same restricted rows with ΔC taken back out), so only the
 *   new snapshot is read. Cost: O(|ΔC| + rows of C₁ with an affected key).
 * - Snapshots: over C₀ / C₁.
 * - Row id: the row id of (<distinct-on key values>), by the keys' own equality; unique.
 * The node keeps all the child's columns (the outputs and hidden ORDER BY keys, which a LIMIT
 * above it may sort by).
 */

import type { DiffContext, StorageBinding } from '../diff/context.js';
import { differenceDelta } from '../diff/recompute.js';
import { rowText } from '../diff/rowid.js';
import { DvmError } from '../errors.js';
import { onlyChild } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { IrColumn, IrNode, IrNodeBase, Side } from '../ir/types.js';
import { COUNT_COLUMN, ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';
import {
  type ColumnTypes,
  type CountedFields,
  childTypes,
  colList,
  countedDelta,
  countedSnapshot,
  keyedChildDelta,
  restrictToKeys,
  valueRowId,
} from './shared/multiset.js';

/** DISTINCT over its child's `outputs` columns (UNION: over a UNION ALL). */
export interface DistinctNode extends IrNodeBase, CountedFields {
  readonly kind: 'distinct';
  /** Built for a UNION (its child is the UNION ALL of the branches; used to flatten `a UNION b UNION c`). */
  readonly union: boolean;
}

/**
 * Builds DISTINCT over the columns `outputs` of `child` (a subset of its columns, in order); the
 * node's columns are the outputs plus the hidden `__pgt_count`.
 */
export function makeDistinct(
  ids: IdAllocator,
  child: IrNode,
  outputs: readonly IrColumn[],
  union = false,
): DistinctNode {
  const count = { id: ids.column(COUNT_COLUMN), name: COUNT_COLUMN };
  return {
    kind: 'distinct',
    nid: ids.node(),
    columns: [...outputs, count],
    uniqueIds: true,
    children: [child],
    outputs,
    sideId: null,
    rule: 'distinct',
    all: false,
    countId: count.id,
    stored: false,
    types: null,
    union,
  };
}

/** The storage column of `id`, or null when the stream table does not store it. */
function storedColumn(binding: StorageBinding, id: string): string | null {
  try {
    return binding.column(id);
  } catch (error) {
    if (error instanceof DvmError) return null;
    throw error;
  }
}

/** Root delta: stored counts plus ΔC (see the header). */
function storedDelta(node: DistinctNode, binding: StorageBinding, ctx: DiffContext): string {
  const cols = node.outputs.map((c) => c.id);
  const countId = node.countId as string;
  const dk = keyedChildDelta(node, ctx);
  const texts = ctx.stmt.add(
    `n${node.nid}_texts`,
    sql`SELECT DISTINCT ON (k.${ROW_ID_COLUMN}, k.__pgt_text) k.${ROW_ID_COLUMN}, k.__pgt_text${colList('k', cols)},
       (pg_catalog.sum(k.__pgt_dw) OVER (PARTITION BY k.${ROW_ID_COLUMN}, k.__pgt_text))::bigint AS __pgt_dw
FROM ${dk} AS k
ORDER BY k.${ROW_ID_COLUMN}, k.__pgt_text`,
  );
  const perValue = ctx.stmt.add(
    `n${node.nid}_net`,
    sql`SELECT DISTINCT ON (t.${ROW_ID_COLUMN}) t.${ROW_ID_COLUMN}${colList('t', cols)},
       (pg_catalog.sum(t.__pgt_dw) OVER (PARTITION BY t.${ROW_ID_COLUMN}))::bigint AS __pgt_net
FROM ${texts} AS t
ORDER BY t.${ROW_ID_COLUMN}, t.__pgt_dw > 0 DESC, t.__pgt_text`,
  );
  const stored = cols.map((id) => storedColumn(binding, id));
  const keepStored = stored.every((s) => s !== null);
  const storedCols = keepStored
    ? stored.map((s, i) => sql`, s.${sql.id(s as string)} AS ${sql.id(`__pgt_s${i}`)}`).join('')
    : '';
  const joined = ctx.stmt.add(
    `n${node.nid}_old`,
    sql`SELECT a.*, COALESCE(s.${sql.id(binding.column(countId))}, 0)::bigint AS __pgt_old, s.${ROW_ID_COLUMN} IS NOT NULL AS __pgt_has${storedCols}
FROM ${perValue} AS a LEFT JOIN ${binding.relation} AS s ON s.${ROW_ID_COLUMN} = a.${ROW_ID_COLUMN}
WHERE a.__pgt_net <> 0`,
    true,
  );
  const values = cols
    .map((id, i) =>
      keepStored
        ? sql`, CASE WHEN j.__pgt_has THEN j.${sql.id(`__pgt_s${i}`)} ELSE j.${sql.id(id)} END AS ${sql.id(id)}`
        : sql`, j.${sql.id(id)}`,
    )
    .join('');
  return ctx.stmt.add(
    `d${node.nid}_distinct`,
    sql`SELECT j.${ROW_ID_COLUMN}, -1::bigint AS ${WEIGHT_COLUMN}${values}, j.__pgt_old AS ${sql.id(countId)}
FROM ${joined} AS j WHERE j.__pgt_old > 0
UNION ALL
SELECT j.${ROW_ID_COLUMN}, 1::bigint AS ${WEIGHT_COLUMN}${values}, j.__pgt_old + j.__pgt_net AS ${sql.id(countId)}
FROM ${joined} AS j WHERE j.__pgt_old + j.__pgt_net > 0`,
  );
}

/** The rules of `distinct` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const distinctRules: OperatorRules<DistinctNode> = {
  snapshot(node, side, ctx) {
    return countedSnapshot(node, side, ctx);
  },
  delta(node, ctx) {
    const binding = node.stored ? ctx.storageFor(node) : null;
    if (binding !== null) return storedDelta(node, binding, ctx);
    return countedDelta(node, ctx, 'distinct');
  },
  rootState(node) {
    node.stored = true;
    return node.columns.filter((c) => c.id === node.countId);
  },
  async analyze(node, tools) {
    node.types = await childTypes(node, tools);
  },
};

/** One ORDER BY key of DISTINCT ON over a column id. */
export interface OrderKey {
  readonly id: string;
  readonly descending: boolean;
  readonly nullsFirst: boolean;
}

/** DISTINCT ON (`keyIds`) … ORDER BY `order` over its child's rows. */
export interface DistinctOnNode extends IrNodeBase {
  readonly kind: 'distinctOn';
  /** The DISTINCT ON key columns (child column ids). */
  readonly keyIds: readonly string[];
  /** The ORDER BY keys after the DISTINCT ON keys. */
  readonly order: readonly OrderKey[];
  /** Child column types (see `analyze`). */
  types: ColumnTypes | null;
}

/** Builds DISTINCT ON over `child` (all its columns kept); `order` = the full ORDER BY. */
export function makeDistinctOn(
  ids: IdAllocator,
  child: IrNode,
  keyIds: readonly string[],
  order: readonly OrderKey[],
): DistinctOnNode {
  const keys = new Set(keyIds);
  return {
    kind: 'distinctOn',
    nid: ids.node(),
    columns: child.columns,
    uniqueIds: true,
    children: [child],
    keyIds,
    order: order.filter((o) => !keys.has(o.id)),
    types: null,
  };
}

/** The first row per key of the relation `from` (the child's columns). */
function firstPerKey(node: DistinctOnNode, from: string): string {
  const cols = node.columns.map((c) => c.id);
  const order = node.order
    .map(
      (o) =>
        sql`x.${sql.id(o.id)} ${o.descending ? 'DESC' : 'ASC'} NULLS ${o.nullsFirst ? 'FIRST' : 'LAST'}, `,
    )
    .join('');
  return sql`SELECT DISTINCT ON (x.${ROW_ID_COLUMN}) x.${ROW_ID_COLUMN}${colList('x', cols)}
FROM (SELECT ${valueRowId('c', node.keyIds, node.types)} AS ${ROW_ID_COLUMN}, ${rowText('c', cols)} AS __pgt_text${colList('c', cols)}
      FROM ${from} AS c) AS x
ORDER BY x.${ROW_ID_COLUMN}, ${order}x.__pgt_text`;
}

function distinctOnSnapshot(node: DistinctOnNode, side: Side, ctx: DiffContext): string {
  return firstPerKey(node, `(${ctx.snapshot(onlyChild(node), side)})`);
}

/** The rules of `distinctOn` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const distinctOnRules: OperatorRules<DistinctOnNode> = {
  snapshot: distinctOnSnapshot,
  delta(node, ctx) {
    const child = onlyChild(node);
    const d = ctx.delta(child);
    const keys = ctx.stmt.add(
      `n${node.nid}_keys`,
      sql`SELECT DISTINCT ${valueRowId('d', node.keyIds, node.types)} AS ${ROW_ID_COLUMN}${colList('d', node.keyIds)}
FROM ${d} AS d`,
      true,
    );
    // C₁ restricted to the affected keys, once; C₀|K = C₁|K − ΔC (per child row id and text: the
    // rows whose net count stays positive; copies do not matter to DISTINCT ON).
    const cols = node.columns.map((c) => c.id);
    const current = ctx.stmt.add(
      `n${node.nid}_current`,
      restrictToKeys(ctx.snapshot(child, 'new'), node.keyIds, node.types, keys),
      true,
    );
    const before = sql`(SELECT y.* FROM (SELECT DISTINCT ON (x.${ROW_ID_COLUMN}, x.__pgt_text) x.*, pg_catalog.sum(x.__pgt_n) OVER (PARTITION
  BY x.${ROW_ID_COLUMN}, x.__pgt_text) AS __pgt_net
        FROM (SELECT c.${ROW_ID_COLUMN}, ${rowText('c', cols)} AS __pgt_text, 1::bigint AS __pgt_n${colList('c', cols)} FROM ${current} AS c
              UNION ALL
              SELECT d.${ROW_ID_COLUMN}, ${rowText('d', cols)}, -d.${WEIGHT_COLUMN}${colList('d', cols)} FROM ${d} AS d) AS x
        ORDER BY x.${ROW_ID_COLUMN}, x.__pgt_text) AS y
  WHERE y.__pgt_net > 0)`;
    return differenceDelta(ctx, node, firstPerKey(node, current), firstPerKey(node, before), 'distinct_on');
  },
  async analyze(node, tools) {
    node.types = await childTypes(node, tools);
  },
};
