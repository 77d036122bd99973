/** Recording a new stream table (status INITIALIZING until its first refresh commits). */
import type { RequestedMode } from '@pgtrickle/dvm';
import { cat, type Queryable } from './schema.js';

/** What a new stream table's row records. */
export interface NewStreamTable {
  /** From `nextStreamTableId` (known before the insert, so the plan is compiled for it once). */
  readonly pgtId: number;
  readonly schema: string;
  readonly name: string;
  readonly query: string;
  readonly requestedMode: RequestedMode;
  readonly effectiveMode: 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';
  readonly modeReason: string | null;
  readonly schedule: string | null;
  readonly uniqueRowIds: boolean;
  /** The owner's role oid. */
  readonly ownerOid: number;
  /** The search_path the query resolves names by. */
  readonly searchPath: string;
}

const ST = cat('pgt_stream_tables');

/** Allocates the id of a new stream table (from the table's own sequence). */
export async function nextStreamTableId(q: Queryable): Promise<number> {
  const res = await q.query(`SELECT nextval(pg_get_serial_sequence($1, 'pgt_id'))::int8 AS id`, [ST]);
  return Number(res.rows[0]?.id);
}

/** Inserts the row of a new stream table. */
export async function insertStreamTable(q: Queryable, t: NewStreamTable): Promise<void> {
  await q.query(
    `INSERT INTO ${ST} (pgt_id, schema_name, table_name, defining_query, requested_mode, effective_mode, mode_reason, schedule, unique_row_ids, owner_oid, search_path)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      t.pgtId,
      t.schema,
      t.name,
      t.query,
      t.requestedMode,
      t.effectiveMode,
      t.modeReason,
      t.schedule,
      t.uniqueRowIds,
      t.ownerOid,
      t.searchPath,
    ],
  );
}
