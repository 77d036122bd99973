-- pgtrickle catalog migration 10: consistency groups
-- name: consistency groups
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- Declared refresh groups and the consistency groups the scheduler runs. A declared group
-- (pgt_refresh_groups) names stream tables by pgt_id (a storage rebuild keeps them), is created
-- and dropped by state functions in the caller's transaction through pgt_group_commands (a table
-- whose inserts are run, never stored, by a trigger that checks the calling role owns every
-- member), and loses a member when that stream table is dropped (a group left with fewer than two
-- members is dropped). The groups the scheduler computed (diamonds detected in the DAG, merged
-- with declared groups) are written by the leader into pgt_consistency_groups whenever the DAG
-- changes, keyed by a stable key (kind prefix and sorted pgt_ids) so that each group's epoch —
-- advanced in the transaction of each atomic commit of the group — survives rebuilds. A refresh
-- that read as of one snapshot (the tick bound, or a repeatable_read group) records that snapshot
-- in its history row (`read_snapshot`, NULL for a refresh at read committed).

CREATE TABLE pgtrickle.pgt_refresh_groups (
  group_id serial PRIMARY KEY,
  group_name text NOT NULL UNIQUE CHECK (btrim(group_name) <> ''),
  member_ids bigint[] NOT NULL CHECK (pg_catalog.cardinality(member_ids) >= 2),
  isolation text NOT NULL DEFAULT 'read_committed' CHECK (isolation IN ('read_committed', 'repeatable_read')),
  created_by oid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_consistency_groups (
  group_key text PRIMARY KEY,
  position integer NOT NULL,
  origin text NOT NULL CHECK (origin IN ('detected', 'declared', 'merged')),
  member_ids bigint[] NOT NULL,
  convergence_ids bigint[] NOT NULL DEFAULT '{}',
  consistency text NOT NULL CHECK (consistency IN ('none', 'atomic')),
  schedule_policy text NOT NULL CHECK (schedule_policy IN ('fastest', 'slowest')),
  isolation text NOT NULL CHECK (isolation IN ('read_committed', 'repeatable_read')),
  reason text,
  epoch bigint NOT NULL DEFAULT 0,
  last_commit_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
)
--> statement-breakpoint
CREATE TABLE pgtrickle.pgt_group_commands (
  kind text NOT NULL CHECK (kind IN ('create', 'drop')),
  group_name text NOT NULL,
  member_schemas text[] NOT NULL DEFAULT '{}',
  member_names text[] NOT NULL DEFAULT '{}',
  isolation text,
  requester oid NOT NULL DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid
)
--> statement-breakpoint
ALTER TABLE pgtrickle.pgt_refresh_history ADD COLUMN read_snapshot pg_snapshot
  DEFAULT (CASE WHEN pg_catalog.current_setting('transaction_isolation') = 'repeatable read'
                THEN pg_catalog.pg_current_snapshot() END)
--> statement-breakpoint
CREATE OR REPLACE VIEW pgtrickle.pgt_refresh_log AS
SELECT h.refresh_id, pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name) AS name,
       h.action, h.status, h.initiated_by, h.started_at, h.finished_at, h.finished_at - h.started_at AS duration,
       h.rows_inserted, h.rows_deleted, h.pending_changes, h.reason, h.error, h.gate, h.read_snapshot
  FROM pgtrickle.pgt_refresh_history h JOIN pgtrickle.pgt_stream_tables s USING (pgt_id)
 WHERE pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.run_group_command() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  name text := btrim(NEW.group_name);
  iso text;
  ids bigint[] := '{}';
  st record;
  other text;
  g pgtrickle.pgt_refresh_groups%ROWTYPE;
  i integer;
BEGIN
  -- A group command, run in the inserting transaction and never stored. The requester (recorded
  -- by the column default as the inserting role, which cannot write that column) must act as the
  -- owner of every member, as PostgreSQL requires ownership of each object a command changes.
  IF name IS NULL OR name = '' THEN
    RAISE EXCEPTION 'a refresh group name is required' USING ERRCODE = '22023';
  END IF;
  IF NEW.kind = 'drop' THEN
    SELECT * INTO g FROM pgtrickle.pgt_refresh_groups AS r WHERE r.group_name = name FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'refresh group % does not exist', pg_catalog.quote_literal(name) USING ERRCODE = '42704',
        HINT = 'pgtrickle.refresh_groups() lists the refresh groups.';
    END IF;
    FOR st IN SELECT s.schema_name, s.table_name, s.owner_oid FROM pgtrickle.pgt_stream_tables AS s
               WHERE s.pgt_id = ANY (g.member_ids) LOOP
      IF NOT pgtrickle.acts_as(NEW.requester, st.owner_oid) THEN
        RAISE EXCEPTION 'must be owner of stream table %.% to drop refresh group %', st.schema_name, st.table_name,
          pg_catalog.quote_literal(name) USING ERRCODE = '42501';
      END IF;
    END LOOP;
    DELETE FROM pgtrickle.pgt_refresh_groups AS r WHERE r.group_id = g.group_id;
    PERFORM pg_catalog.set_config('pgtrickle.group_id', g.group_id::text, true);
    PERFORM pg_catalog.pg_notify('pgtrickle_wake', '');
    RETURN NULL;
  END IF;
  iso := lower(btrim(COALESCE(NEW.isolation, 'read_committed')));
  IF iso NOT IN ('read_committed', 'repeatable_read') THEN
    RAISE EXCEPTION 'isolation must be ''read_committed'' or ''repeatable_read'', not %', pg_catalog.quote_literal(NEW.isolation)
      USING ERRCODE = '22023';
  END IF;
  IF COALESCE(pg_catalog.cardinality(NEW.member_names), 0) < 2 THEN
    RAISE EXCEPTION 'a refresh group needs at least 2 members, got %', COALESCE(pg_catalog.cardinality(NEW.member_names), 0)
      USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM pgtrickle.pgt_refresh_groups AS r WHERE r.group_name = name) THEN
    RAISE EXCEPTION 'refresh group % already exists', pg_catalog.quote_literal(name) USING ERRCODE = '42710',
      HINT = 'Drop it first with pgtrickle.drop_refresh_group(name), or choose another name.';
  END IF;
  FOR i IN 1 .. pg_catalog.cardinality(NEW.member_names) LOOP
    SELECT s.pgt_id, s.owner_oid, s.effective_mode INTO st FROM pgtrickle.pgt_stream_tables AS s
     WHERE s.schema_name = NEW.member_schemas[i] AND s.table_name = NEW.member_names[i];
    IF NOT FOUND THEN
      RAISE EXCEPTION 'stream table %.% does not exist', NEW.member_schemas[i], NEW.member_names[i] USING ERRCODE = '42P01',
        HINT = 'pgtrickle.pgt_status lists the stream tables you own.';
    END IF;
    IF NOT pgtrickle.acts_as(NEW.requester, st.owner_oid) THEN
      RAISE EXCEPTION 'must be owner of stream table %.%', NEW.member_schemas[i], NEW.member_names[i] USING ERRCODE = '42501',
        HINT = 'Only the owner of every member (or a member of the owning roles) may group stream tables.';
    END IF;
    IF st.effective_mode = 'IMMEDIATE' THEN
      RAISE EXCEPTION 'stream table %.% is IMMEDIATE: it is maintained by the writer''s own statement, not in a refresh group',
        NEW.member_schemas[i], NEW.member_names[i] USING ERRCODE = '22023';
    END IF;
    IF st.pgt_id = ANY (ids) THEN
      RAISE EXCEPTION 'stream table %.% is listed twice', NEW.member_schemas[i], NEW.member_names[i] USING ERRCODE = '22023';
    END IF;
    SELECT r.group_name INTO other FROM pgtrickle.pgt_refresh_groups AS r WHERE st.pgt_id = ANY (r.member_ids);
    IF FOUND THEN
      RAISE EXCEPTION 'stream table %.% is already in refresh group %', NEW.member_schemas[i], NEW.member_names[i],
        pg_catalog.quote_literal(other) USING ERRCODE = '22023',
        HINT = 'A stream table belongs to at most one refresh group; drop that group first.';
    END IF;
    ids := ids || st.pgt_id;
  END LOOP;
  INSERT INTO pgtrickle.pgt_refresh_groups (group_name, member_ids, isolation, created_by)
  VALUES (name, ids, iso, NEW.requester) RETURNING * INTO g;
  PERFORM pg_catalog.set_config('pgtrickle.group_id', g.group_id::text, true);
  PERFORM pg_catalog.pg_notify('pgtrickle_wake', '');
  RETURN NULL;
END
$fn$
--> statement-breakpoint
CREATE TRIGGER pgt_group_commands_run BEFORE INSERT ON pgtrickle.pgt_group_commands
  FOR EACH ROW EXECUTE FUNCTION pgtrickle.run_group_command()
--> statement-breakpoint
CREATE FUNCTION pgtrickle.create_refresh_group(group_name text, members text[], isolation text DEFAULT 'read_committed')
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  schemas text[] := '{}';
  names text[] := '{}';
  m text;
  n record;
BEGIN
  -- Member names are resolved here, in the caller's search_path; the command checks the rest.
  FOREACH m IN ARRAY COALESCE(members, '{}') LOOP
    SELECT * INTO n FROM pgtrickle.resolve_name(m);
    schemas := schemas || n.schema_name;
    names := names || n.table_name;
  END LOOP;
  INSERT INTO pgtrickle.pgt_group_commands (kind, group_name, member_schemas, member_names, isolation)
  VALUES ('create', COALESCE(group_name, ''), schemas, names, isolation);
  RETURN pg_catalog.current_setting('pgtrickle.group_id')::integer;
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.drop_refresh_group(group_name text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO pgtrickle.pgt_group_commands (kind, group_name) VALUES ('drop', COALESCE(group_name, ''));
END
$fn$
--> statement-breakpoint
CREATE FUNCTION pgtrickle.forget_group_member() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- A dropped stream table leaves its refresh group; a group left with fewer than 2 members is
  -- meaningless and is dropped with it.
  UPDATE pgtrickle.pgt_refresh_groups AS r SET member_ids = pg_catalog.array_remove(r.member_ids, OLD.pgt_id)
   WHERE OLD.pgt_id = ANY (r.member_ids) AND pg_catalog.cardinality(r.member_ids) > 2;
  DELETE FROM pgtrickle.pgt_refresh_groups AS r WHERE OLD.pgt_id = ANY (r.member_ids);
  DELETE FROM pgtrickle.pgt_consistency_groups AS c WHERE OLD.pgt_id = ANY (c.member_ids);
  RETURN NULL;
END
$fn$
--> statement-breakpoint
CREATE TRIGGER pgt_stream_tables_forget_group_member AFTER DELETE ON pgtrickle.pgt_stream_tables
  FOR EACH ROW EXECUTE FUNCTION pgtrickle.forget_group_member()
--> statement-breakpoint
CREATE VIEW pgtrickle.pgt_refresh_groups_visible AS
SELECT r.group_id, r.group_name, pg_catalog.cardinality(r.member_ids) AS member_count, r.isolation, r.created_at,
       ARRAY(SELECT pg_catalog.quote_ident(s.schema_name) || '.' || pg_catalog.quote_ident(s.table_name)
               FROM pgtrickle.pgt_stream_tables AS s JOIN pg_catalog.unnest(r.member_ids) WITH ORDINALITY AS u(id, n) ON u.id = s.pgt_id
              ORDER BY u.n) AS members
  FROM pgtrickle.pgt_refresh_groups AS r
 WHERE EXISTS (SELECT 1 FROM pgtrickle.pgt_stream_tables AS s
                WHERE s.pgt_id = ANY (r.member_ids)
                  AND pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid))
--> statement-breakpoint
CREATE FUNCTION pgtrickle.refresh_groups()
RETURNS TABLE (group_id integer, group_name text, member_count integer, isolation text, created_at timestamptz, members text[])
LANGUAGE sql STABLE AS $fn$
  SELECT v.group_id, v.group_name, v.member_count, v.isolation, v.created_at, v.members
    FROM pgtrickle.pgt_refresh_groups_visible AS v ORDER BY v.group_id
$fn$
--> statement-breakpoint
CREATE VIEW pgtrickle.pgt_diamond_groups AS
SELECT (DENSE_RANK() OVER (ORDER BY c.position))::integer AS group_id, s.table_name AS member_name, s.schema_name AS member_schema,
       s.pgt_id = ANY (c.convergence_ids) AS is_convergence, c.epoch, c.schedule_policy, c.consistency,
       u.n AS member_position
  FROM pgtrickle.pgt_consistency_groups AS c
  CROSS JOIN LATERAL pg_catalog.unnest(c.member_ids) WITH ORDINALITY AS u(id, n)
  JOIN pgtrickle.pgt_stream_tables AS s ON s.pgt_id = u.id
 WHERE pg_catalog.cardinality(c.convergence_ids) > 0
   AND pgtrickle.acts_as(pg_catalog.to_regrole(pg_catalog.quote_ident(current_user))::oid, s.owner_oid)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.diamond_groups()
RETURNS TABLE (group_id integer, member_name text, member_schema text, is_convergence boolean, epoch bigint,
               schedule_policy text, consistency text)
LANGUAGE sql STABLE AS $fn$
  SELECT d.group_id, d.member_name, d.member_schema, d.is_convergence, d.epoch, d.schedule_policy, d.consistency
    FROM pgtrickle.pgt_diamond_groups AS d ORDER BY d.group_id, d.member_position
$fn$
--> statement-breakpoint
CREATE OR REPLACE FUNCTION pgtrickle.command_settings(pgt_id bigint, args jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  g record;
BEGIN
  PERFORM pgtrickle.apply_settings(pgt_id, args);
  -- A member of an atomic diamond set to 'none' makes its whole group refresh member by member.
  IF lower(btrim(args ->> 'diamond_consistency')) = 'none' THEN
    SELECT c.convergence_ids, c.member_ids INTO g FROM pgtrickle.pgt_consistency_groups AS c
     WHERE command_settings.pgt_id = ANY (c.member_ids) AND pg_catalog.cardinality(c.convergence_ids) > 0;
    IF FOUND THEN
      RAISE NOTICE '%', CASE WHEN command_settings.pgt_id = ANY (g.convergence_ids)
        THEN 'this stream table is a diamond''s convergence point: with diamond_consistency = ''none'' it may join its inputs at different versions of their shared source'
        ELSE 'this stream table is in a diamond: with diamond_consistency = ''none'' on one member, the whole group refreshes member by member, not atomically' END
        USING HINT = 'pgtrickle.diamond_groups() shows the groups and their consistency.';
    END IF;
  END IF;
END
$fn$
--> statement-breakpoint
REVOKE ALL ON FUNCTION pgtrickle.run_group_command(), pgtrickle.forget_group_member() FROM PUBLIC
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.create_refresh_group(text, text[], text), pgtrickle.drop_refresh_group(text),
  pgtrickle.refresh_groups(), pgtrickle.diamond_groups() TO pgtrickle_user
--> statement-breakpoint
GRANT INSERT (kind, group_name, member_schemas, member_names, isolation) ON pgtrickle.pgt_group_commands TO pgtrickle_user
--> statement-breakpoint
GRANT SELECT ON pgtrickle.pgt_refresh_groups_visible, pgtrickle.pgt_diamond_groups TO pgtrickle_user
