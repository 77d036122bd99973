/**
 * The public view of a stream table (docs/dvm-design.md §5): `<schema>.<name>` is a view of the
 * visible columns, in the query's order, over the storage table `<name>__pgt_storage` (a generated
 * name, unique after PostgreSQL's 63-byte truncation), which holds the hidden `__pgt_` columns.
 * Rules:
 * - the view and the storage are the owner's, made in the owner's sandbox; readers are granted
 *   SELECT on the view (its owner owns the storage, so they need nothing else);
 * - the storage's SELECT grants follow the view's (mirrored before each refresh), so a stream
 *   table of another owner that reads this one can read its storage, as it reads its view;
 * - a query naming the view of a stream table reads the stream table (the catalog port answers
 *   with the storage), never the view inlined;
 * - a stream table made before the view existed (`public_oid` NULL) is converted by its next
 *   refresh, in its owner's sandbox: storage renamed, view created, grants and comments copied;
 * - when the visible columns change the view is replaced (`CREATE OR REPLACE VIEW` when columns
 *   are only added at the end, else dropped and created again with its grants and comments;
 *   refused with `PGT_HAS_DEPENDENTS` naming the views that read it, nothing changed).
 */
import type { CatalogPort, CompiledPlan, QueryColumn, RelationInfo } from '@pgtrickle/dvm';
import { quoteIdent, quoteLiteral, rowIdIndexName, truncateIdent } from '@pgtrickle/dvm';
import { storageBehindView, streamTableById } from './catalog/find-stream-table.js';
import type { StreamTableRow } from './catalog/rows.js';
import type { Queryable } from './catalog/schema.js';
import { setPublicOid } from './catalog/update-stream-table.js';
import type { Conn, Db } from './db.js';
import { AlreadyExistsError, DependentViewsError, PublicViewMissingError } from './errors.js';
import { displayName, sqlName } from './names.js';
import { type OwnerSandbox, withSandbox } from './security/sandbox.js';
import { evolveStorage, type OwnerStatements, typeWithCollation } from './storage.js';

/** What the storage table's generated name ends with. */
export const STORAGE_SUFFIX = '__pgt_storage';

/** The storage table's name of a stream table named `name` (truncated with a hash past 63 bytes). */
export function storageTableName(name: string): string {
  return truncateIdent(`${name}${STORAGE_SUFFIX}`);
}

/** The current name of a stream table's storage: the public name itself until it is converted. */
export function storageNameOf(row: Pick<StreamTableRow, 'name' | 'publicOid'>): string {
  return row.publicOid === null ? row.name : storageTableName(row.name);
}

/** Statements run as the owner. */
interface OwnerExec {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** The CREATE [OR REPLACE] VIEW of the public view. */
function viewSql(
  schema: string,
  name: string,
  storage: string,
  columns: readonly string[],
  replace: boolean,
  options: readonly string[] = [],
): string {
  const list = columns.map((c) => `s.${quoteIdent(c)}`).join(', ');
  // Options as pg_class.reloptions holds them (`security_invoker=true`), kept across a re-creation.
  const withOptions = options.length === 0 ? '' : ` WITH (${options.join(', ')})`;
  return `CREATE ${replace ? 'OR REPLACE ' : ''}VIEW ${sqlName(schema, name)}${withOptions} AS SELECT ${list} FROM ${sqlName(schema, storage)} AS s`;
}

/** A relation's options (`reloptions`), e.g. a view's `security_invoker=true`. */
async function optionsOf(q: Queryable, oid: number): Promise<string[]> {
  const res = await q.query(
    `SELECT COALESCE(c.reloptions, '{}')::text[] AS o FROM pg_catalog.pg_class AS c WHERE c.oid = $1`,
    [oid],
  );
  return ((res.rows[0]?.o ?? []) as string[]).filter((o) => /^[a-z_]+=[A-Za-z0-9_]+$/.test(o));
}

/** The oid of relation schema.name (0 when there is none). */
async function oidOf(q: Queryable, schema: string, name: string): Promise<number> {
  const res = await q.query('SELECT COALESCE(pg_catalog.to_regclass($1)::oid, 0)::int8 AS oid', [
    sqlName(schema, name),
  ]);
  return Number(res.rows[0]?.oid ?? 0);
}

/**
 * Creates the public view schema.name over storage table schema.storage with `columns` (the
 * plan's visible columns, in order), as the owner; returns its oid.
 */
export async function createPublicView(
  conn: Conn,
  owner: OwnerExec,
  schema: string,
  name: string,
  storage: string,
  columns: readonly QueryColumn[],
): Promise<number> {
  await owner.query(
    viewSql(
      schema,
      name,
      storage,
      columns.map((c) => c.name),
      false,
    ),
  );
  return oidOf(conn, schema, name);
}

/**
 * Wraps a catalog port so a stream table's public view resolves to its storage table: a query
 * naming the view reads the stream table (its row ids, its change buffer), not the view inlined.
 */
export function storageResolvingPort(base: CatalogPort, q: Queryable): CatalogPort {
  return {
    ...base,
    async resolveRelation(name): Promise<RelationInfo | null> {
      const info = await base.resolveRelation(name);
      if (info === null || info.view === undefined) return info;
      const storage = await storageBehindView(q, info.oid);
      if (storage === null) return info;
      const res = await q.query(
        `SELECT n.nspname::text AS s, c.relname::text AS n FROM pg_catalog.pg_class AS c
           JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = $1`,
        [storage],
      );
      const r = res.rows[0];
      if (r === undefined) return info;
      return base.resolveRelation({ schema: String(r.s), name: String(r.n) });
    },
  };
}

/** A privilege of a relation or column as aclexplode reports it. */
interface Grant {
  readonly column: string | null;
  readonly grantee: string;
  readonly privilege: string;
  readonly grantable: boolean;
}

/** The grants (table and column) of relation `oid` to roles other than its owner. */
async function grantsOf(q: Queryable, oid: number): Promise<Grant[]> {
  const res = await q.query(
    `SELECT NULL::text AS col, a.grantee::int8 AS grantee, pg_catalog.pg_get_userbyid(a.grantee)::text AS name,
            a.privilege_type, a.is_grantable
       FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a WHERE c.oid = $1 AND a.grantee <> c.relowner
     UNION ALL
     SELECT f.attname::text, a.grantee::int8, pg_catalog.pg_get_userbyid(a.grantee)::text, a.privilege_type, a.is_grantable
       FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_attribute AS f ON f.attrelid = c.oid,
            pg_catalog.aclexplode(f.attacl) AS a
      WHERE c.oid = $1 AND f.attnum > 0 AND NOT f.attisdropped AND f.attacl IS NOT NULL AND a.grantee <> c.relowner`,
    [oid],
  );
  return res.rows.map((r) => ({
    column: r.col === null ? null : String(r.col),
    grantee: Number(r.grantee) === 0 ? 'PUBLIC' : quoteIdent(String(r.name)),
    privilege: String(r.privilege_type),
    grantable: r.is_grantable === true,
  }));
}

/** The privileges a storage table's grants keep on the view (a table's TRUNCATE, REFERENCES … are left behind). */
const VIEW_PRIVILEGES: ReadonlySet<string> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRIGGER']);

/**
 * Grants `grants` on `rel` as the owner: those of columns `columns` has, and the table-wide ones,
 * of the privileges `kept` (all of them when null: a copy from one view to another).
 */
async function applyGrants(
  owner: OwnerExec,
  rel: string,
  grants: readonly Grant[],
  columns: ReadonlySet<string>,
  kept: ReadonlySet<string> | null = VIEW_PRIVILEGES,
): Promise<void> {
  for (const g of grants) {
    if (kept !== null && !kept.has(g.privilege)) continue;
    if (g.column !== null && !columns.has(g.column)) continue;
    const cols = g.column === null ? '' : ` (${quoteIdent(g.column)})`;
    await owner.query(
      `GRANT ${g.privilege}${cols} ON ${rel} TO ${g.grantee}${g.grantable ? ' WITH GRANT OPTION' : ''}`,
    );
  }
}

/** A relation's comment and its columns' comments. */
interface Comments {
  readonly table: string | null;
  readonly columns: Record<string, string>;
}

async function commentsOf(q: Queryable, oid: number): Promise<Comments> {
  const res = await q.query(
    `SELECT pg_catalog.obj_description($1, 'pg_class') AS c,
            (SELECT pg_catalog.json_object_agg(f.attname, pg_catalog.col_description($1, f.attnum))
               FROM pg_catalog.pg_attribute AS f
              WHERE f.attrelid = $1 AND f.attnum > 0 AND NOT f.attisdropped
                AND pg_catalog.col_description($1, f.attnum) IS NOT NULL) AS cols`,
    [oid],
  );
  const r = res.rows[0];
  return {
    table: typeof r?.c === 'string' ? r.c : null,
    columns: (r?.cols ?? {}) as Record<string, string>,
  };
}

async function applyComments(
  owner: OwnerExec,
  rel: string,
  comments: Comments,
  columns: ReadonlySet<string>,
): Promise<void> {
  if (comments.table !== null) await owner.query(`COMMENT ON VIEW ${rel} IS ${quoteLiteral(comments.table)}`);
  for (const [col, text] of Object.entries(comments.columns))
    if (columns.has(col))
      await owner.query(`COMMENT ON COLUMN ${rel}.${quoteIdent(col)} IS ${quoteLiteral(text)}`);
}

/**
 * Makes view `toRel` (oid `toOid`) carry view `fromOid`'s grants (table and column, every
 * privilege, as the owner grants them) and comments, of the columns both have: the grants the
 * target had are revoked first.
 */
export async function copyGrantsAndComments(
  q: Queryable,
  owner: OwnerExec,
  fromOid: number,
  to: { readonly oid: number; readonly rel: string },
): Promise<void> {
  for (const grantee of new Set((await grantsOf(q, to.oid)).map((g) => g.grantee)))
    await owner.query(`REVOKE ALL ON ${to.rel} FROM ${grantee}`);
  const columns = new Set((await columnsOf(q, to.oid)).map((c) => c.name));
  await applyGrants(owner, to.rel, await grantsOf(q, fromOid), columns, null);
  await applyComments(owner, to.rel, await commentsOf(q, fromOid), columns);
}

/** The visible columns of relation `oid` (name and type with collation), in attnum order. */
async function columnsOf(q: Queryable, oid: number): Promise<{ name: string; type: string }[]> {
  const res = await q.query(
    `SELECT a.attname::text AS name, pg_catalog.format_type(a.atttypid, a.atttypmod)
              || CASE WHEN a.attcollation <> t.typcollation
                      THEN ' COLLATE ' || pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) ELSE '' END AS type
       FROM pg_catalog.pg_attribute AS a JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_collation AS co ON co.oid = a.attcollation
       LEFT JOIN pg_catalog.pg_namespace AS cn ON cn.oid = co.collnamespace
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND pg_catalog.left(a.attname, 6) <> '__pgt_'
      ORDER BY a.attnum`,
    [oid],
  );
  return res.rows.map((r) => ({ name: String(r.name), type: String(r.type) }));
}

/** The views (other than `except`) that read relation `oid`. */
async function viewsOver(q: Queryable, oid: number, except: number | null = null): Promise<string[]> {
  const res = await q.query(
    `SELECT DISTINCT v.oid::regclass::text AS view
       FROM pg_catalog.pg_depend AS d
       JOIN pg_catalog.pg_rewrite AS r ON r.oid = d.objid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
       JOIN pg_catalog.pg_class AS v ON v.oid = r.ev_class
      WHERE d.refobjid = $1 AND v.oid <> d.refobjid AND v.oid <> COALESCE($2::oid, 0) ORDER BY 1`,
    [oid, except],
  );
  return res.rows.map((r) => String(r.view));
}

/** Views over a stream table's public view and over its storage (but for the public view itself). */
export async function viewsOverStreamTable(
  q: Queryable,
  row: Pick<StreamTableRow, 'storageOid' | 'publicOid'>,
): Promise<string[]> {
  const over = new Set<string>();
  if (row.publicOid !== null) for (const v of await viewsOver(q, row.publicOid)) over.add(v);
  if (row.storageOid !== null) for (const v of await viewsOver(q, row.storageOid, row.publicOid)) over.add(v);
  return [...over].sort();
}

/**
 * What the public view of `row` needs before its storage is brought to new visible columns
 * `columns`: nothing (same columns), a `CREATE OR REPLACE VIEW` after (columns added at the end),
 * or the view dropped now and created again after ({@link restorePublicView}) — refused with
 * `PGT_HAS_DEPENDENTS` when views read it.
 */
export interface PublicViewChange {
  readonly kind: 'same' | 'extend' | 'recreate';
  readonly grants: readonly Grant[];
  readonly comments: Comments;
  readonly options: readonly string[];
}

/** Prepares the public view of `row` for visible columns `columns` (see {@link PublicViewChange}). */
export async function detachPublicView(
  conn: Conn,
  owner: OwnerExec,
  row: Pick<StreamTableRow, 'schema' | 'name' | 'publicOid'>,
  columns: readonly QueryColumn[],
): Promise<PublicViewChange> {
  const none: PublicViewChange = {
    kind: 'same',
    grants: [],
    comments: { table: null, columns: {} },
    options: [],
  };
  if (row.publicOid === null) return none;
  const had = await columnsOf(conn, row.publicOid);
  if (had.length === 0) return none;
  const want = columns.map((c) => ({ name: c.name, type: typeWithCollation(c) }));
  const sameAt = (i: number) => had[i]?.name === want[i]?.name && had[i]?.type === want[i]?.type;
  const prefix = had.length <= want.length && had.every((_, i) => sameAt(i));
  const options = await optionsOf(conn, row.publicOid);
  if (prefix) return { ...none, kind: had.length === want.length ? 'same' : 'extend', options };
  const dependents = await viewsOver(conn, row.publicOid);
  if (dependents.length > 0) {
    const changed = had.find((_c, i) => !sameAt(i))?.name ?? (had[0]?.name as string);
    throw new DependentViewsError(displayName(row.schema, row.name), dependents, changed);
  }
  const grants = await grantsOf(conn, row.publicOid);
  const comments = await commentsOf(conn, row.publicOid);
  await owner.query(`DROP VIEW ${sqlName(row.schema, row.name)}`);
  return { kind: 'recreate', grants, comments, options };
}

/** Completes {@link detachPublicView} once the storage has its new columns; records the view's oid. */
export async function restorePublicView(
  conn: Conn,
  owner: OwnerExec,
  row: Pick<StreamTableRow, 'pgtId' | 'schema' | 'name' | 'publicOid'>,
  columns: readonly QueryColumn[],
  change: PublicViewChange,
): Promise<void> {
  if (row.publicOid === null || change.kind === 'same') return;
  const names = columns.map((c) => c.name);
  const storage = storageTableName(row.name);
  await owner.query(viewSql(row.schema, row.name, storage, names, change.kind === 'extend', change.options));
  if (change.kind === 'extend') return;
  const rel = sqlName(row.schema, row.name);
  await applyGrants(owner, rel, change.grants, new Set(names));
  await applyComments(owner, rel, change.comments, new Set(names));
  await setPublicOid(conn, row.pgtId, await oidOf(conn, row.schema, row.name));
}

/**
 * Brings the storage of `row` to the columns of `plan` in place (`evolveStorage`) and its public
 * view to the plan's visible columns, as the owner.
 */
export async function evolveStorageAndView(
  conn: Conn,
  owner: OwnerStatements,
  row: Pick<StreamTableRow, 'pgtId' | 'schema' | 'name' | 'publicOid'>,
  plan: CompiledPlan,
): Promise<void> {
  const change = await detachPublicView(conn, owner.exec, row, plan.columns);
  await evolveStorage(conn, owner, row.pgtId, plan);
  await restorePublicView(conn, owner.exec, row, plan.columns, change);
}

/**
 * Converts a stream table of the earlier layout (its storage under the public name) as its owner:
 * the storage is renamed to its generated name (with pgtrickle's row-id index), the view is
 * created under the public name with the storage's grants and comments, and its oid recorded.
 * Returns the row as it is now.
 */
export async function convertToPublicView(
  conn: Conn,
  owner: OwnerExec,
  row: StreamTableRow,
): Promise<StreamTableRow> {
  if (row.publicOid !== null || row.storageOid === null) return row;
  const res = await conn.query(
    `SELECT n.nspname::text AS s, c.relname::text AS n FROM pg_catalog.pg_class AS c
       JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = $1 AND c.relkind IN ('r', 'p')`,
    [row.storageOid],
  );
  const r = res.rows[0];
  if (r === undefined) return row; // gone: the refresh reports PGT_STORAGE_MISSING
  const [schema, current] = [String(r.s), String(r.n)];
  const storage = storageTableName(row.name);
  if ((await oidOf(conn, schema, storage)) !== 0)
    throw new AlreadyExistsError(
      displayName(schema, storage),
      'a relation (the storage of a stream table needs the name)',
    );
  const columns = await columnsOf(conn, row.storageOid);
  // Row-level security on the table keeps applying to its readers: they read through an invoker view.
  const rls = await conn.query(
    'SELECT c.relrowsecurity AS r FROM pg_catalog.pg_class AS c WHERE c.oid = $1',
    [row.storageOid],
  );
  const options = rls.rows[0]?.r === true ? ['security_invoker=true'] : [];
  const grants = await grantsOf(conn, row.storageOid);
  const comments = await commentsOf(conn, row.storageOid);
  await owner.query(`ALTER TABLE ${sqlName(schema, current)} RENAME TO ${quoteIdent(storage)}`);
  const index = rowIdIndexName(current);
  if ((await oidOf(conn, schema, index)) !== 0)
    await owner.query(
      `ALTER INDEX ${sqlName(schema, index)} RENAME TO ${quoteIdent(rowIdIndexName(storage))}`,
    );
  const names = columns.map((c) => c.name);
  await owner.query(viewSql(row.schema, row.name, storage, names, false, options));
  const rel = sqlName(row.schema, row.name);
  await applyGrants(owner, rel, grants, new Set(names));
  await applyComments(owner, rel, comments, new Set(names));
  const publicOid = await oidOf(conn, row.schema, row.name);
  await setPublicOid(conn, row.pgtId, publicOid);
  return { ...row, publicOid };
}

/**
 * Before a refresh, as the owner: converts a stream table of the earlier layout; otherwise checks
 * its public view still exists (`PGT_STORAGE_MISSING` when it was dropped behind pgtrickle's back)
 * and gives the storage the view's SELECT grants (revoking those the view no longer has).
 */
export async function preparePublicView(
  conn: Conn,
  owner: OwnerExec,
  row: StreamTableRow,
): Promise<StreamTableRow> {
  if (row.storageOid === null) return row;
  if (row.publicOid === null) return convertToPublicView(conn, owner, row);
  await mirrorReaderGrants(conn, owner, row);
  return row;
}

/** {@link preparePublicView}'s check of the view and its grants mirrored on the storage. */
async function mirrorReaderGrants(conn: Conn, owner: OwnerExec, row: StreamTableRow): Promise<void> {
  const res = await conn.query(
    `WITH v AS (SELECT a.grantee FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
                 WHERE c.oid = $1 AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner),
          s AS (SELECT a.grantee FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
                 WHERE c.oid = $2 AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner)
     SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = $1 AND c.relkind = 'v') AS present,
            EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = $2) AS stored,
            ARRAY(SELECT CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(grantee)) END
                    FROM (SELECT grantee FROM v EXCEPT SELECT grantee FROM s) AS x) AS grant_to,
            ARRAY(SELECT CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(grantee)) END
                    FROM (SELECT grantee FROM s EXCEPT SELECT grantee FROM v) AS x) AS revoke_from`,
    [row.publicOid, row.storageOid],
  );
  const r = res.rows[0];
  if (r?.stored !== true) return; // the storage is gone: the refresh reports it
  if (r.present !== true) throw new PublicViewMissingError(displayName(row.schema, row.name));
  const storage = sqlName(row.schema, storageNameOf(row));
  for (const g of (r.grant_to ?? []) as string[]) await owner.query(`GRANT SELECT ON ${storage} TO ${g}`);
  for (const g of (r.revoke_from ?? []) as string[])
    await owner.query(`REVOKE SELECT ON ${storage} FROM ${g}`);
}

/**
 * For a plan compiled as `reader`: each stream table it reads that `reader` may read through its
 * view but not yet through its storage gets its view's grants mirrored now (as that table's
 * owner), so the reader's refreshes can read the storage as readers of the view may.
 */
export async function mirrorGrantsOfSources(
  conn: Conn,
  reader: Pick<OwnerSandbox, 'exec'>,
  plan: Pick<CompiledPlan, 'sources'>,
): Promise<void> {
  for (const s of plan.sources) {
    if (s.kind !== 'streamTable' || s.pgtId === null) continue;
    const row = await streamTableById(conn, s.pgtId);
    if (row === null || row.publicOid === null || row.storageOid === null) continue;
    const rights = await reader.exec.query(
      `SELECT pg_catalog.has_table_privilege($1::oid, 'SELECT') AS v, pg_catalog.has_table_privilege($2::oid, 'SELECT') AS s`,
      [row.publicOid, row.storageOid],
    );
    const r = rights.rows[0];
    if (r?.v !== true || r.s === true) continue;
    await withSandbox(conn, { role: row.owner, searchPath: row.searchPath }, {}, (sandbox) =>
      mirrorReaderGrants(conn, sandbox.exec, row),
    );
  }
}

/** Of the public view oids given, those no view has any more (dropped behind pgtrickle's back). */
export async function missingPublicViews(q: Conn | Db, oids: readonly number[]): Promise<Set<number>> {
  if (oids.length === 0) return new Set();
  const res = await q.query(
    `SELECT o::int8 AS oid FROM pg_catalog.unnest($1::oid[]) AS o
      WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = o AND c.relkind = 'v')`,
    [oids.map(String)],
  );
  return new Set(res.rows.map((r) => Number(r.oid)));
}

/** The statement dropping a stream table's public view, by its oid; null when it is gone (or never was). */
export async function dropPublicViewSql(
  q: Conn | Db,
  row: Pick<StreamTableRow, 'publicOid'>,
): Promise<string | null> {
  if (row.publicOid === null) return null;
  const res = await q.query(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS rel
       FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
      WHERE c.oid = $1 AND c.relkind = 'v'`,
    [row.publicOid],
  );
  const rel = res.rows[0]?.rel;
  return typeof rel === 'string' ? `DROP VIEW ${rel}` : null;
}
