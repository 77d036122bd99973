/**
 * The delta of a linear subtree for a consumer that only sums it. Rule: below an aggregate whose
 * calls are all sums of their input rows (count, sum, avg — not min/max), the delta of a subtree
 * made of scans, filters, projections and inner joins may be any weighted multiset whose sum
 * equals the netted delta's; the change buffer's records unnetted (+1 per `I`, −1 per `D`,
 * `unnettedScanDelta`) are one, since a row's captured changes alternate and telescope. Filter
 * and projection are applied row by row, and the inner-join rule ΔL⋈R₁ + L₁⋈ΔR − ΔL⋈ΔR is linear
 * in each delta (its third term bilinear), so it keeps that property with its inputs' deltas
 * unnetted too. Such a delta carries no row ids (NULL): its consumer groups by its own keys.
 * Any other operator (and a scan outside a change-buffer delta) takes its netted delta
 * (`DiffContext.delta`), which is one such multiset as well. An unnetted delta evaluates the
 * expressions of its filters, projections and join conditions on a key's states between its first
 * and last change in the window, which no snapshot saw: it is only taken where none of them can
 * fail on any row (`ir/error-free.ts`), so a division by a value set to zero and back within a
 * window cannot fail a refresh the query itself would not fail.
 *
 * Why: at a large window the netting is two sorts of every change record per source and a hash
 * of each record's key, and the join's row id one more hash per joined row; the sum needs none.
 */

import type { DiffContext } from '../../diff/context.js';
import { onlyChild, twoChildren } from '../../ir/children.js';
import { ownExpressionsCannotFail } from '../../ir/error-free.js';
import type { IrNode } from '../../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../../names.js';
import { sql } from '../../sql/sql.js';
import { joinTerm } from '../join.js';
import { projectionList } from '../project.js';
import { unnettedScanDelta } from '../scan.js';
import { innerJoinDeltaTerms } from './join-terms.js';

/**
 * Whether `node`'s subtree reaches a scan through scans, filters, projections and inner joins
 * only, whose expressions cannot fail on any row.
 */
function linearOverScan(node: IrNode): boolean {
  switch (node.kind) {
    case 'scan':
      return true;
    case 'filter':
    case 'project':
      return ownExpressionsCannotFail(node) && linearOverScan(onlyChild(node));
    case 'join':
      return ownExpressionsCannotFail(node) && twoChildren(node).some(linearOverScan);
    default:
      return false;
  }
}

/**
 * A relation (CTE name) holding a delta of `node` whose weights sum like its netted delta's, in
 * the netted delta's columns (`__pgt_row_id` NULL where unnetted); null when nothing below it
 * can be read unnetted (the caller takes `ctx.delta(node)`).
 */
export function summedDelta(node: IrNode, ctx: DiffContext): string | null {
  if (ctx.deltaSource.kind !== 'changeBuffer' || !linearOverScan(node)) return null;
  return build(node, ctx);
}

function build(node: IrNode, ctx: DiffContext): string {
  if (ctx.isStaticallyEmpty(node) || !linearOverScan(node)) return ctx.delta(node);
  switch (node.kind) {
    case 'scan':
      return unnettedScanDelta(node, ctx) ?? ctx.delta(node);
    case 'filter': {
      const d = build(onlyChild(node), ctx);
      const cols = node.columns.map((c) => sql`, c.${sql.id(c.id)}`).join('');
      return ctx.stmt.add(
        `d${node.nid}_sfilter`,
        sql`SELECT c.${ROW_ID_COLUMN}, c.${WEIGHT_COLUMN}${cols}\nFROM ${d} AS c\nWHERE ${ctx.render(node.predicate, 'c')}`,
      );
    }
    case 'project': {
      const d = build(onlyChild(node), ctx);
      return ctx.stmt.add(
        `d${node.nid}_sproject`,
        sql`SELECT c.${ROW_ID_COLUMN}, c.${WEIGHT_COLUMN}${projectionList(node, 'c', ctx)}\nFROM ${d} AS c`,
      );
    }
    case 'join': {
      const [l, r] = twoChildren(node);
      const terms = innerJoinDeltaTerms(
        ctx,
        l,
        r,
        (left, right, weight) => joinTerm(ctx, node, left, right, weight, 'NULL::bigint'),
        (child) => build(child, ctx),
      );
      return ctx.stmt.add(`d${node.nid}_sjoin`, terms.join('\nUNION ALL\n'));
    }
    default:
      return ctx.delta(node);
  }
}
