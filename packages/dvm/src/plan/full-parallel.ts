/**
 * The parallel FULL refresh (docs/refresh-windows.md, "FULL, DIFFERENTIAL and AUTO"). PostgreSQL
 * never runs the SELECT of an `INSERT … SELECT` in parallel, where `REFRESH MATERIALIZED VIEW`
 * computes the same query with parallel workers (e.g. a Partial HashAggregate under a Gather); a
 * PL/pgSQL `RETURN QUERY` may run its query in parallel, also when the function is read by an
 * INSERT. Rule: when the planner would run the population query in parallel — its plan,
 * EXPLAINed by `pgtrickle_changes.full_plan_parallel` in the refresh's first statement, has a
 * Gather — the FULL statement inserts the rows of
 * `pgtrickle_changes.full_rows(<query>)` instead of the query itself; otherwise it inserts the
 * query's rows directly (a serial plan gains nothing from the detour, which keeps the rows in a
 * tuplestore before the insert). Both functions are SECURITY INVOKER (they run in the owner's
 * sandbox like the direct statement). `full_rows` is STABLE: its query runs under the snapshot of
 * the statement calling it, the one its frontier is taken from, so the frontier stays exact (and
 * a query that writes is refused); `full_plan_parallel` is volatile, as EXPLAIN must be. The
 * rows come back typed by a column definition list of the storage's own column types (read from
 * the catalog in the same first statement), the query's columns cast to them explicitly (the
 * storage was created from the query's own types, so the casts change no value).
 * Everything stays in the refresh's transaction.
 *
 * The verdict is kept across refreshes (by the caller, {@link FullParallelVerdict}) with the
 * signature of what the planner's choice depends on ({@link fullPlanSignatureSql}: the sources'
 * sizes and statistics as `pg_class` holds them, the parallel settings, the role): the first
 * statement EXPLAINs the query again only when that signature changed, instead of at every FULL
 * refresh (for a query of many sources, planning costs tens of milliseconds). A stale verdict
 * only picks the slower of two statements with the same rows.
 */
import { CHANGES_SCHEMA, ROW_ID_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { CompiledPlan } from './compile.js';

/** The function returning the rows of a query given as text, possibly computed in parallel. */
export const FULL_ROWS_FUNCTION = 'full_rows';

/** The function telling whether the planner would run a query given as text in parallel. */
export const FULL_PLAN_PARALLEL_FUNCTION = 'full_plan_parallel';

/** The storage columns a FULL statement fills, in the order of the plan's population query. */
export function fullColumns(plan: CompiledPlan): string[] {
  return [ROW_ID_COLUMN, ...plan.applyTarget().columns];
}

/** The expression telling whether `plan`'s population query would run in parallel (boolean). */
export function fullPlanParallelSql(plan: CompiledPlan): string {
  return sql`${sql.id(CHANGES_SCHEMA, FULL_PLAN_PARALLEL_FUNCTION)}(${sql.lit(plan.populationSelect())})`;
}

/** A verdict of `full_plan_parallel` kept across refreshes, with the signature it was read under. */
export interface FullParallelVerdict {
  /** The value of {@link fullPlanSignatureSql} when the query was EXPLAINed. */
  readonly signature: string;
  /** Whether its plan had a Gather. */
  readonly parallel: boolean;
}

/** The settings that decide whether, and how cheaply, the planner runs a query in parallel. */
const PARALLEL_SETTINGS = [
  'max_parallel_workers_per_gather',
  'parallel_setup_cost',
  'parallel_tuple_cost',
  'min_parallel_table_scan_size',
  'min_parallel_index_scan_size',
  'enable_parallel_hash',
  'enable_parallel_append',
  'parallel_leader_participation',
  'debug_parallel_query',
  'force_parallel_mode',
];

/**
 * The text expression whose change may change `full_plan_parallel`'s verdict for `plan`: each
 * source's size and statistics (`relpages`, `reltuples`, its analyze and vacuum counts), the
 * parallel settings (a setting this server lacks is NULL, skipped) and the current role.
 */
export function fullPlanSignatureSql(plan: CompiledPlan): string {
  const oids = sql.join(plan.sources.map((s) => sql.lit(String(s.oid))));
  const settings = sql.join(
    PARALLEL_SETTINGS.map((n) => sql`pg_catalog.current_setting(${sql.lit(n)}, true)`),
  );
  const stats =
    plan.sources.length === 0
      ? sql`''`
      : sql`(SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', c.oid, c.relpages, c.reltuples,
                  pg_catalog.pg_stat_get_analyze_count(c.oid) + pg_catalog.pg_stat_get_autoanalyze_count(c.oid)),
                  ',' ORDER BY c.oid)
          FROM pg_catalog.pg_class AS c WHERE c.oid = ANY (ARRAY[${oids}]::pg_catalog.oid[]))`;
  return sql`pg_catalog.concat_ws('|', ${stats}, CURRENT_USER, ${settings})`;
}

/**
 * The expression reading the types (`format_type`, typmod included) of the storage columns
 * `columns` of `relation` (quoted name), as a json array in that order; null when one is missing.
 */
export function storageTypesSql(relation: string, columns: readonly string[]): string {
  const names = sql.join(columns.map((c) => sql.lit(c)));
  return sql`(SELECT CASE WHEN pg_catalog.count(a.attname) = ${columns.length}
              THEN pg_catalog.json_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY c.ord) END
         FROM pg_catalog.unnest(ARRAY[${names}]::text[]) WITH ORDINALITY AS c(name, ord)
         LEFT JOIN pg_catalog.pg_attribute AS a
           ON a.attrelid = ${sql.lit(relation)}::pg_catalog.regclass AND a.attname = c.name AND NOT a.attisdropped)`;
}

/** The DDL of the two functions (the client's catalog migration creates the same). */
export function fullParallelDdl(): string[] {
  const rows = sql.id(CHANGES_SCHEMA, FULL_ROWS_FUNCTION);
  const parallel = sql.id(CHANGES_SCHEMA, FULL_PLAN_PARALLEL_FUNCTION);
  return [
    sql`CREATE OR REPLACE FUNCTION ${rows}(p_query text) RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $fn$
BEGIN
  RETURN QUERY EXECUTE p_query;
END
$fn$`,
    sql`GRANT EXECUTE ON FUNCTION ${rows}(text) TO PUBLIC`,
    sql`CREATE OR REPLACE FUNCTION ${parallel}(p_query text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $fn$
DECLARE
  p json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' OPERATOR(pg_catalog.||) p_query INTO p;
  RETURN pg_catalog.jsonb_path_exists(p::pg_catalog.jsonb, '$.** ? (@."Node Type" starts with "Gather")');
END
$fn$`,
    sql`GRANT EXECUTE ON FUNCTION ${parallel}(text) TO PUBLIC`,
  ];
}
