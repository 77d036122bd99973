/**
 * Shared SQL for the operators whose output for a row depends on whether (or how) rows of another
 * relation match it: semi/anti joins, the NULL-padded parts of outer joins, and per-row subquery
 * values. Two ideas are shared:
 *
 * - A match condition is a disjunction of **alternatives**, each a conjunction of **atoms** (an
 *   expression with a test: TRUE, FALSE, NOT FALSE, NOT TRUE, or "is the SQL NULL value").
 *   "Some row matches" is `EXISTS (… alt₁) OR EXISTS (… alt₂) …`, one EXISTS per alternative, so
 *   each can use an index (e.g. `x NOT IN (SELECT y …)` matches by `x = y`, `y IS NULL` or
 *   `x IS NULL`, three index-friendly probes instead of one `(x = y) IS NOT FALSE`).
 * - **Affected rows**: the rows of a relation that match some row of a (small) delta by some
 *   alternative, each row once (the alternatives are made disjoint: alternative i excludes the
 *   rows already found by alternatives 1…i−1), driven by the delta.
 *
 * Tests are rendered with explicit parentheses around every expression (the deparser does not
 * parenthesise `x = y IS NOT FALSE` correctly).
 */

import type { DiffContext } from '../diff/context.js';
import type { Expr, IrNode } from '../ir/types.js';
import { quoteIdent } from '../sql/quote.js';

/**
 * How an atom tests its expression. `nulls`: the value is the SQL NULL — `ROW(e) IS NULL`, which
 * tests the datum itself even for a composite value (whose own `IS NULL` means "all fields NULL")
 * and which the planner simplifies to an indexable, estimable `e IS NULL`.
 */
export type AtomTest = 'true' | 'false' | 'notFalse' | 'notTrue' | 'nulls';

/** One test of one expression. */
export interface Atom {
  readonly expr: Expr;
  readonly test: AtomTest;
}

/** A conjunction of atoms (empty: TRUE). */
export type Alternative = readonly Atom[];

/** Maps a column id to the alias of the relation that has it (`left` ids → `la`, others → `ra`). */
export function sideAliases(left: IrNode, la: string, ra: string): (id: string) => string {
  const ids = new Set(left.columns.map((c) => c.id));
  return (id) => (ids.has(id) ? la : ra);
}

/** SQL of one atom. */
export function atomSql(ctx: DiffContext, atom: Atom, aliasOf: (id: string) => string): string {
  const e = ctx.render(atom.expr, aliasOf);
  switch (atom.test) {
    case 'true':
      return `(${e})`;
    case 'false':
      return `(NOT (${e}))`;
    case 'notFalse':
      return `((${e}) IS NOT FALSE)`;
    case 'notTrue':
      return `((${e}) IS NOT TRUE)`;
    case 'nulls':
      return `(ROW(${e}) IS NULL)`;
  }
}

/** SQL of a conjunction (`true` when empty). */
export function alternativeSql(ctx: DiffContext, alt: Alternative, aliasOf: (id: string) => string): string {
  if (alt.length === 0) return 'true';
  return alt.map((a) => atomSql(ctx, a, aliasOf)).join(' AND ');
}

/**
 * `some row of relation `rel` (a parenthesised SELECT or a CTE name) under alias `ra` satisfies
 * some alternative` — one EXISTS per alternative; `false` for no alternatives. `perRow`: for a
 * few outer rows (delta paths) — each EXISTS gets `OFFSET 0`, which keeps PostgreSQL from turning
 * it into a semi-join or a hashed subplan that reads all of `rel` (on a misestimated outer row
 * count); it then runs per outer row, through the indexes of `rel`'s tables.
 */
export function someMatchSql(
  ctx: DiffContext,
  rel: string,
  ra: string,
  alts: readonly Alternative[],
  aliasOf: (id: string) => string,
  perRow = false,
): string {
  if (alts.length === 0) return 'false';
  const fence = perRow ? ' OFFSET 0' : '';
  const parts = alts.map(
    (alt) => `EXISTS (SELECT 1 FROM ${rel} AS ${ra} WHERE ${alternativeSql(ctx, alt, aliasOf)}${fence})`,
  );
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
}

/**
 * The negation of {@link someMatchSql}, as NOT EXISTS conjuncts (anti-join friendly); `true` for
 * none. `perRow` as for {@link someMatchSql}.
 */
export function noMatchSql(
  ctx: DiffContext,
  rel: string,
  ra: string,
  alts: readonly Alternative[],
  aliasOf: (id: string) => string,
  perRow = false,
): string {
  if (alts.length === 0) return 'true';
  const fence = perRow ? ' OFFSET 0' : '';
  return alts
    .map(
      (alt) =>
        `NOT EXISTS (SELECT 1 FROM ${rel} AS ${ra} WHERE ${alternativeSql(ctx, alt, aliasOf)}${fence})`,
    )
    .join(' AND ');
}

/**
 * The rows of `base` (a parenthesised SELECT, alias `ba`) that match at least one row of the
 * delta CTE `delta` (alias `da`) by at least one alternative, each base row exactly once:
 * alternative i keeps only the rows no earlier alternative matched. Columns: `ba.*`.
 */
export function affectedRowsSql(
  ctx: DiffContext,
  base: string,
  ba: string,
  delta: string,
  da: string,
  alts: readonly Alternative[],
  aliasOf: (id: string) => string,
): string {
  if (alts.length === 0) return `SELECT ${ba}.* FROM ${base} AS ${ba} WHERE false`;
  const conds = alts.map((alt) => alternativeSql(ctx, alt, aliasOf));
  return conds
    .map((cond, i) => {
      const earlier = conds
        .slice(0, i)
        .map((c) => `\n  AND NOT EXISTS (SELECT 1 FROM ${delta} AS ${da} WHERE ${c})`)
        .join('');
      return `SELECT ${ba}.* FROM ${base} AS ${ba}\nWHERE EXISTS (SELECT 1 FROM ${delta} AS ${da} WHERE ${cond})${earlier}`;
    })
    .join('\nUNION ALL\n');
}

/** `, <alias>."<id>"` for every column of `node`. */
export function columnList(node: IrNode, alias: string): string {
  return node.columns.map((c) => `, ${alias}.${quoteIdent(c.id)}`).join('');
}

/** `, NULL AS "<id>"` for every column of `node` (the padded side of an outer join). */
export function nullColumns(node: IrNode): string {
  return node.columns.map((c) => `, NULL AS ${quoteIdent(c.id)}`).join('');
}

/** Every column id an alternative list reads. */
export function alternativeRefs(alts: readonly Alternative[]): Set<string> {
  const out = new Set<string>();
  for (const alt of alts) for (const atom of alt) for (const r of atom.expr.refs) out.add(r);
  return out;
}
