/**
 * Compiling a stream table's query as its owner. Rule: the catalog questions the compiler asks
 * (relations, columns, functions, result types) are answered inside the owner's sandbox, so names
 * resolve by the owner's search_path and no function of the query is ever evaluated with the
 * sidecar's rights (queries are described by a temporary view: parsed, not run).
 *
 * A DIFFERENTIAL plan reads a source's change buffer, which holds every column and every row of
 * the source. It is only exact for an owner who may read all of them: an owner subject to the
 * source's row-level security, or holding column privileges only, would see rows or columns
 * through the buffer that its own SELECT does not. Such a stream table is maintained FULL (AUTO
 * falls back and says why) or refused (DIFFERENTIAL), so FULL and DIFFERENTIAL always agree with
 * what the owner's own query returns. The check is made at compile time and again before each
 * refresh (privileges and policies can change between refreshes).
 */
import {
  type CatalogPort,
  type CompiledPlan,
  compileStreamTable,
  createSqlCatalogPort,
  type RequestedMode,
  UnsupportedQueryError,
} from '@pgtrickle/dvm';
import { streamTableOfStorage } from '../catalog/find-stream-table.js';
import type { Conn } from '../db.js';
import { displayName } from '../names.js';
import { mirrorGrantsOfSources, storageResolvingPort } from '../public-view.js';
import type { OwnerSandbox } from './sandbox.js';

/** What to compile. */
export interface OwnerCompileRequest {
  readonly query: string;
  readonly schema: string;
  /** The stream table's storage table (`storageNameOf(row)`, or `storageTableName(name)` for a new one). */
  readonly name: string;
  readonly mode: RequestedMode;
  readonly pgtId: number;
}

/** The catalog port of a sandbox: pg_catalog answered as the owner, stream tables from the catalog. */
export function ownerCatalogPort(conn: Conn, sandbox: OwnerSandbox): CatalogPort {
  return storageResolvingPort(
    sandbox.port(
      createSqlCatalogPort(sandbox.exec, { streamTableOf: (oid: number) => streamTableOfStorage(conn, oid) }),
    ),
    conn,
  );
}

/** The sources of `plan` whose change buffers would show the owner more than its own SELECT does. */
export async function sourcesHiddenFromOwner(
  sandbox: OwnerSandbox,
  plan: Pick<CompiledPlan, 'sources'>,
): Promise<string[]> {
  if (plan.sources.length === 0) return [];
  const res = await sandbox.exec.query(
    `SELECT s.oid::int8 AS oid FROM pg_catalog.unnest($1::oid[]) AS s(oid)
     WHERE NOT pg_catalog.has_table_privilege(s.oid, 'SELECT') OR pg_catalog.row_security_active(s.oid)`,
    [plan.sources.map((s) => s.oid)],
  );
  const hidden = new Set(res.rows.map((r) => Number(r.oid)));
  return plan.sources.filter((s) => hidden.has(s.oid)).map((s) => displayName(s.schema, s.name));
}

function restrictedReason(owner: string, hidden: readonly string[]): string {
  return (
    `the owner ${owner} may not read every row and column of ${hidden.join(', ')} (row-level security or ` +
    'column privileges); an incremental refresh reads the change buffer, so only FULL refreshes apply the owner\u2019s rights'
  );
}

/**
 * Compiles `request` as the sandbox's owner: refused (requested DIFFERENTIAL) or FULL (AUTO, with
 * the reason) when a source is partly hidden from the owner.
 */
export async function compileAsOwner(
  conn: Conn,
  sandbox: OwnerSandbox,
  request: OwnerCompileRequest,
): Promise<CompiledPlan> {
  const port = ownerCatalogPort(conn, sandbox);
  const options = { name: { schema: request.schema, name: request.name }, tag: `st${request.pgtId}` };
  const plan = await compileStreamTable(request.query, port, { ...options, refreshMode: request.mode });
  // Stream tables of other owners it reads: their storage readable as their view is.
  await mirrorGrantsOfSources(conn, sandbox, plan);
  if (plan.mode === 'FULL') return plan;
  const hidden = await sourcesHiddenFromOwner(sandbox, plan);
  if (hidden.length === 0) return plan;
  const reason = restrictedReason(sandbox.owner.role, hidden);
  if (request.mode !== 'AUTO') {
    throw new UnsupportedQueryError(
      `refreshMode ${request.mode} over ${hidden.join(', ')}`,
      `${reason[0]?.toUpperCase()}${reason.slice(1)}. Use refreshMode 'FULL' or 'AUTO', or grant the owner SELECT on the whole table without a row-level security policy.`,
    );
  }
  const full = await compileStreamTable(request.query, port, { ...options, refreshMode: 'FULL' });
  return { ...full, requestedMode: 'AUTO', fallbackReason: `AUTO: ${reason}` };
}
