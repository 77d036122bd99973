/**
 * Change capture management. Rule: one buffer per source, shared by all its consumers —
 * capture is installed when the first stream table reads a base table (recorded in
 * `pgt_change_tracking`) and removed when the last one stops reading it; a stream table read by
 * other stream tables gets its own epoch buffer while it has consumers. Buffer rows are deleted
 * once every consumer's frontier has passed them (base buffers: the row's xid is visible in
 * every consumer's snapshot; stream-table buffers: its epoch is at most every consumer's), in a
 * short transaction of its own that skips a buffer another session is cleaning.
 */
import {
  baseBuffer,
  baseBufferIndex,
  baseBufferIndexDdl,
  baseCaptureAccessDdl,
  captureSyncCall,
  dropBaseBufferIndexDdl,
  dropBaseCaptureDdl,
  dropStreamBufferDdl,
  type PlanMode,
  type PlanSource,
  type PlanView,
  quoteLiteral,
  streamBuffer,
  streamBufferAccessDdl,
  streamBufferDdl,
} from '@pgtrickle/dvm';
import {
  capturedSources,
  deleteChangeTracking,
  streamBuffersInUse,
  unusedCaptures,
  upsertChangeTracking,
} from './catalog/change-tracking.js';
import { streamTableById } from './catalog/find-stream-table.js';
import { MIGRATIONS } from './catalog/migrations.js';
import { hasReaders } from './catalog/read-dependencies.js';
import type { DependencyRow } from './catalog/rows.js';
import { cat } from './catalog/schema.js';
import { trimBaseBuffer, trimStreamBuffer } from './catalog/trim-buffers.js';
import { replaceDependencies } from './catalog/write-dependencies.js';
import { type Conn, type Db, isConnectionError } from './db.js';
import { CaptureUnsupportedError } from './errors.js';
import { displayName } from './names.js';
import { fingerprints } from './port.js';

/**
 * Installs (or repairs) capture on a base-table source and its partitions or children, with its
 * buffer's access rules. Idempotent; the machinery (`capture_sync`) is installed with the catalog.
 */
export async function ensureBaseCapture(conn: Conn, source: PlanSource): Promise<void> {
  try {
    await conn.query(captureSyncCall(source.oid));
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown; hint?: unknown };
    if (e.code !== '0A000') throw error;
    throw new CaptureUnsupportedError(
      displayName(source.schema, source.name),
      String(e.message).replace(/^table \S+ cannot be captured: /, ''),
      typeof e.hint === 'string' ? e.hint : undefined,
      { cause: error },
    );
  }
  for (const sql of baseCaptureAccessDdl({ oid: source.oid })) await conn.query(sql);
  await upsertChangeTracking(conn, {
    oid: source.oid,
    schema: source.schema,
    name: source.name,
    columns: source.columns.map((c) => c.name),
  });
}

/**
 * Creates (or extends) the epoch buffer of stream table `pgtId` (stored in relation `storageOid`)
 * with its visible columns, written by the table's owner and readable by its storage's readers.
 */
export async function ensureStreamBuffer(
  conn: Conn,
  pgtId: number,
  storageOid: number,
  columns: PlanSource['columns'],
): Promise<void> {
  for (const sql of streamBufferDdl(pgtId, columns)) await conn.query(sql);
  const res = await conn.query(
    `SELECT pg_catalog.pg_get_userbyid(c.relowner)::text AS owner,
            pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS storage
       FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
      -- its readers: those of its public view (the storage itself for a table of the earlier layout)
      WHERE c.oid = COALESCE((SELECT s.public_oid FROM ${cat('pgt_stream_tables')} AS s WHERE s.storage_oid = $1), $1)`,
    [storageOid],
  );
  const r = res.rows[0];
  for (const sql of streamBufferAccessDdl(pgtId, String(r?.storage), String(r?.owner))) await conn.query(sql);
}

/** Removes capture from base tables no stream table reads any more. */
export async function dropUnusedCapture(conn: Conn): Promise<void> {
  // A table renamed since is addressed by its current name.
  for (const t of await unusedCaptures(conn)) {
    for (const sql of dropBaseCaptureDdl({ oid: t.oid })) await conn.query(sql);
    await deleteChangeTracking(conn, t.oid);
  }
}

/** Drops the epoch buffer of `pgtId` when no stream table reads it any more. */
export async function dropStreamBufferIfUnused(conn: Conn, pgtId: number): Promise<void> {
  if (!(await hasReaders(conn, pgtId))) for (const sql of dropStreamBufferDdl(pgtId)) await conn.query(sql);
}

/** Lock key of the cleanup of one buffer (so two sessions never clean the same buffer at once). */
export function cleanupLockKey(kind: 'base' | 'st', id: number): string {
  return String((kind === 'base' ? 0x50475400n : 0x50475500n) * 4294967296n + BigInt(id));
}

/**
 * When a base buffer gets its window index and loses it again (rows kept after a trim): a buffer
 * holds only what some consumer has not read, so it is large only while a consumer lags, and
 * only then is an index on `xid` worth what it costs every captured row (docs/capture.md).
 */
export interface BufferIndexRows {
  /** Create the index when a trim keeps at least this many rows. */
  readonly create: number;
  /** Drop it when a trim keeps fewer. */
  readonly drop: number;
}

/** The default {@link BufferIndexRows}. */
export const BUFFER_INDEX_ROWS: BufferIndexRows = Object.freeze({ create: 20_000, drop: 2_000 });

/**
 * Whether a base buffer's window index should be created or dropped after a trim that kept `kept`
 * rows (null: the trim did not run) with the index present or not; null: neither.
 */
export function bufferIndexChange(
  kept: number | null,
  indexed: boolean,
  indexRows: BufferIndexRows = BUFFER_INDEX_ROWS,
): 'create' | 'drop' | null {
  if (kept === null) return null;
  if (!indexed && kept >= indexRows.create) return 'create';
  if (indexed && kept < indexRows.drop) return 'drop';
  return null;
}

/**
 * Deletes buffer rows every consumer has consumed, for the given sources, one statement each (a
 * buffer another session is cleaning is skipped; one dropped meanwhile has nothing left to
 * delete), and gives a base buffer its window index while it stays large (`indexRows`). Returns
 * rows deleted.
 */
export async function cleanupBuffers(
  db: Db,
  sources: readonly CleanupTarget[],
  indexRows: BufferIndexRows = BUFFER_INDEX_ROWS,
): Promise<number> {
  let deleted = 0;
  for (const s of sources) {
    try {
      if (s.kind === 'table') {
        const t = await trimBaseBuffer(
          db,
          s.oid,
          baseBuffer(s.oid),
          baseBufferIndex(s.oid),
          cleanupLockKey('base', s.oid),
          indexRows.create,
        );
        deleted += t.deleted;
        const change = bufferIndexChange(t.kept, t.indexed, indexRows);
        if (change === 'create') await bufferIndexDdl(db, baseBufferIndexDdl(s.oid));
        else if (change === 'drop') await bufferIndexDdl(db, dropBaseBufferIndexDdl(s.oid));
      } else {
        deleted += await trimStreamBuffer(
          db,
          s.pgtId as number,
          streamBuffer(s.pgtId as number),
          cleanupLockKey('st', s.pgtId as number),
        );
      }
    } catch (error) {
      if ((error as { code?: unknown }).code !== UNDEFINED_TABLE) throw error;
    }
  }
  return deleted;
}

/** How long creating or dropping a buffer's window index waits for the writers' locks. */
const BUFFER_INDEX_LOCK_TIMEOUT = '100ms';

/**
 * Creates or drops a buffer's window index in a short transaction of its own that waits at most
 * {@link BUFFER_INDEX_LOCK_TIMEOUT} for the buffer's writers. The index only speeds readers up, so
 * a failure (the lock not granted in time, a concurrent session doing the same, a role that does
 * not own the buffers) leaves the buffer as it was, to be tried again at the next cleanup.
 */
async function bufferIndexDdl(db: Db, ddl: string): Promise<void> {
  await db
    .transaction(async (conn) => {
      await conn.query(`SET LOCAL lock_timeout = ${quoteLiteral(BUFFER_INDEX_LOCK_TIMEOUT)}`);
      await conn.query(ddl);
    })
    .catch((error: unknown) => {
      if (isConnectionError(error)) throw error;
    });
}

/** SQLSTATE of a relation that does not exist (a buffer dropped since the refresh). */
const UNDEFINED_TABLE = '42P01';

/**
 * Records the sources of `plan` as the dependencies of stream table `pgtId` (with their current
 * fingerprints) and installs their capture: base tables' triggers and buffers, stream-table
 * sources' epoch buffers.
 */
export async function recordDependencies(
  conn: Conn,
  pgtId: number,
  plan: {
    readonly sources: readonly PlanSource[];
    readonly views?: readonly PlanView[];
    readonly mode?: PlanMode;
  },
): Promise<void> {
  // Capture first: a captured table's fingerprint includes the state of its capture. IMMEDIATE
  // tables read no buffer: their triggers see each statement's rows.
  for (const s of plan.sources) {
    if (plan.mode === 'IMMEDIATE') continue;
    if (s.kind === 'table') await ensureBaseCapture(conn, s);
    else await ensureStreamBuffer(conn, s.pgtId as number, s.oid, s.columns);
  }
  const views = plan.views ?? [];
  const fps = await fingerprints(conn, [...plan.sources.map((s) => s.oid), ...views.map((v) => v.oid)]);
  // A stream table is recorded under its public name (the plan reads its storage).
  const publicNames = new Map<number, { schema: string; name: string }>();
  for (const s of plan.sources)
    if (s.pgtId !== null) {
      const st = await streamTableById(conn, s.pgtId);
      if (st !== null) publicNames.set(s.oid, { schema: st.schema, name: st.name });
    }
  await replaceDependencies(conn, pgtId, [
    ...plan.sources.map((s) => ({
      sourceOid: s.oid,
      sourceSchema: publicNames.get(s.oid)?.schema ?? s.schema,
      sourceName: publicNames.get(s.oid)?.name ?? s.name,
      sourceKind: s.kind,
      sourcePgtId: s.pgtId,
      fingerprint: fps.get(s.oid) ?? '',
    })),
    // A view read (inlined or not) is a dependency without capture: its definition is in its fingerprint.
    ...views.map((v) => ({
      sourceOid: v.oid,
      sourceSchema: v.schema,
      sourceName: v.name,
      sourceKind: 'view' as const,
      sourcePgtId: null,
      fingerprint: fps.get(v.oid) ?? '',
    })),
  ]);
}

/** A source whose buffer may be trimmed after a refresh commits. */
export interface CleanupTarget {
  readonly kind: 'table' | 'streamTable';
  readonly oid: number;
  readonly pgtId: number | null;
}

/** The buffers to trim after refreshes that read `sources` (the one mapping from dependencies to cleanup targets). */
export function cleanupTargets(sources: readonly DependencyRow[]): CleanupTarget[] {
  return sources.flatMap((d) =>
    d.sourceKind === 'view' ? [] : [{ kind: d.sourceKind, oid: d.sourceOid, pgtId: d.sourcePgtId }],
  );
}

/** The catalog version that introduced capture access rules (docs/security.md). */
const SECURITY_MODEL_VERSION = 4;
/** The catalog version that introduced capture by `capture_sync` (typed or text buffers). */
const CAPTURE_SYNC_VERSION = 5;
/** The catalog version whose capture functions take ids per statement (found by name: it may be renumbered). */
const PER_STATEMENT_VERSION = MIGRATIONS.find((m) => m.name === 'capture per statement')?.version;

/**
 * After an upgrade: gives capture installed by an older version what the migrations introduced —
 * access rules (version 4), buffers rebuilt by `capture_sync` (version 5: the stream tables
 * reading them recompute, their pending changes being in the old layout), and capture functions
 * rewritten by `capture_sync` (capture per statement: buffers and pending changes are kept).
 */
export async function upgradeExistingCapture(conn: Conn, applied: readonly number[]): Promise<void> {
  const rebuilt =
    applied.includes(CAPTURE_SYNC_VERSION) ||
    (PER_STATEMENT_VERSION !== undefined && applied.includes(PER_STATEMENT_VERSION));
  if (!rebuilt && !applied.includes(SECURITY_MODEL_VERSION)) return;
  for (const t of await capturedSources(conn)) {
    if (rebuilt) await conn.query(captureSyncCall(t.oid));
    for (const sql of baseCaptureAccessDdl({ oid: t.oid })) await conn.query(sql);
  }
  for (const b of await streamBuffersInUse(conn)) {
    for (const sql of streamBufferAccessDdl(b.pgtId, b.storage, b.owner)) await conn.query(sql);
  }
}
