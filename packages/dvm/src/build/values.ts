/**
 * A VALUES list (in FROM, or as a set-operation branch): a constant relation. Each row gets its
 * position as an extra first value, which forms its row id, so duplicate rows stay distinct.
 * Its expressions may not read columns (they are checked like any other expression).
 */

import type { Node, SelectStmt } from '@pgsql/types';
import { rowIdExpr } from '../diff/rowid.js';
import { InvalidQueryError } from '../errors.js';
import { renderExpr } from '../ir/expr.js';
import { ROW_ID_COLUMN } from '../names.js';
import { makeConstant } from '../operators/constant.js';
import { asNode } from '../parse/ast.js';
import { sql } from '../sql/sql.js';
import type { BuiltQuery, QueryCtx } from './context.js';
import { resolveExpr } from './expr.js';
import { EMPTY_FROM, Scope } from './scope.js';

/** Builds `VALUES (…), (…)`; columns are named column1, column2, … as in PostgreSQL. */
export function buildValues(stmt: SelectStmt, q: QueryCtx): BuiltQuery {
  const rows = (stmt.valuesLists ?? []).map((l) => asNode(l, 'List')?.items ?? []);
  const width = rows[0]?.length ?? 0;
  if (rows.some((r) => r.length !== width)) {
    throw new InvalidQueryError('VALUES lists must all be the same length');
  }
  const scope = new Scope(EMPTY_FROM, q.outer, q.env);
  const rendered = rows.map((row, i) => {
    const values = row.map((v: Node) => renderExpr(resolveExpr(v, scope, q.env, { clause: 'VALUES' }), 'v'));
    return sql`(${sql.join([i + 1, ...values])})`;
  });
  const columns = Array.from({ length: width }, (_, i) => ({
    id: q.env.ids.column(`values_${i + 1}`),
    name: `column${i + 1}`,
  }));
  const names = sql.join(['__pgt_ord', ...columns.map((c) => c.id)].map((n) => sql.id(n)));
  const select = sql.join(
    columns.map((c) => sql`, v.${sql.id(c.id)}`),
    '',
  );
  const text = sql`SELECT ${rowIdExpr(['v.__pgt_ord'])} AS ${ROW_ID_COLUMN}${select}
FROM (VALUES ${sql.join(rendered)}) AS v(${names})`;
  const node = makeConstant(q.env.ids, columns, text, true);
  return { node, outputs: columns.map((c) => ({ name: c.name, id: c.id })) };
}
