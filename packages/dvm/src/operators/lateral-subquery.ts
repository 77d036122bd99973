/**
 * Lateral subquery: `FROM t CROSS JOIN LATERAL (SELECT … FROM r WHERE r.k = t.k ORDER BY …
 * LIMIT 3) s` and `LEFT JOIN LATERAL (…) s ON cond`: a subquery evaluated for each row of the
 * items before it (its input L), reading that row's columns.
 *
 * Delta rule: the result is Σₗ L(l)·g(l), where g(l) = the subquery's rows for left row l
 * (filtered by ON; for LEFT a single NULL-padded row when none remain). With g₀ / g₁ the
 * subquery over its sources' old / new snapshots and L₀ = L₁ − ΔL:
 *   Δ = L₁⋈g₁ − L₀⋈g₀ = ΔL⋈g₀ + L₁|A⋈g₁ − L₁|A⋈g₀,
 * where A ⊇ {l : g₁(l) ≠ g₀(l)} — the left rows whose subquery result may have changed, i.e.
 * those that can see a changed source row. A is derived per scan S in the subquery:
 * - S feeds (through filters and plain projections only) filters with conjuncts over S's
 *   columns and the input's (a correlation predicate, e.g. `r.k = t.k`, `r.x < t.limit`; also
 *   conjuncts over S alone): g(l) reads only the rows of S for which they are TRUE, so l ∈ A iff
 *   a row of ΔS (old or new values) satisfies them for l —
 *   `EXISTS (SELECT 1 FROM ΔS WHERE <conjuncts>)`. Exact; O(changes) with an equality on an
 *   indexed column of the input, else one pass over the input with a cheap test per row;
 * - otherwise: every left row as soon as ΔS is not empty (exact, but O(|L|) recomputation).
 * The first term reads ΔL and the old subquery, the others the live input (restricted to A)
 * and both subquery snapshots, diffed (`differenceDelta`). Nothing in the subquery's own delta
 * is ever asked for (it is correlated): only its snapshots, inlined under this node's alias.
 * Snapshots: L₀⋈g₀ / L₁⋈g₁ — the input and the subquery on the same side.
 * Row id: the row id of (<left id>, <subquery row id>) (a NULL-padded row:
 * ROW(<left id>, NULL)); unique iff both are.
 */

import type { DiffContext } from '../diff/context.js';
import { differenceDelta, emptyDeltaSql } from '../diff/recompute.js';
import { rowIdExpr } from '../diff/rowid.js';
import { onlyChild, twoChildren } from '../ir/children.js';
import { collectRefs, makeExpr, refNode, substitute } from '../ir/expr.js';
import type { IdAllocator } from '../ir/ids.js';
import type { Expr, IrNode, IrNodeBase, Side } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { asNode } from '../parse/ast.js';
import { sql } from '../sql/sql.js';
import type { OperatorRules } from './rules.js';
import type { ScanNode } from './scan.js';

/** A LATERAL subquery joined to its input (`children`: [input, subquery]). */
export interface LateralSubqueryNode extends IrNodeBase {
  readonly kind: 'lateralSubquery';
  readonly join: 'INNER' | 'LEFT';
  /** The ON condition (input, subquery and outer ids), or null. */
  readonly condition: Expr | null;
  /** WHERE conjuncts over the input alone may be pushed into it. */
  readonly preservedInputs: readonly number[];
}

/** Builds a lateral subquery: `sub` reads `left`'s column ids as outer references. */
export function makeLateralSubquery(
  ids: IdAllocator,
  left: IrNode,
  sub: IrNode,
  join: 'INNER' | 'LEFT',
  condition: Expr | null,
): LateralSubqueryNode {
  return {
    kind: 'lateralSubquery',
    nid: ids.node(),
    columns: [...left.columns, ...sub.columns],
    uniqueIds: left.uniqueIds && sub.uniqueIds,
    children: [left, sub],
    join,
    condition,
    preservedInputs: [0],
  };
}

/** Alias of the input rows (unique: the subquery's own aliases cannot capture it). */
function leftAlias(node: IrNode): string {
  return `__pgt_lat${node.nid}`;
}

function subAlias(node: IrNode): string {
  return `__pgt_sub${node.nid}`;
}

/**
 * The rows over input relation `from`: each joined to the subquery on `side`, rendered with the
 * input's ids under this node's alias. `where` (over the input alias) restricts the input.
 */
function applySql(
  node: LateralSubqueryNode,
  ctx: DiffContext,
  from: string,
  side: Side,
  weighted: boolean,
  where: string | null,
): string {
  const [left, sub] = twoChildren(node);
  const l = leftAlias(node);
  const s = subAlias(node);
  const leftIds = new Set(left.columns.map((c) => c.id));
  const outer = new Map(left.columns.map((c) => [c.id, l] as const));
  const subSql = ctx.withOuter(outer, () => ctx.snapshot(sub, side));
  const aliasOf = (id: string) => (leftIds.has(id) ? l : s);
  const on = node.condition === null ? 'true' : ctx.render(node.condition, aliasOf);
  const cols = node.columns.map((c) => sql`, ${aliasOf(c.id)}.${sql.id(c.id)}`).join('');
  const rowId = rowIdExpr([`${l}.${ROW_ID_COLUMN}`, `${s}.${ROW_ID_COLUMN}`]);
  const join =
    node.join === 'LEFT'
      ? 'LEFT JOIN LATERAL'
      : node.condition === null
        ? 'CROSS JOIN LATERAL'
        : 'JOIN LATERAL';
  return sql`SELECT ${rowId} AS ${ROW_ID_COLUMN}${weighted ? `, ${l}.${WEIGHT_COLUMN}` : ''}${cols}
FROM ${from} AS ${l}
${join} (${subSql}) AS ${s}${join === 'CROSS JOIN LATERAL' ? '' : ` ON ${on}`}${
    where === null
      ? ''
      : sql`
WHERE ${where}`
  }`;
}

/** A scan inside the subquery and the correlation conjuncts restricting the rows it feeds. */
interface ScanCorrelation {
  readonly scan: ScanNode;
  /** Conjuncts over the scan's ids and input ids restricting the rows it feeds; empty: none. */
  readonly conjuncts: readonly Expr[];
}

function splitAnd(ast: Expr['ast']): Expr['ast'][] {
  const b = asNode(ast, 'BoolExpr');
  if (b?.boolop === 'AND_EXPR') return (b.args ?? []).flatMap(splitAnd);
  return [ast];
}

/**
 * Follows `node` down through filters and plain projections to a scan; returns the scan and
 * the map from `node`'s column ids to the scan's (only columns passed through unchanged).
 */
function feedingScan(node: IrNode): { scan: ScanNode; map: Map<string, string> } | undefined {
  let map = new Map(node.columns.map((c) => [c.id, c.id] as const));
  let cur = node;
  for (;;) {
    if (cur.kind === 'scan') return { scan: cur, map };
    if (cur.kind === 'filter') {
      cur = onlyChild(cur);
      continue;
    }
    if (cur.kind === 'project') {
      const p = cur;
      const through = new Map<string, string>();
      for (const x of p.projections) {
        const ref = asNode(x.expr.ast, 'ColumnRef');
        if (ref !== undefined && x.expr.refs.length === 1) through.set(x.column.id, x.expr.refs[0] as string);
      }
      const next = new Map<string, string>();
      for (const [k, v] of map) {
        const c = through.get(v);
        if (c !== undefined) next.set(k, c);
      }
      map = next;
      cur = onlyChild(p);
      continue;
    }
    return undefined;
  }
}

/** Every scan in `sub` with the correlation conjuncts of the filters above it. */
function scanCorrelations(sub: IrNode, leftIds: ReadonlySet<string>): ScanCorrelation[] {
  const scans = new Map<number, { scan: ScanNode; conjuncts: Expr[] }>();
  const visit = (node: IrNode): void => {
    if (node.kind === 'scan') {
      if (!scans.has(node.nid)) scans.set(node.nid, { scan: node, conjuncts: [] });
      return;
    }
    if (node.kind === 'filter') {
      const fed = feedingScan(onlyChild(node));
      if (fed !== undefined) {
        const entry = scans.get(fed.scan.nid) ?? { scan: fed.scan, conjuncts: [] };
        scans.set(fed.scan.nid, entry);
        for (const c of splitAnd(node.predicate.ast)) {
          // A conjunct over the scan's (passed-through) columns and the input's: a row of the
          // scan reaches the subquery for input row l only if it holds for (row, l).
          const refs = collectRefs(c);
          const usable =
            refs.some((r) => fed.map.has(r)) && refs.every((r) => fed.map.has(r) || leftIds.has(r));
          if (usable) entry.conjuncts.push(substitute(makeExpr(c), (id) => refNode(fed.map.get(id) ?? id)));
        }
      }
    }
    for (const child of node.children) visit(child);
  };
  visit(sub);
  return [...scans.values()];
}

/** The condition (over the input alias) that an input row may see a changed source row. */
function affectedCondition(node: LateralSubqueryNode, ctx: DiffContext): string | null {
  const [left, sub] = twoChildren(node);
  const l = leftAlias(node);
  const leftIds = new Set(left.columns.map((c) => c.id));
  const terms: string[] = [];
  for (const { scan, conjuncts } of scanCorrelations(sub, leftIds)) {
    if (ctx.isStaticallyEmpty(scan)) continue;
    const d = ctx.delta(scan);
    if (conjuncts.length === 0) {
      terms.push(sql`EXISTS (SELECT 1 FROM ${d})`);
      continue;
    }
    const match = conjuncts
      .map((c) => ctx.render(c, (id) => (leftIds.has(id) ? l : '__pgt_d')))
      .join(' AND ');
    terms.push(sql`EXISTS (SELECT 1 FROM ${d} AS __pgt_d WHERE ${match})`);
  }
  return terms.length === 0 ? null : terms.map((t) => `(${t})`).join(' OR ');
}

/** The rules of `lateralSubquery` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const lateralSubqueryRules: OperatorRules<LateralSubqueryNode> = {
  snapshot(node, side, ctx) {
    const [left] = twoChildren(node);
    return applySql(node, ctx, `(${ctx.snapshot(left, side)})`, side, false, null);
  },
  delta(node, ctx) {
    const [left] = twoChildren(node);
    const terms: string[] = [];
    if (!ctx.isStaticallyEmpty(left)) {
      terms.push(applySql(node, ctx, ctx.delta(left), 'old', true, null));
    }
    const affected = affectedCondition(node, ctx);
    if (affected !== null) {
      const live = `(${ctx.snapshot(left, 'new')})`;
      const diff = differenceDelta(
        ctx,
        node,
        applySql(node, ctx, live, 'new', false, affected),
        applySql(node, ctx, live, 'old', false, affected),
        'lateral',
      );
      const cols = node.columns.map((c) => sql`, x.${sql.id(c.id)}`).join('');
      terms.push(sql`SELECT x.${ROW_ID_COLUMN}, x.${WEIGHT_COLUMN}${cols}\nFROM ${diff} AS x`);
    }
    if (terms.length === 0) {
      terms.push(emptyDeltaSql(node, ctx.snapshot(node, 'new'), 'x'));
    }
    return ctx.stmt.add(`d${node.nid}_lateral_sub`, terms.join('\nUNION ALL\n'));
  },
};
