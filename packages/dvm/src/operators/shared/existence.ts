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
 *   rows already found by alternatives 1…i−1), driven by the delta. The equalities of an
 *   alternative between the relation's row and the delta's row (`b = d`, e.g. the correlation
 *   `l2.l_orderkey = l1.l_orderkey` next to `l2.l_suppkey <> l1.l_suppkey`) are also stated as
 *   `(b, …) IN (SELECT d, … FROM delta)`: implied by the alternative, so the result is the same,
 *   but PostgreSQL can make the distinct keys of the delta the outer side and reach the relation
 *   through its indexes, which it cannot do for a semi-join whose condition has a non-equality.
 *
 * - **Old-side probes**: "some row of R₀ matches" per outer row. For a scan (or filters and
 *   projections over one) R₀ is its old snapshot, which PostgreSQL probes through the table's
 *   indexes. For any other R (a join, an aggregate, …) the old snapshot cannot be probed
 *   efficiently (its parts are unions PostgreSQL does not parameterise), so the probe reads
 *   R₀|c = R₁|c − Δ⁺ + Δ⁻ (`old-from-new.ts`): the rows of R₁ satisfying the probe's condition c
 *   (the live tables, indexable), corrected by R's netted delta.
 *
 * Tests are rendered with explicit parentheses around every expression (the deparser does not
 * parenthesise `x = y IS NOT FALSE` correctly).
 */

import type { Node } from '@pgsql/types';
import type { DiffContext } from '../../diff/context.js';
import { onlyChild, twoChildren } from '../../ir/children.js';
import { makeExpr } from '../../ir/expr.js';
import type { Expr, IrNode } from '../../ir/types.js';
import { asNode, nameList, walkAst } from '../../parse/ast.js';
import { sql } from '../../sql/sql.js';
import { netDelta, oldFromNew } from './old-from-new.js';

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

/**
 * The aliases of a probe of a binary node's right input (semi-joins, subquery values): the right
 * rows' alias `r<nid>`, and the column aliasing with the left row under `la`.
 */
export function probeAliases(node: IrNode, la: string): { ra: string; aliasOf: (id: string) => string } {
  const [left] = twoChildren(node);
  const ra = `r${node.nid}`;
  return { ra, aliasOf: sideAliases(left, la, ra) };
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
 * A relation probed per outer row: SQL (a parenthesised SELECT or a CTE name), or a function
 * building it for the probe's condition rendered over alias {@link PROBE_ALIAS} (it must contain
 * every row satisfying the condition; the probe applies the condition again).
 */
export type ProbeRelation = string | ((condition: string) => string);

/** The alias the condition handed to a {@link ProbeRelation} function is rendered over. */
export const PROBE_ALIAS = '__pgt_q';

/** The relation of `rel` for a probe by the conjunction `alt` (see {@link ProbeRelation}). */
export function probeRelation(
  ctx: DiffContext,
  rel: ProbeRelation,
  ra: string,
  alt: Alternative,
  aliasOf: (id: string) => string,
): string {
  if (typeof rel === 'string') return rel;
  return rel(
    alternativeSql(ctx, alt, (id) => {
      const a = aliasOf(id);
      return a === ra ? PROBE_ALIAS : a;
    }),
  );
}

/** Whether `node` is a scan, or filters and projections over one (its old snapshot is probe-friendly). */
export function scanLike(node: IrNode): boolean {
  if (node.kind === 'scan') return true;
  return (node.kind === 'filter' || node.kind === 'project') && scanLike(onlyChild(node));
}

const nets = new WeakMap<DiffContext, Map<string, string>>();

/** R₀ of `child` (an input of `owner`) for per-row probes (see the header). */
export function oldProbe(ctx: DiffContext, owner: IrNode, child: IrNode): ProbeRelation {
  if (ctx.isStaticallyEmpty(child) || scanLike(child)) return `(${ctx.snapshot(child, 'old')})`;
  let known = nets.get(ctx);
  if (known === undefined) {
    known = new Map();
    nets.set(ctx, known);
  }
  const key = `${owner.nid}:${child.nid}`;
  const net = known.get(key) ?? netDelta(ctx, owner, child, ctx.delta(child));
  known.set(key, net);
  const r1 = ctx.snapshot(child, 'new');
  return (condition) =>
    `(${oldFromNew(child, sql`(SELECT ${PROBE_ALIAS}.* FROM (${r1}) AS ${PROBE_ALIAS} WHERE ${condition})`, net)})`;
}

/**
 * `EXISTS` a row of `rel` (see {@link ProbeRelation}) under alias `ra` satisfying the conjunction
 * `alt`; `perRow`: fenced with `OFFSET 0` (see {@link someMatchSql}).
 */
function existsSql(
  ctx: DiffContext,
  rel: ProbeRelation,
  ra: string,
  alt: Alternative,
  aliasOf: (id: string) => string,
  perRow: boolean,
): string {
  const fence = perRow ? ' OFFSET 0' : '';
  return sql`EXISTS (SELECT 1 FROM ${probeRelation(ctx, rel, ra, alt, aliasOf)} AS ${ra} WHERE ${alternativeSql(ctx, alt, aliasOf)}${fence})`;
}

/**
 * `some row of relation `rel` (see {@link ProbeRelation}) under alias `ra` satisfies
 * some alternative` — one EXISTS per alternative; `false` for no alternatives. `perRow`: for a
 * few outer rows (delta paths) — each EXISTS gets `OFFSET 0`, which keeps PostgreSQL from turning
 * it into a semi-join or a hashed subplan that reads all of `rel` (on a misestimated outer row
 * count); it then runs per outer row, through the indexes of `rel`'s tables.
 */
export function someMatchSql(
  ctx: DiffContext,
  rel: ProbeRelation,
  ra: string,
  alts: readonly Alternative[],
  aliasOf: (id: string) => string,
  perRow = false,
): string {
  if (alts.length === 0) return 'false';
  const parts = alts.map((alt) => existsSql(ctx, rel, ra, alt, aliasOf, perRow));
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
}

/**
 * The negation of {@link someMatchSql}, as NOT EXISTS conjuncts (anti-join friendly); `true` for
 * none. `perRow` as for {@link someMatchSql}.
 */
export function noMatchSql(
  ctx: DiffContext,
  rel: ProbeRelation,
  ra: string,
  alts: readonly Alternative[],
  aliasOf: (id: string) => string,
  perRow = false,
): string {
  if (alts.length === 0) return 'true';
  return alts.map((alt) => `NOT ${existsSql(ctx, rel, ra, alt, aliasOf, perRow)}`).join(' AND ');
}

/** Whether `ast` is an `=` operator expression (`=` or `pg_catalog.=`). */
function equalityOf(ast: Node): { l: Node; r: Node } | null {
  const a = asNode(ast, 'A_Expr');
  if (a === undefined || a.kind !== 'AEXPR_OP' || a.lexpr === undefined || a.rexpr === undefined) return null;
  const op = nameList(a.name) ?? [];
  if (op.at(-1) !== '=' || op.length > 2 || (op.length === 2 && op[0] !== 'pg_catalog')) return null;
  return { l: a.lexpr, r: a.rexpr };
}

function conjunctAsts(ast: Node): Node[] {
  const b = asNode(ast, 'BoolExpr');
  return b?.boolop === 'AND_EXPR' ? (b.args ?? []).flatMap(conjunctAsts) : [ast];
}

function hasSublink(ast: Node): boolean {
  let found = false;
  walkAst(ast, (n) => {
    if (asNode(n, 'SubLink') !== undefined) found = true;
    return undefined;
  });
  return found;
}

/**
 * The equalities `b = d` among the TRUE atoms of `alt` with `b` reading only columns of the base
 * row (alias `ba`) and `d` only columns of the delta row (alias `da`), each at least one.
 */
function equiKeys(
  alt: Alternative,
  aliasOf: (id: string) => string,
  ba: string,
  da: string,
): { base: Expr; delta: Expr }[] {
  const side = (e: Expr): string | null => {
    if (e.refs.length === 0 || hasSublink(e.ast)) return null;
    const sides = new Set(e.refs.map(aliasOf));
    return sides.size === 1 ? ([...sides][0] as string) : null;
  };
  const out: { base: Expr; delta: Expr }[] = [];
  for (const atom of alt) {
    if (atom.test !== 'true') continue;
    for (const c of conjunctAsts(atom.expr.ast)) {
      const eq = equalityOf(c);
      if (eq === null) continue;
      const l = makeExpr(eq.l);
      const r = makeExpr(eq.r);
      const ls = side(l);
      const rs = side(r);
      if (ls === ba && rs === da) out.push({ base: l, delta: r });
      else if (ls === da && rs === ba) out.push({ base: r, delta: l });
    }
  }
  return out;
}

/**
 * `AND (b, …) IN (SELECT d, … FROM delta AS da)` for the equalities of `alt` between the base
 * and the delta row (see the header), or `''` when it has none or nothing else.
 */
function equiKeyFilter(
  ctx: DiffContext,
  alt: Alternative,
  aliasOf: (id: string) => string,
  ba: string,
  delta: string,
  da: string,
): string {
  const keys = equiKeys(alt, aliasOf, ba, da);
  // An alternative of key equalities alone is already such a semi-join.
  const conjuncts = alt.reduce((n, a) => n + (a.test === 'true' ? conjunctAsts(a.expr.ast).length : 1), 0);
  if (keys.length === 0 || keys.length === conjuncts) return '';
  const b = keys.map((k) => `(${ctx.render(k.base, aliasOf)})`);
  const d = keys.map((k) => `(${ctx.render(k.delta, aliasOf)})`);
  const lhs = b.length === 1 ? (b[0] as string) : `(${b.join(', ')})`;
  return sql`\n  AND ${lhs} IN (SELECT ${d.join(', ')} FROM ${delta} AS ${da})`;
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
  if (alts.length === 0) return sql`SELECT ${ba}.* FROM ${base} AS ${ba} WHERE false`;
  const conds = alts.map((alt) => alternativeSql(ctx, alt, aliasOf));
  return conds
    .map((cond, i) => {
      const earlier = conds
        .slice(0, i)
        .map((c) => sql`\n  AND NOT EXISTS (SELECT 1 FROM ${delta} AS ${da} WHERE ${c})`)
        .join('');
      const keys = equiKeyFilter(ctx, alts[i] as Alternative, aliasOf, ba, delta, da);
      return sql`SELECT ${ba}.* FROM ${base} AS ${ba}\nWHERE EXISTS (SELECT 1 FROM ${delta} AS ${da} WHERE ${cond})${keys}${earlier}`;
    })
    .join('\nUNION ALL\n');
}

/**
 * A materialised CTE `name` of the rows of `from` (a CTE name or a parenthesised SELECT) under
 * `alias`, each with per-row values appended (`[sql, column]`, in order): membership tests or
 * subquery values computed in the select list of a materialised CTE run as per-row (indexable)
 * subplans driven by the small delta, never as a semi-join hashing all of the probed relation.
 */
export function perRowValuesCte(
  ctx: DiffContext,
  name: string,
  from: string,
  alias: string,
  values: readonly (readonly [sql: string, column: string])[],
): string {
  const list = values.map(([expr, column]) => sql`${expr} AS ${column}`).join(', ');
  return ctx.stmt.add(name, sql`SELECT ${alias}.*, ${list}\nFROM ${from} AS ${alias}`, true);
}

/** `, <alias>."<id>"` for every column of `node`. */
export function columnList(node: IrNode, alias: string): string {
  return node.columns.map((c) => sql`, ${alias}.${sql.id(c.id)}`).join('');
}

/** `, NULL AS "<id>"` for every column of `node` (the padded side of an outer join). */
export function nullColumns(node: IrNode): string {
  return node.columns.map((c) => sql`, NULL AS ${sql.id(c.id)}`).join('');
}

/** Every column id an alternative list reads. */
export function alternativeRefs(alts: readonly Alternative[]): Set<string> {
  const out = new Set<string>();
  for (const alt of alts) for (const atom of alt) for (const r of atom.expr.refs) out.add(r);
  return out;
}
