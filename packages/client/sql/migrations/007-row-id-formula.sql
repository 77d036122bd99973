-- pgtrickle catalog migration 7: row id formula 2
-- name: row id formula 2
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- Row ids (__pgt_row_id) are now computed with the types' own extended hash functions
-- (hash_record_extended) instead of a hash of the text form under pinned session settings
-- (docs/dvm-design.md §2). Ids stored under the old formula do not match the new one, so every
-- existing stream table is rebuilt by a FULL refresh at its next refresh.

UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = true
