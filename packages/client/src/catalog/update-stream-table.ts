/** Changing a stream table's row: its storage, schedule and definition. */
import type { RequestedMode } from '@pgtrickle/dvm';
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');

/** Records the oid of `pgtId`'s storage table, and points the stream tables reading it at the new oid (they rebuild). */
export async function setStorageOid(
  q: Queryable,
  pgtId: number,
  oid: number,
  readers: boolean,
): Promise<void> {
  await q.query(`UPDATE ${ST} SET storage_oid = $2 WHERE pgt_id = $1`, [pgtId, oid]);
  if (!readers) return;
  const DEP = cat('pgt_dependencies');
  await q.query(`UPDATE ${DEP} SET source_oid = $2 WHERE source_pgt_id = $1`, [pgtId, oid]);
  await q.query(
    `UPDATE ${ST} SET needs_reinit = true WHERE pgt_id IN (SELECT pgt_id FROM ${DEP} WHERE source_pgt_id = $1)`,
    [pgtId],
  );
}

/** Records the oid of `pgtId`'s public view (null: none, the storage has the public name). */
export async function setPublicOid(q: Queryable, pgtId: number, oid: number | null): Promise<void> {
  await q.query(`UPDATE ${ST} SET public_oid = $2 WHERE pgt_id = $1`, [pgtId, oid]);
}

/** Sets the schedule of `pgtId` (null: calculated). */
export async function setSchedule(q: Queryable, pgtId: number, schedule: string | null): Promise<void> {
  await q.query(`UPDATE ${ST} SET schedule = $2, updated_at = now() WHERE pgt_id = $1`, [pgtId, schedule]);
}

/** A stream table's definition as ALTER sets it. */
export interface Definition {
  readonly query: string;
  readonly requestedMode: RequestedMode;
  readonly effectiveMode: 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';
  readonly modeReason: string | null;
  readonly uniqueRowIds: boolean;
}

/** Sets the definition of `pgtId` and marks it for reinitialisation, in status `status`. */
export async function setDefinition(
  q: Queryable,
  pgtId: number,
  d: Definition,
  status: 'INITIALIZING',
): Promise<void> {
  await q.query(
    `UPDATE ${ST} SET defining_query = $2, requested_mode = $3, effective_mode = $4, mode_reason = $5,
       unique_row_ids = $6, needs_reinit = true, status = $7, updated_at = now() WHERE pgt_id = $1`,
    [pgtId, d.query, d.requestedMode, d.effectiveMode, d.modeReason, d.uniqueRowIds, status],
  );
}
