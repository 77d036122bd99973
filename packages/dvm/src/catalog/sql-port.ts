/**
 * The {@link CatalogPort} over any {@link SqlExecutor}: catalog queries against pg_catalog. The
 * client passes its `pg` connection; tests pass the test database. Relation names resolve like
 * SQL does (`to_regclass`, search_path for unqualified names); functions by name over all
 * overloads visible under it; a column's collation is reported when it is not its type's default;
 * a query is described by running it under `LIMIT 0` (planned, no row
 * produced) and formatting its result column types, and its collated columns' collations are
 * reported when not their type's default.
 */

import { CHANGES_SCHEMA } from '../names.js';
import { SOURCE_DDL_EVENT_TRIGGER } from '../plan/capture-sync.js';
import type { SqlExecutor } from '../plan/refresh.js';
import { quoteQualified } from '../sql/quote.js';
import { sql } from '../sql/sql.js';
import type {
  CatalogPort,
  ColumnInfo,
  FunctionInfo,
  QualifiedName,
  QueryColumn,
  RelationInfo,
  RelationKind,
  StreamTableInfo,
  TypeShape,
  ViewInfo,
} from './port.js';

/** Options of {@link createSqlCatalogPort}. */
export interface SqlCatalogPortOptions {
  /** Tells whether a relation is a stream table (the client reads its own catalog); default: none is. */
  readonly streamTableOf?: (oid: number) => Promise<StreamTableInfo | null>;
}

const KINDS: Record<string, RelationKind> = {
  r: 'table',
  p: 'partitioned',
  v: 'view',
  m: 'matview',
  f: 'foreign',
};

/**
 * The collations of the result columns of query `text` (those whose type is `collatable`) that
 * are not their type's default (by position, 1-based): `pg_collation_for` of each such column of
 * the query under `LIMIT 0`,
 * left-joined to one row so the expressions are evaluated once, over NULLs (the collation is the
 * expression's, not the value's). The query itself produces no row.
 */
async function queryCollations(
  exec: SqlExecutor,
  text: string,
  collatable: readonly boolean[],
): Promise<Map<number, { schema: string; name: string }>> {
  const names = collatable.map((_, i) => `c${i + 1}`);
  const each = names.map((n, i) =>
    collatable[i] === true
      ? sql`pg_catalog.pg_collation_for(q.${sql.id(n)})::pg_catalog.regcollation::pg_catalog.oid`
      : 'NULL',
  );
  const types = names.map((n) => sql`pg_catalog.pg_typeof(q.${sql.id(n)})::pg_catalog.oid`);
  const res = await exec.query(
    `SELECT k.ord::int4 AS ord, cn.nspname AS coll_schema, co.collname AS coll_name
     FROM (SELECT ARRAY[${each.join(', ')}]::pg_catalog.oid[] AS colls, ARRAY[${types.join(', ')}]::pg_catalog.oid[] AS types
           FROM (SELECT 1) AS __pgt_one
           LEFT JOIN LATERAL (SELECT * FROM (${text}
) AS __pgt_describe LIMIT 0) AS q(${names.map((n) => sql.id(n).text).join(', ')}) ON true) AS x
     CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(x.colls), pg_catalog.unnest(x.types)) WITH ORDINALITY AS k(coll, typ, ord)
     JOIN pg_catalog.pg_type AS t ON t.oid = k.typ
     JOIN pg_catalog.pg_collation AS co ON co.oid = k.coll AND k.coll <> t.typcollation
     JOIN pg_catalog.pg_namespace AS cn ON cn.oid = co.collnamespace`,
  );
  return new Map(
    res.rows.map((r) => [Number(r.ord), { schema: String(r.coll_schema), name: String(r.coll_name) }]),
  );
}

/**
 * The statement telling which of the types `$1` (names, or oids) have no extended hash function
 * (returned as their names, or oids as text), decided as PostgreSQL's type cache decides it: a
 * domain by its base type, an array by its element type, a composite by all its columns, a range
 * by its subtype, a multirange by its range; any other type (an enum, a base
 * type) when its default hash operator class — its own, else the one binary-coercible type's
 * (the preferred one of its category if several), as `GetDefaultOpClass` chooses — has an
 * extended hash support function (number 2).
 */
function unhashableTypesSql(input: 'names' | 'oids'): string {
  const rows =
    input === 'names'
      ? 'SELECT u.name, u.name::pg_catalog.regtype::pg_catalog.oid AS root FROM pg_catalog.unnest($1::text[]) AS u(name)'
      : 'SELECT u.root::text AS name, u.root FROM pg_catalog.unnest($1::oid[]) AS u(root)';
  return `WITH RECURSIVE input AS (${rows}),
  walk(root, typ) AS (
    SELECT i.root, i.root FROM input AS i
    UNION
    SELECT w.root, x.child FROM walk AS w JOIN pg_catalog.pg_type AS t ON t.oid = w.typ
    CROSS JOIN LATERAL (
      SELECT t.typbasetype WHERE t.typtype = 'd'
      UNION ALL SELECT t.typelem WHERE t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc
      UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range AS r WHERE r.rngtypid = t.oid
      UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range AS r WHERE r.rngmultitypid = t.oid
      UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute AS a
                 WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS x(child))
SELECT DISTINCT i.name FROM input AS i JOIN walk AS w ON w.root = i.root JOIN pg_catalog.pg_type AS t ON t.oid = w.typ
WHERE t.typtype IN ('b', 'p')
  AND NOT (t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc)
  AND NOT COALESCE((
    SELECT CASE
      WHEN pg_catalog.count(*) FILTER (WHERE o.exact) > 0 THEN pg_catalog.count(*) FILTER (WHERE o.exact) = 1 AND pg_catalog.bool_or(o.ext) FILTER (WHERE o.exact)
      WHEN pg_catalog.count(*) FILTER (WHERE o.preferred) = 1 THEN pg_catalog.bool_or(o.ext) FILTER (WHERE o.preferred)
      ELSE pg_catalog.count(*) FILTER (WHERE o.preferred) = 0 AND pg_catalog.count(*) = 1 AND pg_catalog.bool_or(o.ext) END
    FROM (SELECT oc.opcintype = t.oid AS exact, it.typispreferred AND it.typcategory = t.typcategory AS preferred,
                 EXISTS (SELECT 1 FROM pg_catalog.pg_amproc AS p WHERE p.amprocfamily = oc.opcfamily AND p.amproclefttype = oc.opcintype
                           AND p.amprocrighttype = oc.opcintype AND p.amprocnum = 2) AS ext
          FROM pg_catalog.pg_opclass AS oc
          JOIN pg_catalog.pg_am AS am ON am.oid = oc.opcmethod AND am.amname = 'hash'
          JOIN pg_catalog.pg_type AS it ON it.oid = oc.opcintype
          WHERE oc.opcdefault AND (oc.opcintype = t.oid OR EXISTS (
            SELECT 1 FROM pg_catalog.pg_cast AS c WHERE c.castsource = t.oid AND c.casttarget = oc.opcintype AND c.castmethod = 'b'))) AS o), false)`;
}

const UNHASHABLE_BY_NAME = unhashableTypesSql('names');
const UNHASHABLE_BY_OID = unhashableTypesSql('oids');

/** One row per type name: what it is built from (see {@link CatalogPort.describeTypes}). */
const DESCRIBE_TYPES = `SELECT u.name, t.typtype::text AS typtype,
  CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base,
  CASE WHEN t.typtype <> 'd' AND t.typelem <> 0 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc
       THEN pg_catalog.format_type(t.typelem, NULL) END AS element,
  (SELECT pg_catalog.format_type(r.rngsubtype, NULL) FROM pg_catalog.pg_range AS r
    WHERE r.rngtypid = t.oid OR r.rngmultitypid = t.oid) AS subtype,
  CASE WHEN t.typtype = 'c' THEN (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS fields
FROM pg_catalog.unnest($1::text[]) AS u(name)
JOIN pg_catalog.pg_type AS t ON t.oid = u.name::pg_catalog.regtype`;

/** A {@link TypeShape} from one row of {@link DESCRIBE_TYPES}. */
function typeShape(row: Record<string, unknown>): TypeShape {
  if (typeof row.base === 'string') return { kind: 'domain', base: row.base };
  if (typeof row.element === 'string') return { kind: 'array', element: row.element };
  if (typeof row.subtype === 'string') return { kind: 'range', subtype: row.subtype };
  if (Array.isArray(row.fields)) {
    return {
      kind: 'composite',
      fields: (row.fields as [string, string][]).map(([name, type]) => ({ name, type })),
    };
  }
  return { kind: 'plain' };
}

/** A catalog port answering from pg_catalog through `exec`. */
export function createSqlCatalogPort(exec: SqlExecutor, options: SqlCatalogPortOptions = {}): CatalogPort {
  return {
    async resolveRelation(name: QualifiedName): Promise<RelationInfo | null> {
      const rel = await exec.query(
        `SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind::text AS relkind, c.relpersistence::text AS relpersistence
         FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
         WHERE c.oid = pg_catalog.to_regclass($1)`,
        [quoteQualified(name.schema, name.name)],
      );
      const r = rel.rows[0];
      if (r === undefined) return null;
      const oid = Number(r.oid);
      const cols = await exec.query(
        `SELECT a.attname, a.attnum, a.atttypid::int8 AS atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
                CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS stored_type,
                CASE WHEN a.attgenerated = 'v' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END AS virtual_expr,
                cn.nspname AS coll_schema, co.collname AS coll_name
         FROM pg_catalog.pg_attribute AS a
         JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
         LEFT JOIN pg_catalog.pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         LEFT JOIN pg_catalog.pg_collation AS co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
         LEFT JOIN pg_catalog.pg_namespace AS cn ON cn.oid = co.collnamespace
         WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [oid],
      );
      const pk = await exec.query(
        `SELECT a.attname, COALESCE(con.condeferrable, false) AS deferrable FROM pg_catalog.pg_index AS i
         CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         LEFT JOIN pg_catalog.pg_constraint AS con ON con.conindid = i.indexrelid AND con.contype = 'p'
         WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.ord`,
        [oid],
      );
      // The capture format: the installed capture's, else typed when the DDL event trigger exists.
      const state = sql.id(CHANGES_SCHEMA, 'capture_state').text;
      const fmt = await exec.query(
        `SELECT pg_catalog.to_regclass($1) IS NOT NULL AND pg_catalog.has_table_privilege($1, 'SELECT') AS has_state,
                EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger AS e WHERE e.evtname = $2 AND e.evtenabled <> 'D') AS typed`,
        [state, SOURCE_DDL_EVENT_TRIGGER],
      );
      const installed =
        fmt.rows[0]?.has_state === true
          ? (await exec.query(`SELECT s.format FROM ${state} AS s WHERE s.source_oid = $1::oid`, [oid]))
              .rows[0]?.format
          : undefined;
      const captureFormat: 'typed' | 'text' =
        installed === 'text' || installed === 'typed'
          ? installed
          : fmt.rows[0]?.typed === true
            ? 'typed'
            : 'text';
      const unhashable =
        cols.rows.length === 0
          ? new Set<string>()
          : new Set(
              (
                await exec.query(UNHASHABLE_BY_OID, [[...new Set(cols.rows.map((c) => String(c.atttypid)))]])
              ).rows.map((r) => String(r.name)),
            );
      const columns: ColumnInfo[] = cols.rows.map((c) => ({
        name: String(c.attname),
        type: String(c.type),
        notNull: c.attnotnull === true,
        attnum: Number(c.attnum),
        ...(c.stored_type === null || c.stored_type === undefined
          ? {}
          : { storedType: String(c.stored_type) }),
        ...(c.virtual_expr === null || c.virtual_expr === undefined
          ? {}
          : { virtualExpr: String(c.virtual_expr) }),
        ...(c.coll_name === null || c.coll_name === undefined
          ? {}
          : { collation: { schema: String(c.coll_schema), name: String(c.coll_name) } }),
        ...(unhashable.has(String(c.atttypid)) ? { unhashable: true } : {}),
      }));
      const kind = r.relpersistence === 't' ? 'other' : (KINDS[String(r.relkind)] ?? 'other');
      let view: ViewInfo | undefined;
      if (kind === 'view') {
        const v = await exec.query(
          `SELECT pg_catalog.pg_get_viewdef(c.oid) AS def, c.relowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) AS own,
                  COALESCE(pg_catalog.bool_or(o.option_name = 'security_invoker' AND o.option_value IN ('true', 'on', '1', 'yes')), false) AS invoker,
                  pg_catalog.pg_get_userbyid(c.relowner)::text AS owner
             FROM pg_catalog.pg_class AS c LEFT JOIN LATERAL pg_catalog.pg_options_to_table(c.reloptions) AS o ON true
            WHERE c.oid = $1::oid GROUP BY c.oid, c.relowner`,
          [oid],
        );
        const d = v.rows[0];
        view = {
          definition: String(d?.def),
          notInlinable:
            d?.own === true || d?.invoker === true
              ? null
              : `the view is owned by ${String(d?.owner)} and reads its tables with that role's rights, not the stream table owner's`,
        };
      }
      return {
        oid,
        schema: String(r.nspname),
        name: String(r.relname),
        kind,
        columns,
        primaryKey: pk.rows.length === 0 ? null : pk.rows.map((p) => String(p.attname)),
        primaryKeyDeferrable: pk.rows.some((p) => p.deferrable === true),
        captureFormat,
        ...(view === undefined ? {} : { view }),
      };
    },

    async describeQuery(sql: string): Promise<readonly QueryColumn[]> {
      const res = await exec.query(`SELECT * FROM (${sql}\n) AS __pgt_describe LIMIT 0`);
      const fields = res.fields ?? [];
      if (fields.length === 0) return [];
      const types = await exec.query(
        `SELECT pg_catalog.format_type(t.oid, t.mod) AS type, COALESCE(ty.typcollation <> 0, false) AS collatable
  FROM ROWS FROM (pg_catalog.unnest($1::oid[]), pg_catalog.unnest($2::int[])) WITH ORDINALITY AS t(oid, mod, ord)
  LEFT JOIN pg_catalog.pg_type AS ty ON ty.oid = t.oid ORDER BY t.ord`,
        [fields.map((f) => f.dataTypeID), fields.map((f) => f.dataTypeModifier ?? -1)],
      );
      const collations = types.rows.some((r) => r.collatable === true)
        ? await queryCollations(
            exec,
            sql,
            types.rows.map((r) => r.collatable === true),
          )
        : new Map<number, { schema: string; name: string }>();
      return fields.map((f, i) => {
        const collation = collations.get(i + 1);
        return {
          name: f.name,
          type: String(types.rows[i]?.type),
          ...(collation === undefined ? {} : { collation }),
        };
      });
    },

    async functionInfo(name: QualifiedName): Promise<FunctionInfo | null> {
      const res = await exec.query(
        `SELECT pg_catalog.max(p.provolatile::text) AS volatility,
                pg_catalog.bool_or(p.prokind = 'a') AS aggregate,
                pg_catalog.bool_or(p.prokind = 'w') AS win,
                pg_catalog.bool_or(p.proretset) AS srf,
                pg_catalog.count(*) AS n
         FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS ns ON ns.oid = p.pronamespace
         WHERE p.proname = $1 AND (CASE WHEN $2::text IS NULL THEN pg_catalog.pg_function_is_visible(p.oid) ELSE ns.nspname = $2 END)`,
        [name.name, name.schema],
      );
      const r = res.rows[0];
      if (r === undefined || Number(r.n) === 0) return null;
      const v = String(r.volatility);
      return {
        volatility: v === 'v' ? 'volatile' : v === 's' ? 'stable' : 'immutable',
        aggregate: r.aggregate === true,
        window: r.win === true,
        returnsSet: r.srf === true,
      };
    },

    async unhashableTypes(types: readonly string[]): Promise<ReadonlySet<string>> {
      if (types.length === 0) return new Set();
      const res = await exec.query(UNHASHABLE_BY_NAME, [[...new Set(types)]]);
      return new Set(res.rows.map((r) => String(r.name)));
    },

    async describeTypes(types: readonly string[]): Promise<ReadonlyMap<string, TypeShape>> {
      if (types.length === 0) return new Map();
      const res = await exec.query(DESCRIBE_TYPES, [[...new Set(types)]]);
      return new Map(res.rows.map((r) => [String(r.name), typeShape(r)]));
    },

    async serverVersionNum(): Promise<number> {
      const res = await exec.query(`SELECT pg_catalog.current_setting('server_version_num')::int AS v`);
      return Number(res.rows[0]?.v ?? 0);
    },

    ...(options.streamTableOf === undefined ? {} : { streamTableOf: options.streamTableOf }),
  };
}
