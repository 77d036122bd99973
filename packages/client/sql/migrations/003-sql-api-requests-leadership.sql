-- pgtrickle catalog migration 3: sql api, requests, leadership
-- name: sql api, requests, leadership
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").

ALTER TABLE pgtrickle.pgt_stream_tables ADD COLUMN frontier_lsn pg_lsn
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_requests (
  request_id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('create', 'alter', 'drop', 'refresh')),
  schema_name text NOT NULL,
  table_name text NOT NULL,
  query text,
  schedule text,
  refresh_mode text CHECK (refresh_mode IS NULL OR refresh_mode IN ('AUTO', 'FULL', 'DIFFERENTIAL', 'IMMEDIATE')),
  set_schedule boolean NOT NULL DEFAULT false,
  cascade_drop boolean NOT NULL DEFAULT false,
  status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
  error text,
  requested_by text NOT NULL DEFAULT current_user,
  requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  done_at timestamptz
)
--> statement-breakpoint
CREATE INDEX pgt_requests_pending_idx ON pgtrickle.pgt_requests (request_id) WHERE status = 'PENDING'
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_leader (
  id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  epoch bigint NOT NULL DEFAULT 0,
  holder text,
  acquired_at timestamptz,
  renewed_at timestamptz
)
--> statement-breakpoint
INSERT INTO pgtrickle.pgt_leader (id) VALUES (1)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.resolve_name(name text, OUT schema_name text, OUT table_name text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  parts text[];
BEGIN
  IF name IS NULL OR btrim(name) = '' THEN
    RAISE EXCEPTION 'a stream table name is required' USING ERRCODE = '22023', HINT = 'Pass e.g. ''analytics.order_totals''.';
  END IF;
  parts := pg_catalog.parse_ident(name);
  IF array_length(parts, 1) = 1 THEN
    schema_name := pg_catalog.current_schema();
    table_name := parts[1];
  ELSIF array_length(parts, 1) = 2 THEN
    schema_name := parts[1];
    table_name := parts[2];
  ELSE
    RAISE EXCEPTION 'invalid stream table name %', name USING ERRCODE = '22023', HINT = 'Use [schema.]name.';
  END IF;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.check_schedule(schedule text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  IF schedule IS NULL OR lower(btrim(schedule)) IN ('', 'calculated') THEN
    RETURN NULL;
  END IF;
  IF btrim(schedule) ~ '^([0-9]+(.[0-9]+)?(ms|s|m|h|d|w))+$' OR btrim(schedule) ~ '^[0-9]+$'
     OR btrim(schedule) ~ '^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$'
     OR array_length(regexp_split_to_array(btrim(schedule), 's+'), 1) BETWEEN 5 AND 6 THEN
    RETURN btrim(schedule);
  END IF;
  RAISE EXCEPTION '"%" is not a schedule', schedule USING ERRCODE = '22023',
    HINT = 'Use a duration such as ''30s'', ''5m'', ''1h30m'', a cron expression, or ''calculated''.';
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.check_mode(mode text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  IF mode IS NULL THEN
    RETURN NULL;
  END IF;
  IF upper(mode) NOT IN ('AUTO', 'FULL', 'DIFFERENTIAL', 'IMMEDIATE') THEN
    RAISE EXCEPTION 'refresh mode must be AUTO, FULL, DIFFERENTIAL or IMMEDIATE, not %', mode USING ERRCODE = '22023';
  END IF;
  RETURN upper(mode);
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.request(kind text, name text, query text, schedule text, refresh_mode text, set_schedule boolean, cascade_drop boolean)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  n record;
  id bigint;
  exists_st boolean;
BEGIN
  SELECT * INTO n FROM pgtrickle.resolve_name(name);
  SELECT EXISTS (SELECT 1 FROM pgtrickle.pgt_stream_tables s WHERE s.schema_name = n.schema_name AND s.table_name = n.table_name) INTO exists_st;
  IF kind = 'create' THEN
    IF exists_st OR pg_catalog.to_regclass(pg_catalog.quote_ident(n.schema_name) || '.' || pg_catalog.quote_ident(n.table_name)) IS NOT NULL THEN
      RAISE EXCEPTION '%.% already exists', n.schema_name, n.table_name USING ERRCODE = '42P07', HINT = 'Choose another name, or drop it first.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = n.schema_name) THEN
      RAISE EXCEPTION 'schema % does not exist', n.schema_name USING ERRCODE = '3F000';
    END IF;
    IF EXISTS (SELECT 1 FROM pgtrickle.pgt_requests r WHERE r.kind = 'create' AND r.status = 'PENDING' AND r.schema_name = n.schema_name AND r.table_name = n.table_name) THEN
      RAISE EXCEPTION 'a create request for %.% is already pending', n.schema_name, n.table_name USING ERRCODE = '42P07';
    END IF;
    IF query IS NULL OR btrim(query) = '' THEN
      RAISE EXCEPTION 'the defining query is empty' USING ERRCODE = '22023';
    END IF;
  ELSIF NOT exists_st THEN
    RAISE EXCEPTION 'there is no stream table %.%', n.schema_name, n.table_name USING ERRCODE = '42P01', HINT = 'pgtrickle.pgt_status lists them.';
  END IF;
  INSERT INTO pgtrickle.pgt_requests (kind, schema_name, table_name, query, schedule, refresh_mode, set_schedule, cascade_drop)
  VALUES (kind, n.schema_name, n.table_name, query, pgtrickle.check_schedule(schedule), pgtrickle.check_mode(refresh_mode), set_schedule, cascade_drop)
  RETURNING request_id INTO id;
  PERFORM pg_catalog.pg_notify('pgtrickle_requests', id::text);
  RETURN id;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.create_stream_table(name text, query text, schedule text DEFAULT NULL, refresh_mode text DEFAULT 'AUTO')
RETURNS bigint LANGUAGE sql AS $fn$ SELECT pgtrickle.request('create', name, query, schedule, COALESCE(refresh_mode, 'AUTO'), true, false) $fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.alter_stream_table(name text, query text DEFAULT NULL, schedule text DEFAULT NULL, refresh_mode text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $fn$ SELECT pgtrickle.request('alter', name, query, schedule, refresh_mode, schedule IS NOT NULL, false) $fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.drop_stream_table(name text, "cascade" boolean DEFAULT false)
RETURNS bigint LANGUAGE sql AS $fn$ SELECT pgtrickle.request('drop', name, NULL, NULL, NULL, false, "cascade") $fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.refresh_stream_table(name text)
RETURNS bigint LANGUAGE sql AS $fn$ SELECT pgtrickle.request('refresh', name, NULL, NULL, NULL, false, false) $fn$
--> statement-breakpoint
CREATE VIEW pgtrickle.pgt_status AS
SELECT s.schema_name, s.table_name, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       s.status, s.requested_mode AS refresh_mode, s.effective_mode, s.mode_reason, COALESCE(s.schedule, 'calculated') AS schedule,
       s.last_refresh_at, s.data_timestamp, clock_timestamp() - s.data_timestamp AS staleness,
       s.consecutive_errors, s.last_error, s.needs_reinit, NULL::bigint AS request_id
  FROM pgtrickle.pgt_stream_tables s
UNION ALL
SELECT r.schema_name, r.table_name, pg_catalog.quote_ident(r.schema_name) || '.' || pg_catalog.quote_ident(r.table_name),
       CASE r.status WHEN 'PENDING' THEN 'PENDING' ELSE 'ERROR' END, r.refresh_mode, NULL, NULL, COALESCE(r.schedule, 'calculated'),
       NULL, NULL, NULL, 0, r.error, false, r.request_id
  FROM pgtrickle.pgt_requests r
 WHERE r.kind = 'create' AND r.status IN ('PENDING', 'FAILED')
   AND NOT EXISTS (SELECT 1 FROM pgtrickle.pgt_stream_tables s WHERE s.schema_name = r.schema_name AND s.table_name = r.table_name)
   AND r.request_id = (SELECT max(r2.request_id) FROM pgtrickle.pgt_requests r2 WHERE r2.kind = 'create' AND r2.schema_name = r.schema_name AND r2.table_name = r.table_name)
--> statement-breakpoint
CREATE VIEW pgtrickle.pgt_refresh_log AS
SELECT h.refresh_id, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       h.action, h.status, h.initiated_by, h.started_at, h.finished_at, h.finished_at - h.started_at AS duration,
       h.rows_inserted, h.rows_deleted, h.pending_changes, h.reason, h.error
  FROM pgtrickle.pgt_refresh_history h JOIN pgtrickle.pgt_stream_tables s USING (pgt_id)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.pending_sources() RETURNS TABLE (pgt_id bigint, pending boolean)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  d record;
  found boolean;
BEGIN
  FOR d IN
    SELECT dep.pgt_id, dep.source_kind, dep.source_oid, dep.source_pgt_id, st.frontier_snapshot AS snap, st.frontier_epochs AS epochs
      FROM pgtrickle.pgt_dependencies dep JOIN pgtrickle.pgt_stream_tables st ON st.pgt_id = dep.pgt_id
     WHERE st.status IN ('ACTIVE', 'INITIALIZING')
     ORDER BY dep.pgt_id
  LOOP
    IF d.snap IS NULL THEN
      found := true;
    ELSIF d.source_kind = 'table' THEN
      IF pg_catalog.to_regclass('pgtrickle_changes.changes_' || d.source_oid) IS NULL THEN
        found := false;
      ELSE
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM pgtrickle_changes.%I b WHERE b.xid >= pg_catalog.pg_snapshot_xmin($1) AND NOT pg_catalog.pg_visible_in_snapshot(b.xid, $1))', 'changes_' || d.source_oid)
          INTO found USING d.snap;
      END IF;
    ELSE
      IF pg_catalog.to_regclass('pgtrickle_changes.changes_st_' || d.source_pgt_id) IS NULL THEN
        found := false;
      ELSE
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM pgtrickle_changes.%I b WHERE b.epoch > $1)', 'changes_st_' || d.source_pgt_id)
          INTO found USING COALESCE((d.epochs ->> d.source_pgt_id::text)::bigint, 0);
      END IF;
    END IF;
    pgt_id := d.pgt_id;
    pending := found;
    RETURN NEXT;
  END LOOP;
END
$fn$
