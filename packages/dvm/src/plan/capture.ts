/**
 * Change capture DDL (docs/dvm-design.md §1). A base table gets one buffer
 * `pgtrickle_changes.changes_<oid>` (change_id, xid, action, the row as jsonb),
 * shared by every stream table reading it, and four statement-level triggers: INSERT (rows of the
 * NEW transition table as 'I'), UPDATE (OLD rows as 'D', then NEW rows as 'I'), DELETE (OLD as
 * 'D'), TRUNCATE (one 'T' marker). Trigger functions are PL/pgSQL, SECURITY DEFINER with a pinned
 * search_path, owned by the source table's owner (so a cast or type its owner controls never runs
 * with more than that owner's rights), and NOTIFY `pgtrickle_wake` with no payload (anyone may
 * LISTEN: notifications name no table). Everything is idempotent (IF NOT
 * EXISTS / OR REPLACE), so installing capture for a second consumer is the same call. The trigger
 * functions name no source column, so source DDL can never make a user's write fail.
 *
 * A stream table read by other stream tables gets `changes_st_<pgt id>` (change_id, epoch,
 * action, __pgt_row_id, its visible columns), filled by its own refreshes.
 */
import type { ColumnInfo } from '../catalog/port.js';
import {
  baseBufferName,
  bufferColumnName,
  bufferIndexName,
  type CaptureEvent,
  CHANGES_SCHEMA,
  captureFunctionName,
  captureTriggerName,
  ROW_ID_COLUMN,
  STREAM_BUFFER_COLUMNS,
  streamBufferName,
  TRANSITION_NEW,
  TRANSITION_OLD,
  WAKE_CHANNEL,
} from '../names.js';
import { dollarQuote } from '../sql/quote.js';
import { sql } from '../sql/sql.js';

/** A base table to capture: identity, and the columns to store (all of them). */
export interface CaptureTarget {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly ColumnInfo[];
}

/** The buffer table of a base source, quoted. */
export function baseBuffer(oid: number): string {
  return sql.id(CHANGES_SCHEMA, baseBufferName(oid)).text;
}

/** The buffer table of a stream-table source, quoted. */
export function streamBuffer(pgtId: number): string {
  return sql.id(CHANGES_SCHEMA, streamBufferName(pgtId)).text;
}

/** `CREATE SCHEMA` of the changes schema (PUBLIC gets no access to it). */
export function changesSchemaDdl(): string[] {
  return [
    sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(CHANGES_SCHEMA)}`,
    sql`REVOKE CREATE ON SCHEMA ${sql.id(CHANGES_SCHEMA)} FROM PUBLIC`,
    sql`GRANT USAGE ON SCHEMA ${sql.id(CHANGES_SCHEMA)} TO PUBLIC`,
  ];
}

/** Idempotent DDL that captures every change of `target` into its buffer. */
export function baseCaptureDdl(target: CaptureTarget): string[] {
  const buffer = baseBuffer(target.oid);
  const source = sql.id(target.schema, target.name);
  const stmts: string[] = [
    ...changesSchemaDdl(),
    sql`CREATE TABLE IF NOT EXISTS ${buffer} (
  change_id bigserial NOT NULL,
  xid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
  action "char" NOT NULL,
  data jsonb
)`,
    sql`CREATE INDEX IF NOT EXISTS ${sql.id(bufferIndexName(baseBufferName(target.oid)))} ON ${buffer} (xid)`,
  ];
  // The whole row as jsonb: the functions name no column, so no ALTER TABLE on the source can
  // make them fail (the user's writes never break); the refresh reads the columns it needs.
  const insert = (action: string, table: string, alias: string) =>
    sql`INSERT INTO ${buffer} (action, data) SELECT ${sql.lit(action)}, pg_catalog.to_jsonb(${alias}.*) FROM ${sql.id(table)} AS ${alias};`;
  const notify = sql`PERFORM pg_catalog.pg_notify(${sql.lit(WAKE_CHANNEL)}, '');`;
  const bodies: Record<CaptureEvent, string> = {
    ins: sql`${insert('I', TRANSITION_NEW, 'n')}\n  ${notify}`,
    upd: sql`${insert('D', TRANSITION_OLD, 'o')}\n  ${insert('I', TRANSITION_NEW, 'n')}\n  ${notify}`,
    del: sql`${insert('D', TRANSITION_OLD, 'o')}\n  ${notify}`,
    trunc: sql`INSERT INTO ${buffer} (action) VALUES ('T');\n  ${notify}`,
  };
  const events: Record<CaptureEvent, { on: string; referencing: string }> = {
    ins: { on: 'INSERT', referencing: sql`REFERENCING NEW TABLE AS ${sql.id(TRANSITION_NEW)} ` },
    upd: {
      on: 'UPDATE',
      referencing: sql`REFERENCING OLD TABLE AS ${sql.id(TRANSITION_OLD)} NEW TABLE AS ${sql.id(TRANSITION_NEW)} `,
    },
    del: { on: 'DELETE', referencing: sql`REFERENCING OLD TABLE AS ${sql.id(TRANSITION_OLD)} ` },
    trunc: { on: 'TRUNCATE', referencing: '' },
  };
  for (const event of ['ins', 'upd', 'del', 'trunc'] as const) {
    const fn = sql.id(CHANGES_SCHEMA, captureFunctionName(event, target.oid));
    const body = sql`\nBEGIN\n  ${bodies[event]}\n  RETURN NULL;\nEND\n`;
    stmts.push(
      sql`CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
  ${dollarQuote(body)}`,
      sql`REVOKE ALL ON FUNCTION ${fn}() FROM PUBLIC`,
      sql`CREATE OR REPLACE TRIGGER ${sql.id(captureTriggerName(event, target.oid))} AFTER ${events[event].on} ON ${source}
  ${events[event].referencing}FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`,
    );
  }
  return stmts;
}

/** DDL that removes the capture of base table `target` (triggers, functions, buffer). */
export function dropBaseCaptureDdl(
  target: Pick<CaptureTarget, 'oid' | 'schema' | 'name'>,
  sourceExists = true,
): string[] {
  const stmts: string[] = [];
  for (const event of ['ins', 'upd', 'del', 'trunc'] as const) {
    if (sourceExists) {
      stmts.push(
        sql`DROP TRIGGER IF EXISTS ${sql.id(captureTriggerName(event, target.oid))} ON ${sql.id(target.schema, target.name)}`,
      );
    }
    stmts.push(
      sql`DROP FUNCTION IF EXISTS ${sql.id(CHANGES_SCHEMA, captureFunctionName(event, target.oid))}()`,
    );
  }
  stmts.push(sql`DROP TABLE IF EXISTS ${baseBuffer(target.oid)}`);
  return stmts;
}

/** Idempotent DDL of the change buffer of stream table `pgtId` with visible columns `columns`. */
export function streamBufferDdl(pgtId: number, columns: readonly ColumnInfo[]): string[] {
  const buffer = streamBuffer(pgtId);
  const cols = columns.map((c) => ({
    buf: sql.id(bufferColumnName(c.name, STREAM_BUFFER_COLUMNS)),
    type: c.type,
  }));
  const colDefs = sql.join(
    cols.map((c) => sql`,\n  ${c.buf} ${c.type}`),
    '',
  );
  return [
    ...changesSchemaDdl(),
    sql`CREATE TABLE IF NOT EXISTS ${buffer} (
  change_id bigserial NOT NULL,
  epoch bigint NOT NULL,
  action "char" NOT NULL,
  ${sql.id(ROW_ID_COLUMN)} bigint${colDefs}
)`,
    ...cols.map((c) => sql`ALTER TABLE ${buffer} ADD COLUMN IF NOT EXISTS ${c.buf} ${c.type}`),
    sql`CREATE INDEX IF NOT EXISTS ${sql.id(bufferIndexName(streamBufferName(pgtId)))} ON ${buffer} (epoch)`,
  ];
}

/** DDL that drops the change buffer of stream table `pgtId`. */
export function dropStreamBufferDdl(pgtId: number): string[] {
  return [sql`DROP TABLE IF EXISTS ${streamBuffer(pgtId)}`];
}

/**
 * Who may touch a base table's buffer (docs/security.md, "Change capture"): row-level security on
 * the buffer lets a role read a source's changes only while it may read the whole source and no
 * policy of the source applies to it (so a stream table's owner reads, in its sandbox, exactly what
 * its own SELECT could); the source's owner inserts (its capture functions, which it owns, run
 * with its rights). The buffer's owner, the sidecar, reads and trims everything.
 */
export function baseCaptureAccessDdl(
  target: Pick<CaptureTarget, 'oid'>,
  sourceOwner: string,
  options: { readonly grantCreateForOwnerChange?: boolean } = {},
): string[] {
  const buffer = baseBuffer(target.oid);
  const readable = sql`pg_catalog.has_table_privilege(${target.oid}::oid, 'SELECT') AND NOT pg_catalog.row_security_active(${target.oid}::oid)`;
  const owner = sql.id(sourceOwner);
  const reown = (['ins', 'upd', 'del', 'trunc'] as const).map(
    (event) =>
      sql`ALTER FUNCTION ${sql.id(CHANGES_SCHEMA, captureFunctionName(event, target.oid))}() OWNER TO ${owner}`,
  );
  // A new owner needs CREATE on the function's schema when a non-superuser re-owns it: granted
  // for the moment of the change only, inside the caller's transaction, so no other session sees it.
  const schema = sql.id(CHANGES_SCHEMA);
  return [
    ...bufferAccessDdl(buffer, baseBufferName(target.oid), readable, sourceOwner),
    ...(options.grantCreateForOwnerChange === true
      ? [
          sql`GRANT CREATE ON SCHEMA ${schema} TO ${owner}`,
          ...reown,
          sql`REVOKE CREATE ON SCHEMA ${schema} FROM ${owner}`,
        ]
      : reown),
  ];
}

/**
 * Who may touch a stream table's buffer: readers of its storage table read it (row-level
 * security, as for base buffers), its owner writes it (its refreshes run as the owner).
 */
export function streamBufferAccessDdl(pgtId: number, storage: string, owner: string): string[] {
  const readable = sql`pg_catalog.has_table_privilege(${sql.lit(storage)}, 'SELECT')`;
  return bufferAccessDdl(streamBuffer(pgtId), streamBufferName(pgtId), readable, owner);
}

function bufferAccessDdl(buffer: string, bufferName: string, readable: string, writer: string): string[] {
  const sequence = sql.id(CHANGES_SCHEMA, `${bufferName}_change_id_seq`);
  return [
    sql`ALTER TABLE ${buffer} ENABLE ROW LEVEL SECURITY`,
    sql`DROP POLICY IF EXISTS pgt_read ON ${buffer}`,
    sql`CREATE POLICY pgt_read ON ${buffer} FOR SELECT USING ((SELECT ${readable}))`,
    sql`DROP POLICY IF EXISTS pgt_write ON ${buffer}`,
    sql`CREATE POLICY pgt_write ON ${buffer} FOR INSERT WITH CHECK (true)`,
    sql`GRANT SELECT ON ${buffer} TO PUBLIC`,
    sql`GRANT INSERT ON ${buffer} TO ${sql.id(writer)}`,
    sql`GRANT USAGE ON SEQUENCE ${sequence} TO ${sql.id(writer)}`,
  ];
}
