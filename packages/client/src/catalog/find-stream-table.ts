/** Reading stream-table rows: by name, by id, all of them, the readers of one, the one stored in a relation. */
import { type DependencyRow, ST_COLUMNS, type StreamTableRow, toDependency, toRow } from './rows.js';
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');
const DEP = cat('pgt_dependencies');

/** The stream table named schema.name, or null. `lock`: `FOR UPDATE` (waits) or `FOR UPDATE NOWAIT`. */
export async function findStreamTable(
  q: Queryable,
  schema: string,
  name: string,
  lock: '' | 'FOR UPDATE' | 'FOR UPDATE NOWAIT' = '',
): Promise<StreamTableRow | null> {
  const res = await q.query(
    `SELECT ${ST_COLUMNS} FROM ${ST} WHERE schema_name = $1 AND table_name = $2 ${lock}`,
    [schema, name],
  );
  const r = res.rows[0];
  return r === undefined ? null : toRow(r);
}

/** The stream table with id `pgtId`, or null. */
export async function streamTableById(
  q: Queryable,
  pgtId: number,
  lock: '' | 'FOR UPDATE' | 'FOR UPDATE NOWAIT' | 'FOR UPDATE SKIP LOCKED' = '',
): Promise<StreamTableRow | null> {
  const res = await q.query(`SELECT ${ST_COLUMNS} FROM ${ST} WHERE pgt_id = $1 ${lock}`, [pgtId]);
  const r = res.rows[0];
  return r === undefined ? null : toRow(r);
}

/**
 * The stream table with id `pgtId` and its dependencies (ordered by source oid, as
 * `dependenciesOf` reads them), in one statement without a lock; null when there is none.
 */
export async function streamTableWithDependencies(
  q: Queryable,
  pgtId: number,
): Promise<{ row: StreamTableRow; deps: DependencyRow[] } | null> {
  const res = await q.query(
    `SELECT ${ST_COLUMNS},
            (SELECT pg_catalog.json_agg(d ORDER BY d.source_oid) FROM ${DEP} AS d WHERE d.pgt_id = $1) AS __pgt_deps
       FROM ${ST} WHERE pgt_id = $1`,
    [pgtId],
  );
  const r = res.rows[0];
  if (r === undefined) return null;
  const deps = ((r.__pgt_deps ?? []) as Record<string, unknown>[]).map(toDependency);
  return { row: toRow(r), deps };
}

/** Every stream table, by id. */
export async function allStreamTables(q: Queryable): Promise<StreamTableRow[]> {
  const res = await q.query(`SELECT ${ST_COLUMNS} FROM ${ST} ORDER BY pgt_id`);
  return res.rows.map(toRow);
}

/** Stream tables that read stream table `pgtId` directly. */
export async function consumersOf(q: Queryable, pgtId: number): Promise<StreamTableRow[]> {
  const res = await q.query(
    `SELECT ${ST_COLUMNS} FROM ${ST} WHERE pgt_id IN (SELECT pgt_id FROM ${DEP} WHERE source_pgt_id = $1) ORDER BY pgt_id`,
    [pgtId],
  );
  return res.rows.map(toRow);
}

/** The stream table stored in relation `oid` (its id and row-id uniqueness), or null. */
export async function streamTableOfStorage(
  q: Queryable,
  oid: number,
): Promise<{ pgtId: number; uniqueRowIds: boolean } | null> {
  const res = await q.query(`SELECT pgt_id, unique_row_ids FROM ${ST} WHERE storage_oid = $1`, [oid]);
  const r = res.rows[0];
  return r === undefined ? null : { pgtId: Number(r.pgt_id), uniqueRowIds: r.unique_row_ids === true };
}

/**
 * The storage table behind relation `oid` when it is a stream table's public view (the oid of
 * the storage table to read instead), else null.
 */
export async function storageBehindView(q: Queryable, oid: number): Promise<number | null> {
  const res = await q.query(`SELECT storage_oid::int8 AS s FROM ${ST} WHERE public_oid = $1`, [oid]);
  const s = res.rows[0]?.s;
  return s === undefined || s === null ? null : Number(s);
}
