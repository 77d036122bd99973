-- pgtrickle catalog migration 18: public views
-- name: public views
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- A stream table's public name becomes a view of its visible columns (docs/dvm-design.md §5):
-- the storage table, with the hidden __pgt_ columns, moves to a generated name in the same
-- schema. public_oid records the view (NULL: the stream table still has the earlier layout, its
-- storage table under the public name). A migration cannot act as every owner, so an existing
-- stream table is converted in its owner's sandbox by its next refresh (storage renamed, view
-- created, grants and comments copied to the view). uninstall() drops views and storage tables
-- by oid, or keeps each view over its storage table made plain.

ALTER TABLE pgtrickle.pgt_stream_tables ADD COLUMN public_oid oid
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
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.uninstall(drop_tables boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
  t record;
  col record;
  kept int := 0;
  dropped int := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgtrickle'
                   AND pg_catalog.pg_has_role(current_user, n.nspowner, 'USAGE')) THEN
    RAISE EXCEPTION 'only the owner of the schema pgtrickle (or a superuser) may uninstall pgtrickle' USING ERRCODE = '42501',
      HINT = 'Connect as the role that installed pgtrickle.';
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock(8098715542962826092);
  -- Each stream table by oid: its view (the public name; none for the layout before version 18)
  -- and its storage table.
  FOR t IN SELECT s.storage_oid::regclass::text AS storage,
                  (SELECT v.oid::regclass::text FROM pg_catalog.pg_class v WHERE v.oid = s.public_oid AND v.relkind = 'v') AS view
             FROM pgtrickle.pgt_stream_tables s
            WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = s.storage_oid AND c.relkind IN ('r', 'p'))
            ORDER BY s.pgt_id DESC LOOP
    IF drop_tables THEN
      IF t.view IS NOT NULL THEN
        EXECUTE pg_catalog.format('DROP VIEW %s', t.view);
      END IF;
      EXECUTE pg_catalog.format('DROP TABLE %s', t.storage);
      dropped := dropped + 1;
    ELSE
      -- The view stays; the storage stays as a plain table of the query's columns (the
      -- bookkeeping columns __pgt_row_id, __pgt_count, ... go, and its guard).
      EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS pgtrickle_guard ON %s', t.storage);
      FOR col IN SELECT a.attname FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = t.storage::regclass
                  AND a.attnum > 0 AND NOT a.attisdropped AND a.attname LIKE '\_\_pgt\_%' LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', t.storage, col.attname);
      END LOOP;
      kept := kept + 1;
    END IF;
  END LOOP;
  -- Every capture trigger (its function lives in pgtrickle_changes), recorded or orphaned.
  FOR t IN SELECT tg.tgname, c.oid::regclass::text AS rel FROM pg_catalog.pg_trigger tg
             JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
             JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
            WHERE pn.nspname = 'pgtrickle_changes' AND NOT tg.tgisinternal LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
  END LOOP;
  DROP SCHEMA IF EXISTS pgtrickle_changes CASCADE;
  DROP SCHEMA pgtrickle CASCADE;
  RETURN pg_catalog.format('pgtrickle uninstalled: %s storage table(s) kept as plain tables, %s dropped', kept, dropped);
END
$fn$
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.uninstall(boolean) FROM PUBLIC
