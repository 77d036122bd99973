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
import { dollarQuote, quoteIdent, quoteLiteral, quoteQualified } from '../sql/quote.js';

/** A base table to capture: identity, and the columns to store (all of them). */
export interface CaptureTarget {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly ColumnInfo[];
}

/** The buffer table of a base source, quoted. */
export function baseBuffer(oid: number): string {
  return quoteQualified(CHANGES_SCHEMA, baseBufferName(oid));
}

/** The buffer table of a stream-table source, quoted. */
export function streamBuffer(pgtId: number): string {
  return quoteQualified(CHANGES_SCHEMA, streamBufferName(pgtId));
}

/** `CREATE SCHEMA` of the changes schema (PUBLIC gets no access to it). */
export function changesSchemaDdl(): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(CHANGES_SCHEMA)}`,
    `REVOKE CREATE ON SCHEMA ${quoteIdent(CHANGES_SCHEMA)} FROM PUBLIC`,
    `GRANT USAGE ON SCHEMA ${quoteIdent(CHANGES_SCHEMA)} TO PUBLIC`,
  ];
}

/** Idempotent DDL that captures every change of `target` into its buffer. */
export function baseCaptureDdl(target: CaptureTarget): string[] {
  const buffer = baseBuffer(target.oid);
  const source = quoteQualified(target.schema, target.name);
  const stmts: string[] = [
    ...changesSchemaDdl(),
    `CREATE TABLE IF NOT EXISTS ${buffer} (
  change_id bigserial NOT NULL,
  xid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
  action "char" NOT NULL,
  data jsonb
)`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(bufferIndexName(baseBufferName(target.oid)))} ON ${buffer} (xid)`,
  ];
  // The whole row as jsonb: the functions name no column, so no ALTER TABLE on the source can
  // make them fail (the user's writes never break); the refresh reads the columns it needs.
  const insert = (action: string, table: string, alias: string) =>
    `INSERT INTO ${buffer} (action, data) SELECT '${action}', pg_catalog.to_jsonb(${alias}.*) FROM ${quoteIdent(table)} AS ${alias};`;
  const notify = `PERFORM pg_catalog.pg_notify(${quoteLiteral(WAKE_CHANNEL)}, '');`;
  const bodies: Record<CaptureEvent, string> = {
    ins: `${insert('I', TRANSITION_NEW, 'n')}\n  ${notify}`,
    upd: `${insert('D', TRANSITION_OLD, 'o')}\n  ${insert('I', TRANSITION_NEW, 'n')}\n  ${notify}`,
    del: `${insert('D', TRANSITION_OLD, 'o')}\n  ${notify}`,
    trunc: `INSERT INTO ${buffer} (action) VALUES ('T');\n  ${notify}`,
  };
  const events: Record<CaptureEvent, { on: string; referencing: string }> = {
    ins: { on: 'INSERT', referencing: `REFERENCING NEW TABLE AS ${quoteIdent(TRANSITION_NEW)} ` },
    upd: {
      on: 'UPDATE',
      referencing: `REFERENCING OLD TABLE AS ${quoteIdent(TRANSITION_OLD)} NEW TABLE AS ${quoteIdent(TRANSITION_NEW)} `,
    },
    del: { on: 'DELETE', referencing: `REFERENCING OLD TABLE AS ${quoteIdent(TRANSITION_OLD)} ` },
    trunc: { on: 'TRUNCATE', referencing: '' },
  };
  for (const event of ['ins', 'upd', 'del', 'trunc'] as const) {
    const fn = quoteQualified(CHANGES_SCHEMA, captureFunctionName(event, target.oid));
    const body = `\nBEGIN\n  ${bodies[event]}\n  RETURN NULL;\nEND\n`;
    stmts.push(
      `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
  ${dollarQuote(body)}`,
      `REVOKE ALL ON FUNCTION ${fn}() FROM PUBLIC`,
      `CREATE OR REPLACE TRIGGER ${quoteIdent(captureTriggerName(event, target.oid))} AFTER ${events[event].on} ON ${source}
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
        `DROP TRIGGER IF EXISTS ${quoteIdent(captureTriggerName(event, target.oid))} ON ${quoteQualified(target.schema, target.name)}`,
      );
    }
    stmts.push(
      `DROP FUNCTION IF EXISTS ${quoteQualified(CHANGES_SCHEMA, captureFunctionName(event, target.oid))}()`,
    );
  }
  stmts.push(`DROP TABLE IF EXISTS ${baseBuffer(target.oid)}`);
  return stmts;
}

/** Idempotent DDL of the change buffer of stream table `pgtId` with visible columns `columns`. */
export function streamBufferDdl(pgtId: number, columns: readonly ColumnInfo[]): string[] {
  const buffer = streamBuffer(pgtId);
  const cols = columns.map((c) => ({ buf: bufferColumnName(c.name, STREAM_BUFFER_COLUMNS), type: c.type }));
  return [
    ...changesSchemaDdl(),
    `CREATE TABLE IF NOT EXISTS ${buffer} (
  change_id bigserial NOT NULL,
  epoch bigint NOT NULL,
  action "char" NOT NULL,
  ${quoteIdent(ROW_ID_COLUMN)} bigint${cols.map((c) => `,\n  ${quoteIdent(c.buf)} ${c.type}`).join('')}
)`,
    ...cols.map((c) => `ALTER TABLE ${buffer} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.buf)} ${c.type}`),
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(bufferIndexName(streamBufferName(pgtId)))} ON ${buffer} (epoch)`,
  ];
}

/** DDL that drops the change buffer of stream table `pgtId`. */
export function dropStreamBufferDdl(pgtId: number): string[] {
  return [`DROP TABLE IF EXISTS ${streamBuffer(pgtId)}`];
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
  const readable = `pg_catalog.has_table_privilege(${target.oid}::oid, 'SELECT') AND NOT pg_catalog.row_security_active(${target.oid}::oid)`;
  const owner = quoteIdent(sourceOwner);
  const reown = (['ins', 'upd', 'del', 'trunc'] as const).map(
    (event) =>
      `ALTER FUNCTION ${quoteQualified(CHANGES_SCHEMA, captureFunctionName(event, target.oid))}() OWNER TO ${owner}`,
  );
  // A new owner needs CREATE on the function's schema when a non-superuser re-owns it: granted
  // for the moment of the change only, inside the caller's transaction, so no other session sees it.
  const schema = quoteIdent(CHANGES_SCHEMA);
  return [
    ...bufferAccessDdl(buffer, baseBufferName(target.oid), readable, sourceOwner),
    ...(options.grantCreateForOwnerChange === true
      ? [
          `GRANT CREATE ON SCHEMA ${schema} TO ${owner}`,
          ...reown,
          `REVOKE CREATE ON SCHEMA ${schema} FROM ${owner}`,
        ]
      : reown),
  ];
}

/**
 * Who may touch a stream table's buffer: readers of its storage table read it (row-level
 * security, as for base buffers), its owner writes it (its refreshes run as the owner).
 */
export function streamBufferAccessDdl(pgtId: number, storage: string, owner: string): string[] {
  const readable = `pg_catalog.has_table_privilege(${quoteLiteral(storage)}, 'SELECT')`;
  return bufferAccessDdl(streamBuffer(pgtId), streamBufferName(pgtId), readable, owner);
}

function bufferAccessDdl(buffer: string, bufferName: string, readable: string, writer: string): string[] {
  const sequence = quoteQualified(CHANGES_SCHEMA, `${bufferName}_change_id_seq`);
  return [
    `ALTER TABLE ${buffer} ENABLE ROW LEVEL SECURITY`,
    `DROP POLICY IF EXISTS pgt_read ON ${buffer}`,
    `CREATE POLICY pgt_read ON ${buffer} FOR SELECT USING ((SELECT ${readable}))`,
    `DROP POLICY IF EXISTS pgt_write ON ${buffer}`,
    `CREATE POLICY pgt_write ON ${buffer} FOR INSERT WITH CHECK (true)`,
    `GRANT SELECT ON ${buffer} TO PUBLIC`,
    `GRANT INSERT ON ${buffer} TO ${quoteIdent(writer)}`,
    `GRANT USAGE ON SEQUENCE ${sequence} TO ${quoteIdent(writer)}`,
  ];
}
