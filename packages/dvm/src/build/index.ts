/**
 * The builder's entry point: a parsed defining query and the catalog facts about the names it
 * mentions in, the operator tree out (with the query's named output columns and its sources).
 */

import type { IrNode, SourceRef } from '../ir/types.js';
import type { ParsedQuery } from '../parse/parser.js';
import { BuildEnv, type CatalogFacts, type CompileMode } from './env.js';
import { pruneColumns } from './prune.js';
import { buildQuery } from './query.js';
import type { ScopeColumn } from './scope.js';

/** The operator tree of a defining query. */
export interface BuiltDefiningQuery {
  readonly root: IrNode;
  /** Output columns in order. */
  readonly outputs: readonly ScopeColumn[];
  /** Every source read, in order of first use. */
  readonly sources: readonly SourceRef[];
  /** Every view read (inlined), by oid. */
  readonly views: readonly { readonly oid: number; readonly schema: string; readonly name: string }[];
  readonly warnings: readonly string[];
}

/** Builds the operator tree of `parsed` for `mode` (refusing constructs without rules in that mode). */
export function buildDefiningQuery(
  parsed: ParsedQuery,
  facts: CatalogFacts,
  mode: CompileMode,
): BuiltDefiningQuery {
  const env = new BuildEnv(facts, parsed.positions, mode);
  const built = buildQuery(parsed.select, { env, ctes: null, outer: null, top: true });
  return {
    root: pruneColumns(built.node),
    outputs: built.outputs,
    sources: env.sourceList(),
    views: [...env.viewsRead.values()],
    warnings: env.warnings,
  };
}
