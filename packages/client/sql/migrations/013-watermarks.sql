-- pgtrickle catalog migration 13: watermarks
-- name: watermarks
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- Watermark gating (docs/watermarks.md): an ETL job declares "source X is complete through time T"
-- with pgtrickle.advance_watermark(), in its own transaction; watermark groups name sources whose
-- watermarks must agree within a tolerance before the stream tables reading two or more of them
-- refresh. The public functions run as the caller and write one row into pgt_watermark_ops, whose
-- BEFORE INSERT trigger (security definer) checks the caller's rights and applies the operation
-- to the catalog, then keeps nothing: the calling role comes from a column default evaluated as the
-- caller, which it cannot write (the same pattern as pgt_requests and check_request()).

CREATE TABLE pgtrickle.pgt_watermarks (
  source_relid oid PRIMARY KEY,
  watermark timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  advanced_by text,
  wal_lsn_at_advance pg_catalog.pg_lsn,
  advanced_xid pg_catalog.xid8
)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_watermark_groups (
  group_id serial PRIMARY KEY,
  group_name text NOT NULL UNIQUE,
  source_relids oid[] NOT NULL,
  tolerance_secs float8 NOT NULL DEFAULT 0 CHECK (tolerance_secs >= 0 AND tolerance_secs < 'Infinity'::float8),
  owner_oid oid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_watermark_ops (
  op text NOT NULL,
  source_relid oid,
  watermark timestamptz,
  group_name text,
  source_relids oid[],
  tolerance_secs float8,
  caller oid DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid
)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.apply_watermark_op() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  caller_name text;
  admin oid;
  rel record;
  grp record;
  cur timestamptz;
  srcs oid[];
  src oid;
BEGIN
  IF NEW.caller IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE oid = NEW.caller) THEN
    RAISE EXCEPTION 'the calling role is unknown' USING ERRCODE = '42501';
  END IF;
  caller_name := pg_catalog.pg_get_userbyid(NEW.caller);
  -- The role that installed pgtrickle (owner of its schema) administers every group.
  SELECT n.nspowner INTO admin FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgtrickle';
  -- Sources dropped since: their watermark goes, and they leave their groups.
  DELETE FROM pgtrickle.pgt_watermarks w
   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = w.source_relid);
  UPDATE pgtrickle.pgt_watermark_groups g
     SET source_relids = ARRAY(SELECT s FROM pg_catalog.unnest(g.source_relids) WITH ORDINALITY AS u(s, ord)
                                WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = u.s) ORDER BY u.ord)
   WHERE EXISTS (SELECT 1 FROM pg_catalog.unnest(g.source_relids) AS u(s)
                  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = u.s));

  IF NEW.op = 'advance' THEN
    SELECT c.oid, c.relowner, n.nspname, c.relname INTO rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = NEW.source_relid AND c.relkind IN ('r', 'p', 'f');
    IF NOT FOUND THEN
      RAISE EXCEPTION 'relation with OID % is not a table', NEW.source_relid USING ERRCODE = '42P01',
        HINT = 'A watermark is declared for a table (or a partitioned or foreign table).';
    END IF;
    IF NOT (pg_catalog.has_table_privilege(NEW.caller, NEW.source_relid, 'INSERT')
            OR pg_catalog.has_table_privilege(NEW.caller, NEW.source_relid, 'UPDATE')
            OR pgtrickle.acts_as(NEW.caller, rel.relowner)) THEN
      RAISE EXCEPTION 'permission denied to advance the watermark of %.%', rel.nspname, rel.relname USING ERRCODE = '42501',
        HINT = 'Advancing a source''s watermark needs the right to write it: INSERT or UPDATE on the table, or owning it.';
    END IF;
    IF NEW.watermark IS NULL OR NOT pg_catalog.isfinite(NEW.watermark) THEN
      RAISE EXCEPTION 'a watermark must be a finite timestamp, got %', COALESCE(NEW.watermark::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    INSERT INTO pgtrickle.pgt_watermarks AS w (source_relid, watermark, updated_at, advanced_by, wal_lsn_at_advance, advanced_xid)
    VALUES (NEW.source_relid, NEW.watermark, pg_catalog.now(), caller_name, pg_catalog.pg_current_wal_insert_lsn(), pg_catalog.pg_current_xact_id())
    ON CONFLICT (source_relid) DO NOTHING;
    IF NOT FOUND THEN
      -- The row lock serializes concurrent advancers of one source.
      SELECT w.watermark INTO cur FROM pgtrickle.pgt_watermarks w WHERE w.source_relid = NEW.source_relid FOR UPDATE;
      IF NEW.watermark < cur THEN
        RAISE EXCEPTION 'watermark moved backward for %.%: % is before its current watermark %', rel.nspname, rel.relname, NEW.watermark, cur
          USING ERRCODE = '22000', HINT = 'Watermarks only move forward; pgtrickle.watermarks() shows the current ones.';
      ELSIF NEW.watermark = cur THEN
        RETURN NULL; -- the same value again: nothing changes, not even updated_at
      END IF;
      UPDATE pgtrickle.pgt_watermarks
         SET watermark = NEW.watermark, updated_at = pg_catalog.now(), advanced_by = caller_name,
             wal_lsn_at_advance = pg_catalog.pg_current_wal_insert_lsn(), advanced_xid = pg_catalog.pg_current_xact_id()
       WHERE source_relid = NEW.source_relid;
    END IF;
    PERFORM pg_catalog.pg_notify('pgtrickle_wake', 'wm:' || NEW.source_relid::text);
    RETURN NULL;
  END IF;

  IF NEW.op = 'create_group' THEN
    IF NEW.group_name IS NULL OR pg_catalog.btrim(NEW.group_name) = '' THEN
      RAISE EXCEPTION 'a watermark group name is required' USING ERRCODE = '22023';
    END IF;
    IF NEW.tolerance_secs IS NULL OR NEW.tolerance_secs = 'NaN'::float8 OR NEW.tolerance_secs < 0
       OR NEW.tolerance_secs = 'Infinity'::float8 THEN
      RAISE EXCEPTION 'tolerance_secs must be a finite number of seconds ≥ 0, got %', COALESCE(NEW.tolerance_secs::text, 'NULL')
        USING ERRCODE = '22023';
    END IF;
    SELECT ARRAY(SELECT u.s FROM pg_catalog.unnest(NEW.source_relids) WITH ORDINALITY AS u(s, ord)
                  GROUP BY u.s ORDER BY min(u.ord)) INTO srcs;
    IF srcs IS NULL OR pg_catalog.cardinality(srcs) < 2 OR pg_catalog.array_position(srcs, NULL) IS NOT NULL THEN
      RAISE EXCEPTION 'a watermark group needs at least two distinct sources, got %', COALESCE(pg_catalog.cardinality(srcs), 0)
        USING ERRCODE = '22023', HINT = 'Pass the tables whose watermarks must agree, e.g. ARRAY[''orders'', ''order_lines''].';
    END IF;
    FOREACH src IN ARRAY srcs LOOP
      SELECT c.oid, c.relowner, n.nspname, c.relname INTO rel
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.oid = src AND c.relkind IN ('r', 'p', 'f');
      IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % is not a table', src USING ERRCODE = '42P01';
      END IF;
      IF NOT (pgtrickle.acts_as(NEW.caller, rel.relowner) OR pgtrickle.acts_as(NEW.caller, admin)) THEN
        RAISE EXCEPTION 'must be owner of table %.% to group its watermark', rel.nspname, rel.relname USING ERRCODE = '42501',
          HINT = 'A watermark group may be created by the owner of every one of its sources, or by a member of the role that installed pgtrickle.';
      END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pgtrickle.pgt_watermark_groups g WHERE g.group_name = NEW.group_name) THEN
      RAISE EXCEPTION 'watermark group "%" already exists', NEW.group_name USING ERRCODE = '42710',
        HINT = 'Choose another name, or drop it first with pgtrickle.drop_watermark_group().';
    END IF;
    BEGIN
      INSERT INTO pgtrickle.pgt_watermark_groups (group_name, source_relids, tolerance_secs, owner_oid)
      VALUES (NEW.group_name, srcs, NEW.tolerance_secs, NEW.caller);
    EXCEPTION WHEN unique_violation THEN
      RAISE EXCEPTION 'watermark group "%" already exists', NEW.group_name USING ERRCODE = '42710';
    END;
    PERFORM pg_catalog.pg_notify('pgtrickle_wake', 'wmg:' || NEW.group_name);
    RETURN NULL;
  END IF;

  IF NEW.op = 'drop_group' THEN
    SELECT g.* INTO grp FROM pgtrickle.pgt_watermark_groups g WHERE g.group_name = NEW.group_name FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'watermark group "%" does not exist', COALESCE(NEW.group_name, 'NULL') USING ERRCODE = '42704',
        HINT = 'pgtrickle.watermark_groups() lists the groups.';
    END IF;
    IF NOT (pgtrickle.acts_as(NEW.caller, grp.owner_oid) OR pgtrickle.acts_as(NEW.caller, admin)
            OR NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(grp.source_relids) AS u(s)
                             JOIN pg_catalog.pg_class c ON c.oid = u.s
                            WHERE NOT pgtrickle.acts_as(NEW.caller, c.relowner))) THEN
      RAISE EXCEPTION 'must be the creator of watermark group "%" or own its sources to drop it', NEW.group_name USING ERRCODE = '42501',
        HINT = 'A watermark group may be dropped by the role that created it, the owner of every one of its sources, or a member of the role that installed pgtrickle.';
    END IF;
    DELETE FROM pgtrickle.pgt_watermark_groups WHERE group_id = grp.group_id;
    PERFORM pg_catalog.pg_notify('pgtrickle_wake', 'wmg:' || NEW.group_name);
    RETURN NULL;
  END IF;

  RAISE EXCEPTION 'unknown watermark operation %', NEW.op USING ERRCODE = '22023';
END
$fn$
--> statement-breakpoint
CREATE TRIGGER pgt_watermark_ops_apply BEFORE INSERT ON pgtrickle.pgt_watermark_ops
  FOR EACH ROW EXECUTE FUNCTION pgtrickle.apply_watermark_op()
--> statement-breakpoint
CREATE FUNCTION pgtrickle.watermark_source(source text) RETURNS oid
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  rel regclass;
BEGIN
  IF source IS NULL OR pg_catalog.btrim(source) = '' THEN
    RAISE EXCEPTION 'a source table name is required' USING ERRCODE = '22023', HINT = 'Pass e.g. ''public.orders''.';
  END IF;
  -- Resolved as a query would resolve it: by the caller's search_path, quoted parts keeping their case.
  rel := pg_catalog.to_regclass(source);
  IF rel IS NULL THEN
    RAISE EXCEPTION 'table % does not exist', source USING ERRCODE = '42P01';
  END IF;
  RETURN rel::oid;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.advance_watermark(source text, watermark timestamptz) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO pgtrickle.pgt_watermark_ops (op, source_relid, watermark)
  VALUES ('advance', pgtrickle.watermark_source($1), $2);
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.create_watermark_group(group_name text, sources text[], tolerance_secs float8 DEFAULT 0) RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
  oids oid[];
BEGIN
  IF $2 IS NULL THEN
    RAISE EXCEPTION 'a watermark group needs at least two distinct sources, got 0' USING ERRCODE = '22023';
  END IF;
  SELECT ARRAY(SELECT pgtrickle.watermark_source(u.s) FROM pg_catalog.unnest($2) WITH ORDINALITY AS u(s, ord) ORDER BY u.ord)
    INTO oids;
  INSERT INTO pgtrickle.pgt_watermark_ops (op, group_name, source_relids, tolerance_secs)
  VALUES ('create_group', $1, oids, $3);
  -- (no RETURNING: the trigger keeps no row; the sequence tells this session's new id)
  RETURN pg_catalog.currval('pgtrickle.pgt_watermark_groups_group_id_seq')::int;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.drop_watermark_group(group_name text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO pgtrickle.pgt_watermark_ops (op, group_name) VALUES ('drop_group', $1);
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.watermarks()
RETURNS TABLE (source_table text, schema_name text, watermark timestamptz, updated_at timestamptz, advanced_by text, wal_lsn pg_catalog.pg_lsn)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT c.relname::text, n.nspname::text, w.watermark, w.updated_at, w.advanced_by, w.wal_lsn_at_advance
    FROM pgtrickle.pgt_watermarks w
    JOIN pg_catalog.pg_class c ON c.oid = w.source_relid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   ORDER BY n.nspname, c.relname
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.watermark_groups()
RETURNS TABLE (group_name text, source_count int, tolerance_secs float8, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT g.group_name,
         (SELECT count(*) FROM pg_catalog.unnest(g.source_relids) AS u(s)
           WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = u.s))::int,
         g.tolerance_secs, g.created_at
    FROM pgtrickle.pgt_watermark_groups g
   ORDER BY g.group_name
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.watermark_status()
RETURNS TABLE (group_name text, min_watermark timestamptz, max_watermark timestamptz, lag_secs float8, aligned boolean,
               sources_with_watermark int, sources_total int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT g.group_name, s.lo, s.hi,
         CASE WHEN s.with_wm < 2 THEN 0::float8 ELSE EXTRACT(EPOCH FROM s.hi - s.lo)::float8 END,
         s.with_wm < 2 OR EXTRACT(EPOCH FROM s.hi - s.lo) <= g.tolerance_secs::numeric,
         s.with_wm, s.total
    FROM pgtrickle.pgt_watermark_groups g
   CROSS JOIN LATERAL (
     SELECT min(w.watermark) AS lo, max(w.watermark) AS hi, count(w.watermark)::int AS with_wm, count(*)::int AS total
       FROM pg_catalog.unnest(g.source_relids) AS u(s)
       JOIN pg_catalog.pg_class c ON c.oid = u.s
       LEFT JOIN pgtrickle.pgt_watermarks w ON w.source_relid = u.s
   ) s
   ORDER BY g.group_name
$fn$
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.apply_watermark_op(), pgtrickle.watermark_source(text), pgtrickle.advance_watermark(text, timestamptz),
  pgtrickle.create_watermark_group(text, text[], float8), pgtrickle.drop_watermark_group(text), pgtrickle.watermarks(),
  pgtrickle.watermark_groups(), pgtrickle.watermark_status() FROM PUBLIC
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.watermark_source(text), pgtrickle.advance_watermark(text, timestamptz),
  pgtrickle.create_watermark_group(text, text[], float8), pgtrickle.drop_watermark_group(text), pgtrickle.watermarks(),
  pgtrickle.watermark_groups(), pgtrickle.watermark_status() TO pgtrickle_user
--> statement-breakpoint
GRANT INSERT (op, source_relid, watermark, group_name, source_relids, tolerance_secs) ON pgtrickle.pgt_watermark_ops TO pgtrickle_user
--> statement-breakpoint
GRANT SELECT ON SEQUENCE pgtrickle.pgt_watermark_groups_group_id_seq TO pgtrickle_user
