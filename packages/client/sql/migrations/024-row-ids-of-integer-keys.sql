-- pgtrickle catalog migration 24: row ids of integer keys
-- name: row ids of integer keys
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- A scan of a source whose key is one integer column (a primary key of smallint, integer, bigint
-- or oid, or a stream table's own unique __pgt_row_id) now takes the key's value itself as the
-- row id instead of a hash of it (docs/dvm-design.md §2, "Integer keys"). Ids stored under the
-- previous formula no longer match, so every existing stream table is rebuilt by a FULL refresh
-- at its next refresh.

UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = true
