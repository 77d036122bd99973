/**
 * Storage tables: created from the plan's DDL (column types as PostgreSQL infers them for the
 * query), owned by the stream table's owner, protected by a statement-level guard trigger that
 * refuses writes from anyone but a refresh that registered itself for the table in its own
 * transaction (`allowStorageWrites`), and compared by signature
 * (visible columns with their types and collations, then hidden column names) to decide whether a
 * rebuilt plan still fits the existing table. A storage column has its query column's type and
 * collation, so readers compare and sort its values as the query does.
 */
import type { CompiledPlan, QueryColumn } from '@pgtrickle/dvm';
import {
  HIDDEN_PREFIX,
  quoteIdent,
  quoteLiteral,
  ROW_ID_COLUMN,
  rowIdIndexesSql,
  rowIdIndexSql,
} from '@pgtrickle/dvm';
import { allowStorageWrites, CATALOG_SCHEMA, CHANGES_SCHEMA } from './catalog/schema.js';
import type { Conn, Db } from './db.js';
import { DependentViewsError } from './errors.js';
import { displayName, sqlName } from './names.js';

/** Name of the guard trigger on every storage table. */
export const GUARD_TRIGGER = 'pgtrickle_guard';

/**
 * The function an IMMEDIATE table's guard calls in its WHEN (quoted, qualified): one per storage
 * table, named by its oid, returning whether the guard must run.
 */
export function guardClosedFunction(storageOid: number): string {
  return `${CHANGES_SCHEMA}.${quoteIdent(`guard_closed_${Number(storageOid)}`)}`;
}

/**
 * The function behind an IMMEDIATE guard's WHEN: true (run the guard) unless the setting its
 * trigger functions run under names this table and the role writing has the storage owner's
 * privileges (the owner, or a member inheriting them, who may disable the guard anyway).
 * PostgreSQL reads a trigger's WHEN again from its stored form for every statement, so the WHEN
 * is one call without arguments (the shortest form to read) and the test lives in this body,
 * which PL/pgSQL keeps compiled for the session. It runs as the role writing and names only
 * `pg_catalog` functions, without operators, so a search_path of the writer's cannot change it.
 */
function guardClosedFunctionSql(storageOid: number, ownerOid: number): string {
  return `CREATE OR REPLACE FUNCTION ${guardClosedFunction(storageOid)}() RETURNS boolean LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN NOT (pg_catalog.pg_has_role(${Number(ownerOid)}::oid, 'USAGE')
              AND COALESCE(pg_catalog.texteq(pg_catalog.current_setting('pgtrickle.immediate_storage', true), '${Number(storageOid)}'), false));
END
$fn$`;
}

/** The statement dropping the IMMEDIATE guard function of storage table `storageOid` (if any). */
export function dropGuardFunctionSql(storageOid: number): string {
  return `DROP FUNCTION IF EXISTS ${guardClosedFunction(storageOid)}()`;
}

/**
 * The statement creating the guard trigger on storage table `rel` (quoted). With `immediate`
 * (an IMMEDIATE table), a WHEN calling {@link guardClosedFunction} lets the table's own
 * maintenance through without calling the guard function.
 */
function guardTriggerSql(rel: string, immediate?: { storageOid: number }): string {
  const when = immediate === undefined ? '' : ` WHEN (${guardClosedFunction(immediate.storageOid)}())`;
  return `CREATE TRIGGER ${quoteIdent(GUARD_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${rel}
  FOR EACH STATEMENT${when} EXECUTE FUNCTION ${CATALOG_SCHEMA}.guard_storage()`;
}

/**
 * Re-creates the guard of storage table `oid` for its mode: with the IMMEDIATE fast path (see
 * {@link guardTriggerSql}) when `immediate` is set, else the plain guard (and no WHEN function).
 */
export async function replaceGuard(conn: Conn, oid: number, immediate: boolean): Promise<void> {
  const res = await conn.query(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS rel, c.relowner::int8 AS owner
       FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [oid],
  );
  const r = res.rows[0];
  if (r === undefined) {
    await conn.query(dropGuardFunctionSql(oid));
    return;
  }
  const rel = String(r.rel);
  await conn.query(`DROP TRIGGER IF EXISTS ${quoteIdent(GUARD_TRIGGER)} ON ${rel}`);
  if (immediate) {
    await conn.query(guardClosedFunctionSql(oid, Number(r.owner)));
    await conn.query(guardTriggerSql(rel, { storageOid: oid }));
  } else {
    await conn.query(dropGuardFunctionSql(oid));
    await conn.query(guardTriggerSql(rel));
  }
}

/**
 * Creates the storage table of `plan` through `owner` (the owner's sandbox: the table is the
 * owner's, and its DDL, which holds the query, never runs with the sidecar's rights), then its
 * guard; returns its oid.
 */
export async function createStorage(
  conn: Conn,
  owner: { query(sql: string, params?: unknown[]): Promise<unknown> },
  plan: CompiledPlan,
): Promise<number> {
  for (const sql of plan.storageDdl()) await owner.query(sql);
  const rel = sqlName(plan.storage.schema, plan.storage.name);
  await conn.query(guardTriggerSql(rel));
  const res = await conn.query('SELECT to_regclass($1)::oid::int8 AS oid', [rel]);
  return Number(res.rows[0]?.oid);
}

/** Of the storage table oids given, those no relation has any more (dropped behind pgtrickle's back). */
export async function missingStorageOids(conn: Conn | Db, oids: readonly number[]): Promise<Set<number>> {
  if (oids.length === 0) return new Set();
  const res = await conn.query(
    `SELECT o::int8 AS oid FROM pg_catalog.unnest($1::oid[]) AS o WHERE NOT ${storageExistsSql('o')}`,
    [oids.map(String)],
  );
  return new Set(res.rows.map((r) => Number(r.oid)));
}

/** Whether a storage table of oid `oid` (an SQL expression) exists: a condition. */
export function storageExistsSql(oid: string): string {
  return `EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = ${oid} AND c.relkind IN ('r', 'p'))`;
}

/** The statement dropping a stream table's storage: by its oid (wherever it was renamed to); nothing if it is gone. */
export async function dropStorageSql(
  conn: Conn | Db,
  row: { readonly storageOid: number | null; readonly schema: string; readonly name: string },
): Promise<string | null> {
  if (row.storageOid === null) return `DROP TABLE IF EXISTS ${sqlName(row.schema, row.name)}`;
  const res = await conn.query(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS rel
     FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = $1 AND c.relkind IN ('r', 'p')`,
    [row.storageOid],
  );
  const rel = res.rows[0]?.rel;
  return typeof rel === 'string' ? `DROP TABLE ${rel}` : null;
}

/** A column's type with its collation when that is not the type's default (`text COLLATE "s"."c"`). */
export function typeWithCollation(c: QueryColumn): string {
  return c.collation === undefined
    ? c.type
    : `${c.type} COLLATE ${sqlName(c.collation.schema, c.collation.name)}`;
}

/** The signature a plan's storage table has: `name type [COLLATE c]` per visible column, then hidden names. */
export function planSignature(plan: CompiledPlan): string[] {
  return [...plan.columns.map((c) => `${c.name} ${typeWithCollation(c)}`), ...plan.hiddenColumns];
}

/**
 * The columns of an existing relation (schema-qualified, quoted) with their types and
 * collations (when not the type's default), in attnum order.
 */
async function relationColumns(conn: Conn, rel: string): Promise<QueryColumn[]> {
  const res = await conn.query(
    `SELECT a.attname::text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
            cn.nspname AS coll_schema, co.collname AS coll_name
     FROM pg_catalog.pg_attribute AS a
     JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
     LEFT JOIN pg_catalog.pg_collation AS co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
     LEFT JOIN pg_catalog.pg_namespace AS cn ON cn.oid = co.collnamespace
     WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [rel],
  );
  return res.rows.map((r) => ({
    name: String(r.name),
    type: String(r.type),
    ...(r.coll_name === null || r.coll_name === undefined
      ? {}
      : { collation: { schema: String(r.coll_schema), name: String(r.coll_name) } }),
  }));
}

/** The signature of an existing storage table (null when it does not exist). */
export async function storageColumnsOf(conn: Conn, schema: string, name: string): Promise<string[] | null> {
  const columns = await relationColumns(conn, sqlName(schema, name));
  if (columns.length === 0) return null;
  return columns
    .filter((c) => c.name !== ROW_ID_COLUMN)
    .map((c) => (c.name.startsWith(HIDDEN_PREFIX) ? c.name : `${c.name} ${typeWithCollation(c)}`));
}

/** The visible (not `__pgt_`) columns of relation `rel` (quoted, qualified), in attnum order. */
export async function visibleColumnNames(conn: Conn, rel: string): Promise<string[]> {
  return (await relationColumns(conn, rel)).map((c) => c.name).filter((n) => !n.startsWith(HIDDEN_PREFIX));
}

/** How an existing storage table fits a plan: same columns throughout, or same visible columns only. */
export interface StorageFit {
  readonly same: boolean;
  readonly visibleSame: boolean;
}

/**
 * Compares the storage table schema.name with what `plan` would create: visible columns by name
 * and type, hidden columns by name, in any order (a storage evolved in place keeps the order its
 * columns were added in).
 */
export async function storageFit(
  conn: Conn,
  schema: string,
  name: string,
  plan: CompiledPlan,
): Promise<StorageFit> {
  const existing = await storageColumnsOf(conn, schema, name);
  const sameSet = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().every((c, i) => c === [...b].sort()[i]);
  const visible = plan.columns.map((c) => `${c.name} ${typeWithCollation(c)}`);
  const same = existing !== null && sameSet(existing, planSignature(plan));
  const shown = existing?.filter((c) => !c.startsWith(HIDDEN_PREFIX)) ?? null;
  return { same, visibleSame: shown !== null && sameSet(shown, visible) };
}

/** What a storage evolution can run: statements and query descriptions, as the table's owner. */
export interface OwnerStatements {
  readonly exec: { query(sql: string, params?: unknown[]): Promise<unknown> };
  describe(sql: string): Promise<readonly QueryColumn[]>;
}

/**
 * Brings the storage table of stream table `pgtId` to the columns of `plan` in place — the
 * relation stays, so its owner, grants, comments, the indexes and triggers its owner added, and
 * the views over it survive: columns the plan no longer has are dropped, changed types or
 * collations are altered (to NULL: a FULL refresh follows), new columns are added with the
 * query column's collation, and the row-id index is made
 * unique or not as the plan needs (a FULL plan gets none; a storage that had none gets it from
 * the FULL refresh that follows, which writes the new ids). Runs as the owner. A view that reads a column that goes or
 * changes type is reported by name (`PGT_HAS_DEPENDENTS`), nothing changed.
 */
export async function evolveStorage(
  conn: Conn,
  owner: OwnerStatements,
  pgtId: number,
  plan: CompiledPlan,
): Promise<void> {
  const rel = sqlName(plan.storage.schema, plan.storage.name);
  const display = displayName(plan.storage.schema, plan.storage.name);
  const wanted = await owner.describe(plan.populationSelect());
  const had = new Map((await relationColumns(conn, rel)).map((c) => [c.name, typeWithCollation(c)]));
  const want = new Map(wanted.map((c) => [c.name, c]));
  const steps: { sql: string; column: string }[] = [];
  for (const [col] of had)
    if (!want.has(col)) steps.push({ sql: `DROP COLUMN ${quoteIdent(col)}`, column: col });
  for (const [col, c] of want) {
    const was = had.get(col);
    const type = typeWithCollation(c);
    if (was === undefined) steps.push({ sql: `ADD COLUMN ${quoteIdent(col)} ${type}`, column: col });
    else if (was !== type)
      steps.push({ sql: `ALTER COLUMN ${quoteIdent(col)} TYPE ${type} USING NULL::${c.type}`, column: col });
  }
  for (const step of steps) {
    if (step.sql.startsWith('ADD ')) continue;
    const views = await viewsReading(conn, rel, step.column);
    if (views.length > 0) throw new DependentViewsError(display, views, step.column);
  }
  await allowStorageWrites(conn, pgtId);
  for (const step of steps) await owner.exec.query(`ALTER TABLE ${rel} ${step.sql}`);
  const rowIdIndexes = await conn.query(rowIdIndexesSql(rel));
  for (const ix of rowIdIndexes.rows) await owner.exec.query(`DROP INDEX ${String(ix.ix)}`);
  // The index the plan's storage DDL creates (none for a FULL plan). A storage without one held a
  // FULL plan's ids, which identify nothing (all equal): the FULL refresh that follows creates it
  // from the new ids (dvm `replaceContents`).
  const index = rowIdIndexSql(plan);
  if (index !== null && rowIdIndexes.rows.length > 0) await owner.exec.query(index);
}

/** The views (and rules) that read column `column` of relation `rel`. */
async function viewsReading(conn: Conn, rel: string, column: string): Promise<string[]> {
  const res = await conn.query(
    `SELECT DISTINCT v.oid::regclass::text AS view
       FROM pg_catalog.pg_depend AS d
       JOIN pg_catalog.pg_rewrite AS r ON r.oid = d.objid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
       JOIN pg_catalog.pg_class AS v ON v.oid = r.ev_class
       JOIN pg_catalog.pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.refobjid = pg_catalog.to_regclass($1) AND a.attname = $2 AND v.oid <> d.refobjid
      ORDER BY 1`,
    [rel, column],
  );
  return res.rows.map((r) => String(r.view));
}

/** The state of a storage table's guard trigger: the table's quoted name and `tgenabled` (null: no trigger). */
export interface GuardState {
  readonly rel: string;
  readonly enabled: string | null;
}

/** A scalar subquery of storage table `oidParam`'s {@link GuardState} as json (null: no such table). */
export function guardStateSql(oidParam: string): string {
  return `(SELECT pg_catalog.json_build_object(
            'rel', pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),
            'enabled', (SELECT t.tgenabled::text FROM pg_catalog.pg_trigger AS t
                         WHERE t.tgrelid = c.oid AND t.tgname = ${quoteLiteral(GUARD_TRIGGER)}))
       FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
      WHERE c.oid = ${oidParam})`;
}

/**
 * Makes sure the guard trigger of storage table `oid` exists and fires (its owner, who owns the
 * table, can disable or drop it). Returns true when it had to be restored: writes may have got in,
 * so the caller rebuilds the contents.
 */
export async function restoreGuard(conn: Conn, oid: number): Promise<boolean> {
  const res = await conn.query(`SELECT ${guardStateSql('$1::oid')} AS g`, [oid]);
  return repairGuard(conn, (res.rows[0]?.g ?? null) as GuardState | null);
}

/** {@link restoreGuard} from a guard state already read (null: the table is gone). */
export async function repairGuard(conn: Conn, state: GuardState | null): Promise<boolean> {
  if (state === null || state.enabled === 'O' || state.enabled === 'A') return false;
  if (state.enabled === null) await conn.query(guardTriggerSql(state.rel));
  else await conn.query(`ALTER TABLE ${state.rel} ENABLE TRIGGER ${quoteIdent(GUARD_TRIGGER)}`);
  return true;
}
