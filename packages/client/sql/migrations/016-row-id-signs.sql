-- pgtrickle catalog migration 16: row id signs
-- name: row id signs
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- A row id part of type numeric now also carries the value's sign (PostgreSQL's numeric hash
-- ignores it, so -1 and 1, and NaN and the infinities, hashed alike), numeric arrays keep each
-- element's sign, and the jsonb part keeps minus signs (docs/dvm-design.md §2). Ids stored under
-- the previous formula no longer match, so every existing stream table is rebuilt by a FULL
-- refresh at its next refresh.

UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = true
