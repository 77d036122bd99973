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
 * Row id: the row id of (<output values>); unique for the plain
 * forms; the ALL forms store that many copies under one id (not unique; counted apply).
 *
 * Also here: `setInput`, one input of a set operation with untyped literal columns cast to the
 * type PostgreSQL resolves for the operation (see {@link SetInputNode}).
 */

import type { DiffContext } from '../diff/context.js';
import { onlyChild } from '../ir/children.js';
import type { IdAllocator } from '../ir/ids.js';
import type { IrColumn, IrNode, IrNodeBase } from '../ir/types.js';
import { ROW_ID_COLUMN, WEIGHT_COLUMN } from '../names.js';
import { sql } from '../sql/sql.js';
import type { AnalyzeTools, OperatorRules } from './rules.js';
import {
  type CountedFields,
  type CountRule,
  childTypes,
  countedDelta,
  countedSnapshot,
} from './shared/multiset.js';

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

/** The rules of `setOp` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const setOpRules: OperatorRules<SetOpNode> = {
  snapshot(node, side, ctx) {
    return countedSnapshot(node, side, ctx);
  },
  delta(node, ctx) {
    return countedDelta(node, ctx, node.rule);
  },
  async analyze(node, tools) {
    node.types = await childTypes(node, tools);
  },
};

/**
 * The inputs of one set operation (a UNION ALL's branches), when some input column is an untyped
 * literal (`NULL`, `'text'`): PostgreSQL types such a column by the set operation's resolution
 * (`SELECT x UNION SELECT NULL` is an int), while a snapshot subquery alone would make it text.
 * The group learns the resolved types once, at compile time, from a probe query of the same shape.
 */
export interface SetInputGroup {
  /** The members, in branch order. */
  readonly members: SetInputNode[];
  /** The resolved column types (learned by the first member's `analyze`). */
  resolved: Promise<readonly string[]> | null;
}

/**
 * One input of a set operation re-projected onto its output columns, casting its untyped literal
 * columns to the type PostgreSQL resolves for the set operation.
 * Delta rule: Δ = π(ΔC) (a projection). Snapshots: the child's, same side. Row id: the child's.
 */
export interface SetInputNode extends IrNodeBase {
  readonly kind: 'setInput';
  /** Per output column: the child column it reads. */
  readonly sources: readonly string[];
  /** Per output column: the SQL of its untyped literal, or null. */
  readonly literals: readonly (string | null)[];
  readonly group: SetInputGroup;
  /** Per output column: the type to cast to (null: none), set by `analyze`. */
  casts: readonly (string | null)[] | null;
}

/** A new, empty group of set-operation inputs. */
export function makeSetInputGroup(): SetInputGroup {
  return { members: [], resolved: null };
}

/** Adds input `child` (output columns `outputs`, untyped literal SQL per column) to `group`. */
export function makeSetInput(
  ids: IdAllocator,
  child: IrNode,
  outputs: readonly IrColumn[],
  literals: readonly (string | null)[],
  group: SetInputGroup,
): SetInputNode {
  const node: SetInputNode = {
    kind: 'setInput',
    nid: ids.node(),
    columns: outputs.map((o) => ({ id: ids.column(o.name), name: o.name })),
    uniqueIds: child.uniqueIds,
    children: [child],
    sources: outputs.map((o) => o.id),
    literals,
    group,
    casts: null,
  };
  group.members.push(node);
  return node;
}

async function resolveGroup(group: SetInputGroup, tools: AnalyzeTools): Promise<readonly string[]> {
  const selects: string[] = [];
  for (const m of group.members) {
    const described = await tools.describe(tools.snapshotSql(onlyChild(m)));
    const types = new Map(described.map((c) => [c.name, c.type]));
    const cols = m.sources.map((id, i) => m.literals[i] ?? `NULL::${types.get(id) ?? 'text'}`);
    selects.push(sql`SELECT ${cols.map((c, i) => sql`${c} AS c${i}`).join(', ')}`);
  }
  const resolved = await tools.describe(selects.join('\nUNION ALL\n'));
  return resolved.map((c) => c.type);
}

function setInputSelect(node: SetInputNode, from: string, weighted: boolean, ctx: DiffContext): string {
  void ctx;
  const cols = node.columns
    .map((c, i) => {
      const src = sql`c.${sql.id(node.sources[i] as string)}`;
      const cast = node.casts?.[i] ?? null;
      return sql`, ${cast === null ? src : `(${src})::${cast}`} AS ${sql.id(c.id)}`;
    })
    .join('');
  return sql`SELECT c.${ROW_ID_COLUMN}${weighted ? `, c.${WEIGHT_COLUMN}` : ''}${cols}\nFROM ${from} AS c`;
}

/** The rules of `setInput` nodes (listed in `OPERATOR_RULES`, operators/index.ts). */
export const setInputRules: OperatorRules<SetInputNode> = {
  snapshot(node, side, ctx) {
    return setInputSelect(node, `(${ctx.snapshot(onlyChild(node), side)})`, false, ctx);
  },
  delta(node, ctx) {
    const d = ctx.delta(onlyChild(node));
    return ctx.stmt.add(`d${node.nid}_set_input`, setInputSelect(node, d, true, ctx));
  },
  async analyze(node, tools) {
    node.group.resolved ??= resolveGroup(node.group, tools);
    const types = await node.group.resolved;
    node.casts = node.literals.map((lit, i) => (lit === null ? null : (types[i] ?? null)));
  },
};
