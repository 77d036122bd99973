/**
 * Names of every catalog object pgtrickle creates, in one place: schemas, change buffers,
 * capture triggers and functions, temp tables of a refresh, hidden storage columns. The client
 * (cleanup, monitoring) and the tests use the same functions.
 */

/** Schema of pgtrickle's own catalog (owned by the client). */
export const PGTRICKLE_SCHEMA = 'pgtrickle';
/** Schema of the change buffers and the capture trigger functions. */
export const CHANGES_SCHEMA = 'pgtrickle_changes';
/** NOTIFY channel the capture triggers signal on (payload: the source key). */
export const WAKE_CHANNEL = 'pgtrickle_wake';
/** Prefix of every hidden storage column (the oracle ignores these). */
export const HIDDEN_PREFIX = '__pgt_';
/** The row id column of every storage table, delta and snapshot. */
export const ROW_ID_COLUMN = '__pgt_row_id';
/** The weight column of every delta. */
export const WEIGHT_COLUMN = '__pgt_weight';
/** Row count of a group / reference count of a DISTINCT row in a storage table. */
export const COUNT_COLUMN = '__pgt_count';
/** Transition table names used by the capture triggers and the IMMEDIATE deltas. */
export const TRANSITION_OLD = '__pgt_old';
/** Transition table name of the new rows. */
export const TRANSITION_NEW = '__pgt_new';

/** Bookkeeping columns of a base-table change buffer. */
export const BASE_BUFFER_COLUMNS: readonly string[] = ['change_id', 'xid', 'action'];
/** Bookkeeping columns of a stream-table change buffer. */
export const STREAM_BUFFER_COLUMNS: readonly string[] = ['change_id', 'epoch', 'action'];

/** The change buffer table of base relation `oid` (in {@link CHANGES_SCHEMA}). */
export function baseBufferName(oid: number): string {
  return `changes_${oid}`;
}

/** The change buffer table of stream table `pgtId` (in {@link CHANGES_SCHEMA}). */
export function streamBufferName(pgtId: number): string {
  return `changes_st_${pgtId}`;
}

/** The buffer column that stores source column `column` (renamed when it collides with bookkeeping). */
export function bufferColumnName(
  column: string,
  bookkeeping: readonly string[] = BASE_BUFFER_COLUMNS,
): string {
  return bookkeeping.includes(column) || column.startsWith('__usr_')
    ? truncateIdent(`__usr_${column}`)
    : column;
}

/**
 * The events a capture trigger exists for: statement-level `ins`, `upd`, `del`, `trunc` and
 * row-level `insr`, `updr`, `delr`. On relation `r` the trigger is `pgtrickle_<event>_<r>`, calling
 * `pgtrickle_changes.capture_<event>_<r>()` (named in the database by `capture_sync`).
 */
export type CaptureEvent = 'ins' | 'upd' | 'del' | 'trunc' | 'insr' | 'updr' | 'delr';

/** Index on the `xid` (base) or `epoch` (stream table) column of a buffer. */
export function bufferIndexName(bufferTable: string): string {
  return `${bufferTable}_window`;
}

/** Temp table (in `pg_temp`) that a refresh stores its consolidated delta in. */
export function consolidatedTempName(tag: string): string {
  return `__pgt_applied_${tag}`;
}

/** Name of the storage table's row-id index. */
export function rowIdIndexName(table: string): string {
  return truncateIdent(`${table}__pgt_row_id_idx`);
}

/** PostgreSQL's identifier limit in bytes (NAMEDATALEN − 1): longer names are silently cut. */
export const MAX_IDENT_BYTES = 63;

/**
 * The physical form of a generated name: the name itself when it fits PostgreSQL's 63-byte
 * limit (UTF-8 bytes), else its first characters (whole characters, never half of one) followed
 * by `_` and 16 hex digits of a 64-bit hash of the whole name. PostgreSQL would otherwise cut it
 * to 63 bytes, and two names differing only after that point would become one. Every name
 * pgtrickle generates from a user's name goes through here (CTE names, index names, …).
 */
export function truncateIdent(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_IDENT_BYTES) return name;
  const suffix = `_${longHash(name)}`;
  const budget = MAX_IDENT_BYTES - suffix.length;
  let head = '';
  let bytes = 0;
  for (const ch of name) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > budget) break;
    head += ch;
    bytes += size;
  }
  return head + suffix;
}

/** 16 hex digits of 64-bit FNV-1a over the text's UTF-8 bytes. */
export function longHash(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

/** 8 hex digits of FNV-1a over the text: stable short tags for generated names. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
