/**
 * Every operator's rules, in one table keyed by node kind: `OPERATOR_RULES` has exactly one
 * entry per kind of the closed {@link IrNode} union (`ir/types.ts`), so adding a node kind without
 * its rules — or rules for a kind the union does not list — is a compile error. Adding an
 * operator = one module (node type, constructor, rules), its node type in the `IrNode` union, and
 * one line here. The framework (`diff/context.ts`) dispatches through {@link rulesOf}.
 */
import type { IrNode, IrNodeKind } from '../ir/types.js';
import { aggregateRules } from './aggregate.js';
import { constantRules } from './constant.js';
import { distinctOnRules, distinctRules } from './distinct.js';
import { filterRules } from './filter.js';
import { joinRules } from './join.js';
import { lateralFunctionRules } from './lateral.js';
import { lateralSubqueryRules } from './lateral-subquery.js';
import { outerJoinRules } from './outer-join.js';
import { projectRules } from './project.js';
import { recursiveCteRules, recursiveSelfRules } from './recursive.js';
import type { OperatorRules } from './rules.js';
import { scalarSubqueryRules } from './scalar-subquery.js';
import { scanRules } from './scan.js';
import { semiJoinRules } from './semi-join.js';
import { setInputRules, setOpRules } from './set-op.js';
import { topNRules } from './top-n.js';
import { unionAllRules } from './union-all.js';
import { windowRules } from './window.js';

/** The rules of each node kind, typed by that kind's node. */
export type OperatorRuleTable = {
  readonly [K in IrNodeKind]: OperatorRules<Extract<IrNode, { readonly kind: K }>>;
};

/** The rules of every operator kind. */
export const OPERATOR_RULES: OperatorRuleTable = {
  scan: scanRules,
  filter: filterRules,
  project: projectRules,
  join: joinRules,
  outerJoin: outerJoinRules,
  semiJoin: semiJoinRules,
  scalarSubquery: scalarSubqueryRules,
  aggregate: aggregateRules,
  distinct: distinctRules,
  distinctOn: distinctOnRules,
  setOp: setOpRules,
  setInput: setInputRules,
  unionAll: unionAllRules,
  window: windowRules,
  topN: topNRules,
  lateralFunction: lateralFunctionRules,
  lateralSubquery: lateralSubqueryRules,
  recursiveCte: recursiveCteRules,
  recursiveSelf: recursiveSelfRules,
  constant: constantRules,
};

/**
 * The rules of `node`'s kind. (Each entry takes its own node type; method parameters are
 * bivariant, so the entry for `node.kind` is usable as rules of the union.)
 */
export function rulesOf(node: IrNode): OperatorRules<IrNode> {
  return OPERATOR_RULES[node.kind];
}
