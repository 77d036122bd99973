/**
 * The dependency graph of the catalog's stream tables, as @pgtrickle/dag's `Dag` (base tables are
 * left out): it refuses a change that would make stream tables read each other in a cycle, naming
 * the cycle, and orders a cascading drop (readers before what they read).
 */
import { Dag, CycleError as DagCycleError } from '@pgtrickle/dag';
import { allStreamTables } from '../catalog/find-stream-table.js';
import { allDependencies } from '../catalog/read-dependencies.js';
import type { StreamTableRow } from '../catalog/rows.js';
import type { Queryable } from '../catalog/schema.js';
import { CycleError } from '../errors.js';
import { displayName } from '../names.js';

const node = (pgtId: number) => String(pgtId);

/**
 * The catalog's stream tables as a dag, with the reads of every table except `pending` (whose
 * reads are returned for the caller to set: the catalog was acyclic before its change).
 */
async function loadGraph(
  q: Queryable,
  pending: number | null,
): Promise<{ dag: Dag<StreamTableRow>; pendingReads: string[] }> {
  const [rows, deps] = await Promise.all([allStreamTables(q), allDependencies(q)]);
  const byId = new Map(rows.map((r) => [node(r.pgtId), r]));
  const reads = new Map<string, string[]>();
  for (const d of deps) {
    if (d.sourcePgtId === null || !byId.has(node(d.sourcePgtId))) continue;
    const id = node(d.pgtId);
    reads.set(id, [...(reads.get(id) ?? []), node(d.sourcePgtId)]);
  }
  const own = pending === null ? null : node(pending);
  const readsOf = (id: string) => (id === own ? [] : (reads.get(id) ?? []));
  // Added in dependency order, each with its reads (linear: no cycle search while the catalog's
  // own edges go in; only the caller's setReads of `pending` searches).
  const dag = new Dag<StreamTableRow>();
  const visiting = new Set<string>();
  const add = (id: string): void => {
    if (dag.has(id) || visiting.has(id)) return;
    visiting.add(id);
    for (const r of readsOf(id)) add(r);
    dag.addStreamTable(id, { reads: readsOf(id), meta: byId.get(id) as StreamTableRow });
  };
  for (const id of byId.keys()) add(id);
  return { dag, pendingReads: own === null ? [] : (reads.get(own) ?? []) };
}

/**
 * Throws CycleError (PGT_CYCLE) if stream table `pgtId` now reads itself through other stream
 * tables; the message names the cycle in reading order (`a → c → b → a`: a reads c, c reads b, …).
 */
export async function checkAcyclic(q: Queryable, pgtId: number, display: string): Promise<void> {
  const { dag, pendingReads } = await loadGraph(q, pgtId);
  try {
    dag.setReads(node(pgtId), pendingReads);
  } catch (error) {
    if (!(error instanceof DagCycleError)) throw error;
    // The dag names the cycle along "is read by"; reversed, it follows "reads".
    const label = (id: string) => {
      const r = dag.node(id)?.meta;
      return r === undefined ? (id === node(pgtId) ? display : id) : displayName(r.schema, r.name);
    };
    throw new CycleError([...error.cycle].reverse().map(label), { cause: error });
  }
}

/** `root` and every stream table reading it, transitively: readers before what they read, `root` last. */
export async function dropOrder(q: Queryable, root: StreamTableRow): Promise<StreamTableRow[]> {
  const { dag } = await loadGraph(q, null);
  const id = node(root.pgtId);
  if (!dag.has(id)) return [root];
  const readers = dag
    .descendants(id)
    .reverse()
    .map((d) => dag.node(d)?.meta)
    .filter((r): r is StreamTableRow => r !== undefined);
  return [...readers, root];
}
