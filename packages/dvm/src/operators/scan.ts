/**
 * Scan: a leaf reading one source relation (base table or stream table).
 *
 * Delta rule (the primitive every other rule derives from):
 * - change buffer, keyed source: the net effect per key in the window — for each row id, the
 *   first change (by change_id) if it is a `D` gives −1 with that row's values (the key existed
 *   before the window), the last change if it is an `I` gives +1 with its values (it exists
 *   after). Insert+delete in one window cancels to nothing.
 * - change buffer, keyless source: Σ(+1 per I, −1 per D) per row id (= per content), non-zero
 *   sums only, weight = the net count.
 * - transition tables: −1 per row of the OLD table, +1 per row of the NEW table; a row trigger's
 *   record variables the same, one row each (−1 for `old`, +1 for `new`).
 * - any other source in a transition-table delta: empty.
 * Snapshots: R₁ = the live table. R₀ = R₁ without the rows whose id has a +1 in Δ, plus Δ's −1
 * rows (keyed); keyless: per id, count₀ = count₁ − net copies.
 * Row id: the row id of (<id columns>) over the primary key columns (keyed),
 * `__pgt_row_id` for a stream table with unique ids, else all visible columns (ids not unique;
 * a value of a type without an extended hash function enters by its binary form, exact because
 * buffers give values back exactly); computed the same way from the live table, the buffer and
 * the transition tables (alias
 * `__pgt_src`, columns under their source names).
 */

import type { DiffContext } from '../diff/context.js';
import { binaryIdPart, jsonNormalImage, rowIdExpr } from '../diff/rowid.js';
import { InternalError } from '../errors.js';
import type { IdAllocator } from '../ir/ids.js';
import type { IrColumn, IrNodeBase, Side, SourceRef } from '../ir/types.js';
import {
  baseBufferName,
  bufferColumnName,
  CHANGES_SCHEMA,
  ROW_ID_COLUMN,
  STREAM_BUFFER_COLUMNS,
  streamBufferName,
  WEIGHT_COLUMN,
} from '../names.js';
import { quoteQualified } from '../sql/quote.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';

/** A scan of one source under one alias. */
export interface ScanNode extends IrNodeBase {
  readonly kind: 'scan';
  readonly source: SourceRef;
  /** The alias the query gives it (or its name). */
  readonly alias: string;
  /** Output column id → source column name, in the source's column order. */
  readonly sourceColumns: readonly { readonly id: string; readonly column: string }[];
}

/** Builds a scan of `source` under `alias`, exposing its visible columns. */
export function makeScan(ids: IdAllocator, source: SourceRef, alias: string): ScanNode {
  const sourceColumns = source.visible.map((c) => ({ id: ids.column(`${alias}_${c.name}`), column: c.name }));
  const columns: IrColumn[] = sourceColumns.map((c) => ({ id: c.id, name: c.column }));
  return {
    kind: 'scan',
    nid: ids.node(),
    columns,
    uniqueIds: source.keyed,
    children: [],
    source,
    alias,
    sourceColumns,
  };
}

/** Alias every source row is read under when its row id is computed. */
export const SOURCE_ALIAS = '__pgt_src';

/** The row-id expression of a source row (alias {@link SOURCE_ALIAS}, columns under source names). */
export function sourceRowId(source: SourceRef): string {
  const columns = new Map(source.captured.map((c) => [c.name, c]));
  for (const c of source.visible) columns.set(c.name, c);
  return rowIdExpr(
    source.idColumns.map((c) => {
      const expr = collated(source, c, sql`${SOURCE_ALIAS}.${sql.id(c)}`);
      const info = columns.get(c);
      // Keyless: ids need only be a function of the exact row (copies share one; buffers give
      // values back exactly), so a value without a hash function enters by its binary form.
      if (!source.keyed && info?.unhashable === true) return binaryIdPart(expr);
      return { expr, type: info?.type };
    }),
  );
}

/**
 * `expr` (a value of source column `column`) under the column's own collation when that is not
 * its type's default: values decoded from a change buffer would otherwise compare, hash and group
 * under the default collation, unlike the live table's.
 */
function collated(source: SourceRef, column: string, expr: string): string {
  const info =
    source.captured.find((c) => c.name === column) ?? source.visible.find((c) => c.name === column);
  const coll = info?.collation;
  return coll === undefined ? expr : sql`(${expr} COLLATE ${sql.id(coll.schema, coll.name)})`;
}

/** The source's relation (storage table of a stream table). */
export function sourceRelation(source: SourceRef): string {
  return quoteQualified(source.schema, source.name);
}

/** The source's change buffer, qualified. */
export function sourceBuffer(source: SourceRef): string {
  return source.kind === 'streamTable'
    ? quoteQualified(CHANGES_SCHEMA, streamBufferName(requirePgtId(source)))
    : quoteQualified(CHANGES_SCHEMA, baseBufferName(source.oid));
}

function requirePgtId(source: SourceRef): number {
  if (source.pgtId === null) throw new InternalError(`stream-table source ${source.name} has no pgt id`);
  return source.pgtId;
}

/** Buffer column holding source column `column` of a stream-table source. */
export function sourceBufferColumn(column: string): string {
  return bufferColumnName(column, STREAM_BUFFER_COLUMNS);
}

/**
 * The buffer rows of `source` in the window: `__pgt_row_id`, `__pgt_change_id`, `__pgt_action`
 * and the visible columns under their source names, each with its own type and collation. A
 * base-table buffer stores rows in typed columns `c<attnum>` (a domain as its base type, cast back
 * here) or as the row's text (read back through the table's row type); a virtual generated column
 * is computed from the others with its generation expression. A stream-table buffer has typed
 * columns under the source's names.
 */
function windowSql(source: SourceRef, ctx: DiffContext, rowIds = true): string {
  const visible = source.visible.map((c) => sql`, ${SOURCE_ALIAS}.${sql.id(c.name)}`).join('');
  const id = rowIds ? sourceRowId(source) : 'NULL::bigint';
  const head = sql`SELECT ${id} AS ${ROW_ID_COLUMN}, ${SOURCE_ALIAS}.__pgt_change_id, ${SOURCE_ALIAS}.__pgt_action${visible}`;
  const where = `${windowCondition(source, ctx)} AND b.action IN ('I', 'D')`;
  if (source.kind === 'streamTable') {
    const cols = readColumns(source).map((c) => sql`b.${sql.id(sourceBufferColumn(c))} AS ${sql.id(c)}`);
    return sql`${head}
FROM (SELECT b.change_id AS __pgt_change_id, b.action AS __pgt_action, ${cols.join(', ')}
      FROM ${sourceBuffer(source)} AS b
      WHERE ${where}) AS ${SOURCE_ALIAS}`;
  }
  const byName = new Map(source.captured.map((c) => [c.name, c]));
  const needed = readColumns(source).map((name) => {
    const col = byName.get(name);
    if (col === undefined)
      throw new InternalError(`column ${name} of ${source.name} is not among its captured columns`);
    return col;
  });
  const virtual = needed.filter((c) => c.virtualExpr !== undefined);
  // A generation expression reads other columns: with one in play, every stored column is decoded.
  const stored = (virtual.length > 0 ? source.captured : needed).filter((c) => c.virtualExpr === undefined);
  let decoded: string;
  if (source.captureFormat === 'text') {
    const rowType = sql.id(source.schema, source.name);
    const cols = stored.map((c) => sql`(r.v).${sql.id(c.name)} AS ${sql.id(c.name)}`);
    decoded = sql`SELECT b.change_id AS __pgt_change_id, b.action AS __pgt_action${sql.raw(cols.map((c) => `, ${c}`).join(''))}
      FROM ${sourceBuffer(source)} AS b
      CROSS JOIN LATERAL (SELECT b.data::${rowType} AS v OFFSET 0) AS r
      WHERE ${where}`;
  } else {
    const cols = stored.map((c) => {
      if (c.attnum === undefined) throw new InternalError(`column ${c.name} of ${source.name} has no attnum`);
      const raw = sql`b.${sql.id(`c${c.attnum}`)}`;
      return c.storedType === undefined
        ? sql`, ${raw} AS ${sql.id(c.name)}`
        : sql`, ${raw}::${sql.raw(c.type)} AS ${sql.id(c.name)}`;
    });
    decoded = sql`SELECT b.change_id AS __pgt_change_id, b.action AS __pgt_action${sql.raw(cols.join(''))}
      FROM ${sourceBuffer(source)} AS b
      WHERE ${where}`;
  }
  if (virtual.length > 0) {
    const gen = virtual.map(
      (c) => sql`, (${sql.raw(c.virtualExpr ?? 'NULL')})::${sql.raw(c.type)} AS ${sql.id(c.name)}`,
    );
    decoded = sql`SELECT g.*${sql.raw(gen.join(''))} FROM (${sql.raw(decoded)}) AS g`;
  }
  return sql`${head}
FROM (${sql.raw(decoded)}) AS ${SOURCE_ALIAS}`;
}

/** SQL condition selecting a buffer's rows in the refresh window (buffer alias `b`). */
export function windowCondition(source: SourceRef, ctx: DiffContext): string {
  const p = ctx.param(source);
  return source.kind === 'streamTable' ? `b.epoch > ${p}` : baseWindowSql(p);
}

/**
 * SQL condition selecting a base-table buffer's rows (alias `b`) committed after the frontier
 * snapshot `snapshot` (an SQL expression of type pg_snapshot): the one window test of every
 * reader of a base buffer (delta scans, window inspection, the client's quiet-refresh probe).
 */
export function baseWindowSql(snapshot: string): string {
  return `b.xid >= pg_catalog.pg_snapshot_xmin(${snapshot}) AND NOT pg_catalog.pg_visible_in_snapshot(b.xid, ${snapshot})`;
}

/**
 * The rows of transition table `table` of `source`: the table itself, or, when the source has
 * virtual generated columns (not readable from a transition table), its stored columns with the
 * virtual ones computed by their generation expressions.
 */
function transitionRows(source: SourceRef, table: string, rowVariable: boolean): string {
  const virtual = source.captured.filter((c) => c.virtualExpr !== undefined);
  const relation = rowVariable ? rowVariableRelation(table) : sql`${sql.id(table)}`;
  if (virtual.length === 0) return relation;
  const stored = source.captured
    .filter((c) => c.virtualExpr === undefined)
    .map((c) => sql`t.${sql.id(c.name)}`);
  const gen = virtual.map(
    (c) => sql`, (${sql.raw(c.virtualExpr ?? 'NULL')})::${sql.raw(c.type)} AS ${sql.id(c.name)}`,
  );
  return sql`(SELECT g.*${sql.raw(gen.join(''))} FROM (SELECT ${sql.join(stored)} FROM ${relation} AS t) AS g)`;
}

/** The one row of a row trigger's record variable (`old` / `new`) as a relation with the source's columns. */
function rowVariableRelation(variable: string): string {
  if (variable !== 'old' && variable !== 'new') {
    throw new InternalError(`a row trigger's delta reads the record variable old or new, not ${variable}`);
  }
  return `(SELECT (${variable}).*)`;
}

/** Id columns plus visible columns (the columns a source delta needs), without duplicates. */
function readColumns(source: SourceRef): string[] {
  const cols = source.visible.map((c) => c.name);
  for (const c of source.idColumns) if (!cols.includes(c)) cols.push(c);
  return cols;
}

/** The CTE of one source's delta (columns under source names); shared by every scan of the source. */
function sourceDeltaCte(source: SourceRef, ctx: DiffContext): string {
  return ctx.sourceDelta(source, () => {
    const ds = ctx.deltaSource;
    const srcCols = (alias: string) =>
      source.visible
        .map((c) => sql`, ${collated(source, c.name, sql`${alias}.${sql.id(c.name)}`)} AS ${sql.id(c.name)}`)
        .join('');
    if (ds.kind === 'transitionTable') {
      if (ds.source !== source.key) {
        return ctx.stmt.add(
          `delta_${source.name}`,
          sql`SELECT ${sourceRowId(source)} AS ${ROW_ID_COLUMN}, 0::bigint AS ${WEIGHT_COLUMN}${srcCols(SOURCE_ALIAS)}
FROM ${sourceRelation(source)} AS ${SOURCE_ALIAS} WHERE false`,
        );
      }
      const parts: string[] = [];
      for (const [table, weight] of [
        [ds.oldTable, -1],
        [ds.newTable, 1],
      ] as const) {
        if (table === null) continue;
        parts.push(
          sql`SELECT ${sourceRowId(source)} AS ${ROW_ID_COLUMN}, ${weight}::bigint AS ${WEIGHT_COLUMN}${srcCols(SOURCE_ALIAS)}
FROM ${transitionRows(source, table, ds.rowVariables === true)} AS ${SOURCE_ALIAS}`,
        );
      }
      if (parts.length === 0) {
        throw new InternalError('a transition-table delta source needs an old or a new table');
      }
      return ctx.stmt.add(`delta_${source.name}`, parts.join('\nUNION ALL\n'));
    }
    // Change buffer: the window, with the columns the scan reads typed as the source had them.
    const win = ctx.stmt.add(`win_${source.name}`, windowSql(source, ctx), true);
    if (source.keyed && source.deferrableKey !== true) {
      // Net effect per key: −1 with the first change's values if it is a D (the row existed
      // before the window), +1 with the last change's values if it is an I (it exists after).
      // (A DEFERRABLE key may have its new row inserted before its old one is deleted, so the
      // order says nothing: such a source is netted by content below, like a keyless one.)
      return ctx.stmt.add(
        `delta_${source.name}`,
        sql`SELECT w.${ROW_ID_COLUMN}, -1::bigint AS ${WEIGHT_COLUMN}${srcCols('w')}
FROM (SELECT DISTINCT ON (${ROW_ID_COLUMN}) * FROM ${win} ORDER BY ${ROW_ID_COLUMN}, __pgt_change_id) AS w
WHERE w.__pgt_action = 'D'
UNION ALL
SELECT w.${ROW_ID_COLUMN}, 1::bigint AS ${WEIGHT_COLUMN}${srcCols('w')}
FROM (SELECT DISTINCT ON (${ROW_ID_COLUMN}) * FROM ${win} ORDER BY ${ROW_ID_COLUMN}, __pgt_change_id DESC) AS w
WHERE w.__pgt_action = 'I'`,
        true,
      );
    }
    // Keyless (or a DEFERRABLE key): net count per id and representation (image), non-zero only,
    // so a change of representation (1.0 → 1.00) is a change; for a deferrable key what remains
    // is the key's row before the window (−1) and after it (+1), in whatever order it was written.
    return ctx.stmt.add(
      `delta_${source.name}`,
      sql`SELECT w.${ROW_ID_COLUMN}, w.__pgt_net AS ${WEIGHT_COLUMN}${srcCols('w')}
FROM (SELECT DISTINCT ON (v.${ROW_ID_COLUMN}, v.__pgt_image) v.*, pg_catalog.sum(CASE WHEN v.__pgt_action = 'I' THEN 1 ELSE -1 END)
  OVER (PARTITION BY v.${ROW_ID_COLUMN}, v.__pgt_image)::bigint AS __pgt_net
      FROM (SELECT u.*, ${keylessImage(source, 'u')} AS __pgt_image FROM ${win} AS u) AS v
      ORDER BY v.${ROW_ID_COLUMN}, v.__pgt_image, v.__pgt_change_id) AS w
WHERE w.__pgt_net <> 0`,
      true,
    );
  });
}

function selectList(node: ScanNode, alias: string): string {
  return node.sourceColumns.map((c) => sql`${alias}.${sql.id(c.column)} AS ${sql.id(c.id)}`).join(', ');
}

/** R₁ of a scan: the live relation, its row ids, its columns under the scan's column ids. */
function newSnapshot(node: ScanNode): string {
  const cols = selectList(node, SOURCE_ALIAS);
  return sql`SELECT ${sourceRowId(node.source)} AS ${ROW_ID_COLUMN}${cols === '' ? '' : `, ${cols}`}
FROM ${sourceRelation(node.source)} AS ${SOURCE_ALIAS}`;
}

function idList(node: ScanNode, alias: string): string {
  return node.columns.map((c) => sql`, ${alias}.${sql.id(c.id)}`).join('');
}

/** R₀ of a scan, from R₁ and the scan's delta. */
function oldSnapshot(node: ScanNode, ctx: DiffContext): string {
  const d = ctx.delta(node);
  const ids = idList(node, 's');
  const live = newSnapshot(node);
  if (node.source.keyed) {
    // Keyed: drop the rows the window inserted or changed (+1), add back their old values (−1).
    return sql`SELECT s.${ROW_ID_COLUMN}${ids}
FROM (${live}) AS s
WHERE NOT EXISTS (SELECT 1 FROM ${d} AS d WHERE d.${WEIGHT_COLUMN} > 0 AND d.${ROW_ID_COLUMN} = s.${ROW_ID_COLUMN})
UNION ALL
SELECT s.${ROW_ID_COLUMN}${ids}
FROM ${d} AS s WHERE s.${WEIGHT_COLUMN} < 0`;
  }
  // Keyless: contents the window did not touch as they are; for a touched content (row id and
  // image) with net change n and c live copies, c − n copies.
  const image = (alias: string) =>
    keylessImage(node.source, alias, new Map(node.sourceColumns.map((c) => [c.column, c.id])));
  const counts = ctx.stmt.add(
    `n${node.nid}_live_counts`,
    sql`SELECT l.${ROW_ID_COLUMN}, ${image('l')} AS __pgt_image, pg_catalog.count(*)::bigint AS __pgt_live
FROM (${live}) AS l
WHERE l.${ROW_ID_COLUMN} IN (SELECT d.${ROW_ID_COLUMN} FROM ${d} AS d)
GROUP BY 1, 2`,
    true,
  );
  const touched = ctx.stmt.add(
    `n${node.nid}_touched`,
    sql`SELECT y.* FROM (SELECT DISTINCT ON (x.${ROW_ID_COLUMN}, x.__pgt_image) x.*, pg_catalog.sum(x.${WEIGHT_COLUMN})
  OVER (PARTITION BY x.${ROW_ID_COLUMN}, x.__pgt_image) AS __pgt_net
  FROM (SELECT d.*, ${image('d')} AS __pgt_image FROM ${d} AS d) AS x) AS y`,
    true,
  );
  return sql`SELECT s.${ROW_ID_COLUMN}${ids}
FROM (${live}) AS s
WHERE NOT EXISTS (SELECT 1 FROM ${touched} AS d WHERE d.${ROW_ID_COLUMN} = s.${ROW_ID_COLUMN} AND d.__pgt_image = ${image('s')})
UNION ALL
SELECT s.${ROW_ID_COLUMN}${ids}
FROM ${touched} AS s
CROSS JOIN LATERAL pg_catalog.generate_series(1, COALESCE((SELECT c.__pgt_live FROM ${counts} AS c WHERE c.${ROW_ID_COLUMN} =
  s.${ROW_ID_COLUMN} AND c.__pgt_image = s.__pgt_image), 0) - s.__pgt_net)`;
}

/**
 * The image of a keyless source row over alias `alias` (diff/rowid.ts `jsonNormalImage`): its
 * visible columns, under their source names or, with `rename`, under the scan's column ids.
 */
function keylessImage(source: SourceRef, alias: string, rename?: ReadonlyMap<string, string>): string {
  return jsonNormalImage(
    alias,
    source.visible.map((c) => ({ name: rename?.get(c.name) ?? c.name, type: c.type })),
  );
}

/**
 * The window's changes of a scan NOT netted per row id (null outside a change-buffer delta): +1
 * per captured `I`, −1 per `D`, no row ids (NULL). Their sum over any linear function of the
 * rows (a count, a sum) equals the netted delta's, since a row's captured changes alternate and
 * telescope (an insert then delete in the window adds nothing): for a consumer that only sums
 * (the algebraic root aggregate), it spares hashing each change's row id and sorting per id.
 */
export function unnettedScanDelta(node: ScanNode, ctx: DiffContext): string | null {
  if (ctx.deltaSource.kind !== 'changeBuffer') return null;
  const source = node.source;
  const cols = node.sourceColumns
    .map((c) => sql`, ${collated(source, c.column, sql`w.${sql.id(c.column)}`)} AS ${sql.id(c.id)}`)
    .join('');
  return ctx.stmt.add(
    `d${node.nid}_changes_${node.alias}`,
    sql`SELECT w.${ROW_ID_COLUMN}, (CASE WHEN w.__pgt_action = 'I' THEN 1 ELSE -1 END)::bigint AS ${WEIGHT_COLUMN}${cols}
FROM (${windowSql(source, ctx, false)}) AS w`,
  );
}

/** The rules of `scan` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const scanRules: OperatorRules<ScanNode> = {
  snapshot(node, side: Side, ctx) {
    if (side === 'new' || ctx.isStaticallyEmpty(node)) return newSnapshot(node);
    return oldSnapshot(node, ctx);
  },
  delta(node, ctx) {
    const src = sourceDeltaCte(node.source, ctx);
    const cols = node.sourceColumns.map((c) => sql`, d.${sql.id(c.column)} AS ${sql.id(c.id)}`).join('');
    return ctx.stmt.add(
      `d${node.nid}_scan_${node.alias}`,
      sql`SELECT d.${ROW_ID_COLUMN}, d.${WEIGHT_COLUMN}${cols}\nFROM ${src} AS d`,
    );
  },
};
