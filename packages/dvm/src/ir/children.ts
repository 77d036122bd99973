/**
 * The inputs of an operator node, checked: `onlyChild` for unary nodes, `twoChildren` for binary
 * ones (joins, semi-joins, subquery values, LATERAL subqueries). A missing input is a bug of the
 * builder (an {@link InternalError}), never a user error.
 */
import { InternalError } from '../errors.js';
import type { IrNode } from './types.js';

/** `child` of a single-input node (throws if missing). */
export function onlyChild(node: IrNode): IrNode {
  const child = node.children[0];
  if (child === undefined) throw new InternalError(`${node.kind} node ${node.nid} has no input`);
  return child;
}

/** The two inputs of a binary node (joins, semi-joins, subquery values, LATERAL subqueries). */
export function twoChildren(node: IrNode): [IrNode, IrNode] {
  const [left, right] = node.children;
  if (left === undefined || right === undefined) {
    throw new InternalError(`${node.kind} node ${node.nid} needs two inputs`);
  }
  return [left, right];
}
