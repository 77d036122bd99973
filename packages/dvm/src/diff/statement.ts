/**
 * The statement builder: collects CTEs (unique names, in dependency order) for one generated
 * statement, and prints `WITH … <final>`.
 */

import { InternalError } from '../errors.js';
import { truncateIdent } from '../names.js';
import { sql } from '../sql/sql.js';

/** One CTE of a statement. */
export interface Cte {
  readonly name: string;
  readonly sql: string;
  /** `MATERIALIZED` / `NOT MATERIALIZED` hint; undefined lets PostgreSQL decide. */
  readonly materialized?: boolean | undefined;
}

/** Collects the CTEs of one statement. */
export class StatementBuilder {
  private readonly ctes: Cte[] = [];
  private readonly used = new Set<string>();

  /**
   * A CTE name not used yet, derived from `base` (`__pgt_` prefixed), within PostgreSQL's
   * 63-byte limit: a long base is shortened with a hash suffix (`truncateIdent`), and names are
   * compared as PostgreSQL will see them, so two long bases never meet after truncation.
   */
  freshName(base: string): string {
    const clean = base.replace(/[^a-z0-9_]/gi, '_').toLowerCase();
    let name = truncateIdent(`__pgt_${clean}`);
    for (let i = 2; this.used.has(name); i++) name = truncateIdent(`__pgt_${clean}_${i}`);
    this.used.add(name);
    return name;
  }

  /** Adds a CTE under a fresh name derived from `base` and returns the name. */
  add(base: string, sql: string, materialized?: boolean): string {
    const name = this.freshName(base);
    this.ctes.push({ name, sql, materialized });
    return name;
  }

  /** Adds a CTE under an exact name (must be unused). */
  addNamed(name: string, sql: string, materialized?: boolean): string {
    if (this.used.has(name) || truncateIdent(name) !== name) {
      throw new InternalError(`the CTE name ${name} is taken or longer than PostgreSQL keeps`);
    }
    this.used.add(name);
    this.ctes.push({ name, sql, materialized });
    return name;
  }

  /** The CTEs so far. */
  list(): readonly Cte[] {
    return this.ctes;
  }

  /** Prints `WITH <ctes> <body>` (just the body when there are no CTEs). */
  build(body: string): string {
    if (this.ctes.length === 0) return body;
    const parts = this.ctes.map((c) => {
      const hint =
        c.materialized === true ? 'MATERIALIZED ' : c.materialized === false ? 'NOT MATERIALIZED ' : '';
      return sql`${c.name} AS ${hint}(\n${indent(c.sql)}\n)`;
    });
    return sql`WITH ${sql.join(parts, ',\n')}\n${body}`;
  }
}

/** Indents every line of `sql` by two spaces. */
export function indent(sql: string): string {
  return sql
    .split('\n')
    .map((l) => (l.length > 0 ? `  ${l}` : l))
    .join('\n');
}
