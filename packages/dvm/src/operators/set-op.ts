/**
 * INTERSECT [ALL] and EXCEPT [ALL] (kind `setOp`; UNION is DISTINCT over UNION ALL, in
 * `distinct.ts`; UNION ALL in `union-all.ts`).
 *
 * The child is `UNION ALL(left ⊕ side 1, right ⊕ side 2)`: one relation, so PostgreSQL resolves
 * the column types of both inputs once, identically in snapshots and deltas. Per distinct value
 * v (equal values, NULLs equal; see `multiset.ts`), l = copies of v in the left input, r = in the
 * right: INTERSECT keeps v iff l > 0 and r > 0 (ALL: min(l, r) copies), EXCEPT iff l > 0 and
 * r = 0 (ALL: max(0, l − r) copies).
 * Delta rule: the counted rule of `multiset.ts`: the affected values are those of ΔL ∪ ΔR; their
 * l₁ / r₁ come from the inputs' NEW snapshots restricted to them, l₀ = l₁ − ΣΔL, r₀ = r₁ − ΣΔR;
 * emit −f(l₀, r₀) old copies and +f(l₁, r₁) new copies (one net row when the representative row
 * is unchanged). No state is stored (the storage holds only present values, so the counts of
 * absent values could not be kept there).
 * Snapshots: over L₀ ⊎ R₀ / L₁ ⊎ R₁; one representative per value (the smallest left row text).
 * Row id: `hashtextextended(ROW(<canonical output values>)::text, 0)`; unique for the plain
 * forms; the ALL forms store that many copies under one id (not unique; counted apply).
 */

import { registerOperator } from '../diff/registry.js';
import type { IdAllocator } from '../ir/ids.js';
import type { IrColumn, IrNode, IrNodeBase } from '../ir/types.js';
import { onlyChild } from './filter.js';
import {
  type CountedFields,
  type CountRule,
  childTypes,
  countedDelta,
  countedSnapshot,
  emptyDelta,
} from './multiset.js';

/** INTERSECT / EXCEPT [ALL] over a side-tagged UNION ALL of its two inputs. */
export interface SetOpNode extends IrNodeBase, CountedFields {
  readonly kind: 'setOp';
}

/**
 * Builds `left INTERSECT|EXCEPT [ALL] right` over `child` (the UNION ALL of both inputs, each with
 * its side in column `sideId`); `outputs` are the child's value columns.
 */
export function makeSetOp(
  ids: IdAllocator,
  child: IrNode,
  outputs: readonly IrColumn[],
  sideId: string,
  rule: Exclude<CountRule, 'distinct'>,
  all: boolean,
): SetOpNode {
  return {
    kind: 'setOp',
    nid: ids.node(),
    columns: outputs,
    uniqueIds: !all,
    children: [child],
    outputs,
    sideId,
    rule,
    all,
    countId: null,
    stored: false,
    types: null,
  };
}

registerOperator<SetOpNode>({
  kind: 'setOp',
  snapshot(node, side, ctx) {
    return countedSnapshot(node, side, ctx);
  },
  delta(node, ctx) {
    if (ctx.isStaticallyEmpty(onlyChild(node))) return emptyDelta(node, ctx, node.rule);
    return countedDelta(node, ctx, node.rule);
  },
  async analyze(node, tools) {
    node.types = await childTypes(node, tools);
  },
});
