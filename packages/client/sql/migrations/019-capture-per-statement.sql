-- pgtrickle catalog migration 19: capture per statement
-- name: capture per statement
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- Capture writes less per row (docs/capture.md, "What a captured row holds"): a capture function
-- takes one change id from the buffer's sequence and the transaction id once per statement (per
-- half of an UPDATE) instead of a column default per row, and a base buffer has an (xid) index only
-- while a lagging consumer keeps it large (each row paid an index insert; cleanup creates the index
-- when a trim keeps many rows and drops it when few are left). Existing buffers keep their rows
-- and their column defaults: ids taken per statement come from the same sequence, after every id
-- already written, so the order of the pending changes is kept and no stream table recomputes.
-- The capture functions themselves are rewritten by capture_sync right after this migration, in
-- the same transaction.
DO $$
DECLARE
  idx regclass;
BEGIN
  FOR idx IN
    SELECT i.oid::regclass FROM pg_catalog.pg_class AS i
     WHERE i.relnamespace = 'pgtrickle_changes'::pg_catalog.regnamespace AND i.relkind = 'i'
       AND i.relname ~ '^changes_[0-9]+_window$'
  LOOP
    EXECUTE 'DROP INDEX ' || idx::text;
  END LOOP;
END
$$
