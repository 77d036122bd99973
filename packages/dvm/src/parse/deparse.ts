/**
 * Printing AST back to SQL with pgsql-deparser (compact, one line). User expressions reach the
 * generated SQL only through here, rebuilt from their parse tree.
 */
import type { Node } from '@pgsql/types';
import { deparseSync } from 'pgsql-deparser';
import { InternalError } from '../errors.js';

/** Prints an expression (or any node) as SQL on one line. */
export function deparseNode(node: Node): string {
  let sql: string;
  try {
    sql = deparseSync(node, { pretty: false });
  } catch (error) {
    throw new InternalError(`the deparser failed on a ${Object.keys(node)[0]} node`, { cause: error });
  }
  return sql.trim();
}

/** Prints an expression for embedding in a larger expression: parenthesised unless atomic. */
export function deparseOperand(node: Node): string {
  const sql = deparseNode(node);
  return /^[A-Za-z0-9_."$]+$/.test(sql) ? sql : `(${sql})`;
}
