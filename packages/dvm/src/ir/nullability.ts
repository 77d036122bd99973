/**
 * Nullability facts: the output columns of a node that can never be NULL, proved conservatively
 * from the tree. A scan's column is NOT NULL when its source column is (the catalog port's
 * `notNull`; a NOT NULL constraint holds for every row of every snapshot, and dropping it changes
 * the source's fingerprint, which recompiles the plan); a filter, a semi-join (its left input) and
 * an inner join keep their inputs' facts; an outer join keeps those of its preserved input only
 * (the other side is NULL-extended; a FULL join keeps none); a projection keeps a fact for a
 * column that passes an input column through unchanged. Everything else (expressions, CASE,
 * aggregates, set operations, windows, subqueries, …) proves nothing.
 */
import type { ScanNode } from '../operators/scan.js';
import type { Expr, IrNode } from './types.js';

/** The input column id an expression merely passes through (a bare column reference), or null. */
export function passedColumn(expr: Expr): string | null {
  const ref = (expr.ast as { ColumnRef?: { fields?: readonly { String?: { sval?: string } }[] } }).ColumnRef;
  const fields = ref?.fields;
  if (fields === undefined || fields.length !== 1) return null;
  const id = fields[0]?.String?.sval;
  return id !== undefined && expr.refs.length === 1 && expr.refs[0] === id ? id : null;
}

function scanNotNull(node: ScanNode): Set<string> {
  const notNull = new Set(node.source.visible.filter((c) => c.notNull).map((c) => c.name));
  return new Set(node.sourceColumns.filter((c) => notNull.has(c.column)).map((c) => c.id));
}

/** The ids of `node`'s output columns that are never NULL (see the module header). */
export function notNullColumns(node: IrNode): ReadonlySet<string> {
  const memo = new Map<number, ReadonlySet<string>>();
  const visit = (n: IrNode): ReadonlySet<string> => {
    const known = memo.get(n.nid);
    if (known !== undefined) return known;
    memo.set(n.nid, new Set()); // a cycle (recursive CTE) proves nothing
    const out = new Set<string>();
    const keep = (input: IrNode | undefined): void => {
      if (input === undefined) return;
      const facts = visit(input);
      for (const c of n.columns) if (facts.has(c.id)) out.add(c.id);
    };
    switch (n.kind) {
      case 'scan':
        for (const id of scanNotNull(n)) out.add(id);
        break;
      case 'filter':
      case 'semiJoin':
        keep(n.children[0]);
        break;
      case 'join':
        for (const child of n.children) keep(child);
        break;
      case 'outerJoin':
        for (const i of n.preservedInputs) keep(n.children[i]);
        break;
      case 'project': {
        const child = n.children[0];
        const facts = child === undefined ? new Set<string>() : visit(child);
        for (const p of n.projections) {
          const from = passedColumn(p.expr);
          if (from !== null && facts.has(from)) out.add(p.column.id);
        }
        break;
      }
      default:
        break;
    }
    memo.set(n.nid, out);
    return out;
  };
  return visit(node);
}
