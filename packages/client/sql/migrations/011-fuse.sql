-- pgtrickle catalog migration 11: fuse
-- name: fuse
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- The fuse (docs/refresh-control.md, "Fuse"): the count it checks is a table's UNREAD change rows (its
-- window: its frontier → now, per direct source, summed), read for every fused table in one call
-- per tick (pgtrickle.unread_changes); its baseline is the change counts of the table's last
-- applied scheduler refreshes (pgtrickle.fuse_samples). A blown fuse is reset by its owner with
-- pgtrickle.reset_fuse(name, action) in the caller's transaction: 'apply' exempts exactly the held
-- batch (the changes visible in the snapshot taken at the reset) from the next checks,
-- 'reinitialize' does too and asks for a FULL refresh, 'skip_changes' moves only this table's
-- frontier past what is pending. A manual refresh of a blown table is refused. pgtrickle.fuse_status() shows every fuse.

ALTER TABLE pgtrickle.pgt_stream_tables
  ADD COLUMN fuse_accept_snapshot pg_snapshot,
  ADD COLUMN fuse_accept_epochs jsonb,
  ADD COLUMN fuse_accept_after bigint,
  ADD COLUMN fuse_reminded_at timestamptz
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_service_settings (
  id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  fuse_default_ceiling bigint NOT NULL DEFAULT 0 CHECK (fuse_default_ceiling >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
)
--> statement-breakpoint
INSERT INTO pgtrickle.pgt_service_settings (id) VALUES (1)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.unread_change_sources(ids bigint[], upto pg_snapshot)
RETURNS TABLE (pgt_id bigint, pending bigint, checked bigint, truncated boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  d record;
BEGIN
  -- Per stream table (all when ids is NULL) and direct source: the change rows in its window (not
  -- visible in its frontier; a TRUNCATE marker is not a row), and of those the ones the fuse checks
  -- (not accepted by a reset 'apply'), and whether a checked TRUNCATE is among them. Never-populated
  -- tables have no window (their first refresh is FULL): no row. `upto` (NULL: now) bounds the
  -- window of base-table sources to the changes visible in that snapshot (a tick's bound).
  FOR d IN
    SELECT dep.pgt_id, dep.source_kind, dep.source_oid, dep.source_pgt_id, st.frontier_snapshot AS snap,
           st.frontier_epochs AS epochs, st.fuse_accept_snapshot AS acc, st.fuse_accept_epochs AS acc_epochs
      FROM pgtrickle.pgt_dependencies dep JOIN pgtrickle.pgt_stream_tables st ON st.pgt_id = dep.pgt_id
     WHERE (ids IS NULL OR dep.pgt_id = ANY (ids)) AND st.frontier_snapshot IS NOT NULL
     ORDER BY dep.pgt_id
  LOOP
    pgt_id := d.pgt_id;
    IF d.source_kind = 'table' THEN
      IF pg_catalog.to_regclass('pgtrickle_changes.changes_' || d.source_oid) IS NULL THEN
        CONTINUE;
      END IF;
      EXECUTE pg_catalog.format(
        'SELECT pg_catalog.count(*) FILTER (WHERE b.action <> ''T''),
                pg_catalog.count(*) FILTER (WHERE b.action <> ''T'' AND ($2::pg_snapshot IS NULL OR NOT pg_catalog.pg_visible_in_snapshot(b.xid, $2))),
                COALESCE(pg_catalog.bool_or(b.action = ''T'' AND ($2::pg_snapshot IS NULL OR NOT pg_catalog.pg_visible_in_snapshot(b.xid, $2))), false)
           FROM pgtrickle_changes.%I b
          WHERE b.xid >= pg_catalog.pg_snapshot_xmin($1) AND NOT pg_catalog.pg_visible_in_snapshot(b.xid, $1)
            AND ($3::pg_snapshot IS NULL OR pg_catalog.pg_visible_in_snapshot(b.xid, $3))',
        'changes_' || d.source_oid)
        INTO pending, checked, truncated USING d.snap, d.acc, upto;
    ELSE
      IF pg_catalog.to_regclass('pgtrickle_changes.changes_st_' || d.source_pgt_id) IS NULL THEN
        CONTINUE;
      END IF;
      EXECUTE pg_catalog.format(
        'SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE b.epoch > $2), false
           FROM pgtrickle_changes.%I b WHERE b.epoch > $1',
        'changes_st_' || d.source_pgt_id)
        INTO pending, checked, truncated
        USING COALESCE((d.epochs ->> d.source_pgt_id::text)::bigint, 0),
              COALESCE((d.acc_epochs ->> d.source_pgt_id::text)::bigint, 0);
    END IF;
    RETURN NEXT;
  END LOOP;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.unread_changes(ids bigint[] DEFAULT NULL, upto pg_snapshot DEFAULT NULL)
RETURNS TABLE (pgt_id bigint, pending bigint, checked bigint, truncated boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- Per stream table: its unread change rows summed over its direct sources (pending), the part
  -- its fuse checks (checked: not accepted by a reset), and whether a TRUNCATE is checked. Only
  -- this table's window counts: rows other readers of a shared buffer have not read yet do not.
  -- `upto`: count base-table changes up to that snapshot only (NULL: up to now).
  SELECT u.pgt_id, sum(u.pending)::bigint, sum(u.checked)::bigint, bool_or(u.truncated)
    FROM pgtrickle.unread_change_sources(ids, upto) u
   GROUP BY u.pgt_id
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.fuse_samples(ids bigint[] DEFAULT NULL)
RETURNS TABLE (pgt_id bigint, samples bigint[])
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- The fuse's samples per stream table, newest first: the change counts of its last applied
  -- refreshes — completed FULL or DIFFERENTIAL scheduler refreshes that read a window
  -- (pending_changes > 0) — leaving out the refresh that applied a batch accepted by a reset
  -- (the first such refresh after it), so a tripping count never enters them. As many as the
  -- baseline (the first fuse_window, default 20) and the over-ceiling streak (fuse_sensitivity − 1)
  -- need.
  WITH applied AS (
    SELECT h.pgt_id, h.refresh_id, h.pending_changes
      FROM pgtrickle.pgt_refresh_history h
     WHERE (ids IS NULL OR h.pgt_id = ANY (ids)) AND h.status = 'COMPLETED' AND h.action IN ('FULL', 'DIFFERENTIAL')
       AND h.initiated_by = 'SCHEDULER' AND h.pending_changes > 0
  ), accepted AS (
    SELECT s.pgt_id, (SELECT min(a.refresh_id) FROM applied a WHERE a.pgt_id = s.pgt_id AND a.refresh_id > s.fuse_accept_after) AS refresh_id
      FROM pgtrickle.pgt_stream_tables s
     WHERE s.fuse_accept_after IS NOT NULL AND (ids IS NULL OR s.pgt_id = ANY (ids))
  ), ranked AS (
    SELECT a.*, pg_catalog.row_number() OVER (PARTITION BY a.pgt_id ORDER BY a.refresh_id DESC) AS rn
      FROM applied a
     WHERE NOT EXISTS (SELECT 1 FROM accepted x WHERE x.pgt_id = a.pgt_id AND x.refresh_id = a.refresh_id)
  )
  SELECT r.pgt_id, pg_catalog.array_agg(r.pending_changes ORDER BY r.refresh_id DESC)
    FROM ranked r JOIN pgtrickle.pgt_stream_tables s ON s.pgt_id = r.pgt_id
   WHERE r.rn <= GREATEST(COALESCE(s.fuse_window, 20), COALESCE(s.fuse_sensitivity, 1) - 1)
   GROUP BY r.pgt_id
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.fuse_status_of(actor oid)
RETURNS TABLE (stream_table text, fuse_mode text, fuse_state text, fuse_ceiling bigint, effective_ceiling bigint,
               fuse_sensitivity integer, fuse_sigma float8, fuse_window integer, blown_at timestamptz, blow_reason text,
               pending bigint, baseline_mean float8, baseline_stddev float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- Runs with the catalog owner's rights (the change buffers are not readable by users) for the
  -- stream tables `actor` acts as the owner of; `actor` must be a role the session may act as.
  IF actor IS NULL OR NOT pg_catalog.pg_has_role(session_user, actor, 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied: the session cannot act as role %', actor USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
  WITH own AS (
    SELECT s.* FROM pgtrickle.pgt_stream_tables s WHERE pgtrickle.acts_as(actor, s.owner_oid)
  ), counts AS (
    SELECT u.pgt_id, u.pending FROM pgtrickle.unread_changes((SELECT pg_catalog.array_agg(o.pgt_id) FROM own o), NULL) u
  ), base AS (
    SELECT f.pgt_id, b.mean, b.sd
      FROM pgtrickle.fuse_samples((SELECT pg_catalog.array_agg(o.pgt_id) FROM own o)) f
      JOIN own o ON o.pgt_id = f.pgt_id
      CROSS JOIN LATERAL (
        SELECT avg(x)::float8 AS mean, stddev_pop(x)::float8 AS sd
          FROM pg_catalog.unnest(f.samples) WITH ORDINALITY AS u(x, n)
         WHERE u.n <= COALESCE(o.fuse_window, 20)) b
  )
  SELECT pg_catalog.quote_ident(o.schema_name) || '.' || pg_catalog.quote_ident(o.table_name),
         o.fuse_mode, o.fuse_state, o.fuse_ceiling,
         COALESCE(o.fuse_ceiling, NULLIF((SELECT g.fuse_default_ceiling FROM pgtrickle.pgt_service_settings g WHERE g.id = 1), 0)),
         COALESCE(o.fuse_sensitivity, 1), COALESCE(o.fuse_sigma, 3.0::float8), COALESCE(o.fuse_window, 20),
         o.blown_at, o.blow_reason, COALESCE(c.pending, 0)::bigint, b.mean, b.sd
    FROM own o LEFT JOIN counts c ON c.pgt_id = o.pgt_id LEFT JOIN base b ON b.pgt_id = o.pgt_id
   ORDER BY 1;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.fuse_status()
RETURNS TABLE (stream_table text, fuse_mode text, fuse_state text, fuse_ceiling bigint, effective_ceiling bigint,
               fuse_sensitivity integer, fuse_sigma float8, fuse_window integer, blown_at timestamptz, blow_reason text,
               pending bigint, baseline_mean float8, baseline_stddev float8)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- Every stream table the caller owns (as pgt_status shows them), fuses that are off included.
  SELECT * FROM pgtrickle.fuse_status_of(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid)
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.command_reset_fuse(pgt_id bigint, args jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  st pgtrickle.pgt_stream_tables%ROWTYPE;
  action text := args ->> 'action';
  upstream jsonb;
BEGIN
  -- Re-arms a blown fuse (the caller has checked ownership), in the caller's transaction; the
  -- table's status is not touched (a fuse's state and a table's status are separate).
  SELECT * INTO st FROM pgtrickle.pgt_stream_tables AS t WHERE t.pgt_id = command_reset_fuse.pgt_id FOR UPDATE;
  IF action IS NULL OR action NOT IN ('apply', 'reinitialize', 'skip_changes') THEN
    RAISE EXCEPTION 'unknown fuse reset action %: expected ''apply'', ''reinitialize'' or ''skip_changes''',
      pg_catalog.quote_nullable(action) USING ERRCODE = '22023';
  END IF;
  IF st.fuse_state <> 'blown' THEN
    RAISE EXCEPTION 'fuse is not blown (current state: %) on stream table %.%', st.fuse_state, st.schema_name, st.table_name
      USING ERRCODE = '55000', HINT = 'pgtrickle.fuse_status() shows every fuse; only a blown fuse can be reset.';
  END IF;
  -- The current epoch of each upstream stream table this one reads (what "pending now" is for them).
  SELECT pg_catalog.jsonb_object_agg(d.source_pgt_id::text, u.epoch) INTO upstream
    FROM pgtrickle.pgt_dependencies d JOIN pgtrickle.pgt_stream_tables u ON u.pgt_id = d.source_pgt_id
   WHERE d.pgt_id = st.pgt_id AND d.source_kind = 'streamTable';
  UPDATE pgtrickle.pgt_stream_tables AS t SET
    fuse_state = 'armed', blown_at = NULL, blow_reason = NULL, fuse_reminded_at = NULL,
    -- apply and reinitialize: the changes visible now (the held batch) are accepted, applied by the
    -- next refresh (reinitialize: a FULL one) without being checked again; later ones are checked
    fuse_accept_snapshot = CASE WHEN action <> 'skip_changes' THEN pg_catalog.pg_current_snapshot() END,
    fuse_accept_epochs = CASE WHEN action <> 'skip_changes' THEN COALESCE(upstream, '{}'::jsonb) END,
    fuse_accept_after = CASE WHEN action <> 'skip_changes'
                             THEN COALESCE((SELECT max(h.refresh_id) FROM pgtrickle.pgt_refresh_history h), 0)
                             ELSE t.fuse_accept_after END,
    needs_reinit = t.needs_reinit OR action = 'reinitialize',
    -- skip_changes: only this table's frontier moves; the shared buffers keep their rows
    frontier_snapshot = CASE WHEN action = 'skip_changes' AND t.frontier_snapshot IS NOT NULL
                             THEN pg_catalog.pg_current_snapshot() ELSE t.frontier_snapshot END,
    frontier_epochs = CASE WHEN action = 'skip_changes' AND t.frontier_snapshot IS NOT NULL
                           THEN t.frontier_epochs || COALESCE(upstream, '{}'::jsonb) ELSE t.frontier_epochs END,
    updated_at = pg_catalog.clock_timestamp()
  WHERE t.pgt_id = st.pgt_id;
  PERFORM pg_catalog.pg_notify('pgtrickle_alert', pg_catalog.jsonb_build_object(
    'event', 'fuse_reset',
    'at', pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'stream_table', pg_catalog.quote_ident(st.schema_name) || '.' || pg_catalog.quote_ident(st.table_name),
    'action', action,
    'blown_at', st.blown_at,
    'blow_reason', st.blow_reason)::text);
  PERFORM pg_catalog.pg_notify('pgtrickle_wake', '');
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.reset_fuse(name text, action text DEFAULT 'apply') RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  n record;
  a text := lower(btrim(action));
BEGIN
  -- A state change in the caller's transaction (committed or rolled back with it), through the
  -- owner-checked command table.
  IF a IS NULL OR a NOT IN ('apply', 'reinitialize', 'skip_changes') THEN
    RAISE EXCEPTION 'unknown fuse reset action %: expected ''apply'', ''reinitialize'' or ''skip_changes''',
      pg_catalog.quote_nullable(action) USING ERRCODE = '22023';
  END IF;
  SELECT * INTO n FROM pgtrickle.resolve_name(name);
  INSERT INTO pgtrickle.pgt_commands (kind, schema_name, table_name, args)
  VALUES ('reset_fuse', n.schema_name, n.table_name, pg_catalog.jsonb_build_object('action', a));
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.refuse_blown_refresh() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  st record;
BEGIN
  -- A manual refresh of a table whose fuse is blown is refused in the requesting transaction
  -- (fires after pgt_requests_check, which has checked ownership).
  IF NEW.kind <> 'refresh' THEN
    RETURN NEW;
  END IF;
  SELECT s.schema_name, s.table_name, s.blown_at, s.blow_reason INTO st FROM pgtrickle.pgt_stream_tables s
   WHERE s.schema_name = NEW.schema_name AND s.table_name = NEW.table_name AND s.fuse_state = 'blown';
  IF FOUND THEN
    RAISE EXCEPTION 'the fuse of stream table %.% is blown (%): it is not refreshed until the fuse is reset', st.schema_name, st.table_name,
      COALESCE(st.blow_reason, 'no reason recorded') USING ERRCODE = '55000',
      HINT = 'Inspect the pending changes (pgtrickle.fuse_status()), then reset the fuse with pgtrickle.reset_fuse(name, action) or pgtrickle fuse reset NAME.';
  END IF;
  RETURN NEW;
END
$fn$
--> statement-breakpoint
CREATE TRIGGER pgt_requests_refuse_blown BEFORE INSERT ON pgtrickle.pgt_requests
  FOR EACH ROW EXECUTE FUNCTION pgtrickle.refuse_blown_refresh()
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.unread_change_sources(bigint[], pg_snapshot), pgtrickle.unread_changes(bigint[], pg_snapshot), pgtrickle.fuse_samples(bigint[]),
  pgtrickle.command_reset_fuse(bigint, jsonb), pgtrickle.refuse_blown_refresh() FROM PUBLIC
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.reset_fuse(text, text), pgtrickle.fuse_status(), pgtrickle.fuse_status_of(oid) TO pgtrickle_user
