/**
 * IMMEDIATE apply of a linear delta: the cheapest statement for one statement's changes when the
 * delta needs no consolidation. Rule: when the query is scans, filters, projections and inner
 * joins with unique row ids, and the changed source is scanned once, every −1 row of the delta
 * comes from one OLD row and every +1 row from one NEW row (the other sources are read in one
 * state), so ids are unique per sign, a −1 id is stored, and an id appears with both signs only
 * when the same source row keeps the same partners. Then:
 * - only NEW rows (an INSERT): the +1 rows are inserted (their ids are new);
 * - only OLD rows (a DELETE): the stored rows of the −1 ids are deleted;
 * - both (an UPDATE): one MERGE by id, the +1 row of an id winning over its −1 row: update where
 *   stored and different, insert where not stored; a lone −1 deletes;
 * - a one-row UPDATE that left the row's key, join and filter columns unchanged (see
 *   `inPlaceKeyColumns`): its −1 and +1 rows share their ids, so an UPDATE of the stored rows in
 *   place (where different) is the whole apply, and it starts faster than the MERGE.
 * No sort, no window, no comparison of images except the one deciding whether to rewrite a row.
 */

import type { DiffContext } from '../diff/context.js';
import { rowText } from '../diff/rowid.js';
import type { IrNode, SourceRef } from '../ir/types.js';
import { ROW_ID_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import { type ApplyTarget, mergeByRowId } from './apply.js';

/**
 * Whether the delta of `root` for changes of source `sourceKey` alone is linear with unique ids
 * per sign: only scan / filter / project / inner join nodes, unique row ids throughout, and one
 * scan of that source.
 */
export function isLinearIn(root: IrNode, sourceKey: string): boolean {
  let scans = 0;
  const walk = (node: IrNode): boolean => {
    if (!node.uniqueIds) return false;
    if (node.kind === 'scan') {
      if (node.source.key === sourceKey) scans++;
      return true;
    }
    if (node.kind !== 'project' && node.kind !== 'filter' && node.kind !== 'join') return false;
    return node.children.every(walk);
  };
  return walk(root) && scans === 1;
}

/** Which transition tables the statement has. */
export interface LinearEvent {
  readonly old: boolean;
  readonly new: boolean;
}

/**
 * Whether the delta CTE of a linear apply for `event` is `MATERIALIZED`: for the large copy of an
 * UPDATE (whose MERGE reads it through DISTINCT ON), yes — the planner then sizes the MERGE's
 * input as a set of unknown ids (a few hundred) rather than as the transition tables' rows, and
 * probes the storage by its row-id index instead of scanning it, whatever the statement's size.
 * The small copy is planned for a few rows anyway, and inlined it costs less.
 */
export function linearDeltaMaterialized(event: LinearEvent, large: boolean): boolean | undefined {
  return large && event.old && event.new ? true : undefined;
}

/**
 * The statement applying the linear delta `delta` (a CTE of `ctx`: `__pgt_row_id`,
 * `__pgt_weight`, the storage columns) of one statement with transition tables `event`.
 */
export function linearApplyStatement(
  ctx: DiffContext,
  target: ApplyTarget,
  delta: string,
  event: LinearEvent,
): string {
  const id = sql.id(ROW_ID_COLUMN);
  const cols = target.columns.map((c) => sql.id(c));
  const names = sql.join([id, ...cols]);
  const values = sql.join([id, ...cols].map((q) => sql`d.${q}`));
  if (!event.old) {
    return ctx.stmt.build(sql`INSERT INTO ${target.relation} (${names})
SELECT ${values} FROM ${delta} AS d`);
  }
  if (!event.new) {
    return ctx.stmt.build(sql`DELETE FROM ${target.relation} AS st
WHERE st.${id} IN (SELECT d.${id} FROM ${delta} AS d)`);
  }
  return ctx.stmt.build(mergeByRowId(target, delta));
}

/**
 * The columns of `source` that decide, in the linear delta of `root`, which output rows one of
 * its rows yields and their ids: its id columns and every column a filter predicate or a join
 * condition reads (through projections); every other column only feeds output values. Rule: when
 * an UPDATE leaves these columns of a row unchanged (the same binary images), the row's −1 and +1
 * output rows carry the same ids (its id and its partners, the other sources being read in one
 * state), so its +1 rows replace stored rows in place: no row is inserted or deleted. Null when
 * the delta is not linear in `source`, or when one of those columns is a virtual generated column
 * (computed, so its images would be read from expressions rather than the transition tables).
 */
export function inPlaceKeyColumns(root: IrNode, source: SourceRef): string[] | null {
  if (!isLinearIn(root, source.key)) return null;
  const read = new Set<string>();
  const projections: { readonly id: string; readonly refs: readonly string[] }[] = [];
  let scan: Extract<IrNode, { kind: 'scan' }> | undefined;
  const walk = (node: IrNode): void => {
    if (node.kind === 'filter') for (const r of node.predicate.refs) read.add(r);
    if (node.kind === 'join' && node.condition !== null) for (const r of node.condition.refs) read.add(r);
    if (node.kind === 'project') {
      for (const p of node.projections) projections.push({ id: p.column.id, refs: p.expr.refs });
    }
    if (node.kind === 'scan' && node.source.key === source.key) scan = node;
    for (const child of node.children) walk(child);
  };
  walk(root);
  // A condition above a projection reads the projection's inputs.
  for (let grown = true; grown; ) {
    grown = false;
    for (const p of projections) {
      if (!read.has(p.id)) continue;
      for (const r of p.refs) {
        if (!read.has(r)) {
          read.add(r);
          grown = true;
        }
      }
    }
  }
  if (scan === undefined) return null;
  const keys = new Set(source.idColumns);
  for (const c of scan.sourceColumns) if (read.has(c.id)) keys.add(c.column);
  const virtual = new Set(source.visible.filter((c) => c.virtualExpr !== undefined).map((c) => c.name));
  if ([...keys].some((k) => virtual.has(k))) return null;
  return [...keys];
}

/**
 * The statement applying, in place, the +1 rows `delta` (a CTE of `ctx`, from an UPDATE's NEW
 * rows) of an UPDATE that left every {@link inPlaceKeyColumns} unchanged: each stored row of an
 * id is rewritten where a value differs (binary images; `types`, the storage columns' SQL types,
 * lets the columns of {@link IMAGE_EQUALITY} types be compared by equality). Null when the storage
 * has no column besides the row id (nothing to rewrite).
 */
export function inPlaceUpdateStatement(
  ctx: DiffContext,
  target: ApplyTarget,
  delta: string,
  types: ReadonlyMap<string, string | null> = new Map(),
): string | null {
  if (target.columns.length === 0) return null;
  const id = sql.id(ROW_ID_COLUMN);
  const set = sql.join(target.columns.map((c) => sql`${sql.id(c)} = d.${sql.id(c)}`));
  const differs = imagesCompareSql(
    'st',
    'd',
    target.columns.map((c) => ({ name: c, type: types.get(c) ?? null })),
    true,
  );
  return ctx.stmt.build(sql`UPDATE ${target.relation} AS st SET ${set}
FROM ${delta} AS d
WHERE st.${id} = d.${id} AND (${differs})`);
}

/**
 * Types whose equality is the identity of their binary and text images (so of the row ids formed
 * from them), and which have no collation: integers, booleans, oids, dates, uuids, timestamps of
 * full precision. Any other type (numeric, where 1.0 = 1.00; floating point, where 0 = -0; text,
 * whose collation may not be deterministic; domains, arrays, …) is compared by its binary image
 * (`record_send`), which costs more (a type lookup per column at each statement).
 */
const IMAGE_EQUALITY = new Set([
  'smallint',
  'integer',
  'bigint',
  'boolean',
  'oid',
  'date',
  'uuid',
  'timestamp without time zone',
  'timestamp with time zone',
]);

/** Whether equal values of SQL type `type` (as `format_type` prints it) have equal images. */
export function equalityIsIdentity(type: string | null): boolean {
  return type !== null && IMAGE_EQUALITY.has(type);
}

/**
 * Whether `a` and `b` (aliases of rows with the columns `columns`, each with its type or null)
 * have equal images in every column (`distinct`: whether they differ in one): columns of a type
 * of {@link IMAGE_EQUALITY} by `IS NOT DISTINCT FROM` (nulls equal), the others by their binary
 * images together. The typed comparison comes first, so a row whose integer column differs is
 * found different without reading the images.
 */
export function imagesCompareSql(
  a: string,
  b: string,
  columns: readonly { readonly name: string; readonly type: string | null }[],
  distinct: boolean,
): string {
  const exact = columns.filter((c) => equalityIsIdentity(c.type)).map((c) => c.name);
  const other = columns.filter((c) => !equalityIsIdentity(c.type)).map((c) => c.name);
  const row = (alias: string, names: readonly string[]) =>
    sql.join(names.map((n) => sql`${alias}.${sql.id(n)}`));
  const op = distinct ? 'IS DISTINCT FROM' : 'IS NOT DISTINCT FROM';
  const tests: string[] = [];
  if (exact.length > 0) tests.push(sql`ROW(${row(a, exact)}) ${op} ROW(${row(b, exact)})`);
  if (other.length > 0) tests.push(`${rowText(a, other)} ${op} ${rowText(b, other)}`);
  if (tests.length === 0) return distinct ? 'false' : 'true';
  return tests.join(distinct ? ' OR ' : ' AND ');
}

/**
 * Whether, in a one-row UPDATE of `source` whose OLD row is `o` and NEW row `x`, the columns `keys`
 * kept their images (see {@link inPlaceKeyColumns}): a boolean expression over the two aliases.
 */
export function inPlaceSameSql(source: SourceRef, keys: readonly string[]): string {
  const byName = new Map(source.visible.map((c) => [c.name, c]));
  return imagesCompareSql(
    'o',
    'x',
    keys.map((k) => {
      const c = byName.get(k);
      return { name: k, type: c === undefined || c.collation !== undefined ? null : c.type };
    }),
    false,
  );
}
