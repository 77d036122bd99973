-- pgtrickle catalog migration 4: security model
-- name: security model
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- Every stream table has an owner (the role that created it) and the search_path its query was
-- written under; the SQL API records the calling role itself and checks ownership; pgtrickle_user
-- holds exactly what the API needs; storage tables accept writes only from a refresh that
-- registered itself for them in its own transaction.

ALTER TABLE pgtrickle.pgt_stream_tables ADD COLUMN owner_oid oid
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_stream_tables ADD COLUMN search_path text
--> statement-breakpoint
UPDATE pgtrickle.pgt_stream_tables AS s SET owner_oid = c.relowner
  FROM pg_catalog.pg_class AS c WHERE c.oid = s.storage_oid
--> statement-breakpoint
UPDATE pgtrickle.pgt_stream_tables SET owner_oid = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)
 WHERE owner_oid IS NULL
--> statement-breakpoint
UPDATE pgtrickle.pgt_stream_tables SET search_path = pg_catalog.current_setting('search_path') WHERE search_path IS NULL
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_stream_tables ALTER COLUMN owner_oid SET NOT NULL, ALTER COLUMN search_path SET NOT NULL
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_requests
  ADD COLUMN requester oid NOT NULL DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid,
  ADD COLUMN search_path text NOT NULL DEFAULT pg_catalog.current_setting('search_path')
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_requests DROP CONSTRAINT pgt_requests_kind_check,
  ADD CONSTRAINT pgt_requests_kind_check CHECK (kind IN ('create', 'alter', 'drop', 'refresh', 'resume'))
--> statement-breakpoint
CREATE UNLOGGED TABLE pgtrickle.pgt_refreshing (
  xid pg_catalog.xid8 NOT NULL,
  pgt_id bigint NOT NULL,
  PRIMARY KEY (xid, pgt_id)
)
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.guard_storage() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $guard$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pgtrickle.pgt_refreshing AS w
                   JOIN pgtrickle.pgt_stream_tables AS s ON s.pgt_id = w.pgt_id
                  WHERE w.xid = pg_catalog.pg_current_xact_id_if_assigned() AND s.storage_oid = TG_RELID) THEN
    RAISE EXCEPTION 'stream table %.% is maintained by pgtrickle and cannot be written directly', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = '42501', HINT = 'Change its sources instead, or change its query with pgtrickle.alter_stream_table().';
  END IF;
  RETURN NULL;
END
$guard$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.check_name(schema_name text, table_name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  IF schema_name IN ('pgtrickle', 'pgtrickle_changes', 'pg_catalog', 'information_schema', 'pg_toast')
     OR schema_name LIKE 'pg\_temp\_%' OR schema_name LIKE 'pg\_toast\_temp\_%' OR schema_name = 'pg_temp' THEN
    RAISE EXCEPTION '%.% cannot be a stream table: schema % is reserved', schema_name, table_name, schema_name
      USING ERRCODE = '42939', HINT = 'Create it in a schema of your own.';
  END IF;
  IF table_name LIKE '\_\_pgt%' THEN
    RAISE EXCEPTION '%.% cannot be a stream table: names starting with __pgt are reserved for pgtrickle''s own objects', schema_name, table_name
      USING ERRCODE = '42939', HINT = 'Choose another name.';
  END IF;
END
$fn$
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.check_schedule(schedule text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  s text := btrim(schedule);
BEGIN
  IF s IS NULL OR lower(s) IN ('', 'calculated') THEN
    RETURN NULL;
  END IF;
  IF s ~ '^([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w))+$' OR s ~ '^[0-9]+$'
     OR s ~ '^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$'
     OR (s ~ '^[0-9A-Za-z*/,?#LW-]+(\s+[0-9A-Za-z*/,?#LW-]+){4,5}$') THEN
    RETURN s;
  END IF;
  RAISE EXCEPTION '"%" is not a schedule', schedule USING ERRCODE = '22023',
    HINT = 'Use a duration such as ''30s'', ''5m'', ''1h30m'', a cron expression such as ''*/5 * * * *'', or ''calculated''.';
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.acts_as(actor oid, owner oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- Whether actor has the rights of owner (is it, or a member that inherits it), as ownership
  -- checks of PostgreSQL's own commands use; false for a role that no longer exists.
  SELECT CASE WHEN actor IS NULL OR owner IS NULL
                   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE oid = actor)
                   OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE oid = owner) THEN false
              ELSE pg_catalog.pg_has_role(actor, owner, 'USAGE') END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.check_request() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  owner oid;
BEGIN
  -- requester, requested_by and search_path come from column defaults evaluated as the inserting
  -- role, which cannot write those columns (it holds INSERT on the request's arguments only).
  NEW.status := 'PENDING';
  NEW.error := NULL;
  NEW.done_at := NULL;
  NEW.requested_at := pg_catalog.clock_timestamp();
  IF NEW.kind NOT IN ('create', 'alter', 'drop', 'refresh', 'resume') THEN
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
        HINT = 'Only its owner (or a member of the owning role) may alter, refresh, resume or drop a stream table.';
    END IF;
  END IF;
  RETURN NEW;
END
$fn$
--> statement-breakpoint
CREATE TRIGGER pgt_requests_check BEFORE INSERT ON pgtrickle.pgt_requests
  FOR EACH ROW EXECUTE FUNCTION pgtrickle.check_request()
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.request(kind text, name text, query text, schedule text, refresh_mode text, set_schedule boolean, cascade_drop boolean)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  n record;
  id bigint;
BEGIN
  SELECT * INTO n FROM pgtrickle.resolve_name(name);
  INSERT INTO pgtrickle.pgt_requests (kind, schema_name, table_name, query, schedule, refresh_mode, set_schedule, cascade_drop)
  VALUES (kind, n.schema_name, n.table_name, query, schedule, refresh_mode, set_schedule, cascade_drop);
  -- (no RETURNING: it would need SELECT on the request table; the sequence tells this session's id)
  id := pg_catalog.currval('pgtrickle.pgt_requests_request_id_seq');
  PERFORM pg_catalog.pg_notify('pgtrickle_requests', '');
  RETURN id;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.resume_stream_table(name text)
RETURNS bigint LANGUAGE sql AS $fn$ SELECT pgtrickle.request('resume', name, NULL, NULL, NULL, false, false) $fn$
--> statement-breakpoint
CREATE OR REPLACE VIEW pgtrickle.pgt_status AS
SELECT s.schema_name, s.table_name, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       s.status, s.requested_mode AS refresh_mode, s.effective_mode, s.mode_reason, COALESCE(s.schedule, 'calculated') AS schedule,
       s.last_refresh_at, s.data_timestamp, clock_timestamp() - s.data_timestamp AS staleness,
       s.consecutive_errors, s.last_error, s.needs_reinit, NULL::bigint AS request_id,
       pg_catalog.pg_get_userbyid(s.owner_oid) AS owner
  FROM pgtrickle.pgt_stream_tables s
 WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
UNION ALL
SELECT r.schema_name, r.table_name, pg_catalog.quote_ident(r.schema_name) || '.' || pg_catalog.quote_ident(r.table_name),
       CASE r.status WHEN 'PENDING' THEN 'PENDING' ELSE 'ERROR' END, r.refresh_mode, NULL, NULL, COALESCE(r.schedule, 'calculated'),
       NULL, NULL, NULL, 0, r.error, false, r.request_id, pg_catalog.pg_get_userbyid(r.requester)
  FROM pgtrickle.pgt_requests r
 WHERE r.kind = 'create' AND r.status IN ('PENDING', 'FAILED')
   AND pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, r.requester)
   AND NOT EXISTS (SELECT 1 FROM pgtrickle.pgt_stream_tables s WHERE s.schema_name = r.schema_name AND s.table_name = r.table_name)
   AND r.request_id = (SELECT max(r2.request_id) FROM pgtrickle.pgt_requests r2 WHERE r2.kind = 'create' AND r2.schema_name = r.schema_name AND r2.table_name = r.table_name)
--> statement-breakpoint
CREATE OR REPLACE VIEW pgtrickle.pgt_refresh_log AS
SELECT h.refresh_id, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       h.action, h.status, h.initiated_by, h.started_at, h.finished_at, h.finished_at - h.started_at AS duration,
       h.rows_inserted, h.rows_deleted, h.pending_changes, h.reason, h.error
  FROM pgtrickle.pgt_refresh_history h JOIN pgtrickle.pgt_stream_tables s USING (pgt_id)
 WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
--> statement-breakpoint
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgtrickle_user') THEN
    BEGIN
      CREATE ROLE pgtrickle_user NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another database's install created it at the same moment (roles are cluster-wide)
    WHEN insufficient_privilege THEN
      RAISE EXCEPTION 'pgtrickle needs the role pgtrickle_user, and this role may not create roles' USING ERRCODE = '42501',
        HINT = 'Create it once as a superuser (CREATE ROLE pgtrickle_user NOLOGIN), then run pgtrickle migrate again.';
    END;
  END IF;
END
$do$
--> statement-breakpoint
REVOKE ALL ON SCHEMA pgtrickle FROM PUBLIC
--> statement-breakpoint
GRANT USAGE ON SCHEMA pgtrickle TO pgtrickle_user
--> statement-breakpoint
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgtrickle FROM PUBLIC
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA pgtrickle REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.create_stream_table(text, text, text, text), pgtrickle.alter_stream_table(text, text, text, text),
  pgtrickle.drop_stream_table(text, boolean), pgtrickle.refresh_stream_table(text), pgtrickle.resume_stream_table(text),
  pgtrickle.request(text, text, text, text, text, boolean, boolean), pgtrickle.resolve_name(text),
  pgtrickle.acts_as(oid, oid) TO pgtrickle_user
--> statement-breakpoint
GRANT INSERT (kind, schema_name, table_name, query, schedule, refresh_mode, set_schedule, cascade_drop) ON pgtrickle.pgt_requests TO pgtrickle_user
--> statement-breakpoint
GRANT USAGE ON SEQUENCE pgtrickle.pgt_requests_request_id_seq TO pgtrickle_user
--> statement-breakpoint
GRANT SELECT ON pgtrickle.pgt_status, pgtrickle.pgt_refresh_log TO pgtrickle_user
