/**
 * Predicate placement: each WHERE conjunct goes to the lowest place in the join tree that has all
 * the columns it reads — a conjunct over one input becomes a filter on that input, one over both
 * sides of an inner join joins its condition. Without this, `FROM a, b WHERE a.k = b.k` would be
 * a cross join filtered afterwards and its delta would pair every change with every row. Through
 * an outer join a conjunct is pushed only into the side whose rows the join preserves
 * (`preservedInputs`), never into a NULL-extended side. Columns the tree does not produce (outer
 * query references) do not constrain placement.
 */
import type { Expr, IrNode } from '../ir/types.js';
import { makeFilter } from '../operators/filter.js';
import type { BuildEnv } from './env.js';
import { andAll } from './expr.js';

/** Every column id produced anywhere in `node`'s subtree. */
function producedIds(node: IrNode): Set<string> {
  return new Set(node.columns.map((c) => c.id));
}

/**
 * Indexes of the inputs of `node` a predicate may be pushed into unchanged: both inputs of an
 * inner join, the preserved input of an outer join (operators declare it with `preservedInputs`),
 * none otherwise.
 */
function pushableInputs(node: IrNode): readonly number[] {
  if (node.kind === 'join') return [0, 1];
  return 'preservedInputs' in node ? node.preservedInputs : [];
}

/** Places `predicates` (resolved conjuncts) into the tree under `node`. */
export function placePredicates(node: IrNode, predicates: readonly Expr[], env: BuildEnv): IrNode {
  if (predicates.length === 0) return node;
  const pushable = pushableInputs(node);
  if (pushable.length === 0) return filterOver(node, predicates, env);
  const produced = producedIds(node);
  const perChild: Expr[][] = node.children.map(() => []);
  const here: Expr[] = [];
  for (const p of predicates) {
    const local = p.refs.filter((r) => produced.has(r));
    const target = pushable.find((i) => {
      const child = node.children[i] as IrNode;
      const ids = producedIds(child);
      return local.every((r) => ids.has(r));
    });
    if (target === undefined) here.push(p);
    else (perChild[target] as Expr[]).push(p);
  }
  const children = node.children.map((c, i) => placePredicates(c, perChild[i] as Expr[], env));
  const rebuilt = { ...node, children } as IrNode;
  if (here.length === 0) return rebuilt;
  if (node.kind === 'join') {
    const condition = andAll([...(node.condition === null ? [] : [node.condition]), ...here]);
    return { ...node, children, condition };
  }
  return filterOver(rebuilt, here, env);
}

function filterOver(node: IrNode, predicates: readonly Expr[], env: BuildEnv): IrNode {
  const predicate = andAll(predicates);
  if (predicate === null) return node;
  if (node.kind === 'filter') {
    const merged = andAll([node.predicate, predicate]);
    return merged === null ? node : { ...node, predicate: merged };
  }
  return makeFilter(env.ids, node, predicate);
}
