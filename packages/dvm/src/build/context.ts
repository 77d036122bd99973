/**
 * What every part of the builder passes around: the build environment, the CTEs in scope, and
 * the enclosing query level's names (for correlated references). Also the result of building a
 * query: its operator tree and its named output columns.
 */
import type { CommonTableExpr, SelectStmt } from '@pgsql/types';
import type { IrNode } from '../ir/types.js';
import { nameList } from '../parse/ast.js';
import type { BuildEnv } from './env.js';
import type { Scope, ScopeColumn } from './scope.js';

/** A CTE definition visible to a query. */
export interface CteDef {
  readonly name: string;
  readonly query: SelectStmt;
  /** Column names given after the CTE name (`WITH c(a, b) AS …`), if any. */
  readonly columnNames: readonly string[] | undefined;
  /** Whether it is defined under WITH RECURSIVE. */
  readonly recursive: boolean;
  /** The CTEs visible to its body. */
  readonly ctes: CteEnv | null;
  /** The query level its WITH clause belongs to (correlation). */
  readonly outer: Scope | null;
  /** The AST node, for messages. */
  readonly ast: CommonTableExpr;
}

/** A chain of WITH clauses, innermost first. */
export class CteEnv {
  private readonly defs = new Map<string, CteDef>();

  constructor(readonly parent: CteEnv | null) {}

  /** Adds a definition. */
  add(def: CteDef): void {
    this.defs.set(def.name, def);
  }

  /** The innermost CTE named `name`, if any. */
  lookup(name: string): CteDef | undefined {
    return this.defs.get(name) ?? this.parent?.lookup(name);
  }
}

/** The context one query level is built in. */
export interface QueryCtx {
  readonly env: BuildEnv;
  readonly ctes: CteEnv | null;
  /** The enclosing query level (correlated subqueries, LATERAL), or null at the top. */
  readonly outer: Scope | null;
  /** Whether this is the defining query itself (not a subquery). */
  readonly top: boolean;
}

/** A built query: its operator tree and its output columns in order (name → column id). */
export interface BuiltQuery {
  readonly node: IrNode;
  readonly outputs: readonly ScopeColumn[];
}

/** Registers the CTEs of a WITH clause, returning the environment its query sees. */
export function withCtes(stmt: SelectStmt, q: QueryCtx): QueryCtx {
  const clause = stmt.withClause;
  if (clause === undefined) return q;
  const recursive = clause.recursive === true;
  // Non-recursive CTEs see only the ones before them (a name may even refer to a table of the
  // same name); under WITH RECURSIVE every CTE sees all of them, itself included.
  const all = new CteEnv(q.ctes);
  let chain: CteEnv = new CteEnv(q.ctes);
  for (const node of clause.ctes ?? []) {
    const cte = (node as { CommonTableExpr?: CommonTableExpr }).CommonTableExpr;
    if (cte === undefined || cte.ctename === undefined) continue;
    const query = (cte.ctequery as { SelectStmt?: SelectStmt } | undefined)?.SelectStmt;
    if (query === undefined) {
      q.env.requireFullFor('a data-modifying statement in WITH', cte.location);
      continue;
    }
    const def: CteDef = {
      name: cte.ctename,
      query,
      columnNames: nameList(cte.aliascolnames),
      recursive,
      ctes: recursive ? all : chain,
      outer: q.outer,
      ast: cte,
    };
    all.add(def);
    chain = new CteEnv(chain);
    chain.add(def);
  }
  const env = recursive ? all : chain;
  return { ...q, ctes: env };
}

/** One ORDER BY key over a column id (defaults resolved: ASC NULLS LAST, DESC NULLS FIRST). */
export interface SortKey {
  readonly id: string;
  readonly descending: boolean;
  readonly nullsFirst: boolean;
  /** The column's expression AST before resolution, for messages. */
  readonly location: number | undefined;
}
