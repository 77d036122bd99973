/**
 * Resolved expressions: building them (column references replaced by input column ids) and
 * rendering them back to SQL over a relation alias.
 */
import type { Node } from '@pgsql/types';
import { InternalError } from '../errors.js';
import { asNode, cloneAst, mapAst, walkAst } from '../parse/ast.js';
import { deparseNode } from '../parse/deparse.js';
import type { Expr } from './types.js';

/** The ColumnRef node that stands for input column `id` inside a resolved expression. */
export function refNode(id: string, location?: number): Node {
  return {
    ColumnRef: { fields: [{ String: { sval: id } }], ...(location === undefined ? {} : { location }) },
  };
}

/** A resolved expression that reads just input column `id`. */
export function refExpr(id: string): Expr {
  return { ast: refNode(id), refs: [id], location: undefined };
}

/** The column ids a resolved AST reads (its one-field ColumnRefs). */
export function collectRefs(ast: Node): string[] {
  const refs = new Set<string>();
  walkAst(ast, (node) => {
    const ref = asNode(node, 'ColumnRef');
    if (ref !== undefined) {
      const only = ref.fields?.[0];
      const id = only === undefined ? undefined : asNode(only, 'String')?.sval;
      if (id !== undefined && ref.fields?.length === 1) refs.add(id);
    }
    return undefined;
  });
  return [...refs];
}

/** Makes an {@link Expr} from an already resolved AST. */
export function makeExpr(ast: Node, location?: number): Expr {
  return { ast, refs: collectRefs(ast), location };
}

/** Replaces every input reference `id` in `expr` with the AST `replacement(id)`. */
export function substitute(expr: Expr, replacement: (id: string) => Node): Expr {
  const ast = mapAst(cloneAst(expr.ast), (node) => {
    const ref = asNode(node, 'ColumnRef');
    if (ref === undefined || ref.fields?.length !== 1) return undefined;
    const id = asNode(ref.fields[0], 'String')?.sval;
    return id === undefined ? undefined : replacement(id);
  }) as Node;
  return makeExpr(ast, expr.location);
}

/**
 * Renders a resolved expression as SQL: input column `id` becomes `<alias>."<id>"` where the
 * alias is `aliasOf(id)` (one alias for a single input; per side for a join).
 */
export function renderExpr(expr: Expr, aliasOf: string | ((id: string) => string)): string {
  const ast = mapAst(cloneAst(expr.ast), (node) => {
    const ref = asNode(node, 'ColumnRef');
    if (ref === undefined) return undefined;
    if (ref.fields?.length !== 1) {
      throw new InternalError('an unresolved column reference reached SQL generation');
    }
    const id = asNode(ref.fields[0], 'String')?.sval;
    if (id === undefined) throw new InternalError('a star reference reached SQL generation');
    const alias = typeof aliasOf === 'string' ? aliasOf : aliasOf(id);
    return { ColumnRef: { fields: [{ String: { sval: alias } }, { String: { sval: id } }] } };
  }) as Node;
  return deparseNode(ast);
}

/** A structural key of an AST, locations ignored (to compare GROUP BY and select-list expressions). */
export function astKey(ast: unknown): string {
  return JSON.stringify(ast, (key, value) =>
    key === 'location' || key === 'stmt_location' || key === 'stmt_len' ? undefined : value,
  );
}
