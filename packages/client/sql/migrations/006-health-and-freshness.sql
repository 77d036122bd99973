-- pgtrickle catalog migration: health and freshness
-- name: health and freshness
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- Freshness is "the last time the table was known to equal its query": its last successful
-- refresh (NO_DATA included), or the last tick at which the leader found nothing to apply to it
-- (pgt_freshness, written by the service; unlogged: after a crash it falls back to the last
-- refresh). A table is stale when it was last known fresh longer ago than its schedule's period
-- plus a grace (half the period, at least 10 s): behind schedule, not merely idle.

CREATE UNLOGGED TABLE pgtrickle.pgt_freshness (
  pgt_id bigint PRIMARY KEY REFERENCES pgtrickle.pgt_stream_tables (pgt_id) ON DELETE CASCADE,
  checked_at timestamptz NOT NULL
)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.schedule_period(schedule text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  s text := lower(btrim(schedule));
  total float8 := 0;
  m text[];
BEGIN
  -- The period of an interval schedule; a cron macro's nominal period; NULL for 'calculated'
  -- (resolved from the consumers, see pgt_stream_table_stats) and for 5- or 6-field cron expressions.
  IF s IS NULL OR s IN ('', 'calculated') THEN
    RETURN NULL;
  END IF;
  CASE s
    WHEN '@hourly' THEN RETURN interval '1 hour';
    WHEN '@daily', '@midnight' THEN RETURN interval '1 day';
    WHEN '@weekly' THEN RETURN interval '7 days';
    WHEN '@monthly' THEN RETURN interval '31 days';
    WHEN '@yearly', '@annually' THEN RETURN interval '366 days';
    ELSE NULL;
  END CASE;
  IF s ~ '^[0-9]+(\.[0-9]+)?$' THEN
    RETURN make_interval(secs => s::float8);
  END IF;
  IF s !~ '^([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$' THEN
    RETURN NULL;
  END IF;
  FOR m IN SELECT regexp_matches(s, '([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)', 'g') LOOP
    total := total + m[1]::float8 * CASE m[2] WHEN 'ms' THEN 0.001 WHEN 's' THEN 1 WHEN 'm' THEN 60
                                              WHEN 'h' THEN 3600 WHEN 'd' THEN 86400 ELSE 604800 END;
  END LOOP;
  RETURN make_interval(secs => total);
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.staleness_grace(period interval) RETURNS interval
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- How late a table may be known fresh past its period before it counts as stale.
  SELECT greatest(period / 2, interval '10 seconds')
$fn$
--> statement-breakpoint
CREATE VIEW pgtrickle.pgt_stream_table_stats AS
WITH RECURSIVE own AS (
  SELECT s.pgt_id, pgtrickle.schedule_period(s.schedule) AS period,
         (s.schedule IS NULL OR lower(btrim(s.schedule)) IN ('', 'calculated')) AS calculated
    FROM pgtrickle.pgt_stream_tables s
), consumers AS (
  SELECT DISTINCT d.source_pgt_id AS up, d.pgt_id AS down
    FROM pgtrickle.pgt_dependencies d WHERE d.source_kind = 'streamTable'
), walk (root, node) AS (
  -- from each CALCULATED table down through CALCULATED consumers (the schedule it inherits)
  SELECT o.pgt_id, o.pgt_id FROM own o WHERE o.calculated
  UNION
  SELECT w.root, c.down FROM walk w JOIN own o ON o.pgt_id = w.node AND o.calculated JOIN consumers c ON c.up = w.node
), calculated AS (
  -- a CALCULATED table refreshes as often as its most frequent consumer; one without a consumer
  -- that has a period (none, or only cron consumers) every second
  SELECT w.root AS pgt_id,
         min(CASE WHEN NOT o.calculated THEN o.period
                  WHEN NOT EXISTS (SELECT 1 FROM consumers c JOIN own oc ON oc.pgt_id = c.down
                                    WHERE c.up = w.node AND (oc.calculated OR oc.period IS NOT NULL))
                  THEN interval '1 second' END) AS period
    FROM walk w JOIN own o ON o.pgt_id = w.node
   GROUP BY w.root
), history AS (
  SELECT h.pgt_id,
         count(*) AS refreshes,
         count(*) FILTER (WHERE h.status = 'FAILED') AS failed,
         count(*) FILTER (WHERE h.status = 'COMPLETED' AND h.action = 'NO_DATA') AS no_data,
         avg(h.finished_at - h.started_at) FILTER (WHERE h.status = 'COMPLETED') AS avg_duration,
         max(h.finished_at - h.started_at) FILTER (WHERE h.status = 'COMPLETED') AS max_duration,
         COALESCE(sum(h.rows_inserted) FILTER (WHERE h.status = 'COMPLETED'), 0)::bigint AS rows_inserted,
         COALESCE(sum(h.rows_deleted) FILTER (WHERE h.status = 'COMPLETED'), 0)::bigint AS rows_deleted,
         max(h.finished_at) FILTER (WHERE h.status = 'FAILED') AS last_failed_at
    FROM pgtrickle.pgt_refresh_history h GROUP BY h.pgt_id
), buffers AS (
  -- rows waiting in the change buffers of its sources (the statistics collector's live-row estimate)
  SELECT d.pgt_id, sum(greatest(pg_catalog.pg_stat_get_live_tuples(c.oid), 0))::bigint AS n
    FROM pgtrickle.pgt_dependencies d
    JOIN pg_catalog.pg_namespace ns ON ns.nspname = 'pgtrickle_changes'
    JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid
     AND c.relname = CASE d.source_kind WHEN 'table' THEN 'changes_' || d.source_oid ELSE 'changes_st_' || d.source_pgt_id END
   GROUP BY d.pgt_id
), base AS (
  SELECT s.*, f.checked_at,
         COALESCE(o.period, c.period) AS period,
         greatest(s.last_refresh_at, f.checked_at) AS fresh_at
    FROM pgtrickle.pgt_stream_tables s
    JOIN own o USING (pgt_id)
    LEFT JOIN calculated c USING (pgt_id)
    LEFT JOIN pgtrickle.pgt_freshness f USING (pgt_id)
   WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
)
SELECT b.pgt_id, b.schema_name, b.table_name, pg_catalog.quote_ident(b.schema_name) || '.' || pg_catalog.quote_ident(b.table_name) AS name,
       pg_catalog.pg_get_userbyid(b.owner_oid) AS owner, b.status, b.effective_mode, COALESCE(b.schedule, 'calculated') AS schedule,
       b.period AS schedule_period, b.last_refresh_at, b.checked_at AS last_checked_at, b.fresh_at,
       clock_timestamp() - b.fresh_at AS staleness,
       CASE WHEN b.period IS NULL THEN NULL
            ELSE clock_timestamp() - COALESCE(b.fresh_at, b.created_at) > b.period + pgtrickle.staleness_grace(b.period) END AS stale,
       b.data_timestamp, clock_timestamp() - b.data_timestamp AS data_age,
       COALESCE(h.refreshes, 0) AS refreshes, COALESCE(h.failed, 0) AS failed_refreshes, COALESCE(h.no_data, 0) AS no_data_refreshes,
       h.avg_duration, h.max_duration, COALESCE(h.rows_inserted, 0) AS rows_inserted, COALESCE(h.rows_deleted, 0) AS rows_deleted,
       COALESCE(bu.n, 0) AS change_buffer_rows, b.consecutive_errors, b.last_error, b.last_error_at
  FROM base b LEFT JOIN history h USING (pgt_id) LEFT JOIN buffers bu USING (pgt_id)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.health(lease interval DEFAULT interval '10 seconds', buffer_rows_warn bigint DEFAULT 100000)
RETURNS TABLE (severity text, component text, reason text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
  found_any boolean := false;
BEGIN
  -- One row per problem, CRITICAL first, or one OK row: the stream tables the caller owns (as
  -- pgt_status shows them) and the leader's heartbeat. `lease` is the sidecars' leader.lease_ms.
  SELECT l.acquired_at IS NOT NULL AS led, l.renewed_at, clock_timestamp() - l.renewed_at AS age
    INTO r FROM pgtrickle.pgt_leader l WHERE l.id = 1;
  IF NOT FOUND OR NOT r.led THEN
    severity := 'CRITICAL'; component := 'leader';
    reason := 'no sidecar has led this database yet: start pgtrickle run';
    found_any := true; RETURN NEXT;
  ELSIF r.age > lease THEN
    severity := 'CRITICAL'; component := 'leader';
    reason := format('no leader heartbeat for %s (lease %s): is pgtrickle run up?', date_trunc('second', r.age), lease);
    found_any := true; RETURN NEXT;
  END IF;
  FOR r IN SELECT st.name, st.status, st.last_error FROM pgtrickle.pgt_stream_table_stats st
            WHERE st.status IN ('SUSPENDED', 'ERROR') ORDER BY st.name LOOP
    severity := 'CRITICAL'; component := r.name;
    reason := format('%s: %s (pgtrickle.resume_stream_table(%L) after fixing it)', r.status,
                     COALESCE(left(r.last_error, 200), 'no error recorded'), r.name);
    found_any := true; RETURN NEXT;
  END LOOP;
  FOR r IN SELECT st.name, st.staleness, st.schedule_period FROM pgtrickle.pgt_stream_table_stats st
            WHERE st.stale AND st.status NOT IN ('SUSPENDED', 'ERROR') ORDER BY st.name LOOP
    severity := 'WARNING'; component := r.name;
    reason := format('behind schedule: last known fresh %s ago, schedule every %s',
                     COALESCE(date_trunc('second', r.staleness)::text, 'never'), r.schedule_period);
    found_any := true; RETURN NEXT;
  END LOOP;
  FOR r IN SELECT st.name, st.change_buffer_rows AS n FROM pgtrickle.pgt_stream_table_stats st
            WHERE st.change_buffer_rows > buffer_rows_warn ORDER BY st.name LOOP
    severity := 'WARNING'; component := r.name;
    reason := format('the change buffers of its sources hold about %s rows: it or another reader of them lags', r.n);
    found_any := true; RETURN NEXT;
  END LOOP;
  IF NOT found_any THEN
    severity := 'OK'; component := 'pgtrickle'; reason := 'leader alive, every stream table fresh';
    RETURN NEXT;
  END IF;
END
$fn$
--> statement-breakpoint
GRANT SELECT ON pgtrickle.pgt_stream_table_stats TO pgtrickle_user
--> statement-breakpoint
GRANT SELECT (id, epoch, acquired_at, renewed_at) ON pgtrickle.pgt_leader TO pgtrickle_user
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.health(interval, bigint), pgtrickle.schedule_period(text),
  pgtrickle.staleness_grace(interval) TO pgtrickle_user
