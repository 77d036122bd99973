/** Reading dependencies: of one stream table, all of them, and whether a stream table has readers. */
import { type DependencyRow, toDependency } from './rows.js';
import { cat, type Queryable } from './schema.js';

const DEP = cat('pgt_dependencies');

/** The sources of stream table `pgtId`. */
export async function dependenciesOf(q: Queryable, pgtId: number): Promise<DependencyRow[]> {
  const res = await q.query(`SELECT * FROM ${DEP} WHERE pgt_id = $1 ORDER BY source_oid`, [pgtId]);
  return res.rows.map(toDependency);
}

/** Every dependency. */
export async function allDependencies(q: Queryable): Promise<DependencyRow[]> {
  const res = await q.query(`SELECT * FROM ${DEP} ORDER BY pgt_id, source_oid`);
  return res.rows.map(toDependency);
}

/** Whether any stream table reads stream table `pgtId`. */
export async function hasReaders(q: Queryable, pgtId: number): Promise<boolean> {
  const res = await q.query(`SELECT ${readersExistSql('$1')} AS r`, [pgtId]);
  return res.rows[0]?.r === true;
}

/** The condition "some stream table reads stream table `pgtIdParam`" (its buffer has consumers). */
export function readersExistSql(pgtIdParam: string): string {
  // IMMEDIATE readers are maintained by triggers on the storage, not from its epoch buffer.
  return `EXISTS (SELECT 1 FROM ${DEP} AS d JOIN ${cat('pgt_stream_tables')} AS s ON s.pgt_id = d.pgt_id
      WHERE d.source_pgt_id = ${pgtIdParam} AND s.effective_mode <> 'IMMEDIATE')`;
}
