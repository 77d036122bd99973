-- pgtrickle catalog migration 22: parallel FULL refresh
-- name: parallel full refresh
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- A FULL refresh whose query the planner would run in parallel computes its rows through
-- full_rows(query), whose RETURN QUERY may run in parallel where the SELECT of an INSERT … SELECT
-- never does (dvm plan/full-parallel.ts); full_plan_parallel(query) tells, from the query's plan,
-- whether it would (volatile, as EXPLAIN must be). Both run the caller's own query as the caller
-- (SECURITY INVOKER); full_rows is STABLE: its query runs under the snapshot of the statement
-- calling it, the one the refresh's frontier is taken from.
CREATE OR REPLACE FUNCTION "pgtrickle_changes"."full_rows"(p_query text) RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY INVOKER AS $fn$
BEGIN
  RETURN QUERY EXECUTE p_query;
END
$fn$
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "pgtrickle_changes"."full_rows"(text) TO PUBLIC
--> statement-breakpoint
CREATE OR REPLACE FUNCTION "pgtrickle_changes"."full_plan_parallel"(p_query text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $fn$
DECLARE
  p json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' OPERATOR(pg_catalog.||) p_query INTO p;
  RETURN pg_catalog.jsonb_path_exists(p::pg_catalog.jsonb, '$.** ? (@."Node Type" starts with "Gather")');
END
$fn$
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION "pgtrickle_changes"."full_plan_parallel"(text) TO PUBLIC
