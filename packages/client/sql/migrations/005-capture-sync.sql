-- pgtrickle catalog migration 5: capture by capture_sync, views as dependencies
-- name: capture by capture_sync, views as dependencies
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- Change capture is built by pgtrickle_changes.capture_sync (typed or text buffers, partitions and
-- inheritance children, triggers ENABLE ALWAYS), installed with the catalog. Capture installed by an
-- older version is rebuilt right after this migration, in the same transaction; its pending changes
-- (in the old layout) are not read, so every stream table recomputes once.
UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = true
--> statement-breakpoint
-- A view a stream table reads is a dependency too (no capture: its fingerprint holds its
-- definition, so CREATE OR REPLACE VIEW makes its readers rebuild).
ALTER TABLE pgtrickle.pgt_dependencies DROP CONSTRAINT pgt_dependencies_source_kind_check
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_dependencies ADD CONSTRAINT pgt_dependencies_source_kind_check
  CHECK (source_kind IN ('table', 'streamTable', 'view'))
