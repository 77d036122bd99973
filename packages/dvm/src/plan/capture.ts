/**
 * Change capture DDL (docs/capture.md). A base table gets one buffer
 * `pgtrickle_changes.changes_<oid>`, shared by every stream table reading it, filled by
 * statement-level triggers on the table and on each of its partitions or children; the buffer and
 * the triggers are built by the in-database generator `capture_sync` (plan/capture-sync.ts), so the
 * sidecar and the DDL event trigger build the same thing.
 *
 * A stream table read by other stream tables gets `changes_st_<pgt id>` (change_id, epoch,
 * action, __pgt_row_id, its visible columns), filled by its own refreshes.
 */
import type { ColumnInfo } from '../catalog/port.js';
import {
  baseBufferName,
  bufferColumnName,
  bufferIndexName,
  CHANGES_SCHEMA,
  ROW_ID_COLUMN,
  STREAM_BUFFER_COLUMNS,
  streamBufferName,
} from '../names.js';
import { sql } from '../sql/sql.js';
import { type CaptureFormat, captureDropCall, captureSyncCall, captureSyncDdl } from './capture-sync.js';

/** A base table to capture, by oid (`capture_sync` reads its columns, tree and owner itself). */
export interface CaptureTarget {
  readonly oid: number;
}

/** The buffer table of a base source, quoted. */
export function baseBuffer(oid: number): string {
  return sql.id(CHANGES_SCHEMA, baseBufferName(oid)).text;
}

/** The window index of a base source's buffer (present only while the buffer is large), quoted. */
export function baseBufferIndex(oid: number): string {
  return sql.id(CHANGES_SCHEMA, bufferIndexName(baseBufferName(oid))).text;
}

/**
 * DDL creating the window index of base table `oid`'s buffer: on `xid`, the column every reader's
 * window starts from. Kept only while the buffer is large (docs/capture.md).
 */
export function baseBufferIndexDdl(oid: number): string {
  return sql`CREATE INDEX IF NOT EXISTS ${sql.id(bufferIndexName(baseBufferName(oid)))} ON ${sql.raw(baseBuffer(oid))} (xid)`;
}

/** DDL dropping the window index of base table `oid`'s buffer. */
export function dropBaseBufferIndexDdl(oid: number): string {
  return sql`DROP INDEX IF EXISTS ${sql.raw(baseBufferIndex(oid))}`;
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

/**
 * Idempotent DDL that captures every change of `target` (and of its partitions or children) into
 * its buffer: the capture machinery (see plan/capture-sync.ts) and one `capture_sync` call. The
 * format is the existing capture's, else `format`, else typed when the DDL event trigger exists.
 */
export function baseCaptureDdl(target: CaptureTarget, format?: CaptureFormat): string[] {
  return [...changesSchemaDdl(), ...captureSyncDdl(), captureSyncCall(target.oid, format)];
}

/** DDL that removes the capture of base table `target` (triggers on its whole tree, functions, buffer). */
export function dropBaseCaptureDdl(target: CaptureTarget): string[] {
  return [captureDropCall(target.oid)];
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
 * Who may read a base table's buffer (docs/security.md, "Change capture"): row-level security on
 * the buffer lets a role read a source's changes only while it may read the whole source and no
 * policy of the source applies to it (so a stream table's owner reads, in its sandbox, exactly what
 * its own SELECT could). The buffer's owner, the sidecar, owns the capture functions (which
 * evaluate no user-defined SQL), writes, reads and trims everything.
 */
export function baseCaptureAccessDdl(target: CaptureTarget): string[] {
  const readable = sql`pg_catalog.has_table_privilege(${target.oid}::oid, 'SELECT') AND NOT pg_catalog.row_security_active(${target.oid}::oid)`;
  return bufferAccessDdl(baseBuffer(target.oid), baseBufferName(target.oid), readable, null);
}

/**
 * Who may touch a stream table's buffer: readers of its storage table read it (row-level
 * security, as for base buffers), its owner writes it (its refreshes run as the owner).
 */
export function streamBufferAccessDdl(pgtId: number, storage: string, owner: string): string[] {
  const readable = sql`pg_catalog.has_table_privilege(${sql.lit(storage)}, 'SELECT')`;
  return bufferAccessDdl(streamBuffer(pgtId), streamBufferName(pgtId), readable, owner);
}

function bufferAccessDdl(
  buffer: string,
  bufferName: string,
  readable: string,
  writer: string | null,
): string[] {
  const sequence = sql.id(CHANGES_SCHEMA, `${bufferName}_change_id_seq`);
  const writes =
    writer === null
      ? []
      : [
          sql`DROP POLICY IF EXISTS pgt_write ON ${buffer}`,
          sql`CREATE POLICY pgt_write ON ${buffer} FOR INSERT WITH CHECK (true)`,
          sql`GRANT INSERT ON ${buffer} TO ${sql.id(writer)}`,
          sql`GRANT USAGE ON SEQUENCE ${sequence} TO ${sql.id(writer)}`,
        ];
  return [
    sql`ALTER TABLE ${buffer} ENABLE ROW LEVEL SECURITY`,
    sql`DROP POLICY IF EXISTS pgt_read ON ${buffer}`,
    sql`CREATE POLICY pgt_read ON ${buffer} FOR SELECT USING ((SELECT ${readable}))`,
    sql`GRANT SELECT ON ${buffer} TO PUBLIC`,
    ...writes,
  ];
}
