-- pgtrickle catalog migration 8: nothing stuck
-- name: nothing stuck
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- The lease names the leader's connections (its tag is in the application_name of each), so a
-- standby can end every session of a leader that stopped answering; history and finished requests
-- are trimmed by age (indexes for it); a failed create no longer shows as a stream table in
-- pgt_status (pgt_request_log shows every request); pgtrickle.uninstall() removes pgtrickle and
-- leaves each storage table as a plain table of the query's columns (or drops it).

ALTER TABLE pgtrickle.pgt_leader ADD COLUMN holder_tag text
--> statement-breakpoint
CREATE INDEX pgt_refresh_history_finished_idx ON pgtrickle.pgt_refresh_history (finished_at)
--> statement-breakpoint
CREATE INDEX pgt_requests_done_idx ON pgtrickle.pgt_requests (done_at) WHERE status <> 'PENDING'
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
       'PENDING', r.refresh_mode, NULL, NULL, COALESCE(r.schedule, 'calculated'),
       NULL, NULL, NULL, 0, NULL, false, r.request_id, pg_catalog.pg_get_userbyid(r.requester)
  FROM pgtrickle.pgt_requests r
 WHERE r.kind = 'create' AND r.status = 'PENDING'
   AND pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, r.requester)
   AND NOT EXISTS (SELECT 1 FROM pgtrickle.pgt_stream_tables s WHERE s.schema_name = r.schema_name AND s.table_name = r.table_name)
--> statement-breakpoint
CREATE VIEW pgtrickle.pgt_request_log AS
SELECT r.request_id, r.kind, pg_catalog.quote_ident(r.schema_name) || '.' || pg_catalog.quote_ident(r.table_name) AS name,
       r.status, r.error, pg_catalog.pg_get_userbyid(r.requester) AS requested_by, r.requested_at, r.done_at
  FROM pgtrickle.pgt_requests r
 WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, r.requester)
--> statement-breakpoint
GRANT SELECT ON pgtrickle.pgt_request_log TO pgtrickle_user
--> statement-breakpoint
CREATE FUNCTION pgtrickle.uninstall(drop_tables boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
  t record;
  col record;
  kept int := 0;
  dropped int := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgtrickle'
                   AND pg_catalog.pg_has_role(current_user, n.nspowner, 'USAGE')) THEN
    RAISE EXCEPTION 'only the owner of the schema pgtrickle (or a superuser) may uninstall pgtrickle' USING ERRCODE = '42501',
      HINT = 'Connect as the role that installed pgtrickle.';
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock(8098715542962826092);
  FOR t IN SELECT s.schema_name, s.table_name FROM pgtrickle.pgt_stream_tables s
             WHERE pg_catalog.to_regclass(pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name)) IS NOT NULL
             ORDER BY s.pgt_id DESC LOOP
    IF drop_tables THEN
      EXECUTE pg_catalog.format('DROP TABLE %I.%I', t.schema_name, t.table_name);
      dropped := dropped + 1;
    ELSE
      EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS pgtrickle_guard ON %I.%I', t.schema_name, t.table_name);
      -- The bookkeeping columns (__pgt_row_id, __pgt_count, ...) go: what is left is the query's columns.
      FOR col IN SELECT a.attname FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = pg_catalog.to_regclass(pg_catalog.quote_ident(t.schema_name) || '.' || pg_catalog.quote_ident(t.table_name))
                  AND a.attnum > 0 AND NOT a.attisdropped AND a.attname LIKE '\_\_pgt\_%' LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I DROP COLUMN %I', t.schema_name, t.table_name, col.attname);
      END LOOP;
      kept := kept + 1;
    END IF;
  END LOOP;
  -- Every capture trigger (its function lives in pgtrickle_changes), recorded or orphaned.
  FOR t IN SELECT tg.tgname, c.oid::regclass::text AS rel FROM pg_catalog.pg_trigger tg
             JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
             JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
            WHERE pn.nspname = 'pgtrickle_changes' AND NOT tg.tgisinternal LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
  END LOOP;
  DROP SCHEMA IF EXISTS pgtrickle_changes CASCADE;
  DROP SCHEMA pgtrickle CASCADE;
  RETURN pg_catalog.format('pgtrickle uninstalled: %s storage table(s) kept as plain tables, %s dropped', kept, dropped);
END
$fn$
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.uninstall(boolean) FROM PUBLIC
