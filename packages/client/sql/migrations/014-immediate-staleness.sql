-- pgtrickle catalog migration 14: immediate staleness
-- name: immediate staleness
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- An ACTIVE IMMEDIATE stream table is maintained inside every writer's transaction: it equals its
-- query at every commit, so pgt_status shows its staleness as zero instead of the time since it
-- was created (its data_timestamp is not moved by the triggers, which would write the catalog row
-- on every statement).

CREATE OR REPLACE VIEW pgtrickle.pgt_status AS
SELECT s.schema_name, s.table_name, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       s.status, s.requested_mode AS refresh_mode, s.effective_mode, s.mode_reason, COALESCE(s.schedule, 'calculated') AS schedule,
       s.last_refresh_at, s.data_timestamp,
       CASE WHEN s.effective_mode = 'IMMEDIATE' AND s.status = 'ACTIVE' THEN interval '0'
            ELSE clock_timestamp() - s.data_timestamp END AS staleness,
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
