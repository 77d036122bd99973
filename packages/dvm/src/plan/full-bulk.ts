/**
 * The bulk load of a FULL refresh (docs/refresh-windows.md, "FULL, DIFFERENTIAL and AUTO"), as
 * `REFRESH MATERIALIZED
 * VIEW` does it: load the heap without its indexes, then build them. Rule: when the storage held at
 * least `BULK_FULL_MIN_ROWS` rows before the refresh, every index of it that can be re-created
 * exactly from its definition is dropped after the TRUNCATE and created again (same name, same
 * definition) after the INSERT, in the refresh's transaction; building an index from sorted rows
 * is much cheaper than inserting them one by one. The table keeps its oid, grants, triggers and
 * every other index. An index is left in place when anything would be lost by re-creating it: it
 * backs a constraint (primary key, unique, exclusion, or a foreign key pointing at it), is the
 * replica identity or the clustered index, is not valid, lives in another tablespace, has a
 * comment, a per-column statistics target or any object depending on it; and no index is touched
 * when the table has a trigger other than the storage guard (an IMMEDIATE stream table reading it
 * watches its shape, indexes included). The storage's row-id index, when its plan has one and the
 * storage has none (a storage that held a FULL plan's ids, which identify nothing, before a switch
 * to an incremental plan: `evolveStorage` leaves the index to this refresh), is created after the
 * load, from the new ids.
 */
import { ROW_ID_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { CompiledPlan } from './compile.js';
import {
  type FullParallelVerdict,
  fullColumns,
  fullPlanParallelSql,
  fullPlanSignatureSql,
  storageTypesSql,
} from './full-parallel.js';
import type { SqlExecutor } from './refresh.js';

/** Rows the storage held before a FULL refresh from which its indexes are rebuilt instead of maintained. */
export const BULK_FULL_MIN_ROWS = 10_000;

/** The storage's write-guard trigger (created by the client with every storage table). */
const GUARD_TRIGGER = 'pgtrickle_guard';

/** One index to drop before the load and re-create after it. */
export interface RebuildableIndex {
  /** Its quoted, schema-qualified name. */
  readonly name: string;
  /** Its `CREATE INDEX` statement (`pg_get_indexdef`). */
  readonly definition: string;
}

/** The statement listing the indexes of `relation` (quoted name) that can be re-created exactly. */
export function rebuildableIndexesSql(relation: string): string {
  return sql`SELECT n.nspname AS schema, c.relname AS name,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_catalog.pg_index AS i
  JOIN pg_catalog.pg_class AS c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
 WHERE i.indrelid = ${sql.lit(relation)}::pg_catalog.regclass
   AND i.indisvalid AND i.indisready AND i.indislive AND NOT i.indisreplident AND NOT i.indisclustered
   AND c.reltablespace = 0
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger AS t
                    WHERE t.tgrelid = i.indrelid AND NOT t.tgisinternal AND t.tgname <> ${sql.lit(GUARD_TRIGGER)})
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS k WHERE k.conindid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                    WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description AS e
                    WHERE e.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objoid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = i.indexrelid AND COALESCE(a.attstattarget, -1) >= 0)
 ORDER BY c.relname`;
}

/**
 * The indexes of `relation` (quoted name) on its row-id column alone, one row each: `ix`, the
 * index's schema-qualified quoted name.
 */
export function rowIdIndexesSql(relation: string): string {
  return sql`SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(i.relname) AS ix
  FROM pg_catalog.pg_index AS x
  JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = i.relnamespace
  JOIN pg_catalog.pg_attribute AS a
    ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] AND a.attname = ${sql.lit(ROW_ID_COLUMN)}
 WHERE x.indrelid = ${sql.lit(relation)}::pg_catalog.regclass AND x.indnatts = 1`;
}

/** The condition that `relation` (quoted name) has an index on its row-id column alone. */
export function rowIdIndexedSql(relation: string): string {
  return sql`EXISTS (${rowIdIndexesSql(relation)})`;
}

/**
 * The statement reading, before a FULL refresh of `relation` (quoted name), its row count (`n`),
 * the indexes it would rebuild in bulk (`indexes`: json of `schema`, `name`, `definition`) and
 * whether it has a row-id index (`row_id_indexed`); with `plan`, also whether its population
 * query would run in parallel (`parallel`: `known`'s verdict while the signature is `known`'s,
 * else EXPLAINed), that signature (`plan_signature`) and the storage's column types (`types`,
 * see `full-parallel.ts`).
 */
export function fullPreludeSql(
  relation: string,
  plan: CompiledPlan | null = null,
  known: FullParallelVerdict | null = null,
): string {
  const head = sql`SELECT (SELECT pg_catalog.count(*) FROM ${relation})::bigint AS n,
       (SELECT pg_catalog.json_agg(x) FROM (${rebuildableIndexesSql(relation)}) AS x) AS indexes,
       ${rowIdIndexedSql(relation)} AS row_id_indexed`;
  if (plan === null) return head;
  const explained = fullPlanParallelSql(plan);
  const parallel =
    known === null
      ? explained
      : sql`CASE WHEN s.sig = ${sql.lit(known.signature)} THEN ${sql.lit(known.parallel)} ELSE ${explained} END`;
  return sql`${head},
       ${parallel} AS parallel,
       s.sig AS plan_signature,
       ${storageTypesSql(relation, fullColumns(plan))} AS types
  FROM (SELECT ${fullPlanSignatureSql(plan)} AS sig) AS s`;
}

/** What a FULL refresh reads before it replaces the contents (by {@link fullPreludeSql}). */
export interface FullPrelude {
  /** The rows the storage held. */
  readonly rows: number;
  /** Its indexes that can be rebuilt in bulk. */
  readonly indexes: readonly RebuildableIndex[];
  /** When the population query would run in parallel: the storage's column types (else null). */
  readonly parallelTypes: readonly string[] | null;
  /** Whether it has an index on its row-id column. */
  readonly rowIdIndexed: boolean;
  /** With a plan: the parallel verdict used and the signature it holds under (to keep for the next refresh). */
  readonly verdict: FullParallelVerdict | null;
}

/** Parses a json value `pg` may return as text. */
function json(value: unknown): unknown {
  return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
}

/**
 * Reads {@link FullPrelude} of `relation` (with `plan`: whether to compute its rows in parallel,
 * `known` the verdict of an earlier refresh).
 */
export async function readFullPrelude(
  exec: SqlExecutor,
  relation: string,
  plan: CompiledPlan | null = null,
  known: FullParallelVerdict | null = null,
): Promise<FullPrelude> {
  const r = (await exec.query(fullPreludeSql(relation, plan, known))).rows[0] ?? {};
  const indexes = json(r.indexes);
  const types = json(r.types);
  return {
    rows: Number(r.n ?? 0),
    indexes: ((indexes ?? []) as Record<string, unknown>[]).map((x) => ({
      name: sql.id(String(x.schema), String(x.name)).text,
      definition: String(x.definition),
    })),
    parallelTypes: r.parallel === true && Array.isArray(types) ? types.map(String) : null,
    rowIdIndexed: r.row_id_indexed === true,
    verdict:
      plan === null || typeof r.plan_signature !== 'string'
        ? null
        : { signature: r.plan_signature, parallel: r.parallel === true },
  };
}

/** The result column of a FULL statement holding {@link insertedSoFarSql} as its INSERT began. */
export const INSERTED_BEFORE_COLUMN = '__pgt_inserted_before';

/**
 * The rows inserted into `relation` (quoted name) so far by this transaction as the statistics
 * counters tell (`pg_stat_get_xact_tuples_inserted`, which may also hold counts of earlier
 * transactions not yet reported: only a difference of two readings in one transaction is
 * exact); null when the counters are off (`track_counts`).
 */
export function insertedSoFarSql(relation: string): string {
  return sql`CASE WHEN pg_catalog.current_setting('track_counts')::boolean
  THEN pg_catalog.pg_stat_get_xact_tuples_inserted(${sql.lit(relation)}::pg_catalog.regclass) END`;
}

/**
 * The rows the FULL statement inserted: the counters' difference since the statement began (its
 * `__pgt_inserted_before`, bound as $1, read by the statement's outer SELECT, which PostgreSQL
 * evaluates before it runs the unreferenced INSERT), or — when the counters are off or the
 * statement read none — a count of the rows now in the table.
 */
export function insertedCountSql(relation: string): string {
  return sql`SELECT (CASE WHEN $1::bigint IS NOT NULL AND pg_catalog.current_setting('track_counts')::boolean
  THEN pg_catalog.pg_stat_get_xact_tuples_inserted(${sql.lit(relation)}::pg_catalog.regclass) - $1::bigint
  ELSE (SELECT pg_catalog.count(*) FROM ${relation}) END)::bigint AS n`;
}

/**
 * Replaces the contents of `relation` with the rows of `insert` (TRUNCATE, then the INSERT
 * statement, whose one result row it returns with the rows it inserted, `n`: see
 * {@link insertedCountSql}), in bulk — `indexes` dropped before the load and created after it —
 * when the table held at least `BULK_FULL_MIN_ROWS` rows (`rowsBefore`); then `rowIdIndex` (the
 * plan's row-id index statement) when given and the table has no row-id index (`rowIdIndexed`).
 */
export async function replaceContents(
  exec: SqlExecutor,
  relation: string,
  insert: string,
  before: {
    readonly rows: number;
    readonly indexes: readonly RebuildableIndex[];
    readonly rowIdIndexed: boolean;
  },
  rowIdIndex: string | null = null,
): Promise<{ readonly row: Record<string, unknown>; readonly n: number }> {
  const indexes = before.rows >= BULK_FULL_MIN_ROWS ? before.indexes : [];
  await exec.query(sql`TRUNCATE ${relation}`);
  for (const ix of indexes) await exec.query(sql`DROP INDEX ${ix.name}`);
  const inserted = await exec.query(insert);
  const row = inserted.rows[0] ?? {};
  const from = row[INSERTED_BEFORE_COLUMN];
  const counted = await exec.query(insertedCountSql(relation), [from === undefined ? null : from]);
  for (const ix of indexes) await exec.query(ix.definition);
  if (rowIdIndex !== null && !before.rowIdIndexed) await exec.query(rowIdIndex);
  return { row, n: Number(counted.rows[0]?.n ?? 0) };
}
