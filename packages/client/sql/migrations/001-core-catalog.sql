-- pgtrickle catalog migration 1: core catalog
-- name: core catalog
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").

CREATE TABLE pgtrickle.pgt_stream_tables (
  pgt_id bigserial PRIMARY KEY,
  schema_name text NOT NULL,
  table_name text NOT NULL,
  storage_oid oid,
  defining_query text NOT NULL,
  requested_mode text NOT NULL CHECK (requested_mode IN ('AUTO', 'FULL', 'DIFFERENTIAL', 'IMMEDIATE')),
  effective_mode text NOT NULL CHECK (effective_mode IN ('FULL', 'DIFFERENTIAL', 'IMMEDIATE')),
  mode_reason text,
  schedule text,
  status text NOT NULL DEFAULT 'INITIALIZING'
    CHECK (status IN ('PENDING', 'INITIALIZING', 'ACTIVE', 'SUSPENDED', 'ERROR')),
  unique_row_ids boolean NOT NULL DEFAULT false,
  frontier_snapshot pg_snapshot,
  frontier_epochs jsonb NOT NULL DEFAULT '{}',
  epoch bigint NOT NULL DEFAULT 0,
  auto_threshold double precision CHECK (auto_threshold IS NULL OR (auto_threshold > 0 AND auto_threshold <= 1)),
  needs_reinit boolean NOT NULL DEFAULT false,
  consecutive_errors integer NOT NULL DEFAULT 0,
  last_error text,
  last_error_at timestamptz,
  last_refresh_at timestamptz,
  data_timestamp timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (schema_name, table_name)
)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_dependencies (
  pgt_id bigint NOT NULL REFERENCES pgtrickle.pgt_stream_tables (pgt_id) ON DELETE CASCADE,
  source_oid oid NOT NULL,
  source_schema text NOT NULL,
  source_name text NOT NULL,
  source_kind text NOT NULL CHECK (source_kind IN ('table', 'streamTable')),
  source_pgt_id bigint REFERENCES pgtrickle.pgt_stream_tables (pgt_id),
  fingerprint text NOT NULL,
  PRIMARY KEY (pgt_id, source_oid)
)
--> statement-breakpoint
CREATE INDEX pgt_dependencies_source_idx ON pgtrickle.pgt_dependencies (source_oid)
--> statement-breakpoint
CREATE INDEX pgt_dependencies_source_pgt_idx ON pgtrickle.pgt_dependencies (source_pgt_id)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_change_tracking (
  source_oid oid PRIMARY KEY,
  source_schema text NOT NULL,
  source_name text NOT NULL,
  columns text[] NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT now()
)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.guard_storage() RETURNS trigger LANGUAGE plpgsql AS $guard$
BEGIN
  IF COALESCE(current_setting('pgtrickle.internal', true), '') <> 'on' THEN
    RAISE EXCEPTION 'stream table %.% is maintained by pgtrickle and cannot be written directly', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = '42501', HINT = 'Change its sources instead, or alter the stream table.';
  END IF;
  RETURN NULL;
END
$guard$
