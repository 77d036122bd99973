/**
 * The oracle: "a stream table equals its defining query".
 *
 * The comparison runs in one SQL statement (one snapshot) as a MULTISET comparison,
 * `query EXCEPT ALL table` and `table EXCEPT ALL query`, so duplicate rows count and NULLs
 * compare equal to NULLs (set operations treat NULLs as not distinct). The query's columns are
 * picked by name (`SELECT "a", "b" FROM (<query>) q`), so column order does not matter.
 *
 * EXCEPT ALL needs an equality operator for every column type. Each column is compared as:
 * - its own type when the type has a default btree or hash operator class (most types, including
 *   enums, ranges, arrays and composites of such types);
 * - `jsonb` for `json` (which has no equality): key order and whitespace are ignored, as in
 *   jsonb equality; `json[]` as `jsonb[]`;
 * - `text` for everything else (`point`, `xml`, `box`, ...; `point[]` as `text[]`), i.e. by the
 *   type's output format, which round-trips floats exactly in PostgreSQL 12+.
 * Domains are judged by their base type. Optionally, float columns are rounded
 * (`floatDigits`) to absorb summation-order differences.
 */
import { TestkitAssertionError, TestkitError } from './errors.js';

/** Anything that runs SQL: a `pg.Pool`, `pg.Client`, `pg.PoolClient` or a {@link TestDatabase}. */
export interface Queryable {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: unknown[]; fields: { name: string; dataTypeID: number }[] }>;
}

/** Options of {@link compareTableWithQuery} and {@link expectTableEqualsQuery}. */
export interface CompareOptions {
  /**
   * Columns to compare (by name). Default: every column of the table except those starting
   * with `__pgt_` (pgtrickle's hidden columns); the query must then produce exactly those.
   */
  readonly columns?: readonly string[];
  /** Parameters (`$1`, ...) of the query. */
  readonly params?: readonly unknown[];
  /** How many distinct differing rows to report on each side. Default 10. */
  readonly maxRows?: number;
  /** Compare `real`/`double precision` columns as `round(value::numeric, floatDigits)`. */
  readonly floatDigits?: number;
}

/** One distinct row that differs, with how many more times it occurs on one side. */
export interface RowDiff {
  /** The row as JSON (`row_to_json` of the compared values). */
  readonly row: Record<string, unknown>;
  /** Surplus multiplicity of this row on its side. */
  readonly count: number;
}

/** The result of {@link compareTableWithQuery}. */
export interface TableComparison {
  /** Whether the table and the query hold the same multiset of rows (and the same columns). */
  readonly equal: boolean;
  /** The table, as resolved by PostgreSQL (`regclass` text). */
  readonly table: string;
  readonly query: string;
  /** The columns compared, in table order. */
  readonly columns: readonly string[];
  /** Set when the table's visible columns and the query's columns differ (no rows were compared then). */
  readonly columnMismatch?: {
    readonly onlyInTable: readonly string[];
    readonly onlyInQuery: readonly string[];
  };
  readonly tableRowCount: number;
  readonly queryRowCount: number;
  /** Rows (counting multiplicity) the query produces but the table lacks. */
  readonly missingCount: number;
  /** Rows (counting multiplicity) the table holds but the query does not produce. */
  readonly extraCount: number;
  /** Up to `maxRows` distinct missing rows, most frequent first. */
  readonly missing: readonly RowDiff[];
  /** Up to `maxRows` distinct extra rows, most frequent first. */
  readonly extra: readonly RowDiff[];
}

/** The prefix of pgtrickle's hidden storage columns. */
export const HIDDEN_COLUMN_PREFIX = '__pgt_';

const JSON_OID = 114;
const FLOAT4_OID = 700;
const FLOAT8_OID = 701;

type Kind = 'native' | 'jsonb' | 'jsonb[]' | 'text' | 'text[]';

interface TypeRow {
  oid: number;
  typtype: string;
  is_array: boolean;
  typelem: number;
  typbasetype: number;
  typrelid: number;
  has_eq: boolean;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function stripTrailingSemicolons(sql: string): string {
  return sql.replace(/[\s;]+$/u, '');
}

/** Resolves how each type must be compared, following domains, arrays and composites. */
class TypeKinds {
  private readonly info = new Map<number, TypeRow>();
  private readonly kinds = new Map<number, Kind>();

  constructor(private readonly db: Queryable) {}

  private async load(oids: number[]): Promise<void> {
    const todo = [...new Set(oids)].filter((oid) => !this.info.has(oid));
    if (todo.length === 0) return;
    const { rows } = await this.db.query(
      `SELECT t.oid::int AS oid, t.typtype::text AS typtype,
              (t.typcategory = 'A' AND t.typelem <> 0 AND t.typlen = -1) AS is_array,
              t.typelem::int AS typelem, t.typbasetype::int AS typbasetype, t.typrelid::int AS typrelid,
              EXISTS (SELECT 1 FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am m ON m.oid = c.opcmethod
                       WHERE c.opcdefault AND m.amname IN ('btree', 'hash') AND c.opcintype = t.oid) AS has_eq
         FROM pg_catalog.pg_type t WHERE t.oid = ANY($1::oid[])`,
      [todo],
    );
    for (const row of rows as TypeRow[]) this.info.set(row.oid, row);
  }

  /** The base type of a (possibly nested) domain. */
  async base(oid: number): Promise<number> {
    await this.load([oid]);
    const t = this.info.get(oid);
    return t?.typtype === 'd' ? this.base(t.typbasetype) : oid;
  }

  async kind(oid: number, depth = 0): Promise<Kind> {
    const known = this.kinds.get(oid);
    if (known !== undefined) return known;
    await this.load([oid]);
    const t = this.info.get(oid);
    let kind: Kind;
    if (t === undefined || depth > 20) kind = 'text';
    else if (t.typtype === 'd') kind = await this.kind(t.typbasetype, depth + 1);
    else if (oid === JSON_OID) kind = 'jsonb';
    else if (t.is_array) {
      const element = await this.kind(t.typelem, depth + 1);
      kind = element === 'native' ? 'native' : element === 'jsonb' ? 'jsonb[]' : 'text[]';
    } else if (t.typtype === 'e' || t.typtype === 'r' || t.typtype === 'm') kind = 'native';
    else if (t.typtype === 'c') {
      const { rows } = await this.db.query(
        `SELECT atttypid::int AS oid FROM pg_catalog.pg_attribute
          WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped`,
        [t.typrelid],
      );
      const fieldKinds = await Promise.all(
        (rows as { oid: number }[]).map((r) => this.kind(r.oid, depth + 1)),
      );
      kind = fieldKinds.every((k) => k === 'native') ? 'native' : 'text';
    } else kind = t.has_eq ? 'native' : 'text';
    this.kinds.set(oid, kind);
    return kind;
  }
}

function combine(a: Kind, b: Kind): Kind {
  if (a === b) return a;
  const pair = new Set([a, b]);
  if (pair.has('native') && pair.has('jsonb')) return 'jsonb';
  if (pair.has('native') && pair.has('jsonb[]')) return 'jsonb[]';
  return 'text';
}

function expression(column: string, kind: Kind, isFloat: boolean, floatDigits: number | undefined): string {
  const c = quoteIdent(column);
  if (isFloat && floatDigits !== undefined && kind === 'native')
    return `round(${c}::numeric, ${floatDigits})`;
  switch (kind) {
    case 'native':
      return c;
    case 'jsonb':
      return `${c}::jsonb`;
    case 'jsonb[]':
      return `${c}::jsonb[]`;
    case 'text':
      return `${c}::text`;
    case 'text[]':
      return `${c}::text[]`;
  }
}

interface ColumnInfo {
  name: string;
  typeOid: number;
}

/**
 * The relation holding a stream table's hidden columns: its storage table when `table` names a
 * pgtrickle stream table (whose name is a view of the visible columns), else `table` itself.
 */
async function storageOf(db: Queryable, table: string): Promise<string> {
  const probe = await db.query(
    `SELECT to_regprocedure('pgtrickle.storage_of(regclass)') IS NOT NULL AND to_regclass($1) IS NOT NULL AS ok`,
    [table],
  );
  if ((probe.rows[0] as { ok?: unknown } | undefined)?.ok !== true) return table;
  const { rows } = await db.query('SELECT pgtrickle.storage_of(to_regclass($1))::text AS storage', [table]);
  const storage = (rows[0] as { storage: string | null } | undefined)?.storage;
  return typeof storage === 'string' ? storage : table;
}

async function resolveTable(db: Queryable, table: string): Promise<{ name: string; columns: ColumnInfo[] }> {
  const { rows } = await db.query(
    `SELECT c.oid::regclass::text AS name,
            coalesce(json_agg(json_build_object('name', a.attname, 'typeOid', a.atttypid::int) ORDER BY a.attnum)
                     FILTER (WHERE a.attnum IS NOT NULL), '[]'::json) AS columns
       FROM pg_catalog.pg_class c
       LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.oid = to_regclass($1)
      GROUP BY c.oid`,
    [table],
  );
  const row = rows[0] as { name: string; columns: ColumnInfo[] } | undefined;
  if (row === undefined) {
    throw new TestkitError(
      'PGT_TESTKIT_SHAPE',
      `The table ${table} does not exist (to_regclass returned NULL). Check the name, its schema and the search_path.`,
    );
  }
  return row;
}

async function describeQuery(db: Queryable, query: string, params: unknown[]): Promise<ColumnInfo[]> {
  try {
    const result = await db.query(`SELECT * FROM (${query}) AS __pgt_testkit_probe LIMIT 0`, params);
    return result.fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID }));
  } catch (error) {
    throw new TestkitError(
      'PGT_TESTKIT_SHAPE',
      `The oracle query failed to run: ${error instanceof Error ? error.message : String(error)}\nquery:\n${indent(query)}`,
      { cause: error },
    );
  }
}

function toCount(value: unknown): number {
  return typeof value === 'number' ? value : Number(value ?? 0);
}

/**
 * Compares a table's rows with a query's result as multisets and returns the difference,
 * without throwing on a mismatch (it throws only when the table or the query does not exist or
 * fails, or when the columns are ambiguous).
 *
 * @param db where to run it (pool, client or {@link TestDatabase})
 * @param table table name as SQL would resolve it (`orders`, `app.orders`, `"Mixed Case"`)
 * @param query the defining query (a SELECT; a trailing `;` is ignored)
 */
export async function compareTableWithQuery(
  db: Queryable,
  table: string,
  query: string,
  options: CompareOptions = {},
): Promise<TableComparison> {
  const params = [...(options.params ?? [])];
  const maxRows = options.maxRows ?? 10;
  const body = stripTrailingSemicolons(query);
  const resolved = await resolveTable(db, table);
  const queryColumns = await describeQuery(db, body, params);

  const seen = new Set<string>();
  for (const c of queryColumns) {
    if (seen.has(c.name)) {
      throw new TestkitError(
        'PGT_TESTKIT_SHAPE',
        `The oracle query returns two columns named "${c.name}"; alias them so every column name is unique.\nquery:\n${indent(body)}`,
      );
    }
    seen.add(c.name);
  }
  const queryByName = new Map(queryColumns.map((c) => [c.name, c]));
  const tableByName = new Map(resolved.columns.map((c) => [c.name, c]));

  let names: string[];
  if (options.columns !== undefined) {
    names = [...options.columns];
    const absentInTable = names.filter((n) => !tableByName.has(n));
    const absentInQuery = names.filter((n) => !queryByName.has(n));
    if (absentInTable.length > 0 || absentInQuery.length > 0) {
      throw new TestkitError(
        'PGT_TESTKIT_SHAPE',
        `Columns given to the oracle are missing` +
          (absentInTable.length > 0 ? ` from table ${resolved.name}: ${absentInTable.join(', ')}` : '') +
          (absentInQuery.length > 0 ? ` from the query: ${absentInQuery.join(', ')}` : '') +
          `.\nquery:\n${indent(body)}`,
      );
    }
  } else {
    names = resolved.columns.map((c) => c.name).filter((n) => !n.startsWith(HIDDEN_COLUMN_PREFIX));
    const onlyInTable = names.filter((n) => !queryByName.has(n));
    const onlyInQuery = queryColumns.map((c) => c.name).filter((n) => !names.includes(n));
    if (onlyInTable.length > 0 || onlyInQuery.length > 0) {
      const counts = await db.query(
        `SELECT (SELECT count(*) FROM ${resolved.name}) AS t, (SELECT count(*) FROM (${body}) AS q) AS q`,
        params,
      );
      const row = counts.rows[0] as { t: unknown; q: unknown } | undefined;
      return {
        equal: false,
        table: resolved.name,
        query: body,
        columns: names.filter((n) => queryByName.has(n)),
        columnMismatch: { onlyInTable, onlyInQuery },
        tableRowCount: toCount(row?.t),
        queryRowCount: toCount(row?.q),
        missingCount: 0,
        extraCount: 0,
        missing: [],
        extra: [],
      };
    }
  }
  if (names.length === 0) {
    throw new TestkitError(
      'PGT_TESTKIT_SHAPE',
      `Table ${resolved.name} has no visible columns to compare (all start with ${HIDDEN_COLUMN_PREFIX}); pass options.columns.`,
    );
  }

  const kinds = new TypeKinds(db);
  const tableExprs: string[] = [];
  const queryExprs: string[] = [];
  for (const name of names) {
    const tc = tableByName.get(name);
    const qc = queryByName.get(name);
    if (tc === undefined || qc === undefined) continue; // checked above
    const kind = combine(await kinds.kind(tc.typeOid), await kinds.kind(qc.typeOid));
    const floats = [FLOAT4_OID, FLOAT8_OID];
    const isFloat =
      floats.includes(await kinds.base(tc.typeOid)) || floats.includes(await kinds.base(qc.typeOid));
    tableExprs.push(`${expression(name, kind, isFloat, options.floatDigits)} AS ${quoteIdent(name)}`);
    queryExprs.push(`${expression(name, kind, isFloat, options.floatDigits)} AS ${quoteIdent(name)}`);
  }

  // CTE names are visible inside the user's query, so they must not collide with its tables.
  const sample = (cte: string) =>
    `(SELECT coalesce(json_agg(json_build_object('row', to_json(__pgt_s.r), 'count', __pgt_s.n)
                               ORDER BY __pgt_s.n DESC, __pgt_s.r::text), '[]'::json)
        FROM (SELECT __pgt_d AS r, count(*) AS n FROM ${cte} AS __pgt_d GROUP BY __pgt_d
               ORDER BY count(*) DESC, __pgt_d::text LIMIT ${Math.max(0, Math.floor(maxRows))}) AS __pgt_s)`;
  const sql = `WITH __pgt_testkit_t AS MATERIALIZED (SELECT ${tableExprs.join(', ')} FROM ${resolved.name}),
     __pgt_testkit_q AS MATERIALIZED (SELECT ${queryExprs.join(', ')} FROM (${body}) AS __pgt_testkit_query),
     __pgt_testkit_missing AS MATERIALIZED (SELECT * FROM __pgt_testkit_q EXCEPT ALL SELECT * FROM __pgt_testkit_t),
     __pgt_testkit_extra AS MATERIALIZED (SELECT * FROM __pgt_testkit_t EXCEPT ALL SELECT * FROM __pgt_testkit_q)
SELECT (SELECT count(*) FROM __pgt_testkit_t) AS table_rows,
       (SELECT count(*) FROM __pgt_testkit_q) AS query_rows,
       (SELECT count(*) FROM __pgt_testkit_missing) AS missing_count,
       (SELECT count(*) FROM __pgt_testkit_extra) AS extra_count,
       ${sample('__pgt_testkit_missing')} AS missing,
       ${sample('__pgt_testkit_extra')} AS extra`;
  let result: { rows: unknown[] };
  try {
    result = await db.query(sql, params);
  } catch (error) {
    throw new TestkitError(
      'PGT_TESTKIT_SHAPE',
      `Comparing table ${resolved.name} with its query failed: ${error instanceof Error ? error.message : String(error)} ` +
        `(are the column types compatible?)\nquery:\n${indent(body)}`,
      { cause: error },
    );
  }
  const row = result.rows[0] as
    | {
        table_rows: unknown;
        query_rows: unknown;
        missing_count: unknown;
        extra_count: unknown;
        missing: RowDiff[];
        extra: RowDiff[];
      }
    | undefined;
  const missingCount = toCount(row?.missing_count);
  const extraCount = toCount(row?.extra_count);
  return {
    equal: missingCount === 0 && extraCount === 0,
    table: resolved.name,
    query: body,
    columns: names,
    tableRowCount: toCount(row?.table_rows),
    queryRowCount: toCount(row?.query_rows),
    missingCount,
    extraCount,
    missing: (row?.missing ?? []).map((d) => ({ row: d.row, count: toCount(d.count) })),
    extra: (row?.extra ?? []).map((d) => ({ row: d.row, count: toCount(d.count) })),
  };
}

function indent(text: string, prefix = '  '): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

function formatDiffs(diffs: readonly RowDiff[], total: number): string {
  const lines = diffs.map((d) => `    ${JSON.stringify(d.row)}${d.count > 1 ? `  ×${d.count}` : ''}`);
  const shown = diffs.reduce((sum, d) => sum + d.count, 0);
  if (shown < total) lines.push(`    … and ${total - shown} more row(s)`);
  return lines.join('\n');
}

/** Renders a comparison as the multi-line message used by {@link expectTableEqualsQuery}. */
export function formatComparison(c: TableComparison): string {
  const lines: string[] = [];
  if (c.columnMismatch) {
    lines.push(`expected table ${c.table} to have the same columns as its query`);
    if (c.columnMismatch.onlyInTable.length > 0)
      lines.push(`  only in the table: ${c.columnMismatch.onlyInTable.join(', ')}`);
    if (c.columnMismatch.onlyInQuery.length > 0)
      lines.push(`  only in the query: ${c.columnMismatch.onlyInQuery.join(', ')}`);
    lines.push(
      `  (columns starting with ${HIDDEN_COLUMN_PREFIX} are ignored; pass options.columns to compare a subset)`,
    );
  } else {
    lines.push(
      `expected table ${c.table} to equal its query (as multisets over ${c.columns.length} column(s): ${c.columns.join(', ')})`,
    );
  }
  lines.push(`  table has ${c.tableRowCount} row(s), query has ${c.queryRowCount}`);
  if (!c.columnMismatch) {
    if (c.missingCount > 0) {
      lines.push(
        `  ${c.missingCount} row(s) missing from the table (produced by the query, not in the table):`,
      );
      lines.push(formatDiffs(c.missing, c.missingCount));
    }
    if (c.extraCount > 0) {
      lines.push(`  ${c.extraCount} extra row(s) in the table (not produced by the query):`);
      lines.push(formatDiffs(c.extra, c.extraCount));
    }
  }
  lines.push('query:', indent(c.query));
  return lines.join('\n');
}

/**
 * Asserts that a table holds exactly the rows (as a multiset) its query produces, over the
 * table's visible columns (or `options.columns`). Throws an `AssertionError`
 * (code `PGT_TESTKIT_TABLE_MISMATCH`) listing up to `maxRows` missing and extra rows with their
 * counts, the table and the query.
 */
export async function expectTableEqualsQuery(
  db: Queryable,
  table: string,
  query: string,
  options: CompareOptions = {},
): Promise<void> {
  const comparison = await compareTableWithQuery(db, table, query, options);
  if (!comparison.equal)
    throw new TestkitAssertionError('PGT_TESTKIT_TABLE_MISMATCH', formatComparison(comparison));
}

/**
 * Asserts that no hidden multiplicity column (`__pgt_count*`) of the table holds a negative
 * value. Does nothing when the table has no such column. Throws an `AssertionError`
 * (code `PGT_TESTKIT_NEGATIVE_COUNT`) showing up to 5 offending rows.
 */
export async function expectNoNegativeCounts(db: Queryable, table: string): Promise<void> {
  const resolved = await resolveTable(db, await storageOf(db, table));
  const countColumns = resolved.columns
    .map((c) => c.name)
    .filter((n) => n.startsWith(`${HIDDEN_COLUMN_PREFIX}count`));
  if (countColumns.length === 0) return;
  const predicate = countColumns.map((n) => `${quoteIdent(n)} < 0`).join(' OR ');
  const { rows } = await db.query(
    `SELECT (SELECT count(*) FROM ${resolved.name} WHERE ${predicate}) AS bad,
            (SELECT coalesce(json_agg(to_json(__pgt_x)), '[]'::json)
               FROM (SELECT * FROM ${resolved.name} WHERE ${predicate} LIMIT 5) AS __pgt_x) AS sample`,
  );
  const row = rows[0] as { bad: unknown; sample: unknown[] } | undefined;
  const bad = toCount(row?.bad);
  if (bad === 0) return;
  const sample = (row?.sample ?? []).map((r) => `    ${JSON.stringify(r)}`).join('\n');
  throw new TestkitAssertionError(
    'PGT_TESTKIT_NEGATIVE_COUNT',
    `expected no negative ${countColumns.join('/')} in ${resolved.name}, found ${bad} row(s):\n${sample}`,
  );
}
