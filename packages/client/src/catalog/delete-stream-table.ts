/** Removing a stream table's row (its dependencies and history go with it, ON DELETE CASCADE). */
import { cat, type Queryable } from './schema.js';

/** Deletes the row of `pgtId`. */
export async function deleteStreamTable(q: Queryable, pgtId: number): Promise<void> {
  await q.query(`DELETE FROM ${cat('pgt_stream_tables')} WHERE pgt_id = $1`, [pgtId]);
}
