/**
 * The capture generator, in the database (docs/capture.md). Rule: every write to a captured table
 * — addressed to it, to one of its partitions or inheritance children (existing, attached or new),
 * under `session_replication_role = replica`, or while someone disabled triggers — lands in the
 * table's buffer, or capture is repaired and the consumers are told to recompute.
 *
 * `pgtrickle_changes.capture_sync(source, format)` (PL/pgSQL) is the one place that builds a
 * source's capture, so the sidecar and the DDL event trigger build the same thing:
 * - the buffer `changes_<oid>`: bookkeeping columns, then either one typed column per stored column
 *   of the source (`typed`: `c<attnum>`, the column's type — a domain's base type — and collation)
 *   or the row's text (`text`: `data`, `record_out` under pinned output settings, decoded with the
 *   table's row type);
 * - for the source and every descendant, statement-level capture triggers with transition tables
 *   (fired in ordinary sessions) and row-level ones (`ENABLE REPLICA`: fired where
 *   `session_replication_role = replica`, e.g. logical replication apply, which fires row triggers
 *   only), TRUNCATE's `ENABLE ALWAYS`, all writing into the root's buffer (a partition's row
 *   triggers are the clones of the root's);
 * - the state row in `capture_state`: format, the relations carrying triggers, the buffer's column
 *   signature, and `shape_version`, bumped whenever the buffer's columns, the tree, or a disabled or
 *   missing trigger had to be changed — a consumer whose recorded version differs recomputes (FULL).
 *
 * `typed` needs the event trigger `pgtrickle_source_ddl`, which re-runs the generator inside every
 * DDL transaction touching a captured tree, so no DDL can make a write fail; without it (a role that
 * may not create event triggers) the format is `text`, whose functions name no column at all.
 * Neither format evaluates user-defined SQL: typed capture copies values into columns of their own
 * type, text capture calls type output functions only.
 */
import { type CaptureEvent, CHANGES_SCHEMA, TRANSITION_NEW, TRANSITION_OLD, WAKE_CHANNEL } from '../names.js';
import { dollarQuote } from '../sql/quote.js';
import { sql } from '../sql/sql.js';

/** How a base table's buffer stores rows. */
export type CaptureFormat = 'typed' | 'text';

/** The event trigger that keeps typed capture in step with source DDL. */
export const SOURCE_DDL_EVENT_TRIGGER = 'pgtrickle_source_ddl';

/**
 * Every capture trigger a relation of a captured tree carries, by event, with the mode it is
 * enabled in: statement triggers for ordinary sessions (`O`), row triggers for replica sessions
 * (`R`: logical replication apply fires row triggers only), TRUNCATE's always (`A`). The one table
 * the generator, `capture_unhook` and `capture_trigger_count` all read.
 */
export const CAPTURE_TRIGGER_MODES: Readonly<Record<CaptureEvent, 'O' | 'R' | 'A'>> = Object.freeze({
  ins: 'O',
  upd: 'O',
  del: 'O',
  trunc: 'A',
  insr: 'R',
  updr: 'R',
  delr: 'R',
});

/** `ARRAY['ins', …]` of every capture event. */
const EVENTS = sql`ARRAY[${sql.join(Object.keys(CAPTURE_TRIGGER_MODES).map((e) => sql.lit(e)))}]`;
/** `(VALUES ('ins', 'O'), …)`: each capture event with its mode. */
const EVENT_MODES = sql`(VALUES ${sql.join(
  Object.entries(CAPTURE_TRIGGER_MODES).map(([e, m]) => sql`(${sql.lit(e)}, ${sql.lit(m)}::"char")`),
)})`;

/** Session settings text capture writes under (so a value's text never depends on the writer's session). */
export const TEXT_CAPTURE_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'iso_8601',
  extra_float_digits: '1',
  bytea_output: 'hex',
});

const SCHEMA = sql.id(CHANGES_SCHEMA);

/**
 * The root's columns as `n."a", n."b", …` in the root's order (non-dropped), looked up when the
 * trigger fires: PL/pgSQL text with `@ROOT@` standing for the root's oid.
 */
const ROOT_COLUMNS = `COALESCE((SELECT pg_catalog.string_agg('n.' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = @ROOT@::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped), '')`;

/**
 * A text-capture statement writing rows `from` (a transition table, or the trigger's row `$1`)
 * as the text of a row in the **root's** layout: its columns picked by name (`ROW(n."a", …)`,
 * whose text is exactly the root's row text), for a child laid out unlike the root. Names are
 * looked up when it runs, so no DDL (a rename, a new or dropped column) can make a write fail.
 * `@BUF@` stands for the buffer's quoted name.
 */
function byNameInsert(action: 'I' | 'D', from: 'new' | 'old' | 'NEW' | 'OLD'): string {
  const rows =
    from === 'new'
      ? quoteIdentText(TRANSITION_NEW)
      : from === 'old'
        ? quoteIdentText(TRANSITION_OLD)
        : '(SELECT ($1).*)';
  const using = from === 'NEW' || from === 'OLD' ? ` USING ${from}` : '';
  return `EXECUTE 'INSERT INTO @BUF@ (action, data) SELECT ''${action}'', ROW(' || ${ROOT_COLUMNS} || ')::text FROM ${rows} AS n'${using};`;
}

/** A double-quoted identifier (for names made of letters, digits and underscores). */
function quoteIdentText(name: string): string {
  return `"${name}"`;
}

/** Per capture event (TRUNCATE excepted), the by-name body of {@link byNameInsert}. */
const BY_NAME_BODIES: Readonly<Record<string, string>> = Object.freeze({
  ins: byNameInsert('I', 'new'),
  del: byNameInsert('D', 'old'),
  upd: `${byNameInsert('D', 'old')}\n  ${byNameInsert('I', 'new')}`,
  insr: byNameInsert('I', 'NEW'),
  delr: byNameInsert('D', 'OLD'),
  updr: `${byNameInsert('D', 'OLD')}\n  ${byNameInsert('I', 'NEW')}`,
});

/** `CASE ev WHEN 'ins' THEN '<by-name body>' … END` (PL/pgSQL), over variable `ev`. */
const BY_NAME_CASE = `CASE ev ${Object.entries(BY_NAME_BODIES)
  .map(([e, b]) => sql`WHEN ${sql.lit(e)} THEN ${sql.lit(b)}`)
  .join(' ')} END`;

const STATE_DDL = sql`CREATE TABLE IF NOT EXISTS ${SCHEMA}.capture_state (
  source_oid oid PRIMARY KEY,
  format text NOT NULL CHECK (format IN ('typed', 'text')),
  shape_version bigint NOT NULL DEFAULT 0,
  relations oid[] NOT NULL DEFAULT '{}',
  signature text NOT NULL DEFAULT ''
)`;

function syncBody(): string {
  const settings = Object.entries(TEXT_CAPTURE_SETTINGS)
    .map(([k, v]) => sql`SET ${sql.raw(k)} = ${sql.lit(v)}`)
    .join(' ');
  return sql`
DECLARE
  st ${SCHEMA}.capture_state;
  fmt text;
  buf text := pg_catalog.format('%I.%I', ${sql.lit(CHANGES_SCHEMA)}, 'changes_' || p_source);
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
  SELECT * INTO st FROM ${SCHEMA}.capture_state WHERE source_oid = p_source FOR UPDATE;
  found_state := FOUND;
  fmt := COALESCE(st.format, p_format, CASE WHEN EXISTS (
    SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = ${sql.lit(SOURCE_DDL_EVENT_TRIGGER)} AND evtenabled <> 'D')
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
    FROM ${SCHEMA}.capture_state AS s
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
      PERFORM ${SCHEMA}.capture_unhook(rel, p_source);
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
    FOREACH ev IN ARRAY ${EVENTS} LOOP
      fn := pg_catalog.format('%I.%I', ${sql.lit(CHANGES_SCHEMA)}, 'capture_' || ev || '_' || rel);
      trg := 'pgtrickle_' || ev || '_' || rel;
      -- Statement triggers fire in ordinary sessions, row triggers in replica ones (logical
      -- replication apply fires row triggers only), TRUNCATE's always: each write once.
      SELECT m.md INTO mode FROM ${EVENT_MODES} AS m(e, md) WHERE m.e = ev;
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
        WHEN 'ins' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) SELECT (SELECT %s), (SELECT pg_catalog.pg_current_xact_id()), ''I''%s FROM %I AS n;', buf, targets, nextid, vals, ${sql.lit(TRANSITION_NEW)})
        WHEN 'del' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) SELECT (SELECT %s), (SELECT pg_catalog.pg_current_xact_id()), ''D''%s FROM %I AS n;', buf, targets, nextid, vals, ${sql.lit(TRANSITION_OLD)})
        WHEN 'upd' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) SELECT (SELECT %s), (SELECT pg_catalog.pg_current_xact_id()), ''D''%s FROM %I AS n;', buf, targets, nextid, vals, ${sql.lit(TRANSITION_OLD)})
          || E'\n  ' || pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) SELECT (SELECT %s), (SELECT pg_catalog.pg_current_xact_id()), ''I''%s FROM %I AS n;', buf, targets, nextid, vals, ${sql.lit(TRANSITION_NEW)})
        WHEN 'insr' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) VALUES (%s, pg_catalog.pg_current_xact_id(), ''I''%s);', buf, targets, nextid, newvals)
        WHEN 'delr' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) VALUES (%s, pg_catalog.pg_current_xact_id(), ''D''%s);', buf, targets, nextid, oldvals)
        WHEN 'updr' THEN pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) VALUES (%s, pg_catalog.pg_current_xact_id(), ''D''%s);', buf, targets, nextid, oldvals)
          || E'\n  ' || pg_catalog.format('INSERT INTO %s (change_id, xid, action%s) VALUES (%s, pg_catalog.pg_current_xact_id(), ''I''%s);', buf, targets, nextid, newvals)
        ELSE pg_catalog.format('INSERT INTO %s (change_id, xid, action) VALUES (%s, pg_catalog.pg_current_xact_id(), ''T'');', buf, nextid) END;
      IF fmt = 'text' AND ev <> 'trunc' AND (byname OR (rel = p_source AND ev LIKE '%r' AND pg_catalog.cardinality(unlike) > 0)) THEN
        -- By name: a child unlike the root; the root's row triggers, whose clones fire on every
        -- partition, do so when fired on another relation than the root. (These rows take their
        -- change id and xid from the buffer's column defaults.)
        body := CASE WHEN byname THEN '' ELSE 'IF TG_RELID <> ' || p_source || E'::pg_catalog.oid THEN\n  ' END
          || pg_catalog.replace(pg_catalog.replace(${sql.raw(BY_NAME_CASE)}, '@BUF@', buf), '@ROOT@', p_source::text)
          || CASE WHEN byname THEN '' ELSE E'\n  ELSE\n  ' || body || E'\n  END IF;' END;
      END IF;
      -- Block label pgt: the variable never clashes with a column of the transition table. Every
      -- name is schema-qualified and the transition tables are resolved before any schema, so a
      -- typed function needs no pinned search_path (docs/security.md, "Change capture"). The
      -- change id and the transaction id are uncorrelated subqueries (init plans), evaluated at
      -- the first row written and not at all for a statement that touched no row: such a
      -- statement takes no id, assigns its transaction no id, and wakes nobody.
      body := E'\n<<pgt>>\nDECLARE\n  k pg_catalog.int8;\nBEGIN\n  '
        || body || E'\n  GET DIAGNOSTICS pgt.k = ROW_COUNT;\n  IF pgt.k > 0 THEN\n    PERFORM pg_catalog.pg_notify(' || pg_catalog.quote_literal(${sql.lit(WAKE_CHANNEL)}) || E', '''');\n  END IF;\n  RETURN NULL;\nEND\n';
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE oid = pg_catalog.to_regprocedure(fn || '()') AND prosrc = body
                       AND (proconfig IS NULL) = (fmt = 'typed')) THEN
        EXECUTE 'CREATE OR REPLACE FUNCTION ' || fn || '() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER'
          || CASE WHEN fmt = 'text' THEN ${sql.lit(` SET search_path = pg_catalog, pg_temp ${settings}`)} ELSE '' END
          || ' AS ' || pg_catalog.quote_literal(body);
        EXECUTE 'REVOKE ALL ON FUNCTION ' || fn || '() FROM PUBLIC';
      END IF;
      SELECT t.tgenabled INTO tg FROM pg_catalog.pg_trigger AS t WHERE t.tgrelid = rel AND t.tgname = trg;
      had := FOUND;
      IF NOT had THEN
        EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH %s EXECUTE FUNCTION %s()',
          trg, CASE WHEN ev LIKE 'ins%' THEN 'INSERT' WHEN ev LIKE 'upd%' THEN 'UPDATE' WHEN ev LIKE 'del%' THEN 'DELETE' ELSE 'TRUNCATE' END, rel::regclass,
          CASE ev WHEN 'ins' THEN pg_catalog.format('REFERENCING NEW TABLE AS %I', ${sql.lit(TRANSITION_NEW)})
                  WHEN 'upd' THEN pg_catalog.format('REFERENCING OLD TABLE AS %I NEW TABLE AS %I', ${sql.lit(TRANSITION_OLD)}, ${sql.lit(TRANSITION_NEW)})
                  WHEN 'del' THEN pg_catalog.format('REFERENCING OLD TABLE AS %I', ${sql.lit(TRANSITION_OLD)})
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
      PERFORM ${SCHEMA}.capture_unhook(rel, p_source);
    END LOOP;
  END IF;
  INSERT INTO ${SCHEMA}.capture_state AS s (source_oid, format, shape_version, relations, signature)
  VALUES (p_source, fmt, 0, rels, COALESCE(sig, ''))
  ON CONFLICT (source_oid) DO UPDATE
    SET format = EXCLUDED.format, relations = EXCLUDED.relations, signature = EXCLUDED.signature,
        shape_version = s.shape_version + CASE WHEN changed OR s.signature <> EXCLUDED.signature THEN 1 ELSE 0 END;
  PERFORM pg_catalog.set_config('pgtrickle.capture_sync', '', true);
  RETURN fmt;
END
`;
}

function unhookBody(): string {
  return sql`
DECLARE
  ev text;
BEGIN
  FOREACH ev IN ARRAY ${EVENTS} LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = p_rel AND tgname = 'pgtrickle_' || ev || '_' || p_rel) THEN
      EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', 'pgtrickle_' || ev || '_' || p_rel, p_rel::regclass);
    END IF;
    -- A partition detached from the root may keep (independent) copies of the root's row triggers.
    IF p_rel <> p_root AND EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                                    WHERE tgrelid = p_rel AND tgname = 'pgtrickle_' || ev || '_' || p_root AND tgparentid = 0) THEN
      EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', 'pgtrickle_' || ev || '_' || p_root, p_rel::regclass);
    END IF;
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %I.%I()', ${sql.lit(CHANGES_SCHEMA)}, 'capture_' || ev || '_' || p_rel);
  END LOOP;
END
`;
}

function dropBody(): string {
  return sql`
DECLARE
  st ${SCHEMA}.capture_state;
  rel oid;
BEGIN
  SELECT * INTO st FROM ${SCHEMA}.capture_state WHERE source_oid = p_source FOR UPDATE;
  FOREACH rel IN ARRAY COALESCE(st.relations, ARRAY[p_source]) || ARRAY[p_source] LOOP
    PERFORM ${SCHEMA}.capture_unhook(rel, p_source);
  END LOOP;
  EXECUTE pg_catalog.format('DROP TABLE IF EXISTS %I.%I', ${sql.lit(CHANGES_SCHEMA)}, 'changes_' || p_source);
  DELETE FROM ${SCHEMA}.capture_state WHERE source_oid = p_source;
END
`;
}

function onDdlBody(): string {
  return sql`
DECLARE
  s oid;
BEGIN
  IF pg_catalog.current_setting('pgtrickle.capture_sync', true) = 'on' THEN RETURN; END IF;
  FOR s IN
    WITH RECURSIVE touched(relid) AS (
      SELECT c.objid FROM pg_catalog.pg_event_trigger_ddl_commands() AS c WHERE c.classid = 'pg_catalog.pg_class'::regclass
      UNION SELECT i.inhparent FROM pg_catalog.pg_inherits AS i JOIN touched AS t ON i.inhrelid = t.relid)
    SELECT DISTINCT st.source_oid FROM ${SCHEMA}.capture_state AS st
     WHERE st.source_oid IN (SELECT relid FROM touched)
        OR EXISTS (SELECT 1 FROM touched AS t WHERE t.relid = ANY (st.relations))
  LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid = s) THEN
      PERFORM ${SCHEMA}.capture_sync(s, NULL);
    END IF;
  END LOOP;
END
`;
}

/** How many capture triggers of a tree are enabled in their mode, and how many it should have. */
function countBody(): string {
  return sql`
  SELECT (SELECT pg_catalog.count(*)::int FROM pg_catalog.pg_trigger AS t JOIN ${EVENT_MODES} AS m(e, md)
            ON t.tgname ~ ('^pgtrickle_' || m.e || '_[0-9]+$')
          WHERE t.tgrelid = ANY (p_relations) AND t.tgenabled = m.md),
         ${Object.keys(CAPTURE_TRIGGER_MODES).length} * pg_catalog.cardinality(p_relations)
`;
}

/**
 * Idempotent DDL of the capture machinery: the state table, the generator `capture_sync`, its
 * inverse `capture_drop`, and the DDL event trigger's function. Creating the event trigger itself
 * needs a role that may ({@link sourceDdlEventTriggerDdl}).
 */
export function captureSyncDdl(): string[] {
  return [
    STATE_DDL,
    sql`GRANT SELECT ON ${SCHEMA}.capture_state TO PUBLIC`,
    sql`CREATE OR REPLACE FUNCTION ${SCHEMA}.capture_trigger_count(p_relations oid[], OUT enabled int, OUT expected int)
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS ${dollarQuote(countBody())}`,
    sql`GRANT EXECUTE ON FUNCTION ${SCHEMA}.capture_trigger_count(oid[]) TO PUBLIC`,
    sql`CREATE OR REPLACE FUNCTION ${SCHEMA}.capture_unhook(p_rel oid, p_root oid) RETURNS void LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS ${dollarQuote(unhookBody())}`,
    sql`REVOKE ALL ON FUNCTION ${SCHEMA}.capture_unhook(oid, oid) FROM PUBLIC`,
    sql`CREATE OR REPLACE FUNCTION ${SCHEMA}.capture_sync(p_source oid, p_format text) RETURNS text LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS ${dollarQuote(syncBody())}`,
    sql`REVOKE ALL ON FUNCTION ${SCHEMA}.capture_sync(oid, text) FROM PUBLIC`,
    sql`CREATE OR REPLACE FUNCTION ${SCHEMA}.capture_drop(p_source oid) RETURNS void LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp AS ${dollarQuote(dropBody())}`,
    sql`REVOKE ALL ON FUNCTION ${SCHEMA}.capture_drop(oid) FROM PUBLIC`,
    sql`CREATE OR REPLACE FUNCTION ${SCHEMA}.on_source_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS ${dollarQuote(onDdlBody())}`,
    sql`REVOKE ALL ON FUNCTION ${SCHEMA}.on_source_ddl() FROM PUBLIC`,
  ];
}

/**
 * The DDL event trigger that re-runs `capture_sync` for every captured tree a DDL command touched,
 * in that command's transaction. Only a superuser (or a managed service's equivalent) may create it.
 */
export function sourceDdlEventTriggerDdl(): string[] {
  return [
    sql`CREATE EVENT TRIGGER ${sql.id(SOURCE_DDL_EVENT_TRIGGER)} ON ddl_command_end
  WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
  EXECUTE FUNCTION ${SCHEMA}.on_source_ddl()`,
    // Also under session_replication_role = replica (restores and migration tools run DDL so).
    sql`ALTER EVENT TRIGGER ${sql.id(SOURCE_DDL_EVENT_TRIGGER)} ENABLE ALWAYS`,
  ];
}

/** `SELECT capture_sync(...)`: builds or repairs capture of base table `oid` (format: the existing one, else by event trigger). */
export function captureSyncCall(oid: number, format?: CaptureFormat): string {
  return sql`SELECT ${SCHEMA}.capture_sync(${oid}::oid, ${format === undefined ? sql.raw('NULL') : sql.lit(format)}::text)`;
}

/** `SELECT capture_drop(...)`: removes every trigger, function and the buffer of base table `oid`'s capture. */
export function captureDropCall(oid: number): string {
  return sql`SELECT ${SCHEMA}.capture_drop(${oid}::oid)`;
}
