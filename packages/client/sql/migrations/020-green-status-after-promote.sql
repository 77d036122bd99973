-- pgtrickle catalog migration 20: green status after promote
-- name: green status after promote
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- green_status() named the green by the name it had while catching up even after the promote made
-- it the table (and after a rollback dropped it), and showed a table never analyzed as 0 rows.
-- Now green_name is the name the green has now (the public name once PROMOTED or RETIRED, NULL
-- once ROLLED_BACK: it was dropped), and the row figures come from rows_estimate(): the
-- planner's estimate, or for a table never analyzed an exact count when it is small (at most
-- 128 pages) and the catalog owner may read it, else NULL (unknown).
CREATE FUNCTION pgtrickle.rows_estimate(rel oid) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  est float4;
  n bigint;
BEGIN
  SELECT c.reltuples INTO est FROM pg_catalog.pg_class AS c WHERE c.oid = rel;
  IF est IS NULL THEN
    RETURN NULL;
  ELSIF est >= 0 THEN
    RETURN est::bigint;
  ELSIF pg_catalog.pg_relation_size(rel) > 128 * pg_catalog.current_setting('block_size')::bigint
        OR NOT pg_catalog.has_table_privilege(rel, 'SELECT') THEN
    RETURN NULL;
  END IF;
  EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s', rel::regclass) INTO n;
  RETURN n;
END
$fn$
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.rows_estimate(oid) FROM PUBLIC
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.green_status_of(actor oid, p_schema text, p_table text)
RETURNS TABLE (stream_table text, green_name text, state text, converged boolean, frontier_lag_xids numeric,
               data_timestamp_lag interval, blue_rows bigint, green_rows bigint, age interval, eta interval,
               retired_name text, green_error text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- Runs with the catalog owner's rights (convergence reads change buffers users cannot read) for
  -- a stream table `actor` acts as the owner of; `actor` must be a role the session may act as.
  IF actor IS NULL OR NOT pg_catalog.pg_has_role(session_user, actor, 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied: the session cannot act as role %', actor USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
  WITH d AS (
    SELECT x.* FROM pgtrickle.pgt_green_deployments AS x
     WHERE x.schema_name = p_schema AND x.table_name = p_table
  ), pub AS (
    SELECT s.* FROM pgtrickle.pgt_stream_tables AS s
     WHERE s.schema_name = p_schema AND s.table_name = p_table AND pgtrickle.acts_as(actor, s.owner_oid)
  ), trend AS (
    SELECT l.green_id,
           (pg_catalog.array_agg(l.lag_xids ORDER BY l.sampled_at DESC))[1] AS last_lag,
           (pg_catalog.array_agg(l.lag_xids ORDER BY l.sampled_at))[1] AS first_lag,
           extract(epoch FROM max(l.sampled_at) - min(l.sampled_at))::float8 AS span
      FROM pgtrickle.pgt_green_lag AS l WHERE l.green_id = (SELECT d.green_id FROM d)
       AND l.sampled_at > pg_catalog.clock_timestamp() - interval '10 minutes'
     GROUP BY l.green_id
  )
  SELECT pg_catalog.quote_ident(d.schema_name) || '.' || pg_catalog.quote_ident(d.table_name),
         CASE WHEN d.state IN ('PROMOTED', 'RETIRED') THEN pg_catalog.quote_ident(d.schema_name) || '.' || pg_catalog.quote_ident(d.table_name)
              WHEN d.state = 'ROLLED_BACK' THEN NULL
              ELSE pg_catalog.quote_ident(d.schema_name) || '.' || pg_catalog.quote_ident(d.green_name) END,
         CASE WHEN d.state IN ('CATCHING_UP', 'CONVERGED') AND g.pgt_id IS NOT NULL
              THEN CASE WHEN pgtrickle.green_converged(g.pgt_id) THEN 'CONVERGED' ELSE 'CATCHING_UP' END
              ELSE d.state END,
         CASE WHEN d.state IN ('CATCHING_UP', 'CONVERGED') THEN COALESCE(pgtrickle.green_converged(g.pgt_id), false)
              ELSE d.state IN ('PROMOTED', 'RETIRED') END,
         CASE WHEN g.pgt_id IS NULL OR g.green_of IS NULL THEN 0
              ELSE pgtrickle.frontier_lag_xids(g.frontier_snapshot, b.frontier_snapshot) END,
         CASE WHEN g.pgt_id IS NULL OR g.green_of IS NULL THEN interval '0'
              ELSE GREATEST(b.data_timestamp - g.data_timestamp, interval '0') END,
         pgtrickle.rows_estimate(CASE WHEN d.state = 'PROMOTED' THEN b.storage_oid ELSE pub.storage_oid END),
         pgtrickle.rows_estimate(g.storage_oid),
         pg_catalog.clock_timestamp() - d.created_at,
         CASE WHEN d.state NOT IN ('CATCHING_UP', 'CONVERGED') THEN NULL
              WHEN pgtrickle.green_converged(g.pgt_id) THEN interval '0'
              WHEN t.span > 0 AND t.first_lag > t.last_lag
              THEN pg_catalog.make_interval(secs => (t.last_lag / ((t.first_lag - t.last_lag) / t.span::numeric))::float8)
              ELSE NULL END,
         CASE WHEN d.state = 'PROMOTED' THEN pg_catalog.quote_ident(d.schema_name) || '.' || pg_catalog.quote_ident(d.retired_name) END,
         g.last_error
    FROM d
    JOIN pub ON true
    LEFT JOIN pgtrickle.pgt_stream_tables AS g ON g.pgt_id = d.green_id
    LEFT JOIN pgtrickle.pgt_stream_tables AS b ON b.pgt_id = d.blue_id
    LEFT JOIN trend AS t ON t.green_id = d.green_id;
END
$fn$
