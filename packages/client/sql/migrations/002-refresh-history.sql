-- pgtrickle catalog migration 2: refresh history
-- name: refresh history
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").

CREATE TABLE pgtrickle.pgt_refresh_history (
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
)
--> statement-breakpoint
CREATE INDEX pgt_refresh_history_pgt_idx ON pgtrickle.pgt_refresh_history (pgt_id, refresh_id DESC)
