/**
 * The shape of a subtree: a key equal for two subtrees exactly when they compute the same relation
 * up to the names of their columns — the same operators over the same sources with the same
 * expressions, column ids renamed in order of definition, node numbers and parse locations
 * ignored, constants (`A_Const`) compared as written. Two subtrees with one shape have the same
 * row ids and the same rows (their columns matched by position), so a statement computes the
 * delta of one and reads the other's from it under its own column ids (a query naming the same
 * subquery twice, e.g. TPC-H Q15's view). Trees with a recursive CTE, or any other reference
 * back into the tree (the inputs of one set operation know each other), have no shape.
 */
import type { IrNode } from '../ir/types.js';

const IGNORED = new Set(['nid', 'location', 'stmt_location', 'stmt_len']);

function hasRecursion(node: IrNode): boolean {
  return node.kind === 'recursiveCte' || node.kind === 'recursiveSelf' || node.children.some(hasRecursion);
}

/** The shape key of `node`'s subtree, or null when it has none (see the module header). */
export function shapeKey(node: IrNode): string | null {
  if (hasRecursion(node)) return null;
  const ids = new Map<string, string>();
  const define = (n: IrNode): void => {
    for (const c of n.children) define(c);
    for (const col of n.columns) if (!ids.has(col.id)) ids.set(col.id, `\u0001${ids.size}`);
  };
  define(node);
  const path = new Set<object>();
  let cyclic = false;
  const print = (value: unknown, literal: boolean): string => {
    if (typeof value === 'string') return JSON.stringify(literal ? value : (ids.get(value) ?? value));
    if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
    if (path.has(value)) {
      cyclic = true;
      return '';
    }
    path.add(value);
    const out = Array.isArray(value)
      ? `[${value.map((v) => print(v, literal)).join(',')}]`
      : `{${Object.entries(value)
          .filter(([k]) => !IGNORED.has(k))
          .map(([k, v]) => `${JSON.stringify(k)}:${print(v, literal || k === 'A_Const')}`)
          .join(',')}}`;
    path.delete(value);
    return out;
  };
  const key = print(node, false);
  return cyclic ? null : key;
}
