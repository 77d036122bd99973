-- pgtrickle catalog migration 21: capture skips empty statements
-- name: capture skips empty statements
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- A statement that touched no row takes capture no change id, no transaction id and no wake-up
-- (docs/capture.md, "The triggers"): a capture function takes its change id and the transaction id in uncorrelated subqueries of its
-- INSERT … SELECT, evaluated at the first row written, and wakes the scheduler only when it wrote
-- a row. Before, a statement touching no row took a change id, assigned its transaction an id
-- (so a read-only transaction wrote a commit record) and sent a wake-up. Buffers, their rows and
-- their order are unchanged, and no stream table recomputes: capture_sync (installed before the
-- migrations run) rewrites the capture functions of every captured table here, in the upgrade's
-- transaction.
DO $$
DECLARE
  src oid;
BEGIN
  FOR src IN
    SELECT s.source_oid FROM pgtrickle_changes.capture_state AS s
      JOIN pg_catalog.pg_class AS c ON c.oid = s.source_oid AND c.relkind IN ('r', 'p')
     ORDER BY s.source_oid
  LOOP
    PERFORM pgtrickle_changes.capture_sync(src, NULL);
  END LOOP;
END
$$
