/**
 * A storage table whose columns no longer fit its plan. A plan compiled afresh (a new process, a
 * newer compiler) may keep other hidden state than the one the storage table was created with —
 * e.g. fewer aggregate state columns. The stored state then cannot feed a DIFFERENTIAL step, so
 * the storage is brought to the plan's columns in place (`evolveStorageAndView`: columns the plan
 * no longer has dropped, new ones added, the public view kept) and the refresh is FULL, in the
 * refresh's own transaction: the contents are recomputed under the new layout before anyone reads
 * them. Only a freshly compiled plan is compared (one catalog read), never a cached one.
 */
import type { CompiledPlan } from '@pgtrickle/dvm';
import type { StreamTableRow } from './catalog/rows.js';
import type { Conn } from './db.js';
import { evolveStorageAndView } from './public-view.js';
import type { OwnerSandbox } from './security/sandbox.js';
import { storageFit } from './storage.js';

/** The reason a refresh records when it re-laid the storage out. */
export const RELAYOUT_REASON =
  'the storage layout of an earlier plan (hidden state columns) was brought to the current plan: contents recomputed';

/**
 * Brings `row`'s storage to the columns of `plan` when only its hidden columns differ; returns
 * whether it did (the refresh must then be FULL).
 */
export async function relayoutStorage(
  conn: Conn,
  sandbox: OwnerSandbox,
  row: Pick<StreamTableRow, 'pgtId' | 'schema' | 'name' | 'publicOid' | 'storageOid'>,
  plan: CompiledPlan,
): Promise<boolean> {
  if (row.storageOid === null) return false;
  const fit = await storageFit(conn, plan.storage.schema, plan.storage.name, plan);
  // Visible columns that changed are a source's DDL (the fingerprints' rebuild) or an ALTER, not a layout.
  if (fit.same || !fit.visibleSame) return false;
  await evolveStorageAndView(conn, sandbox, row, plan);
  return true;
}
