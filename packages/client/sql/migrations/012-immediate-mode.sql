-- pgtrickle catalog migration 12: IMMEDIATE mode
-- name: immediate mode
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- IMMEDIATE stream tables are maintained inside their writers' transactions by compiled
-- statement triggers owned by the stream table's owner (docs/immediate.md). This migration adds
-- their state (one row per table, whose update serialises writers and makes a REPEATABLE READ
-- writer that lost the race fail with 40001), the shapes their bodies were compiled against, the
-- DDL event trigger that makes bodies fail loudly once a source's shape changes, and the storage
-- guard's exception for the maintaining trigger of that very table, run as its owner.

CREATE TABLE pgtrickle.pgt_immediate (
  pgt_id bigint PRIMARY KEY REFERENCES pgtrickle.pgt_stream_tables (pgt_id) ON DELETE CASCADE,
  storage_oid oid NOT NULL,
  stale text,
  last_xid pg_catalog.xid8,
  maintained_at timestamptz
)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_immediate_sources (
  pgt_id bigint NOT NULL REFERENCES pgtrickle.pgt_immediate (pgt_id) ON DELETE CASCADE,
  source_oid oid NOT NULL,
  source_name text NOT NULL,
  shape text NOT NULL,
  PRIMARY KEY (pgt_id, source_oid)
)
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle_changes.immediate_shape(p_rel oid, p_pgt bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- Columns by name (a body names them; their order and pgtrickle's hidden bookkeeping columns
  -- of a stream-table source, other than its row id, do not matter to it).
  SELECT n.nspname || '.' || c.relname || '|' || c.relkind::text || '|' ||
         COALESCE((SELECT pg_catalog.string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) || ' ' ||
                                                a.attnotnull::text || ' ' || a.attgenerated::text || ' ' || a.attcollation::text, ',' ORDER BY a.attname)
                     FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                      AND (a.attname NOT LIKE '\_\_pgt\_%' OR a.attname = '__pgt_row_id')), '') || '|' ||
         COALESCE((SELECT pg_catalog.string_agg(a.attname, ',' ORDER BY k.ord)
                     FROM pg_catalog.pg_index AS i
                     CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                     JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    WHERE i.indrelid = c.oid AND i.indisprimary), '') || '|' ||
         COALESCE((SELECT pg_catalog.string_agg(i.inhrelid::text, ',' ORDER BY i.inhrelid)
                     FROM pg_catalog.pg_inherits AS i WHERE i.inhparent = c.oid), '') || '|' ||
         COALESCE((SELECT pg_catalog.string_agg(t.tgname || '=' || t.tgenabled::text, ',' ORDER BY t.tgname)
                     FROM pg_catalog.pg_trigger AS t WHERE t.tgrelid = c.oid AND t.tgname LIKE 'pgtrickle\_ivm\_' || p_pgt || '\_%'), '')
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
   WHERE c.oid = p_rel
$fn$
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle_changes.immediate_shape(oid, bigint) TO PUBLIC
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle_changes.immediate_lock(p_pgt bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_name text;
BEGIN
  IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
    UPDATE pgtrickle.pgt_immediate SET last_xid = pg_catalog.pg_current_xact_id(), maintained_at = pg_catalog.now()
     WHERE pgt_id = p_pgt;
    RETURN;
  END IF;
  BEGIN
    UPDATE pgtrickle.pgt_immediate SET last_xid = pg_catalog.pg_current_xact_id(), maintained_at = pg_catalog.now()
     WHERE pgt_id = p_pgt;
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
GRANT EXECUTE ON FUNCTION pgtrickle_changes.immediate_lock(bigint) TO PUBLIC
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle_changes.storage_write_allowed(p_rel oid, p_role oid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT EXISTS (SELECT 1 FROM pgtrickle.pgt_refreshing AS w
                   JOIN pgtrickle.pgt_stream_tables AS s ON s.pgt_id = w.pgt_id
                  WHERE w.xid = pg_catalog.pg_current_xact_id_if_assigned() AND s.storage_oid = p_rel)
      OR (COALESCE(pg_catalog.current_setting('pgtrickle.immediate_storage', true) = p_rel::text, false)
          AND EXISTS (SELECT 1 FROM pgtrickle.pgt_immediate AS i
                        JOIN pgtrickle.pgt_stream_tables AS s ON s.pgt_id = i.pgt_id
                        JOIN pg_catalog.pg_class AS c ON c.oid = i.storage_oid
                       WHERE i.storage_oid = p_rel AND s.effective_mode = 'IMMEDIATE' AND c.relowner = p_role))
$fn$
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle_changes.storage_write_allowed(oid, oid) TO PUBLIC
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.guard_storage() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $guard$
BEGIN
  -- Invoker's rights: current_user is the role writing, which the IMMEDIATE exception checks.
  IF NOT COALESCE(pgtrickle_changes.storage_write_allowed(TG_RELID, (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user)), false) THEN
    RAISE EXCEPTION 'stream table %.% is maintained by pgtrickle and cannot be written directly', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = '42501', HINT = 'Change its sources instead, or change its query with pgtrickle.alter_stream_table().';
  END IF;
  RETURN NULL;
END
$guard$
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.immediate_stale(p_pgt bigint, p_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_name text;
  v_fn record;
BEGIN
  SELECT pg_catalog.format('%I.%I', s.schema_name, s.table_name) INTO v_name
    FROM pgtrickle.pgt_stream_tables AS s WHERE s.pgt_id = p_pgt;
  UPDATE pgtrickle.pgt_immediate SET stale = p_reason WHERE pgt_id = p_pgt;
  UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = true WHERE pgt_id = p_pgt;
  FOR v_fn IN SELECT p.oid::regprocedure AS sig FROM pg_catalog.pg_proc AS p
               WHERE p.pronamespace = 'pgtrickle_changes'::regnamespace AND p.proname LIKE 'ivm\_' || p_pgt || '\_%' LOOP
    EXECUTE pg_catalog.format(
      'CREATE OR REPLACE FUNCTION %s RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS %L',
      v_fn.sig,
      pg_catalog.format(
        'BEGIN RAISE EXCEPTION %L USING ERRCODE = %L, HINT = %L; END',
        pg_catalog.format('IMMEDIATE stream table %s cannot be maintained: %s, so its compiled maintenance is stale', v_name, p_reason),
        '55000',
        pg_catalog.format('Run pgtrickle.refresh_stream_table(%L) (pgtrickle refresh %s) to recompile it; if a source was dropped, drop the stream table with pgtrickle.drop_stream_table(%L).', v_name, v_name, v_name)));
  END LOOP;
END
$fn$
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.immediate_stale(bigint, text) FROM PUBLIC
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.on_immediate_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
BEGIN
  -- pgtrickle being uninstalled (its schemas dropped in this very command): nothing to watch.
  IF pg_catalog.to_regprocedure('pgtrickle_changes.immediate_shape(oid, bigint)') IS NULL
     OR pg_catalog.to_regclass('pgtrickle.pgt_immediate_sources') IS NULL THEN
    RETURN;
  END IF;
  FOR r IN SELECT s.pgt_id, s.source_name, s.shape, pgtrickle_changes.immediate_shape(s.source_oid, s.pgt_id) AS now
             FROM pgtrickle.pgt_immediate_sources AS s JOIN pgtrickle.pgt_immediate AS i ON i.pgt_id = s.pgt_id
            WHERE i.stale IS NULL LOOP
    IF r.now IS NULL THEN
      PERFORM pgtrickle.immediate_stale(r.pgt_id, pg_catalog.format('its source %s was dropped', r.source_name));
    ELSIF r.now <> r.shape THEN
      PERFORM pgtrickle.immediate_stale(r.pgt_id, pg_catalog.format('its source %s changed (%s)', r.source_name, TG_TAG));
    END IF;
  END LOOP;
END
$fn$
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.on_immediate_ddl() FROM PUBLIC
--> statement-breakpoint
DO $do$
BEGIN
  BEGIN
    CREATE EVENT TRIGGER pgtrickle_immediate_ddl ON ddl_command_end
      WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'ALTER SCHEMA', 'ALTER TYPE', 'ALTER DOMAIN', 'CREATE INDEX', 'DROP INDEX', 'ALTER INDEX')
      EXECUTE FUNCTION pgtrickle.on_immediate_ddl();
    ALTER EVENT TRIGGER pgtrickle_immediate_ddl ENABLE ALWAYS;
    CREATE EVENT TRIGGER pgtrickle_immediate_drop ON sql_drop
      EXECUTE FUNCTION pgtrickle.on_immediate_ddl();
    ALTER EVENT TRIGGER pgtrickle_immediate_drop ENABLE ALWAYS;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pgtrickle: this role may not create event triggers; IMMEDIATE mode is not available';
  END;
END
$do$
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.immediate_drop(p_pgt bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT t.tgname, t.tgrelid::regclass AS rel FROM pg_catalog.pg_trigger AS t
            WHERE t.tgname LIKE 'pgtrickle\_ivm\_' || p_pgt || '\_%' AND NOT t.tgisinternal LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', r.tgname, r.rel);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_catalog.pg_proc AS p
            WHERE p.pronamespace = 'pgtrickle_changes'::regnamespace AND p.proname LIKE 'ivm\_' || p_pgt || '\_%' LOOP
    EXECUTE pg_catalog.format('DROP FUNCTION %s', r.sig);
  END LOOP;
  DELETE FROM pgtrickle.pgt_immediate WHERE pgt_id = p_pgt;
END
$fn$
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.immediate_drop(bigint) FROM PUBLIC
--> statement-breakpoint
-- The stats view, as catalog version 6 defined it, but an IMMEDIATE table has no period and is
-- always fresh (its data are as of now): health() never reports it stale.
CREATE OR REPLACE VIEW pgtrickle.pgt_stream_table_stats AS
WITH RECURSIVE own AS (
  -- an IMMEDIATE table has no period: its writers keep it fresh, it is never stale
  SELECT s.pgt_id, CASE WHEN s.effective_mode = 'IMMEDIATE' THEN NULL ELSE pgtrickle.schedule_period(s.schedule) END AS period,
         (s.effective_mode <> 'IMMEDIATE' AND (s.schedule IS NULL OR lower(btrim(s.schedule)) IN ('', 'calculated'))) AS calculated
    FROM pgtrickle.pgt_stream_tables s
), consumers AS (
  SELECT DISTINCT d.source_pgt_id AS up, d.pgt_id AS down
    FROM pgtrickle.pgt_dependencies d WHERE d.source_kind = 'streamTable'
), walk (root, node) AS (
  -- from each CALCULATED table down through CALCULATED consumers (the schedule it inherits)
  SELECT o.pgt_id, o.pgt_id FROM own o WHERE o.calculated
  UNION
  SELECT w.root, c.down FROM walk w JOIN own o ON o.pgt_id = w.node AND o.calculated JOIN consumers c ON c.up = w.node
), calculated AS (
  -- a CALCULATED table refreshes as often as its most frequent consumer; one without a consumer
  -- that has a period (none, or only cron consumers) every second
  SELECT w.root AS pgt_id,
         min(CASE WHEN NOT o.calculated THEN o.period
                  WHEN NOT EXISTS (SELECT 1 FROM consumers c JOIN own oc ON oc.pgt_id = c.down
                                    WHERE c.up = w.node AND (oc.calculated OR oc.period IS NOT NULL))
                  THEN interval '1 second' END) AS period
    FROM walk w JOIN own o ON o.pgt_id = w.node
   GROUP BY w.root
), history AS (
  SELECT h.pgt_id,
         count(*) AS refreshes,
         count(*) FILTER (WHERE h.status = 'FAILED') AS failed,
         count(*) FILTER (WHERE h.status = 'COMPLETED' AND h.action = 'NO_DATA') AS no_data,
         avg(h.finished_at - h.started_at) FILTER (WHERE h.status = 'COMPLETED') AS avg_duration,
         max(h.finished_at - h.started_at) FILTER (WHERE h.status = 'COMPLETED') AS max_duration,
         COALESCE(sum(h.rows_inserted) FILTER (WHERE h.status = 'COMPLETED'), 0)::bigint AS rows_inserted,
         COALESCE(sum(h.rows_deleted) FILTER (WHERE h.status = 'COMPLETED'), 0)::bigint AS rows_deleted,
         max(h.finished_at) FILTER (WHERE h.status = 'FAILED') AS last_failed_at
    FROM pgtrickle.pgt_refresh_history h GROUP BY h.pgt_id
), buffers AS (
  -- rows waiting in the change buffers of its sources (the statistics collector's live-row estimate)
  SELECT d.pgt_id, sum(greatest(pg_catalog.pg_stat_get_live_tuples(c.oid), 0))::bigint AS n
    FROM pgtrickle.pgt_dependencies d
    JOIN pg_catalog.pg_namespace ns ON ns.nspname = 'pgtrickle_changes'
    JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid
     AND c.relname = CASE d.source_kind WHEN 'table' THEN 'changes_' || d.source_oid ELSE 'changes_st_' || d.source_pgt_id END
   GROUP BY d.pgt_id
), base AS (
  SELECT s.*, f.checked_at,
         COALESCE(o.period, c.period) AS period,
         CASE WHEN s.effective_mode = 'IMMEDIATE' THEN clock_timestamp() ELSE greatest(s.last_refresh_at, f.checked_at) END AS fresh_at
    FROM pgtrickle.pgt_stream_tables s
    JOIN own o USING (pgt_id)
    LEFT JOIN calculated c USING (pgt_id)
    LEFT JOIN pgtrickle.pgt_freshness f USING (pgt_id)
   WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
)
SELECT b.pgt_id, b.schema_name, b.table_name, pg_catalog.quote_ident(b.schema_name) || '.' || pg_catalog.quote_ident(b.table_name) AS name,
       pg_catalog.pg_get_userbyid(b.owner_oid) AS owner, b.status, b.effective_mode, COALESCE(b.schedule, 'calculated') AS schedule,
       b.period AS schedule_period, b.last_refresh_at, b.checked_at AS last_checked_at, b.fresh_at,
       clock_timestamp() - b.fresh_at AS staleness,
       CASE WHEN b.period IS NULL THEN NULL
            ELSE clock_timestamp() - COALESCE(b.fresh_at, b.created_at) > b.period + pgtrickle.staleness_grace(b.period) END AS stale,
       CASE WHEN b.effective_mode = 'IMMEDIATE' THEN clock_timestamp() ELSE b.data_timestamp END AS data_timestamp,
       CASE WHEN b.effective_mode = 'IMMEDIATE' THEN interval '0' ELSE clock_timestamp() - b.data_timestamp END AS data_age,
       COALESCE(h.refreshes, 0) AS refreshes, COALESCE(h.failed, 0) AS failed_refreshes, COALESCE(h.no_data, 0) AS no_data_refreshes,
       h.avg_duration, h.max_duration, COALESCE(h.rows_inserted, 0) AS rows_inserted, COALESCE(h.rows_deleted, 0) AS rows_deleted,
       COALESCE(bu.n, 0) AS change_buffer_rows, b.consecutive_errors, b.last_error, b.last_error_at
  FROM base b LEFT JOIN history h USING (pgt_id) LEFT JOIN buffers bu USING (pgt_id)
