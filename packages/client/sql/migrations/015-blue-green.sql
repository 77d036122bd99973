-- pgtrickle catalog migration 15: blue-green
-- name: blue-green
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- A blue-green deployment replaces a stream table's definition with no gap for its readers: a
-- green copy is a stream table of its own (its row's green_of names the blue one) stored under a
-- shadow name, refreshed by the scheduler on its own frontier; promoting it swaps the two in one
-- transaction, keeping the old blue (suspended, under a retired name) for a rollback until it is
-- dropped. One deployment per public name is recorded in pgt_green_deployments, whose state
-- follows the blue-green machine. The work (create, promote, cancel, rollback, drop_retired) is
-- done by the sidecar through requests; green_status(name) reads the catalog: the lag of the
-- green's snapshot frontier behind the blue's, whether it has converged, and an estimate of when
-- it will, from the lag sampled at each of its refreshes (pgt_green_lag).

ALTER TABLE pgtrickle.pgt_stream_tables ADD COLUMN green_of bigint REFERENCES pgtrickle.pgt_stream_tables (pgt_id)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_green_deployments (
  schema_name text NOT NULL,
  table_name text NOT NULL,
  blue_id bigint NOT NULL,
  green_id bigint NOT NULL,
  state text NOT NULL CHECK (state IN ('CREATING', 'CATCHING_UP', 'CONVERGED', 'PROMOTED', 'ROLLED_BACK', 'RETIRED')),
  green_name text NOT NULL,
  retired_name text NOT NULL,
  forced boolean NOT NULL DEFAULT false,
  renamed_indexes jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  promoted_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (schema_name, table_name)
)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_green_lag (
  green_id bigint NOT NULL REFERENCES pgtrickle.pgt_stream_tables (pgt_id) ON DELETE CASCADE,
  sampled_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  lag_xids numeric NOT NULL
)
--> statement-breakpoint
CREATE INDEX pgt_green_lag_idx ON pgtrickle.pgt_green_lag (green_id, sampled_at)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.snapshot_covers(g pg_snapshot, b pg_snapshot) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- Whether every transaction visible in snapshot b is visible in snapshot g (g's frontier covers
  -- b's): no transaction g saw in progress is visible in b, and every transaction from g's xmax
  -- on is one b saw in progress.
  SELECT NOT (
    EXISTS (SELECT 1 FROM pg_catalog.pg_snapshot_xip(g) AS x WHERE pg_catalog.pg_visible_in_snapshot(x, b))
    OR pg_catalog.pg_snapshot_xmax(g) < pg_catalog.pg_snapshot_xmin(b)
    OR (pg_catalog.pg_snapshot_xmax(b) > pg_catalog.pg_snapshot_xmax(g)
        AND (pg_catalog.pg_snapshot_xmax(b)::text::numeric - pg_catalog.pg_snapshot_xmax(g)::text::numeric)
            > (SELECT pg_catalog.count(DISTINCT x) FROM pg_catalog.pg_snapshot_xip(b) AS x WHERE x >= pg_catalog.pg_snapshot_xmax(g))))
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.frontier_lag_xids(g pg_snapshot, b pg_snapshot) RETURNS numeric
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- How many transaction ids blue's frontier is ahead of green's (0 when green covers blue; NULL
  -- when green has no frontier yet).
  SELECT CASE WHEN g IS NULL THEN NULL
              WHEN b IS NULL OR pgtrickle.snapshot_covers(g, b) THEN 0
              ELSE GREATEST(pg_catalog.pg_snapshot_xmax(b)::text::numeric - pg_catalog.pg_snapshot_xmax(g)::text::numeric, 1) END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.green_converged(green_id bigint) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- The convergence rule (the same as promote's ConvergenceGate): the green is ACTIVE with its fuse
  -- armed, and its snapshot frontier covers the blue's (with at least the blue's epoch of every
  -- stream-table source both read), or it has no source change left to read.
  SELECT g.status = 'ACTIVE' AND g.fuse_state = 'armed' AND g.frontier_snapshot IS NOT NULL
     AND ((b.frontier_snapshot IS NULL OR pgtrickle.snapshot_covers(g.frontier_snapshot, b.frontier_snapshot))
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_each_text(b.frontier_epochs) AS e
                           WHERE g.frontier_epochs ? e.key AND (g.frontier_epochs ->> e.key)::bigint < e.value::bigint)
          OR COALESCE((SELECT u.pending FROM pgtrickle.unread_changes(ARRAY[g.pgt_id], NULL) AS u), 0) = 0)
    FROM pgtrickle.pgt_stream_tables AS g JOIN pgtrickle.pgt_stream_tables AS b ON b.pgt_id = g.green_of
   WHERE g.pgt_id = green_converged.green_id
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.sample_green_lag() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- At each refresh of a green (its frontier moved), how far it is behind its blue; the last 30
  -- samples are kept (green_status's estimate of when it converges).
  INSERT INTO pgtrickle.pgt_green_lag (green_id, lag_xids)
  SELECT NEW.pgt_id, COALESCE(pgtrickle.frontier_lag_xids(NEW.frontier_snapshot, b.frontier_snapshot), 0)
    FROM pgtrickle.pgt_stream_tables AS b WHERE b.pgt_id = NEW.green_of;
  DELETE FROM pgtrickle.pgt_green_lag AS l
   WHERE l.green_id = NEW.pgt_id
     AND l.sampled_at < (SELECT x.sampled_at FROM pgtrickle.pgt_green_lag AS x WHERE x.green_id = NEW.pgt_id
                          ORDER BY x.sampled_at DESC OFFSET 29 LIMIT 1);
  RETURN NULL;
END
$fn$
--> statement-breakpoint
CREATE TRIGGER pgt_green_lag_sample AFTER UPDATE OF frontier_snapshot ON pgtrickle.pgt_stream_tables
  FOR EACH ROW WHEN (NEW.green_of IS NOT NULL AND NEW.frontier_snapshot::text IS DISTINCT FROM OLD.frontier_snapshot::text)
  EXECUTE FUNCTION pgtrickle.sample_green_lag()
--> statement-breakpoint
CREATE FUNCTION pgtrickle.green_status_of(actor oid, p_schema text, p_table text)
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
         pg_catalog.quote_ident(d.schema_name) || '.' || pg_catalog.quote_ident(d.green_name),
         CASE WHEN d.state IN ('CATCHING_UP', 'CONVERGED') AND g.pgt_id IS NOT NULL
              THEN CASE WHEN pgtrickle.green_converged(g.pgt_id) THEN 'CONVERGED' ELSE 'CATCHING_UP' END
              ELSE d.state END,
         CASE WHEN d.state IN ('CATCHING_UP', 'CONVERGED') THEN COALESCE(pgtrickle.green_converged(g.pgt_id), false)
              ELSE d.state IN ('PROMOTED', 'RETIRED') END,
         CASE WHEN g.pgt_id IS NULL OR g.green_of IS NULL THEN 0
              ELSE pgtrickle.frontier_lag_xids(g.frontier_snapshot, b.frontier_snapshot) END,
         CASE WHEN g.pgt_id IS NULL OR g.green_of IS NULL THEN interval '0'
              ELSE GREATEST(b.data_timestamp - g.data_timestamp, interval '0') END,
         GREATEST(bc.reltuples, 0)::bigint,
         GREATEST(gc.reltuples, 0)::bigint,
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
    LEFT JOIN pg_catalog.pg_class AS bc ON bc.oid = CASE WHEN d.state = 'PROMOTED' THEN b.storage_oid ELSE pub.storage_oid END
    LEFT JOIN pg_catalog.pg_class AS gc ON gc.oid = g.storage_oid
    LEFT JOIN trend AS t ON t.green_id = d.green_id;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.green_status(name text)
RETURNS TABLE (stream_table text, green_name text, state text, converged boolean, frontier_lag_xids numeric,
               data_timestamp_lag interval, blue_rows bigint, green_rows bigint, age interval, eta interval,
               retired_name text, green_error text)
LANGUAGE sql STABLE AS $fn$
  -- The deployment of stream table `name` (no row: none was ever made), for its owner; the name
  -- resolves by the caller's search_path.
  SELECT g.* FROM pgtrickle.resolve_name(name) AS n,
         pgtrickle.green_status_of(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, n.schema_name, n.table_name) AS g
$fn$
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_requests DROP CONSTRAINT pgt_requests_kind_check,
  ADD CONSTRAINT pgt_requests_kind_check CHECK (kind IN ('create', 'alter', 'drop', 'refresh', 'resume',
    'create_green', 'promote_green', 'cancel_green', 'rollback_green', 'drop_retired'))
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.check_request() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  owner oid;
BEGIN
  -- requester, requested_by and search_path come from column defaults evaluated as the inserting
  -- role, which cannot write those columns (it holds INSERT on the request's arguments only).
  -- Blue-green requests name the public stream table, whose owner they need, as alter does.
  NEW.status := 'PENDING';
  NEW.error := NULL;
  NEW.done_at := NULL;
  NEW.requested_at := pg_catalog.clock_timestamp();
  IF NEW.kind NOT IN ('create', 'alter', 'drop', 'refresh', 'resume',
                      'create_green', 'promote_green', 'cancel_green', 'rollback_green', 'drop_retired') THEN
    RAISE EXCEPTION 'unknown request kind %', NEW.kind USING ERRCODE = '22023';
  END IF;
  IF NEW.requester IS NULL THEN
    RAISE EXCEPTION 'the requesting role is unknown' USING ERRCODE = '42501';
  END IF;
  NEW.schedule := pgtrickle.check_schedule(NEW.schedule);
  NEW.refresh_mode := pgtrickle.check_mode(NEW.refresh_mode);
  SELECT s.owner_oid INTO owner FROM pgtrickle.pgt_stream_tables AS s
   WHERE s.schema_name = NEW.schema_name AND s.table_name = NEW.table_name;
  IF NEW.kind = 'create' THEN
    PERFORM pgtrickle.check_name(NEW.schema_name, NEW.table_name);
    IF owner IS NOT NULL OR pg_catalog.to_regclass(pg_catalog.quote_ident(NEW.schema_name) || '.' || pg_catalog.quote_ident(NEW.table_name)) IS NOT NULL THEN
      RAISE EXCEPTION '%.% already exists', NEW.schema_name, NEW.table_name USING ERRCODE = '42P07', HINT = 'Choose another name, or drop it first.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = NEW.schema_name) THEN
      RAISE EXCEPTION 'schema % does not exist', NEW.schema_name USING ERRCODE = '3F000';
    END IF;
    IF NOT pg_catalog.has_schema_privilege(NEW.requester, NEW.schema_name, 'CREATE') THEN
      RAISE EXCEPTION 'permission denied for schema %', NEW.schema_name USING ERRCODE = '42501',
        HINT = 'Creating a stream table needs CREATE on its schema, as creating a materialized view does.';
    END IF;
    IF EXISTS (SELECT 1 FROM pgtrickle.pgt_requests AS r WHERE r.kind = 'create' AND r.status = 'PENDING'
                  AND r.schema_name = NEW.schema_name AND r.table_name = NEW.table_name) THEN
      RAISE EXCEPTION 'a create request for %.% is already pending', NEW.schema_name, NEW.table_name USING ERRCODE = '42P07';
    END IF;
    IF NEW.query IS NULL OR btrim(NEW.query) = '' THEN
      RAISE EXCEPTION 'the defining query is empty' USING ERRCODE = '22023';
    END IF;
  ELSE
    IF owner IS NULL THEN
      RAISE EXCEPTION 'there is no stream table %.%', NEW.schema_name, NEW.table_name USING ERRCODE = '42P01',
        HINT = 'pgtrickle.pgt_status lists the stream tables you own.';
    END IF;
    IF NOT pgtrickle.acts_as(NEW.requester, owner) THEN
      RAISE EXCEPTION 'must be owner of stream table %.%', NEW.schema_name, NEW.table_name USING ERRCODE = '42501',
        HINT = 'Only its owner (or a member of the owning role) may alter, refresh, resume, drop or redeploy a stream table.';
    END IF;
  END IF;
  RETURN NEW;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.green_request(kind text, name text, query text, schedule text, refresh_mode text, options jsonb)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  n record;
BEGIN
  -- A blue-green request about the public stream table `name`, for the sidecar (ownership is
  -- checked by check_request); returns its id.
  SELECT * INTO n FROM pgtrickle.resolve_name(name);
  INSERT INTO pgtrickle.pgt_requests (kind, schema_name, table_name, query, schedule, refresh_mode, set_schedule, options)
  VALUES (kind, n.schema_name, n.table_name, query, schedule, refresh_mode, schedule IS NOT NULL, COALESCE(options, '{}'::jsonb));
  PERFORM pg_catalog.pg_notify('pgtrickle_requests', '');
  RETURN pg_catalog.currval('pgtrickle.pgt_requests_request_id_seq');
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.create_green(name text, query text DEFAULT NULL, schedule text DEFAULT NULL, refresh_mode text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $fn$
  -- A green copy of `name` with a new query, schedule or mode (NULL: blue's), built by the sidecar.
  SELECT pgtrickle.green_request('create_green', name, query, schedule, refresh_mode, '{}'::jsonb)
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.promote_green(name text, force boolean DEFAULT false, "cascade" boolean DEFAULT false)
RETURNS bigint LANGUAGE sql AS $fn$
  -- Swaps the green of `name` in, in one transaction (refused unless it has converged, or forced).
  SELECT pgtrickle.green_request('promote_green', name, NULL, NULL, NULL,
    pg_catalog.jsonb_build_object('force', COALESCE(force, false), 'cascade', COALESCE("cascade", false)))
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.cancel_green(name text)
RETURNS bigint LANGUAGE sql AS $fn$
  -- Drops the green of `name` before it is promoted.
  SELECT pgtrickle.green_request('cancel_green', name, NULL, NULL, NULL, '{}'::jsonb)
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.rollback_green(name text)
RETURNS bigint LANGUAGE sql AS $fn$
  -- After a promote: swaps the retired blue back in. Before: the same as cancel_green.
  SELECT pgtrickle.green_request('rollback_green', name, NULL, NULL, NULL, '{}'::jsonb)
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.drop_retired(name text)
RETURNS bigint LANGUAGE sql AS $fn$
  -- After a promote: keeps it for good and drops the retired blue.
  SELECT pgtrickle.green_request('drop_retired', name, NULL, NULL, NULL, '{}'::jsonb)
$fn$
--> statement-breakpoint
CREATE OR REPLACE VIEW pgtrickle.pgt_status AS
SELECT s.schema_name, s.table_name, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       s.status, s.requested_mode AS refresh_mode, s.effective_mode, s.mode_reason, COALESCE(s.schedule, 'calculated') AS schedule,
       s.last_refresh_at, s.data_timestamp,
       CASE WHEN s.effective_mode = 'IMMEDIATE' AND s.status = 'ACTIVE' THEN interval '0'
            ELSE clock_timestamp() - s.data_timestamp END AS staleness,
       s.consecutive_errors, s.last_error, s.needs_reinit, NULL::bigint AS request_id,
       pg_catalog.pg_get_userbyid(s.owner_oid) AS owner,
       s.hold_gate, s.hold_reason, s.held_since, s.fuse_mode, s.fuse_state,
       s.diamond_consistency, s.diamond_schedule_policy,
       CASE WHEN s.green_of IS NOT NULL THEN 'green'
            WHEN EXISTS (SELECT 1 FROM pgtrickle.pgt_green_deployments AS d WHERE d.blue_id = s.pgt_id AND d.state = 'PROMOTED') THEN 'retired'
            ELSE 'table' END AS role
  FROM pgtrickle.pgt_stream_tables s
 WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
UNION ALL
SELECT r.schema_name, r.table_name, pg_catalog.quote_ident(r.schema_name) || '.' || pg_catalog.quote_ident(r.table_name),
       'PENDING', r.refresh_mode, NULL, NULL, COALESCE(r.schedule, 'calculated'),
       NULL, NULL, NULL, 0, NULL, false, r.request_id, pg_catalog.pg_get_userbyid(r.requester),
       NULL, NULL, NULL, 'off', 'armed',
       COALESCE(r.options ->> 'diamond_consistency', 'atomic'), COALESCE(r.options ->> 'diamond_schedule_policy', 'fastest'),
       'table'
  FROM pgtrickle.pgt_requests r
 WHERE r.kind = 'create' AND r.status = 'PENDING'
   AND pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, r.requester)
   AND NOT EXISTS (SELECT 1 FROM pgtrickle.pgt_stream_tables s WHERE s.schema_name = r.schema_name AND s.table_name = r.table_name)
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.green_status_of(oid, text, text), pgtrickle.green_converged(bigint), pgtrickle.sample_green_lag() FROM PUBLIC
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.create_green(text, text, text, text), pgtrickle.promote_green(text, boolean, boolean),
  pgtrickle.cancel_green(text), pgtrickle.rollback_green(text), pgtrickle.drop_retired(text),
  pgtrickle.green_request(text, text, text, text, text, jsonb), pgtrickle.green_status(text), pgtrickle.green_status_of(oid, text, text),
  pgtrickle.snapshot_covers(pg_snapshot, pg_snapshot), pgtrickle.frontier_lag_xids(pg_snapshot, pg_snapshot) TO pgtrickle_user
