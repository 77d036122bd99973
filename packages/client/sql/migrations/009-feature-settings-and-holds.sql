-- pgtrickle catalog migration 9: feature settings and holds
-- name: feature settings and holds
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- Per-table settings of the scheduler's features (the fuse, diamond consistency) live on the
-- stream table's row and are changed by state functions, in the caller's transaction:
-- pgtrickle.check_settings validates and normalises a settings object, pgtrickle.apply_settings
-- writes it, and pgtrickle.alter_stream_table(…, fuse => …, diamond_consistency => …) reaches it
-- through pgt_commands, a table whose inserts are run (never stored) by a trigger that records the
-- calling role and checks that it acts as the stream table's owner. Skips are data: a gate that
-- holds a table writes a SKIP row in the history when the hold starts or changes, and the current
-- hold (gate, reason, since) and the last tick's gate decisions are kept on the table's row.

ALTER TABLE pgtrickle.pgt_stream_tables
  ADD COLUMN fuse_mode text NOT NULL DEFAULT 'off' CHECK (fuse_mode IN ('off', 'on', 'auto')),
  ADD COLUMN fuse_state text NOT NULL DEFAULT 'armed' CHECK (fuse_state IN ('armed', 'blown')),
  ADD COLUMN fuse_ceiling bigint CHECK (fuse_ceiling IS NULL OR fuse_ceiling > 0),
  ADD COLUMN fuse_sensitivity integer CHECK (fuse_sensitivity IS NULL OR fuse_sensitivity > 0),
  ADD COLUMN fuse_sigma float8 CHECK (fuse_sigma IS NULL OR fuse_sigma > 0),
  ADD COLUMN fuse_window integer CHECK (fuse_window IS NULL OR fuse_window >= 2),
  ADD COLUMN fuse_min_samples integer CHECK (fuse_min_samples IS NULL OR fuse_min_samples >= 2),
  ADD COLUMN blown_at timestamptz,
  ADD COLUMN blow_reason text,
  ADD COLUMN diamond_consistency text NOT NULL DEFAULT 'atomic' CHECK (diamond_consistency IN ('none', 'atomic')),
  ADD COLUMN diamond_schedule_policy text NOT NULL DEFAULT 'fastest'
    CHECK (diamond_schedule_policy IN ('fastest', 'slowest')),
  ADD COLUMN hold_gate text,
  ADD COLUMN hold_reason text,
  ADD COLUMN held_since timestamptz,
  ADD COLUMN last_gates jsonb,
  ADD CONSTRAINT pgt_stream_tables_diamond_policy_check
    CHECK (diamond_schedule_policy = 'fastest' OR diamond_consistency = 'atomic')
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_refresh_history
  DROP CONSTRAINT pgt_refresh_history_action_check,
  ADD CONSTRAINT pgt_refresh_history_action_check
    CHECK (action IN ('FULL', 'DIFFERENTIAL', 'NO_DATA', 'REINITIALIZE', 'SKIP')),
  DROP CONSTRAINT pgt_refresh_history_status_check,
  ADD CONSTRAINT pgt_refresh_history_status_check CHECK (status IN ('COMPLETED', 'FAILED', 'SKIPPED')),
  ADD COLUMN gate text
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_requests ADD COLUMN options jsonb NOT NULL DEFAULT '{}'::jsonb
--> statement-breakpoint
CREATE FUNCTION pgtrickle.check_settings(settings jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  k text;
  v jsonb;
  s text;
  n numeric;
  out jsonb := '{}'::jsonb;
BEGIN
  -- Validates a settings object and returns it normalised (strings trimmed and lower-cased,
  -- numbers checked). A key whose value is JSON null means "back to the default".
  IF settings IS NULL THEN
    RETURN out;
  END IF;
  IF jsonb_typeof(settings) <> 'object' THEN
    RAISE EXCEPTION 'settings must be a JSON object' USING ERRCODE = '22023';
  END IF;
  FOR k, v IN SELECT e.key, e.value FROM jsonb_each(settings) AS e LOOP
    IF jsonb_typeof(v) = 'null' THEN
      IF k IN ('fuse', 'diamond_consistency', 'diamond_schedule_policy') THEN
        RAISE EXCEPTION '% cannot be null', k USING ERRCODE = '22023';
      END IF;
      out := out || jsonb_build_object(k, v);
      CONTINUE;
    END IF;
    CASE k
    WHEN 'fuse', 'diamond_consistency', 'diamond_schedule_policy' THEN
      IF jsonb_typeof(v) <> 'string' THEN
        RAISE EXCEPTION '% must be a string', k USING ERRCODE = '22023';
      END IF;
      s := lower(btrim(v #>> '{}'));
      IF k = 'fuse' AND s NOT IN ('off', 'on', 'auto') THEN
        RAISE EXCEPTION 'fuse must be ''off'', ''on'' or ''auto'', not %', pg_catalog.quote_literal(v #>> '{}')
          USING ERRCODE = '22023';
      ELSIF k = 'diamond_consistency' AND s NOT IN ('none', 'atomic') THEN
        RAISE EXCEPTION 'diamond_consistency must be ''none'' or ''atomic'', not %', pg_catalog.quote_literal(v #>> '{}')
          USING ERRCODE = '22023';
      ELSIF k = 'diamond_schedule_policy' AND s NOT IN ('fastest', 'slowest') THEN
        RAISE EXCEPTION 'diamond_schedule_policy must be ''fastest'' or ''slowest'', not %', pg_catalog.quote_literal(v #>> '{}')
          USING ERRCODE = '22023';
      END IF;
      out := out || jsonb_build_object(k, s);
    WHEN 'fuse_ceiling', 'fuse_sensitivity', 'fuse_window', 'fuse_min_samples', 'fuse_sigma' THEN
      IF jsonb_typeof(v) <> 'number' THEN
        RAISE EXCEPTION '% must be a number', k USING ERRCODE = '22023';
      END IF;
      n := (v #>> '{}')::numeric;
      IF k <> 'fuse_sigma' AND n <> trunc(n) THEN
        RAISE EXCEPTION '% must be a whole number, not %', k, n USING ERRCODE = '22023';
      END IF;
      IF k IN ('fuse_ceiling', 'fuse_sensitivity', 'fuse_sigma') AND n <= 0 THEN
        RAISE EXCEPTION '% must be greater than 0, not %', k, n USING ERRCODE = '22023';
      END IF;
      IF k IN ('fuse_window', 'fuse_min_samples') AND n < 2 THEN
        RAISE EXCEPTION '% must be at least 2, not %', k, n USING ERRCODE = '22023';
      END IF;
      IF k <> 'fuse_ceiling' AND k <> 'fuse_sigma' AND n > 2147483647 THEN
        RAISE EXCEPTION '% is too large: %', k, n USING ERRCODE = '22023';
      END IF;
      out := out || jsonb_build_object(k, v);
    ELSE
      RAISE EXCEPTION 'unknown setting %', pg_catalog.quote_literal(k) USING ERRCODE = '22023',
        HINT = 'Settings are fuse, fuse_ceiling, fuse_sensitivity, fuse_sigma, fuse_window, fuse_min_samples, diamond_consistency and diamond_schedule_policy.';
    END CASE;
  END LOOP;
  RETURN out;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.apply_settings(pgt_id bigint, settings jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  st pgtrickle.pgt_stream_tables%ROWTYPE;
  s jsonb := pgtrickle.check_settings(settings);
  consistency text;
  policy text;
BEGIN
  -- Writes validated settings on a stream table's row (the caller has checked ownership), in the
  -- caller's transaction; the scheduler reads them at its next tick.
  SELECT * INTO st FROM pgtrickle.pgt_stream_tables AS t WHERE t.pgt_id = apply_settings.pgt_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'there is no stream table with id %', apply_settings.pgt_id USING ERRCODE = '42P01';
  END IF;
  IF s = '{}'::jsonb THEN
    RETURN;
  END IF;
  IF st.effective_mode = 'IMMEDIATE' AND s ?| ARRAY['fuse', 'fuse_ceiling', 'fuse_sensitivity', 'fuse_sigma', 'fuse_window', 'fuse_min_samples']
     AND COALESCE(s ->> 'fuse', 'on') <> 'off' THEN
    RAISE EXCEPTION 'stream table %.% is IMMEDIATE: its fuse would never be checked', st.schema_name, st.table_name
      USING ERRCODE = '22023',
      HINT = 'A fuse guards scheduled refreshes; an IMMEDIATE table is maintained by the writer''s own statement.';
  END IF;
  consistency := COALESCE(s ->> 'diamond_consistency', st.diamond_consistency);
  policy := COALESCE(s ->> 'diamond_schedule_policy', st.diamond_schedule_policy);
  IF policy = 'slowest' AND consistency <> 'atomic' THEN
    RAISE EXCEPTION 'diamond_schedule_policy = ''slowest'' requires diamond_consistency = ''atomic''' USING ERRCODE = '22023';
  END IF;
  UPDATE pgtrickle.pgt_stream_tables AS t SET
    fuse_mode = COALESCE(s ->> 'fuse', t.fuse_mode),
    fuse_ceiling = CASE WHEN s ? 'fuse_ceiling' THEN (s ->> 'fuse_ceiling')::bigint ELSE t.fuse_ceiling END,
    fuse_sensitivity = CASE WHEN s ? 'fuse_sensitivity' THEN (s ->> 'fuse_sensitivity')::integer ELSE t.fuse_sensitivity END,
    fuse_sigma = CASE WHEN s ? 'fuse_sigma' THEN (s ->> 'fuse_sigma')::float8 ELSE t.fuse_sigma END,
    fuse_window = CASE WHEN s ? 'fuse_window' THEN (s ->> 'fuse_window')::integer ELSE t.fuse_window END,
    fuse_min_samples = CASE WHEN s ? 'fuse_min_samples' THEN (s ->> 'fuse_min_samples')::integer ELSE t.fuse_min_samples END,
    diamond_consistency = consistency,
    diamond_schedule_policy = policy
  WHERE t.pgt_id = apply_settings.pgt_id;
  PERFORM pg_catalog.pg_notify('pgtrickle_wake', '');
END
$fn$
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_commands (
  kind text NOT NULL,
  schema_name text NOT NULL,
  table_name text NOT NULL,
  args jsonb NOT NULL DEFAULT '{}'::jsonb,
  requester oid NOT NULL DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid
)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.run_command() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  st record;
BEGIN
  -- A state command about one stream table, run in the inserting transaction and never stored:
  -- the requester (recorded by the column default, as the inserting role, which cannot write that
  -- column) must act as the table's owner; the command is pgtrickle.command_<kind>(pgt_id, args).
  IF NEW.kind !~ '^[a-z_]+$' OR pg_catalog.to_regprocedure('pgtrickle.command_' || NEW.kind || '(bigint,jsonb)') IS NULL THEN
    RAISE EXCEPTION 'unknown command %', pg_catalog.quote_literal(NEW.kind) USING ERRCODE = '22023';
  END IF;
  SELECT s.pgt_id, s.owner_oid INTO st FROM pgtrickle.pgt_stream_tables AS s
   WHERE s.schema_name = NEW.schema_name AND s.table_name = NEW.table_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'there is no stream table %.%', NEW.schema_name, NEW.table_name USING ERRCODE = '42P01',
      HINT = 'pgtrickle.pgt_status lists the stream tables you own.';
  END IF;
  IF NOT pgtrickle.acts_as(NEW.requester, st.owner_oid) THEN
    RAISE EXCEPTION 'must be owner of stream table %.%', NEW.schema_name, NEW.table_name USING ERRCODE = '42501',
      HINT = 'Only its owner (or a member of the owning role) may change a stream table''s settings.';
  END IF;
  EXECUTE pg_catalog.format('SELECT pgtrickle.%I($1, $2)', 'command_' || NEW.kind) USING st.pgt_id, NEW.args;
  RETURN NULL;
END
$fn$
--> statement-breakpoint
CREATE TRIGGER pgt_commands_run BEFORE INSERT ON pgtrickle.pgt_commands
  FOR EACH ROW EXECUTE FUNCTION pgtrickle.run_command()
--> statement-breakpoint
CREATE FUNCTION pgtrickle.command_settings(pgt_id bigint, args jsonb) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $fn$ SELECT pgtrickle.apply_settings(pgt_id, args) $fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.request(kind text, name text, query text, schedule text, refresh_mode text, set_schedule boolean, cascade_drop boolean, options jsonb)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  n record;
  id bigint;
BEGIN
  SELECT * INTO n FROM pgtrickle.resolve_name(name);
  INSERT INTO pgtrickle.pgt_requests (kind, schema_name, table_name, query, schedule, refresh_mode, set_schedule, cascade_drop, options)
  VALUES (kind, n.schema_name, n.table_name, query, schedule, refresh_mode, set_schedule, cascade_drop, pgtrickle.check_settings(options));
  id := pg_catalog.currval('pgtrickle.pgt_requests_request_id_seq');
  PERFORM pg_catalog.pg_notify('pgtrickle_requests', '');
  RETURN id;
END
$fn$
--> statement-breakpoint
DROP FUNCTION pgtrickle.create_stream_table(text, text, text, text)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.create_stream_table(name text, query text, schedule text DEFAULT NULL, refresh_mode text DEFAULT 'AUTO',
  diamond_consistency text DEFAULT NULL, diamond_schedule_policy text DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $fn$
  SELECT pgtrickle.request('create', name, query, schedule, COALESCE(refresh_mode, 'AUTO'), true, false,
    pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('diamond_consistency', diamond_consistency,
                                                               'diamond_schedule_policy', diamond_schedule_policy)))
$fn$
--> statement-breakpoint
DROP FUNCTION pgtrickle.alter_stream_table(text, text, text, text)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.alter_stream_table(name text, query text DEFAULT NULL, schedule text DEFAULT NULL, refresh_mode text DEFAULT NULL,
  fuse text DEFAULT NULL, fuse_ceiling bigint DEFAULT NULL, fuse_sensitivity integer DEFAULT NULL,
  fuse_sigma float8 DEFAULT NULL, fuse_window integer DEFAULT NULL, fuse_min_samples integer DEFAULT NULL,
  diamond_consistency text DEFAULT NULL, diamond_schedule_policy text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  n record;
  settings jsonb;
BEGIN
  -- Settings are state, applied now in the caller's transaction (NULL = unchanged); a new query,
  -- schedule or mode is work for the sidecar: a request, whose id is returned (NULL when none).
  settings := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'fuse', fuse, 'fuse_ceiling', fuse_ceiling, 'fuse_sensitivity', fuse_sensitivity, 'fuse_sigma', fuse_sigma,
    'fuse_window', fuse_window, 'fuse_min_samples', fuse_min_samples,
    'diamond_consistency', diamond_consistency, 'diamond_schedule_policy', diamond_schedule_policy));
  IF settings <> '{}'::jsonb THEN
    SELECT * INTO n FROM pgtrickle.resolve_name(name);
    INSERT INTO pgtrickle.pgt_commands (kind, schema_name, table_name, args) VALUES ('settings', n.schema_name, n.table_name, settings);
    IF query IS NULL AND schedule IS NULL AND refresh_mode IS NULL THEN
      RETURN NULL;
    END IF;
  END IF;
  RETURN pgtrickle.request('alter', name, query, schedule, refresh_mode, schedule IS NOT NULL, false);
END
$fn$
--> statement-breakpoint
CREATE OR REPLACE VIEW pgtrickle.pgt_status AS
SELECT s.schema_name, s.table_name, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       s.status, s.requested_mode AS refresh_mode, s.effective_mode, s.mode_reason, COALESCE(s.schedule, 'calculated') AS schedule,
       s.last_refresh_at, s.data_timestamp, clock_timestamp() - s.data_timestamp AS staleness,
       s.consecutive_errors, s.last_error, s.needs_reinit, NULL::bigint AS request_id,
       pg_catalog.pg_get_userbyid(s.owner_oid) AS owner,
       s.hold_gate, s.hold_reason, s.held_since, s.fuse_mode, s.fuse_state,
       s.diamond_consistency, s.diamond_schedule_policy
  FROM pgtrickle.pgt_stream_tables s
 WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
UNION ALL
SELECT r.schema_name, r.table_name, pg_catalog.quote_ident(r.schema_name) || '.' || pg_catalog.quote_ident(r.table_name),
       'PENDING', r.refresh_mode, NULL, NULL, COALESCE(r.schedule, 'calculated'),
       NULL, NULL, NULL, 0, NULL, false, r.request_id, pg_catalog.pg_get_userbyid(r.requester),
       NULL, NULL, NULL, 'off', 'armed',
       COALESCE(r.options ->> 'diamond_consistency', 'atomic'), COALESCE(r.options ->> 'diamond_schedule_policy', 'fastest')
  FROM pgtrickle.pgt_requests r
 WHERE r.kind = 'create' AND r.status = 'PENDING'
   AND pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, r.requester)
   AND NOT EXISTS (SELECT 1 FROM pgtrickle.pgt_stream_tables s WHERE s.schema_name = r.schema_name AND s.table_name = r.table_name)
--> statement-breakpoint
CREATE OR REPLACE VIEW pgtrickle.pgt_refresh_log AS
SELECT h.refresh_id, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       h.action, h.status, h.initiated_by, h.started_at, h.finished_at, h.finished_at - h.started_at AS duration,
       h.rows_inserted, h.rows_deleted, h.pending_changes, h.reason, h.error, h.gate
  FROM pgtrickle.pgt_refresh_history h JOIN pgtrickle.pgt_stream_tables s USING (pgt_id)
 WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.apply_settings(bigint, jsonb), pgtrickle.command_settings(bigint, jsonb), pgtrickle.run_command() FROM PUBLIC
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.create_stream_table(text, text, text, text, text, text),
  pgtrickle.alter_stream_table(text, text, text, text, text, bigint, integer, float8, integer, integer, text, text),
  pgtrickle.request(text, text, text, text, text, boolean, boolean, jsonb), pgtrickle.check_settings(jsonb) TO pgtrickle_user
--> statement-breakpoint
GRANT INSERT (options) ON pgtrickle.pgt_requests TO pgtrickle_user
--> statement-breakpoint
GRANT INSERT (kind, schema_name, table_name, args) ON pgtrickle.pgt_commands TO pgtrickle_user
