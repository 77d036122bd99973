/** Replacing the recorded sources of a stream table. */
import type { DependencyRow } from './rows.js';
import { cat, type Queryable } from './schema.js';

const DEP = cat('pgt_dependencies');

/** Replaces the dependencies of `pgtId` by `deps`. */
export async function replaceDependencies(
  q: Queryable,
  pgtId: number,
  deps: readonly Omit<DependencyRow, 'pgtId'>[],
): Promise<void> {
  await q.query(`DELETE FROM ${DEP} WHERE pgt_id = $1`, [pgtId]);
  for (const d of deps) {
    await q.query(
      `INSERT INTO ${DEP} (pgt_id, source_oid, source_schema, source_name, source_kind, source_pgt_id, fingerprint)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [pgtId, d.sourceOid, d.sourceSchema, d.sourceName, d.sourceKind, d.sourcePgtId, d.fingerprint],
    );
  }
}
