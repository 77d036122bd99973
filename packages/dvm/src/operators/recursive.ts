/**
 * Recursive CTE: a reference to `WITH RECURSIVE r(…) AS (<non-recursive term> UNION [ALL]
 * <recursive term>) [SEARCH …] [CYCLE …]`. Its SQL is the CTE itself, regenerated from the
 * user's parse tree with every source relation replaced by a CTE over that source's snapshot
 * (old or new) and every other CTE it reads inlined, so PostgreSQL evaluates the recursion:
 * R₀ over the old snapshots, R₁ over the new ones. Children: the two terms built as operator
 * trees (their scans give the sources' changes; the recursive reference in the recursive term is
 * a `recursiveSelf` leaf).
 *
 * Delta rules, per refresh (chosen in SQL, by one-time filters, from what the window holds):
 * - no source changed: Δ = ∅ (nothing is evaluated).
 * - Incremental rules apply when the CTE is the stream table's top operator (its previous
 *   result R₀ is the storage table: index lookups by row id), has no SEARCH / CYCLE clause, and
 *   both terms are built only from monotone, linear operators (scan, filter, project, inner
 *   join, UNION ALL, constant, lateral function). With B the non-recursive term and F the
 *   recursive one, ΔB is B's delta and ΔF(R₀) = F₁(R₀) − F₀(R₀) the recursive term's delta with
 *   its self-reference held at R₀ (its tree's delta rules: O(changes), plus one scan of R₀ for
 *   each join with the self-reference). S = ΔB + ΔF(R₀). Each fixpoint below is evaluated by
 *   PostgreSQL as a nested WITH RECURSIVE whose recursive term is the user's own.
 *   · UNION ALL (bags), insert-only or delete-only window — the counting algorithm:
 *       Δ = Σⱼ F₁ʲ(S)   (S consolidated, |n| copies of each row, all of the window's sign),
 *     exact for any Z-set since R₁ − R₀ = S + F₁(R₁ − R₀) when F is linear; it terminates because
 *     the rows it walks are derivations in R₁ (inserts) or in R₀ (deletes), which are finite.
 *   · UNION (sets), insert-only window — semi-naive: Δ = +N, N = lfp(Y = (S⁺ − R₀) ∪ (F₁(Y) −
 *     R₀)); R₁ = R₀ ∪ N because F₁ distributes over union and F₁(R₀) − R₀ ⊆ S⁺.
 *   · UNION (sets), delete-only window — delete and rederive: the over-deleted rows
 *     D = lfp(Y = (S⁻ ∩ R₀) ∪ (F₀(Y) ∩ R₀)) (every row with a derivation that uses a deleted row,
 *     old sources), the rederived ones Rd = lfp(Z = D ∩ (B₁ ∪ F₁(R₀ − D) ∪ F₁(Z))) (new sources),
 *     Δ = −(D − Rd). The step F₁(R₀ − D) joins all of R₀ once.
 * - otherwise (a window with both deletes and inserts, e.g. updates; or not eligible):
 *   recomputation, Δ = R₁ − R₀ (`differenceDelta`), R₁ over the new snapshots, R₀ = the storage
 *   table at the root, else the CTE over the old snapshots: O(|R₀| + |R₁|) for that refresh.
 * Membership in R₀, D, Rd is decided by row id and row text (the row-id identity of values).
 * Snapshots: the CTE over every source's old / new snapshot.
 * Row id: the row id of (<all output columns>) (SEARCH / CYCLE columns
 * included). UNION: unique. UNION ALL: not unique — duplicates are separate rows sharing an id.
 * Termination: UNION over cyclic data terminates (PostgreSQL discards rows it has seen); UNION
 * ALL over cyclic data never terminates in PostgreSQL either (neither the query nor its
 * refresh); CYCLE marks and stops cycles.
 */

import type { DiffContext, StorageBinding } from '../diff/context.js';
import { differenceDelta, emptyDeltaSql } from '../diff/recompute.js';
import { rowIdExpr, rowText } from '../diff/rowid.js';
import { InternalError, UnsupportedQueryError } from '../errors.js';
import { twoChildren } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { IrColumn, IrNode, IrNodeBase, Side } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { quoteIdent } from '../sql/quote.js';
import { sql } from '../sql/sql.js';
import type { AnalyzeTools, OperatorRules } from './rules.js';
import type { ScanNode } from './scan.js';

/** A source relation the CTE's text reads, under its placeholder CTE name. */
export interface RecursiveSource {
  /** The placeholder the CTE's text reads (`__pgt_src_<n>`). */
  readonly name: string;
  /** A scan of the source (its snapshots and delta). */
  readonly scan: ScanNode;
}

/** A reference to a recursive CTE (`children`: [non-recursive term, recursive term]). */
export interface RecursiveCteNode extends IrNodeBase {
  readonly kind: 'recursiveCte';
  /** The CTE's name. */
  readonly name: string;
  /** UNION ALL (else UNION). */
  readonly all: boolean;
  /** The CTE's column names (the user's), without SEARCH / CYCLE columns. */
  readonly cteNames: readonly string[];
  /** `name(cols) AS (…) [SEARCH …] [CYCLE …]`, reading the placeholders. */
  readonly cteSql: string;
  /** Other CTEs it reads, inlined: `__pgt_cte_<n>[(cols)] AS (…)`. */
  readonly inlined: readonly string[];
  readonly sources: readonly RecursiveSource[];
  /** The terms' texts for the semi-naive rules (null: not eligible). */
  readonly terms: RecursiveTerms | null;
  /** The self-reference leaf in the recursive term (semi-naive), or null. */
  readonly self: RecursiveSelfNode | null;
  /** The output column types, in column order (set by `analyze`; null before). */
  types: readonly string[] | null;
}

/** The recursive term's reference to its own CTE (a leaf of the recursive-term tree). */
export interface RecursiveSelfNode extends IrNodeBase {
  readonly kind: 'recursiveSelf';
  /** The CTE it refers to (set once the CTE's node is built). */
  owner: RecursiveCteNode | null;
  /**
   * A relation (`__pgt_row_id` + the owner's column ids) the leaf reads while a delta of the
   * recursive term is generated (R₀); null: the owner's own snapshot on the same side.
   */
  binding: string | null;
}

/** Builds the self-reference leaf with columns `columns`. */
export function makeRecursiveSelf(
  ids: IdAllocator,
  columns: readonly IrColumn[],
  unique: boolean,
): RecursiveSelfNode {
  return {
    kind: 'recursiveSelf',
    nid: ids.node(),
    columns,
    uniqueIds: unique,
    children: [],
    owner: null,
    binding: null,
  };
}

/** Fields of {@link makeRecursiveCte}. */
export interface RecursiveCteSpec {
  readonly name: string;
  readonly all: boolean;
  readonly columns: readonly IrColumn[];
  readonly cteNames: readonly string[];
  readonly cteSql: string;
  readonly inlined: readonly string[];
  readonly sources: readonly RecursiveSource[];
  readonly terms: RecursiveTerms | null;
  readonly self: RecursiveSelfNode | null;
}

/** The two terms of a recursive CTE alone, over the placeholders. */
export interface RecursiveTerms {
  /** The non-recursive term. */
  readonly base: string;
  /** The recursive term, reading `__pgt_inc` (the working table) instead of the CTE. */
  readonly recursive: string;
}

/** Builds a recursive CTE node over its two term trees. */
export function makeRecursiveCte(
  ids: IdAllocator,
  base: IrNode,
  recursive: IrNode,
  spec: RecursiveCteSpec,
): RecursiveCteNode {
  return {
    kind: 'recursiveCte',
    nid: ids.node(),
    columns: spec.columns,
    uniqueIds: !spec.all,
    children: [base, recursive],
    name: spec.name,
    all: spec.all,
    cteNames: spec.cteNames,
    cteSql: spec.cteSql,
    inlined: spec.inlined,
    sources: spec.sources,
    terms: spec.terms,
    self: spec.self,
    types: null,
  };
}

/** The placeholder CTE of a source over its snapshot on `side`, under the source's column names. */
function sourceCte(source: RecursiveSource, side: Side, ctx: DiffContext): string {
  const cols = source.scan.sourceColumns.map((c) => sql`s.${sql.id(c.id)} AS ${sql.id(c.column)}`);
  const list = cols.length === 0 ? 'NULL AS __pgt_none' : cols.join(', ');
  return sql`${source.name} AS NOT MATERIALIZED (SELECT ${list} FROM (${ctx.snapshot(source.scan, side)}) AS s)`;
}

/** The WITH RECURSIVE list: sources on `side`, inlined CTEs, then `extra`. */
function withList(node: RecursiveCteNode, side: Side, ctx: DiffContext, extra: string | null): string {
  const parts = [
    ...node.sources.map((s) => sourceCte(s, side, ctx)),
    ...node.inlined,
    ...(extra === null ? [] : [extra]),
  ];
  if (parts.length === 0) return '';
  return `WITH RECURSIVE ${parts.join(',\n')}`;
}

/** The type of output column `i` (undefined before `analyze`). */
function typeAt(node: IrNode, i: number): string | undefined {
  return node.kind === 'recursiveCte' ? (node.types?.[i] ?? undefined) : undefined;
}

/** `SELECT <row id>, <columns as ids> FROM (<query>) AS q(<ids>)`. */
function withRowIds(node: IrNode, query: string): string {
  const ids = node.columns.map((c) => quoteIdent(c.id));
  const rowId = rowIdExpr(ids.map((id, i) => ({ expr: `q.${id}`, type: typeAt(node, i) })));
  return sql`SELECT ${rowId} AS ${ROW_ID_COLUMN}${ids.map((id) => `, q.${id}`).join('')}\nFROM (${query}) AS q(${ids.join(', ')})`;
}

/** The CTE evaluated over every source's snapshot on `side`. */
function cteSnapshot(node: RecursiveCteNode, side: Side, ctx: DiffContext): string {
  return withRowIds(node, sql`${withList(node, side, ctx, node.cteSql)}\nSELECT * FROM ${sql.id(node.name)}`);
}

function termNodes(node: RecursiveCteNode): [IrNode, IrNode] {
  return twoChildren(node);
}

function recursiveDelta(node: RecursiveCteNode, ctx: DiffContext): string {
  const label = `d${node.nid}_recursive`;
  const live = node.sources.filter((s) => !ctx.isStaticallyEmpty(s.scan));
  if (live.length === 0) return ctx.stmt.add(label, emptyDeltaSql(node, cteSnapshot(node, 'new', ctx)));
  const deltas = live.map((s) => ctx.delta(s.scan));
  const changed = `(${deltas.map((d) => sql`EXISTS (SELECT 1 FROM ${d})`).join(' OR ')})`;
  const hasNeg = `(${deltas.map((d) => sql`EXISTS (SELECT 1 FROM ${d} AS x WHERE x.${WEIGHT_COLUMN} < 0)`).join(' OR ')})`;
  const hasPos = `(${deltas.map((d) => sql`EXISTS (SELECT 1 FROM ${d} AS x WHERE x.${WEIGHT_COLUMN} > 0)`).join(' OR ')})`;
  const storage = ctx.storageFor(node);
  const ids = node.columns.map((c) => c.id);
  const stored =
    storage === null
      ? null
      : sql`SELECT s.${ROW_ID_COLUMN}${ids.map((id) => sql`, s.${sql.id(storage.column(id))} AS ${sql.id(id)}`).join('')}
FROM ${storage.relation} AS s`;
  const incremental = storage !== null && node.terms !== null && node.self !== null;
  // Recomputation: any window when not incremental, else a window with deletes and inserts.
  const gate = incremental ? `${hasNeg} AND ${hasPos}` : changed;
  const newSql = sql`SELECT t.* FROM (${cteSnapshot(node, 'new', ctx)}) AS t WHERE ${gate}`;
  const oldSql =
    stored === null
      ? sql`SELECT t.* FROM (${cteSnapshot(node, 'old', ctx)}) AS t WHERE ${gate}`
      : sql`SELECT t.* FROM (${stored}) AS t WHERE ${gate}`;
  const recomputed = differenceDelta(ctx, node, newSql, oldSql, 'recompute');
  if (!incremental || storage === null) return recomputed;
  const parts = [recomputed, ...incrementalDeltas(node, ctx, storage, { changed, hasNeg, hasPos })];
  const all = ids.map((id) => sql`, x.${sql.id(id)}`).join('');
  return ctx.stmt.add(
    label,
    parts
      .map((p) => sql`SELECT x.${ROW_ID_COLUMN}, x.${WEIGHT_COLUMN}${all} FROM ${p} AS x`)
      .join('\nUNION ALL\n'),
  );
}

/** SQL conditions on the window: some change, some deletion, some insertion. */
interface WindowGates {
  readonly changed: string;
  readonly hasNeg: string;
  readonly hasPos: string;
}

/**
 * The semi-naive deltas at the root (storage = R₀), each gated to its kind of window:
 * bags — insert-only or delete-only windows (the counting algorithm); sets — insert-only
 * windows (semi-naive) and delete-only windows (delete and rederive). Returns their CTE names.
 */
function incrementalDeltas(
  node: RecursiveCteNode,
  ctx: DiffContext,
  storage: StorageBinding,
  gates: WindowGates,
): string[] {
  const [base, rec] = termNodes(node);
  const self = node.self as RecursiveSelfNode;
  const texts = node.terms as RecursiveTerms;
  const ids = node.columns.map((c) => c.id);
  const cols = ids.map((_, i) => `__pgt_c${i + 1}`);
  const colList = (alias: string) => cols.map((c) => sql`${alias}.${sql.id(c)}`).join(', ');
  const rid = (alias: string) =>
    rowIdExpr(cols.map((c, i) => ({ expr: sql`${alias}.${sql.id(c)}`, type: typeAt(node, i) })));
  const txt = (alias: string) => rowText(alias, cols);
  const storedText = rowText(
    's',
    ids.map((id) => storage.column(id)),
  );
  const inR0 = (alias: string) =>
    sql`EXISTS (SELECT 1 FROM ${storage.relation} AS s WHERE s.${ROW_ID_COLUMN} = ${rid(alias)} AND ${storedText} = ${txt(alias)})`;
  const names = node.cteNames.map(quoteIdent).join(', ');
  const positional = cols.map(quoteIdent).join(', ');
  /** The recursion from `seed` (columns `cols`) with the user's recursive term over `side`. */
  const recursion = (side: Side, seed: string, keep: ((alias: string) => string) | null): string =>
    sql`${withList(
      node,
      side,
      ctx,
      sql`__pgt_inc(${names}) AS (
SELECT ${colList('x')} FROM (${seed}) AS x
UNION${node.all ? ' ALL' : ''}
SELECT y.* FROM (${texts.recursive}) AS y(${positional})${
        keep === null
          ? ''
          : sql`
WHERE ${keep('y')}`
      }
)`,
    )}\nSELECT * FROM __pgt_inc`;
  const output = (from: string, weight: string, gate: string): string =>
    sql`SELECT ${rid('i')} AS ${ROW_ID_COLUMN}, ${weight}::bigint AS ${WEIGHT_COLUMN}${cols
      .map((c, i) => sql`, i.${sql.id(c)} AS ${sql.id(ids[i] as string)}`)
      .join('')}\nFROM (${from}) AS i(${positional})\nWHERE ${gate}`;

  // ΔB and ΔF(R₀): the terms' deltas with the self-reference fixed at R₀ (the storage table).
  self.binding = sql`(SELECT s.${ROW_ID_COLUMN}${ids
    .map((id) => sql`, s.${sql.id(storage.column(id))} AS ${sql.id(id)}`)
    .join('')} FROM ${storage.relation} AS s)`;
  let dB: string;
  let dF: string;
  try {
    dB = ctx.delta(base);
    dF = ctx.delta(rec);
  } finally {
    self.binding = null;
  }
  const termCols = (term: IrNode) =>
    term.columns.map((c, i) => sql`b.${sql.id(c.id)} AS ${sql.id(cols[i] as string)}`).join(', ');
  const terms = sql`SELECT ${termCols(base)}, b.${WEIGHT_COLUMN} FROM ${dB} AS b
UNION ALL
SELECT ${termCols(rec)}, b.${WEIGHT_COLUMN} FROM ${dF} AS b`;

  if (node.all) {
    // Bags: Δ = Σⱼ F₁ʲ(S), S = ΔB + ΔF(R₀) with multiplicities (all of one sign in these windows).
    const seed = ctx.stmt.add(
      `n${node.nid}_rec_seed`,
      sql`SELECT ${colList('x')}
FROM (SELECT DISTINCT ON (u.__pgt_text) u.*, pg_catalog.sum(u.${WEIGHT_COLUMN}) OVER (PARTITION BY u.__pgt_text)::bigint AS __pgt_n
      FROM (SELECT t.*, ${txt('t')} AS __pgt_text FROM (${terms}) AS t) AS u
      ORDER BY u.__pgt_text) AS x
CROSS JOIN LATERAL pg_catalog.generate_series(1, abs(x.__pgt_n)) AS g
WHERE x.__pgt_n <> 0`,
    );
    return [
      ctx.stmt.add(
        `d${node.nid}_counting`,
        output(
          recursion('new', sql`SELECT * FROM ${seed}`, null),
          sql`CASE WHEN ${gates.hasNeg} THEN -1 ELSE 1 END`,
          `${gates.changed} AND NOT (${gates.hasNeg} AND ${gates.hasPos})`,
        ),
      ),
    ];
  }

  // Sets, insert-only: N = lfp(Y = (S − R₀) ∪ (F₁(Y) − R₀)).
  const insertOnly = `${gates.changed} AND NOT ${gates.hasNeg}`;
  const seedIns = sql`SELECT DISTINCT ${colList('x')} FROM (${terms}) AS x WHERE x.${WEIGHT_COLUMN} > 0 AND NOT ${inR0('x')}`;
  const inserted = ctx.stmt.add(
    `d${node.nid}_seminaive`,
    output(
      recursion('new', seedIns, (a) => `NOT ${inR0(a)}`),
      '1',
      insertOnly,
    ),
  );

  // Sets, delete-only: delete and rederive.
  const deleteOnly = `${gates.changed} AND NOT ${gates.hasPos}`;
  // D: every row of R₀ with a derivation that uses a deleted row (old sources).
  const seedDel = sql`SELECT DISTINCT ${colList('x')} FROM (${terms}) AS x WHERE x.${WEIGHT_COLUMN} < 0 AND ${inR0('x')}`;
  const over = ctx.stmt.add(
    `n${node.nid}_rec_overdeleted`,
    sql`SELECT ${rid('o')} AS ${ROW_ID_COLUMN}, ${colList('o')}\nFROM (${recursion('old', seedDel, inR0)}) AS o(${positional})\nWHERE ${deleteOnly}`,
    true,
  );
  const inD = (alias: string) =>
    sql`EXISTS (SELECT 1 FROM ${over} AS d WHERE d.${ROW_ID_COLUMN} = ${rid(alias)} AND ${txt('d')} = ${txt(alias)})`;
  const kept = sql`SELECT ${ids.map((id, i) => sql`s.${sql.id(storage.column(id))} AS ${sql.id(cols[i] as string)}`).join(', ')}
FROM ${storage.relation} AS s
WHERE NOT EXISTS (SELECT 1 FROM ${over} AS d WHERE d.${ROW_ID_COLUMN} = s.${ROW_ID_COLUMN} AND ${txt('d')} = ${storedText})`;
  // Rows of D derivable again: from the base term, or in one step from R₀ − D; then their closure within D.
  const fromBase = sql`SELECT b.* FROM (${withList(node, 'new', ctx, null)}\n${texts.base}) AS b(${positional}) WHERE ${inD('b')}`;
  const fromKept = sql`SELECT y.* FROM (${withList(node, 'new', ctx, sql`__pgt_inc(${names}) AS (${kept})`)}
${texts.recursive}) AS y(${positional}) WHERE ${inD('y')}`;
  const rederived = ctx.stmt.add(
    `n${node.nid}_rec_rederived`,
    sql`SELECT ${rid('r')} AS ${ROW_ID_COLUMN}, ${colList('r')}
FROM (${recursion(
      'new',
      `${fromBase}
UNION
${fromKept}`,
      inD,
    )}) AS r(${positional})`,
    true,
  );
  const deleted = ctx.stmt.add(
    `d${node.nid}_dred`,
    sql`SELECT d.${ROW_ID_COLUMN}, -1::bigint AS ${WEIGHT_COLUMN}${cols
      .map(
        (c, i) => sql`, d.${sql.id(c)} AS
  ${sql.id(ids[i] as string)}`,
      )
      .join('')}
FROM ${over} AS d
WHERE ${deleteOnly} AND NOT EXISTS (SELECT 1 FROM ${rederived} AS r WHERE r.${ROW_ID_COLUMN} = d.${ROW_ID_COLUMN} AND ${txt('r')} = ${txt('d')})`,
  );
  return [inserted, deleted];
}

/** The rules of `recursiveCte` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const recursiveCteRules: OperatorRules<RecursiveCteNode> = {
  snapshot(node, side, ctx) {
    return cteSnapshot(node, side, ctx);
  },
  delta(node, ctx) {
    return recursiveDelta(node, ctx);
  },
  rootState(node) {
    // The previous result is the storage table; kept under hidden names when a projection above
    // renames or computes the visible columns. Not with SEARCH / CYCLE: their columns are of
    // pseudo-types (record, record[]) that a table cannot store.
    if (node.columns.length > node.cteNames.length) return null;
    return node.columns.map((c) => ({ id: c.id, name: `__pgt_rec_${c.id}` }));
  },
  async analyze(node, tools: AnalyzeTools) {
    let described: number;
    try {
      const columns = await tools.describe(tools.snapshotSql(node));
      described = columns.length - 1;
      node.types = columns.slice(1).map((c) => c.type);
    } catch (error) {
      throw new UnsupportedQueryError(
        `the recursive CTE "${node.name}" as generated`,
        `PostgreSQL could not evaluate it over the sources' ` +
          `snapshots (${error instanceof Error ? error.message : String(error)}), ` +
          "e.g. it refers to columns of an enclosing query; use refreshMode 'FULL'.",
        { cause: error },
      );
    }
    if (described !== node.columns.length) {
      throw new UnsupportedQueryError(
        `the recursive CTE "${node.name}"`,
        `It yields ${described} columns, ${node.columns.length} were expected; use refreshMode 'FULL'.`,
      );
    }
  },
};

function selfSnapshot(node: RecursiveSelfNode, side: Side, ctx: DiffContext): string {
  const owner = node.owner;
  if (owner === null) throw new InternalError(`recursive reference ${node.nid} has no CTE`);
  const rel = node.binding ?? `(${ctx.snapshot(owner, side)})`;
  const cols = node.columns
    .map((c, i) => sql`, o.${sql.id((owner.columns[i] as IrColumn).id)} AS ${sql.id(c.id)}`)
    .join('');
  return sql`SELECT o.${ROW_ID_COLUMN}${cols}\nFROM ${rel} AS o`;
}

/** The rules of `recursiveSelf` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const recursiveSelfRules: OperatorRules<RecursiveSelfNode> = {
  snapshot(node, side, ctx) {
    return selfSnapshot(node, side, ctx);
  },
  delta(node, ctx) {
    // The recursive reference is held fixed (R₀) while the recursive term's delta is taken.
    return ctx.stmt.add(`d${node.nid}_rec_self`, emptyDeltaSql(node, selfSnapshot(node, 'new', ctx)));
  },
};
