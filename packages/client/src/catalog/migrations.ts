/**
 * The versioned migrations of pgtrickle's own catalog (schema `pgtrickle`). Rule: a migration,
 * once released, is never edited (its checksum is recorded and verified); changes come as new
 * migrations. Installing from scratch runs them all in order, so a fresh install and an upgraded
 * one are the same by construction (a test checks it object by object).
 */

/** One migration: a version, a name and its statements. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

/** Every migration, in version order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core catalog',
    statements: [
      `CREATE TABLE pgtrickle.pgt_stream_tables (
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
)`,
      `CREATE TABLE pgtrickle.pgt_dependencies (
  pgt_id bigint NOT NULL REFERENCES pgtrickle.pgt_stream_tables (pgt_id) ON DELETE CASCADE,
  source_oid oid NOT NULL,
  source_schema text NOT NULL,
  source_name text NOT NULL,
  source_kind text NOT NULL CHECK (source_kind IN ('table', 'streamTable')),
  source_pgt_id bigint REFERENCES pgtrickle.pgt_stream_tables (pgt_id),
  fingerprint text NOT NULL,
  PRIMARY KEY (pgt_id, source_oid)
)`,
      `CREATE INDEX pgt_dependencies_source_idx ON pgtrickle.pgt_dependencies (source_oid)`,
      `CREATE INDEX pgt_dependencies_source_pgt_idx ON pgtrickle.pgt_dependencies (source_pgt_id)`,
      `CREATE TABLE pgtrickle.pgt_change_tracking (
  source_oid oid PRIMARY KEY,
  source_schema text NOT NULL,
  source_name text NOT NULL,
  columns text[] NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT now()
)`,
      `CREATE FUNCTION pgtrickle.guard_storage() RETURNS trigger LANGUAGE plpgsql AS $guard$
BEGIN
  IF COALESCE(current_setting('pgtrickle.internal', true), '') <> 'on' THEN
    RAISE EXCEPTION 'stream table %.% is maintained by pgtrickle and cannot be written directly', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = '42501', HINT = 'Change its sources instead, or alter the stream table.';
  END IF;
  RETURN NULL;
END
$guard$`,
    ],
  },
  {
    version: 2,
    name: 'refresh history',
    statements: [
      `CREATE TABLE pgtrickle.pgt_refresh_history (
  refresh_id bigserial PRIMARY KEY,
  pgt_id bigint NOT NULL REFERENCES pgtrickle.pgt_stream_tables (pgt_id) ON DELETE CASCADE,
  action text NOT NULL CHECK (action IN ('FULL', 'DIFFERENTIAL', 'NO_DATA', 'REINITIALIZE')),
  status text NOT NULL CHECK (status IN ('COMPLETED', 'FAILED')),
  initiated_by text NOT NULL CHECK (initiated_by IN ('MANUAL', 'SCHEDULER', 'INITIAL', 'ALTER')),
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  rows_inserted bigint NOT NULL DEFAULT 0,
  rows_deleted bigint NOT NULL DEFAULT 0,
  pending_changes bigint,
  reason text,
  error text
)`,
      `CREATE INDEX pgt_refresh_history_pgt_idx ON pgtrickle.pgt_refresh_history (pgt_id, refresh_id DESC)`,
    ],
  },
];

/** The catalog version this client installs. */
export const CATALOG_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);
