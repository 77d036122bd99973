/**
 * WITH RECURSIVE: a reference to a recursive CTE.
 * (Implementation pending: refused in incremental modes for now.)
 */
import { UnsupportedQueryError } from '../errors.js';
import type { BuiltQuery, CteDef, QueryCtx } from './context.js';

/** Builds one reference to the recursive CTE `def`. */
export function buildRecursiveCteReference(def: CteDef, q: QueryCtx): BuiltQuery {
  throw new UnsupportedQueryError(
    `the recursive CTE "${def.name}"`,
    "Not supported yet in incremental modes; use refreshMode 'FULL'.",
    {
      position: q.env.at(def.ast.location),
    },
  );
}
