-- pgtrickle catalog migration 18: public views
-- name: public views
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- A stream table's public name becomes a view of its visible columns (docs/dvm-design.md §5):
-- the storage table, with the hidden __pgt_ columns, moves to a generated name in the same
-- schema. public_oid records the view (NULL: the stream table still has the earlier layout, its
-- storage table under the public name). A migration cannot act as every owner, so an existing
-- stream table is converted in its owner's sandbox by its next refresh (storage renamed, view
-- created, grants and comment moved to the view), and is rebuilt by a FULL refresh then.

ALTER TABLE pgtrickle.pgt_stream_tables ADD COLUMN public_oid oid
--> statement-breakpoint
UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = true
--> statement-breakpoint
CREATE FUNCTION pgtrickle.storage_of(rel regclass) RETURNS regclass
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  -- The storage table of the stream table whose public name is `rel` (the storage itself too);
  -- NULL when `rel` is no stream table. Indexes for readers go on it.
  SELECT s.storage_oid::regclass FROM pgtrickle.pgt_stream_tables AS s
   WHERE s.public_oid = rel OR s.storage_oid = rel
$fn$
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.storage_of(regclass) TO pgtrickle_user
