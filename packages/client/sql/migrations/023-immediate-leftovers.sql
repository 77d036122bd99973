-- pgtrickle catalog migration 23: IMMEDIATE state without the old lock's columns
-- name: immediate lock columns dropped
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- IMMEDIATE tables are serialised by a transaction-level advisory lock and their last maintainer
-- is recorded in two sequences of the owner's (docs/immediate.md), so nothing writes or reads
-- pgt_immediate.last_xid and maintained_at any more: they are dropped. Bodies compiled by earlier
-- versions still call immediate_lock(pgt_id) until their table is refreshed (which recompiles
-- them); it keeps serialising them the way it always did — an update of the table's row in
-- pgt_immediate, which READ COMMITTED writers wait on and which fails a REPEATABLE READ or
-- SERIALIZABLE writer that a concurrent maintainer committed before with 40001 — now updating
-- a column that stays instead of the dropped ones.
CREATE OR REPLACE FUNCTION pgtrickle_changes.immediate_lock(p_pgt bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_name text;
BEGIN
  IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
    UPDATE pgtrickle.pgt_immediate SET stale = stale WHERE pgt_id = p_pgt;
    RETURN;
  END IF;
  BEGIN
    UPDATE pgtrickle.pgt_immediate SET stale = stale WHERE pgt_id = p_pgt;
  EXCEPTION WHEN serialization_failure THEN
    SELECT pg_catalog.format('%I.%I', s.schema_name, s.table_name) INTO v_name
      FROM pgtrickle.pgt_stream_tables AS s WHERE s.pgt_id = p_pgt;
    RAISE EXCEPTION 'could not serialize access: IMMEDIATE stream table % was maintained by a concurrent transaction that committed after this transaction''s snapshot', v_name
      USING ERRCODE = '40001',
            HINT = 'Retry the transaction; a ' || pg_catalog.current_setting('transaction_isolation') || ' writer of an IMMEDIATE stream table must retry when another writer maintained it first (READ COMMITTED writers wait instead).';
  END;
END
$fn$
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_immediate DROP COLUMN last_xid, DROP COLUMN maintained_at
