/**
 * Requests made through the SQL API (`pgtrickle.create_stream_table(…)` etc.): the functions
 * validate what they can, record a row in `pgtrickle.pgt_requests` and NOTIFY; the leading sidecar
 * executes each pending request, oldest first, through the same TypeScript API, and marks it DONE
 * or FAILED with the error message (`pgtrickle.pgt_status` shows PENDING → ACTIVE or ERROR).
 * Executing a request again after a crash between the work and the mark is harmless: a create
 * whose table exists with the same query, or a drop whose table is gone, counts as done.
 */
import type { RequestedMode } from '@pgtrickle/dvm';
import { findStreamTable } from '../catalog/rows.js';
import { sqlName } from '../names.js';
import type { Trickle } from '../trickle.js';

/** One pending request. */
interface RequestRow {
  readonly request_id: string;
  readonly kind: 'create' | 'alter' | 'drop' | 'refresh';
  readonly schema_name: string;
  readonly table_name: string;
  readonly query: string | null;
  readonly schedule: string | null;
  readonly refresh_mode: RequestedMode | null;
  readonly set_schedule: boolean;
  readonly cascade_drop: boolean;
}

/** What processing did. */
export interface RequestsProcessed {
  readonly done: number;
  readonly failed: number;
}

/** Executes every pending request in order. */
export async function processRequests(trickle: Trickle): Promise<RequestsProcessed> {
  const pending = await trickle.db.query(
    `SELECT * FROM pgtrickle.pgt_requests WHERE status = 'PENDING' ORDER BY request_id`,
  );
  let done = 0;
  let failed = 0;
  for (const r of pending.rows as RequestRow[]) {
    const name = sqlName(r.schema_name, r.table_name);
    try {
      await execute(trickle, r, name);
      await trickle.db.query(
        `UPDATE pgtrickle.pgt_requests SET status = 'DONE', done_at = clock_timestamp() WHERE request_id = $1`,
        [r.request_id],
      );
      done++;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await trickle.db.query(
        `UPDATE pgtrickle.pgt_requests SET status = 'FAILED', error = $2, done_at = clock_timestamp() WHERE request_id = $1`,
        [r.request_id, message],
      );
      failed++;
    }
  }
  return { done, failed };
}

async function execute(trickle: Trickle, r: RequestRow, name: string): Promise<void> {
  switch (r.kind) {
    case 'create': {
      const existing = await findStreamTable(trickle.db, r.schema_name, r.table_name);
      if (existing !== null && existing.query === r.query) return; // done before a crash
      await trickle.createStreamTable({
        name,
        query: r.query ?? '',
        ...(r.refresh_mode === null ? {} : { refreshMode: r.refresh_mode }),
        schedule: r.schedule,
      });
      return;
    }
    case 'alter':
      await trickle.alterStreamTable(name, {
        ...(r.query === null ? {} : { query: r.query }),
        ...(r.refresh_mode === null ? {} : { refreshMode: r.refresh_mode }),
        ...(r.set_schedule ? { schedule: r.schedule } : {}),
      });
      return;
    case 'drop': {
      if ((await findStreamTable(trickle.db, r.schema_name, r.table_name)) === null) return;
      await trickle.dropStreamTable(name, { cascade: r.cascade_drop });
      return;
    }
    case 'refresh':
      await trickle.refresh(name);
      return;
  }
}
