/**
 * WITH RECURSIVE: a reference to a recursive CTE (one that refers to itself), of the form
 * `<non-recursive term> UNION [ALL] <recursive term>` (PostgreSQL enforces it), optionally
 * with SEARCH / CYCLE clauses.
 *
 * Both terms are built as operator trees (which checks them like any query: volatility, time,
 * sources; and gives the scans whose changes drive the refresh). While the recursive term is
 * built, the CTE's own name builds as a `recursiveSelf` leaf. The CTE's SQL is regenerated from
 * the user's parse tree (`recursive-text.ts`) with each source replaced by a placeholder CTE
 * over that source's snapshot, so PostgreSQL evaluates the recursion over old or new
 * snapshots. The semi-naive rule (see `operators/recursive.ts`) is enabled when both terms use
 * only monotone, linear operators and there is no SEARCH / CYCLE clause.
 */
import type { SelectStmt } from '@pgsql/types';
import { InvalidQueryError, UnsupportedQueryError } from '../errors.js';
import type { IrColumn, IrNode } from '../ir/types.js';
import { makeRecursiveCte, makeRecursiveSelf, type RecursiveSelfNode } from '../operators/recursive.js';
import type { ScanNode } from '../operators/scan.js';
import { type BuiltQuery, type CteDef, type QueryCtx, withCtes } from './context.js';
import { renameColumns } from './from.js';
import { buildQuery, onOutputs } from './query.js';
import { rewriteRecursiveCte } from './recursive-text.js';

/** The recursive CTEs whose recursive term is being built (their references build as leaves). */
const building: { def: CteDef; names: readonly string[]; unique: boolean; leaves: RecursiveSelfNode[] }[] =
  [];

/** Operators that are monotone and linear in each input (semi-naive evaluation is exact over them). */
const LINEAR_KINDS = new Set([
  'scan',
  'filter',
  'project',
  'join',
  'unionAll',
  'constant',
  'lateralFunction',
]);

function allNodes(node: IrNode, out: IrNode[] = []): IrNode[] {
  out.push(node);
  for (const c of node.children) allNodes(c, out);
  return out;
}

/** Builds one reference to the recursive CTE `def`. */
export function buildRecursiveCteReference(def: CteDef, q: QueryCtx): BuiltQuery {
  const { env } = q;
  const active = building.find((b) => b.def === def);
  if (active !== undefined) {
    // The recursive term's reference to its own CTE.
    const columns: IrColumn[] = active.names.map((name) => ({
      id: env.ids.column(`${def.name}_${name}`),
      name,
    }));
    const leaf = makeRecursiveSelf(env.ids, columns, active.unique);
    active.leaves.push(leaf);
    return { node: leaf, outputs: columns };
  }
  const stmt = def.query;
  const position = env.at(def.ast.location);
  if (stmt.op !== 'SETOP_UNION' || stmt.larg === undefined || stmt.rarg === undefined) {
    throw new InvalidQueryError(
      `The recursive CTE "${def.name}" must have the form <non-recursive term> UNION [ALL] <recursive term>`,
      { position },
    );
  }
  if (stmt.sortClause !== undefined || stmt.limitCount !== undefined || stmt.limitOffset !== undefined) {
    throw new UnsupportedQueryError(
      `ORDER BY / LIMIT in the recursive CTE "${def.name}"`,
      'PostgreSQL does not allow them in a recursive query either; order or limit the query that reads it.',
      { position },
    );
  }
  const all = stmt.all === true;
  const inner = withCtes(stmt, { env, ctes: def.ctes, outer: def.outer, top: false });
  const base = buildQuery(stmt.larg as SelectStmt, { ...inner, top: false });
  const baseNode = onOutputs(base, inner);
  const cteNames = renameColumns(
    base.outputs.map((c) => c.name),
    def.columnNames === undefined
      ? undefined
      : { aliasname: def.name, colnames: def.columnNames.map((s) => ({ String: { sval: s } })) },
    q,
    def.ast.location,
  );
  const entry = {
    def,
    names: cteNames,
    unique: !all,
    leaves: [] as RecursiveSelfNode[],
  };
  building.push(entry);
  let rec: BuiltQuery;
  try {
    rec = buildQuery(stmt.rarg as SelectStmt, { ...inner, top: false });
  } finally {
    building.splice(building.indexOf(entry), 1);
  }
  const recNode = onOutputs(rec, inner);
  if (rec.outputs.length !== base.outputs.length) {
    throw new InvalidQueryError(
      `The terms of the recursive CTE "${def.name}" have ${base.outputs.length} and ${rec.outputs.length} columns`,
      { position },
    );
  }

  // The CTE's text over placeholders for its sources.
  const scans = new Map<string, ScanNode>();
  for (const n of [...allNodes(baseNode), ...allNodes(recNode)]) {
    if (n.kind !== 'scan') continue;
    if (!scans.has(n.source.key)) scans.set(n.source.key, n);
  }
  const text = rewriteRecursiveCte(def, env, scans);

  // Output columns: the CTE's, then SEARCH's sequence column, then CYCLE's mark and path.
  const names = [...cteNames];
  const search = def.ast.search_clause;
  const cycle = def.ast.cycle_clause;
  if (search?.search_seq_column !== undefined) names.push(search.search_seq_column);
  if (cycle?.cycle_mark_column !== undefined) names.push(cycle.cycle_mark_column);
  if (cycle?.cycle_path_column !== undefined) names.push(cycle.cycle_path_column);
  const columns = names.map((name) => ({ id: env.ids.column(`${def.name}_${name}`), name }));

  const leaf = entry.leaves.length === 1 ? (entry.leaves[0] as RecursiveSelfNode) : null;
  const linear =
    search === undefined &&
    cycle === undefined &&
    leaf !== null &&
    allNodes(baseNode).every((n) => LINEAR_KINDS.has(n.kind)) &&
    allNodes(recNode).every((n) => LINEAR_KINDS.has(n.kind) || n === leaf);
  const node = makeRecursiveCte(env.ids, baseNode, recNode, {
    name: def.name,
    all,
    columns,
    cteNames,
    cteSql: text.cteSql,
    inlined: text.inlined,
    sources: text.sources,
    terms: linear ? { base: text.baseTerm, recursive: text.recursiveTerm } : null,
    self: linear ? leaf : null,
  });
  for (const l of entry.leaves) l.owner = node;
  return { node, outputs: columns.map((c) => ({ name: c.name, id: c.id })) };
}
