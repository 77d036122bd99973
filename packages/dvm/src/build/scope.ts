/**
 * Name scopes: which column id a column reference stands for. A FROM clause yields a scope of
 * named items (a table or subquery under its alias, with its columns), plus the columns merged by
 * `JOIN … USING` / `NATURAL JOIN`, which shadow their sides for unqualified references and come
 * first in `*`. A scope may have a parent (the enclosing query, for correlated subqueries).
 * Resolution follows PostgreSQL: `x` searches merged columns then every item (ambiguous if two
 * match), then the parent; `t.x` finds item `t`; `s.t.x` also checks the item's schema.
 */
import type { Node } from '@pgsql/types';
import { AmbiguousColumnError, UnknownColumnError, UnsupportedQueryError } from '../errors.js';
import { asNode } from '../parse/ast.js';
import type { BuildEnv } from './env.js';

/** A column visible in a scope: its user-facing name and its id in the operator tree. */
export interface ScopeColumn {
  readonly name: string;
  readonly id: string;
}

/** A FROM item visible under an alias. */
export interface ScopeItem {
  readonly alias: string;
  /** Schema of the relation it reads (for `schema.table.column` references), if a relation. */
  readonly schema: string | null;
  /** Its columns in order (what `alias.*` expands to). */
  readonly columns: readonly ScopeColumn[];
}

/** The names a FROM clause (or part of one) makes visible. */
export interface FromScope {
  readonly items: readonly ScopeItem[];
  /** Columns merged by USING / NATURAL joins (visible unqualified). */
  readonly merged: readonly ScopeColumn[];
  /** Ids of item columns hidden from unqualified references and `*` by a merge. */
  readonly covered: ReadonlySet<string>;
  /** What `*` expands to, in order. */
  readonly star: readonly ScopeColumn[];
}

/** The empty FROM scope (a SELECT without FROM). */
export const EMPTY_FROM: FromScope = { items: [], merged: [], covered: new Set(), star: [] };

/** A FROM scope of one item. */
export function itemScope(item: ScopeItem): FromScope {
  return { items: [item], merged: [], covered: new Set(), star: item.columns };
}

/** The scope of two FROM items side by side (a comma or CROSS JOIN, or a join before merging). */
export function concatScopes(left: FromScope, right: FromScope): FromScope {
  return {
    items: [...left.items, ...right.items],
    merged: [...left.merged, ...right.merged],
    covered: new Set([...left.covered, ...right.covered]),
    star: [...left.star, ...right.star],
  };
}

/** A resolved column reference: the id and how many query levels up it was found (0 = here). */
export interface ResolvedRef {
  readonly id: string;
  readonly depth: number;
}

/** One query level's names, chained to the enclosing level's. */
export class Scope {
  constructor(
    readonly from: FromScope,
    readonly parent: Scope | null,
    private readonly env: BuildEnv,
  ) {}

  /** Resolves a ColumnRef's fields (not `*`). */
  resolve(fields: readonly string[], location: number | undefined): ResolvedRef {
    const found = this.lookup(fields, location, 0);
    if (found !== undefined) return found;
    throw new UnknownColumnError(fields.map((f) => `"${f}"`).join('.'), { position: this.env.at(location) });
  }

  private lookup(
    fields: readonly string[],
    location: number | undefined,
    depth: number,
  ): ResolvedRef | undefined {
    const here = this.lookupHere(fields, location);
    if (here !== undefined) return { id: here, depth };
    return this.parent?.lookup(fields, location, depth + 1);
  }

  private lookupHere(fields: readonly string[], location: number | undefined): string | undefined {
    const { from } = this;
    if (fields.length === 1) {
      const name = fields[0] as string;
      const merged = from.merged.filter((c) => c.name === name);
      if (merged.length > 1) {
        throw new AmbiguousColumnError(
          `"${name}"`,
          merged.map((c) => `"${c.name}"`),
          {
            position: this.env.at(location),
          },
        );
      }
      if (merged[0] !== undefined) return merged[0].id;
      const hits: { alias: string; id: string }[] = [];
      for (const item of from.items) {
        for (const c of item.columns) {
          if (c.name === name && !from.covered.has(c.id)) hits.push({ alias: item.alias, id: c.id });
        }
      }
      if (hits.length > 1) {
        throw new AmbiguousColumnError(
          `"${name}"`,
          hits.map((h) => `"${h.alias}"."${name}"`),
          { position: this.env.at(location) },
        );
      }
      return hits[0]?.id;
    }
    const [a, b, c] = fields;
    const schema = fields.length === 3 ? (a as string) : null;
    const alias = (fields.length === 3 ? b : a) as string;
    const column = (fields.length === 3 ? c : b) as string;
    if (fields.length > 3) return undefined;
    const items = from.items.filter((i) => i.alias === alias && (schema === null || i.schema === schema));
    if (items.length === 0) return undefined;
    const item = items[0] as ScopeItem;
    const col = item.columns.find((x) => x.name === column);
    if (col === undefined) {
      throw new UnknownColumnError(`"${alias}"."${column}"`, { position: this.env.at(location) });
    }
    return col.id;
  }

  /** Whether an item named `alias` is visible at this level or above. */
  hasItem(alias: string): boolean {
    return this.from.items.some((i) => i.alias === alias) || (this.parent?.hasItem(alias) ?? false);
  }

  /**
   * Expands `*` (fields `[*]`) or `alias.*` at this level into its columns; a star that names an
   * outer query's item is refused.
   */
  expandStar(fields: readonly (string | null)[], location: number | undefined): ScopeColumn[] {
    if (fields.length === 1) return [...this.from.star];
    const alias = fields[fields.length - 2];
    const schema = fields.length === 3 ? fields[0] : null;
    const item = this.from.items.find((i) => i.alias === alias && (schema === null || i.schema === schema));
    if (item === undefined) {
      throw new UnknownColumnError(`"${alias}".*`, { position: this.env.at(location) });
    }
    return [...item.columns];
  }
}

/** A ColumnRef's fields as strings, `*` as null. Undefined if a field is neither. */
export function columnRefFields(node: Node): (string | null)[] | undefined {
  const ref = asNode(node, 'ColumnRef');
  if (ref === undefined) return undefined;
  const out: (string | null)[] = [];
  for (const f of ref.fields ?? []) {
    const s = asNode(f, 'String')?.sval;
    if (s !== undefined) out.push(s);
    else if (asNode(f, 'A_Star') !== undefined) out.push(null);
    else return undefined;
  }
  return out;
}

/** Throws when an item alias is used twice in one FROM clause (PostgreSQL refuses it too). */
export function checkDistinctAliases(scope: FromScope, env: BuildEnv, location: number | undefined): void {
  const seen = new Set<string>();
  for (const item of scope.items) {
    if (seen.has(item.alias)) {
      throw new UnsupportedQueryError(
        `table name "${item.alias}" specified more than once`,
        'Give each FROM item its own alias.',
        { position: env.at(location) },
      );
    }
    seen.add(item.alias);
  }
}
