CREATE TABLE IF NOT EXISTS "pgtrickle_changes".capture_state (
  source_oid oid PRIMARY KEY,
  format text NOT NULL CHECK (format IN ('typed', 'text')),
  shape_version bigint NOT NULL DEFAULT 0,
  relations oid[] NOT NULL DEFAULT '{}',
  signature text NOT NULL DEFAULT ''
);

GRANT SELECT ON "pgtrickle_changes".capture_state TO PUBLIC;

CREATE OR REPLACE FUNCTION "pgtrickle_changes".capture_trigger_count(p_relations oid[], OUT enabled int, OUT expected int)
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $pgt$
  SELECT (SELECT pg_catalog.count(*)::int FROM pg_catalog.pg_trigger AS t JOIN (VALUES ('ins', 'O'::"char"), ('upd', 'O'::"char"), ('del', 'O'::"char"), ('trunc', 'A'::"char"), ('insr', 'R'::"char"), ('updr', 'R'::"char"), ('delr', 'R'::"char")) AS m(e, md)
            ON t.tgname ~ ('^pgtrickle_' || m.e || '_[0-9]+$')
          WHERE t.tgrelid = ANY (p_relations) AND t.tgenabled = m.md),
         7 * pg_catalog.cardinality(p_relations)
$pgt$;

GRANT EXECUTE ON FUNCTION "pgtrickle_changes".capture_trigger_count(oid[]) TO PUBLIC;

CREATE OR REPLACE FUNCTION "pgtrickle_changes".capture_unhook(p_rel oid, p_root oid) RETURNS void LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS $pgt$
DECLARE
  ev text;
BEGIN
  FOREACH ev IN ARRAY ARRAY['ins', 'upd', 'del', 'trunc', 'insr', 'updr', 'delr'] LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = p_rel AND tgname = 'pgtrickle_' || ev || '_' || p_rel) THEN
      EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', 'pgtrickle_' || ev || '_' || p_rel, p_rel::regclass);
    END IF;
    -- A partition detached from the root may keep (independent) copies of the root's row triggers.
    IF p_rel <> p_root AND EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                                    WHERE tgrelid = p_rel AND tgname = 'pgtrickle_' || ev || '_' || p_root AND tgparentid = 0) THEN
      EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', 'pgtrickle_' || ev || '_' || p_root, p_rel::regclass);
    END IF;
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %I.%I()', 'pgtrickle_changes', 'capture_' || ev || '_' || p_rel);
  END LOOP;
END
$pgt$;

REVOKE ALL ON FUNCTION "pgtrickle_changes".capture_unhook(oid, oid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION "pgtrickle_changes".capture_sync(p_source oid, p_format text) RETURNS text LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS $pgt$
DECLARE
  st "pgtrickle_changes".capture_state;
  fmt text;
  buf text := pg_catalog.format('%I.%I', 'pgtrickle_changes', 'changes_' || p_source);
  bufoid oid;
  rels oid[];
  rel oid;
  ev text;
  changed boolean := false;
  found_state boolean;
  sig text;
  col record;
  targets text;
  vals text;
  body text;
  missing text;
  fn text;
  trg text;
  tg record;
  had boolean;
  newvals text;
  oldvals text;
  ispart boolean;
  mode "char";
  unlike oid[] := '{}';
  byname boolean := false;
  nextid text;
BEGIN
  IF pg_catalog.current_setting('pgtrickle.capture_sync', true) = 'on' THEN RETURN NULL; END IF;
  PERFORM pg_catalog.set_config('pgtrickle.capture_sync', 'on', true);
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = p_source AND relkind IN ('r', 'p')) THEN
    RAISE EXCEPTION 'relation % cannot be captured: only tables and partitioned tables can', p_source::regclass
      USING ERRCODE = 'feature_not_supported';
  END IF;
  SELECT * INTO st FROM "pgtrickle_changes".capture_state WHERE source_oid = p_source FOR UPDATE;
  found_state := FOUND;
  fmt := COALESCE(st.format, p_format, CASE WHEN EXISTS (
    SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'pgtrickle_source_ddl' AND evtenabled <> 'D')
    THEN 'typed' ELSE 'text' END);
  -- The tree: the source and every partition or inheritance child, at any depth.
  WITH RECURSIVE tree(relid) AS (
    SELECT p_source
    UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i JOIN tree AS t ON i.inhparent = t.relid)
  SELECT pg_catalog.array_agg(relid ORDER BY relid) INTO rels FROM tree;
  SELECT pg_catalog.string_agg(c.oid::regclass::text, ', ') INTO missing
    FROM pg_catalog.pg_class AS c WHERE c.oid = ANY (rels) AND c.relkind NOT IN ('r', 'p');
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'table % cannot be captured: its partitions or children % are not plain tables (writes to them fire no capture)', p_source::regclass, missing
      USING ERRCODE = 'feature_not_supported', HINT = 'Use refresh mode FULL for stream tables reading it.';
  END IF;
  -- One level of a tree only: writes routed through another captured table would miss this one's buffer.
  SELECT pg_catalog.string_agg(s.source_oid::regclass::text, ', ') INTO missing
    FROM "pgtrickle_changes".capture_state AS s
   WHERE s.source_oid <> p_source AND (s.source_oid = ANY (rels) OR p_source = ANY (s.relations));
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'table % cannot be captured: it shares a partition or inheritance tree with captured table %', p_source::regclass, missing
      USING ERRCODE = 'feature_not_supported', HINT = 'Read one level of the tree differentially, and use refresh mode FULL for stream tables reading the other.';
  END IF;
  -- The buffer, in its format (a buffer of another layout, e.g. an older version's, is replaced,
  -- with the triggers and functions that wrote it).
  bufoid := pg_catalog.to_regclass(buf);
  IF NOT found_state THEN
    FOREACH rel IN ARRAY rels LOOP
      PERFORM "pgtrickle_changes".capture_unhook(rel, p_source);
    END LOOP;
  END IF;
  IF bufoid IS NOT NULL AND (NOT found_state OR st.format <> fmt) THEN
    EXECUTE 'DROP TABLE ' || buf;
    bufoid := NULL;
    changed := true;
  END IF;
  IF bufoid IS NULL THEN
    EXECUTE 'CREATE TABLE ' || buf || ' (change_id bigserial NOT NULL, xid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(), action "char" NOT NULL'
      || CASE WHEN fmt = 'text' THEN ', data text' ELSE '' END || ')';
    bufoid := pg_catalog.to_regclass(buf);
  END IF;
  -- No index: every row would pay an index insert. Cleanup gives a buffer an index on xid while a
  -- lagging consumer keeps it large, and drops it again (docs/capture.md).
  -- One change id per statement (and per half of an UPDATE), taken from the buffer's sequence.
  nextid := 'pg_catalog.nextval(' || pg_catalog.quote_literal(pg_catalog.pg_get_serial_sequence(buf, 'change_id')) || '::pg_catalog.regclass)';
  IF fmt = 'typed' THEN
    -- Wanted columns: c<attnum> per stored column (virtual generated columns are computed on read).
    FOR col IN
      SELECT w.name, w.type || CASE WHEN w.coll <> 0 THEN ' COLLATE ' || w.coll::regcollation::text ELSE '' END AS type,
             e.attname IS NOT NULL AS present,
             e.attname IS NOT NULL AND pg_catalog.format_type(e.atttypid, e.atttypmod) = w.type AND e.attcollation = w.coll AS same
        FROM (SELECT 'c' || a.attnum AS name,
                     pg_catalog.format_type(COALESCE(NULLIF(t.typbasetype, 0), a.atttypid), CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) AS type,
                     a.attcollation AS coll
                FROM pg_catalog.pg_attribute AS a JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
               WHERE a.attrelid = p_source AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> 'v') AS w
        LEFT JOIN pg_catalog.pg_attribute AS e ON e.attrelid = bufoid AND e.attname = w.name AND NOT e.attisdropped
    LOOP
      IF col.present AND NOT col.same THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', buf, col.name);
      END IF;
      IF NOT col.same THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN %I %s', buf, col.name, col.type);
        changed := changed OR found_state;
      END IF;
    END LOOP;
    FOR col IN
      SELECT e.attname AS name FROM pg_catalog.pg_attribute AS e
       WHERE e.attrelid = bufoid AND e.attnum > 0 AND NOT e.attisdropped AND e.attname ~ '^c[0-9]+$'
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = p_source AND 'c' || a.attnum = e.attname AND NOT a.attisdropped AND a.attgenerated <> 'v')
    LOOP
      EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', buf, col.name);
      changed := true;
    END LOOP;
  END IF;
  SELECT pg_catalog.string_agg(a.attname || ':' || pg_catalog.format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum) INTO sig
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = bufoid AND a.attnum > 0 AND NOT a.attisdropped;
  -- Text capture: the children whose row text is not laid out like the root's (an inheritance
  -- child, which may add columns of its own at any time, or a partition whose columns differ in
  -- order, e.g. one created separately and attached) write their rows by column name.
  IF fmt = 'text' THEN
    SELECT COALESCE(pg_catalog.array_agg(r.relid), '{}') INTO unlike
      FROM pg_catalog.unnest(rels) AS r(relid) JOIN pg_catalog.pg_class AS c ON c.oid = r.relid
     WHERE r.relid <> p_source AND (NOT c.relispartition OR EXISTS (
        SELECT 1 FROM (SELECT a.attname, a.atttypid, a.atttypmod, pg_catalog.row_number() OVER (ORDER BY a.attnum) AS pos
                         FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = p_source AND a.attnum > 0 AND NOT a.attisdropped) AS s
        FULL JOIN (SELECT a.attname, a.atttypid, a.atttypmod, pg_catalog.row_number() OVER (ORDER BY a.attnum) AS pos
                     FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = r.relid AND a.attnum > 0 AND NOT a.attisdropped) AS ch
          ON s.pos = ch.pos
        WHERE s.attname IS DISTINCT FROM ch.attname OR s.atttypid IS DISTINCT FROM ch.atttypid OR s.atttypmod IS DISTINCT FROM ch.atttypmod));
  END IF;
  -- Capture functions and triggers on every relation of the tree.
  FOREACH rel IN ARRAY rels LOOP
    IF fmt = 'typed' THEN
      SELECT pg_catalog.string_agg(pg_catalog.quote_ident('c' || a.attnum), ', ' ORDER BY a.attnum),
             pg_catalog.string_agg(CASE WHEN r.attname IS NULL THEN 'NULL' ELSE 'n.' || pg_catalog.quote_ident(r.attname) END, ', ' ORDER BY a.attnum),
             pg_catalog.string_agg(CASE WHEN r.attname IS NULL THEN 'NULL' ELSE 'NEW.' || pg_catalog.quote_ident(r.attname) END, ', ' ORDER BY a.attnum),
             pg_catalog.string_agg(CASE WHEN r.attname IS NULL THEN 'NULL' ELSE 'OLD.' || pg_catalog.quote_ident(r.attname) END, ', ' ORDER BY a.attnum)
        INTO targets, vals, newvals, oldvals
        FROM pg_catalog.pg_attribute AS a
        LEFT JOIN pg_catalog.pg_attribute AS r ON r.attrelid = rel AND r.attname = a.attname AND NOT r.attisdropped AND r.attnum > 0
       WHERE a.attrelid = p_source AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> 'v';
      targets := COALESCE(', ' || targets, '');
      vals := COALESCE(', ' || vals, '');
      newvals := COALESCE(', ' || newvals, '');
      oldvals := COALESCE(', ' || oldvals, '');
    ELSE
      -- Row text is positional (decoded with the root's row type): a child laid out unlike the
      -- root writes its rows by column name instead.
      byname := rel = ANY (unlike);
      targets := ', data';
      vals := ', (n.*)::text';
      newvals := ', NEW::text';
      oldvals := ', OLD::text';
    END IF;
    SELECT c.relispartition INTO ispart FROM pg_catalog.pg_class AS c WHERE c.oid = rel;
    FOREACH ev IN ARRAY ARRAY['ins', 'upd', 'del', 'trunc', 'insr', 'updr', 'delr'] LOOP
      fn := pg_catalog.format('%I.%I', 'pgtrickle_changes', 'capture_' || ev || '_' || rel);
      trg := 'pgtrickle_' || ev || '_' || rel;
      -- Statement triggers fire in ordinary sessions, row triggers in replica ones (logical
      -- replication apply fires row triggers only), TRUNCATE's always: each write once.
      SELECT m.md INTO mode FROM (VALUES ('ins', 'O'::"char"), ('upd', 'O'::"char"), ('del', 'O'::"char"), ('trunc', 'A'::"char"), ('insr', 'R'::"char"), ('updr', 'R'::"char"), ('delr', 'R'::"char")) AS m(e, md) WHERE m.e = ev;
      IF ev LIKE '%r' AND rel <> p_source AND ispart THEN
        -- A partition carries the clone of the root's row trigger (same function, same buffer).
        trg := 'pgtrickle_' || ev || '_' || p_source;
        SELECT t.tgenabled INTO tg FROM pg_catalog.pg_trigger AS t WHERE t.tgrelid = rel AND t.tgname = trg;
        IF FOUND AND tg.tgenabled <> mode THEN
          EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE REPLICA TRIGGER %I', rel::regclass, trg);
          changed := true;
        END IF;
        CONTINUE;
      END IF;
      body := CASE ev
        WHEN 'ins' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) SELECT (SELECT %s), (SELECT pg_catalog.pg_current_xact_id()), ''I''%s FROM %I AS n;', buf, targets, nextid, vals, '__pgt_new')
        WHEN 'del' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) SELECT (SELECT %s), (SELECT pg_catalog.pg_current_xact_id()), ''D''%s FROM %I AS n;', buf, targets, nextid, vals, '__pgt_old')
        WHEN 'upd' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) SELECT (SELECT %s), (SELECT pg_catalog.pg_current_xact_id()), ''D''%s FROM %I AS n;', buf, targets, nextid, vals, '__pgt_old')
          || E'
  ' || pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) SELECT (SELECT %s), (SELECT pg_catalog.pg_current_xact_id()), ''I''%s FROM %I AS n;', buf, targets, nextid, vals, '__pgt_new')
        WHEN 'insr' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) VALUES (%s, pg_catalog.pg_current_xact_id(), ''I''%s);', buf, targets, nextid, newvals)
        WHEN 'delr' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) VALUES (%s, pg_catalog.pg_current_xact_id(), ''D''%s);', buf, targets, nextid, oldvals)
        WHEN 'updr' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) VALUES (%s, pg_catalog.pg_current_xact_id(), ''D''%s);', buf, targets, nextid, oldvals)
          || E'
  ' || pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) VALUES (%s, pg_catalog.pg_current_xact_id(), ''I''%s);', buf, targets, nextid, newvals)
        ELSE pg_catalog.format('INSERT INTO %s (change_id, xid, action) VALUES (%s, pg_catalog.pg_current_xact_id(), ''T'');', buf, nextid) END;
      IF fmt = 'text' AND ev <> 'trunc' AND (byname OR (rel = p_source AND ev LIKE '%r' AND pg_catalog.cardinality(unlike) > 0)) THEN
        -- By name: a child unlike the root; the root's row triggers, whose clones fire on every
        -- partition, do so when fired on another relation than the root. (These rows take their
        -- change id and xid from the buffer's column defaults.)
        body := CASE WHEN byname THEN '' ELSE 'IF TG_RELID <> ' || p_source || E'::pg_catalog.oid THEN
  ' END
          || pg_catalog.replace(pg_catalog.replace(CASE ev WHEN 'ins' THEN 'EXECUTE ''INSERT INTO @BUF@ (action, data) SELECT ''''I'''', ROW('' || COALESCE((SELECT pg_catalog.string_agg(''n.'' || pg_catalog.quote_ident(a.attname), '', '' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '''') || '')::text FROM "__pgt_new" AS n'';' WHEN 'del' THEN 'EXECUTE ''INSERT INTO @BUF@ (action, data) SELECT ''''D'''', ROW('' || COALESCE((SELECT pg_catalog.string_agg(''n.'' || pg_catalog.quote_ident(a.attname), '', '' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '''') || '')::text FROM "__pgt_old" AS n'';' WHEN 'upd' THEN 'EXECUTE ''INSERT INTO @BUF@ (action, data) SELECT ''''D'''', ROW('' || COALESCE((SELECT pg_catalog.string_agg(''n.'' || pg_catalog.quote_ident(a.attname), '', '' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '''') || '')::text FROM "__pgt_old" AS n'';
  EXECUTE ''INSERT INTO @BUF@ (action, data) SELECT ''''I'''', ROW('' || COALESCE((SELECT pg_catalog.string_agg(''n.'' || pg_catalog.quote_ident(a.attname), '', '' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '''') || '')::text FROM "__pgt_new" AS n'';' WHEN 'insr' THEN 'EXECUTE ''INSERT INTO @BUF@ (action, data) SELECT ''''I'''', ROW('' || COALESCE((SELECT pg_catalog.string_agg(''n.'' || pg_catalog.quote_ident(a.attname), '', '' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '''') || '')::text FROM (SELECT ($1).*) AS n'' USING NEW;' WHEN 'delr' THEN 'EXECUTE ''INSERT INTO @BUF@ (action, data) SELECT ''''D'''', ROW('' || COALESCE((SELECT pg_catalog.string_agg(''n.'' || pg_catalog.quote_ident(a.attname), '', '' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '''') || '')::text FROM (SELECT ($1).*) AS n'' USING OLD;' WHEN 'updr' THEN 'EXECUTE ''INSERT INTO @BUF@ (action, data) SELECT ''''D'''', ROW('' || COALESCE((SELECT pg_catalog.string_agg(''n.'' || pg_catalog.quote_ident(a.attname), '', '' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '''') || '')::text FROM (SELECT ($1).*) AS n'' USING OLD;
  EXECUTE ''INSERT INTO @BUF@ (action, data) SELECT ''''I'''', ROW('' || COALESCE((SELECT pg_catalog.string_agg(''n.'' || pg_catalog.quote_ident(a.attname), '', '' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '''') || '')::text FROM (SELECT ($1).*) AS n'' USING NEW;' END, '@BUF@', buf), '@ROOT@', p_source::text)
          || CASE WHEN byname THEN '' ELSE E'
  ELSE
  ' || body || E'
  END IF;' END;
      END IF;
      -- Block label pgt: the variable never clashes with a column of the transition table. Every
      -- name is schema-qualified and the transition tables are resolved before any schema, so a
      -- typed function needs no pinned search_path (docs/security.md, "Change capture"). The
      -- change id and the transaction id are uncorrelated subqueries (init plans), evaluated at
      -- the first row written and not at all for a statement that touched no row: such a
      -- statement takes no id, assigns its transaction no id, and wakes nobody.
      body := E'
<<pgt>>
DECLARE
  k pg_catalog.int8;
BEGIN
  '
        || body || E'
  GET DIAGNOSTICS pgt.k = ROW_COUNT;
  IF pgt.k > 0 THEN
    PERFORM pg_catalog.pg_notify(' || pg_catalog.quote_literal('pgtrickle_wake') || E', '''');
  END IF;
  RETURN NULL;
END
';
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE oid = pg_catalog.to_regprocedure(fn || '()') AND prosrc = body
                       AND (proconfig IS NULL) = (fmt = 'typed')) THEN
        EXECUTE 'CREATE OR REPLACE FUNCTION ' || fn || '() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER'
          || CASE WHEN fmt = 'text' THEN ' SET search_path = pg_catalog, pg_temp SET DateStyle = ''ISO, YMD'' SET IntervalStyle = ''iso_8601'' SET extra_float_digits = ''1'' SET bytea_output = ''hex''' ELSE '' END
          || ' AS ' || pg_catalog.quote_literal(body);
        EXECUTE 'REVOKE ALL ON FUNCTION ' || fn || '() FROM PUBLIC';
      END IF;
      SELECT t.tgenabled INTO tg FROM pg_catalog.pg_trigger AS t WHERE t.tgrelid = rel AND t.tgname = trg;
      had := FOUND;
      IF NOT had THEN
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH %s EXECUTE FUNCTION %s()',
          trg, CASE WHEN ev LIKE 'ins%' THEN 'INSERT' WHEN ev LIKE 'upd%' THEN 'UPDATE' WHEN ev LIKE 'del%' THEN 'DELETE' ELSE 'TRUNCATE' END, rel::regclass,
          CASE ev WHEN 'ins' THEN pg_catalog.format('REFERENCING NEW TABLE AS %I', '__pgt_new')
                  WHEN 'upd' THEN pg_catalog.format('REFERENCING OLD TABLE AS %I NEW TABLE AS %I', '__pgt_old', '__pgt_new')
                  WHEN 'del' THEN pg_catalog.format('REFERENCING OLD TABLE AS %I', '__pgt_old')
                  ELSE '' END,
          CASE WHEN ev LIKE '%r' THEN 'ROW' ELSE 'STATEMENT' END, fn);
        -- A relation that joined the tree after capture began was written without it.
        changed := changed OR (found_state AND NOT rel = ANY (st.relations));
      END IF;
      IF NOT had OR tg.tgenabled <> mode THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE %s TRIGGER %I', rel::regclass,
          CASE mode WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END, trg);
        -- Capture was off (DISABLE TRIGGER ALL, or lost): writes may have been missed.
        changed := changed OR had;
      END IF;
    END LOOP;
  END LOOP;
  -- Relations that left the tree (DETACH, NO INHERIT, dropped): their capture goes.
  IF found_state THEN
    FOREACH rel IN ARRAY st.relations LOOP
      CONTINUE WHEN rel = ANY (rels);
      changed := true;
      PERFORM "pgtrickle_changes".capture_unhook(rel, p_source);
    END LOOP;
  END IF;
  INSERT INTO "pgtrickle_changes".capture_state AS s (source_oid, format, shape_version, relations, signature)
  VALUES (p_source, fmt, 0, rels, COALESCE(sig, ''))
  ON CONFLICT (source_oid) DO UPDATE
    SET format = EXCLUDED.format, relations = EXCLUDED.relations, signature = EXCLUDED.signature,
        shape_version = s.shape_version + CASE WHEN changed OR s.signature <> EXCLUDED.signature THEN 1 ELSE 0 END;
  PERFORM pg_catalog.set_config('pgtrickle.capture_sync', '', true);
  RETURN fmt;
END
$pgt$;

REVOKE ALL ON FUNCTION "pgtrickle_changes".capture_sync(oid, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION "pgtrickle_changes".capture_drop(p_source oid) RETURNS void LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS $pgt$
DECLARE
  st "pgtrickle_changes".capture_state;
  rel oid;
BEGIN
  SELECT * INTO st FROM "pgtrickle_changes".capture_state WHERE source_oid = p_source FOR UPDATE;
  FOREACH rel IN ARRAY COALESCE(st.relations, ARRAY[p_source]) || ARRAY[p_source] LOOP
    PERFORM "pgtrickle_changes".capture_unhook(rel, p_source);
  END LOOP;
  EXECUTE pg_catalog.format('DROP TABLE IF EXISTS %I.%I', 'pgtrickle_changes', 'changes_' || p_source);
  DELETE FROM "pgtrickle_changes".capture_state WHERE source_oid = p_source;
END
$pgt$;

REVOKE ALL ON FUNCTION "pgtrickle_changes".capture_drop(oid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION "pgtrickle_changes".on_source_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $pgt$
DECLARE
  s oid;
BEGIN
  IF pg_catalog.current_setting('pgtrickle.capture_sync', true) = 'on' THEN RETURN; END IF;
  FOR s IN
    WITH RECURSIVE touched(relid) AS (
      SELECT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() AS c WHERE c.classid = 'pg_catalog.pg_class'::regclass
      UNION SELECT i.inhparent FROM pg_catalog.pg_inherits AS i JOIN touched AS t ON i.inhrelid = t.relid)
    SELECT DISTINCT st.source_oid FROM "pgtrickle_changes".capture_state AS st
     WHERE st.source_oid IN (SELECT relid FROM touched)
        OR EXISTS (SELECT 1 FROM touched AS t WHERE t.relid = ANY (st.relations))
  LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = s) THEN
      PERFORM "pgtrickle_changes".capture_sync(s, NULL);
    END IF;
  END LOOP;
END
$pgt$;

REVOKE ALL ON FUNCTION "pgtrickle_changes".on_source_ddl() FROM PUBLIC;

CREATE EVENT TRIGGER "pgtrickle_source_ddl" ON ddl_command_end
  WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
  EXECUTE FUNCTION "pgtrickle_changes".on_source_ddl();

ALTER EVENT TRIGGER "pgtrickle_source_ddl" ENABLE ALWAYS;
