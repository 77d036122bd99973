/**
 * The parse layer: the real PostgreSQL 18 grammar (libpg-query, WASM). `initParser()` loads the
 * module once; afterwards parsing is synchronous. Only a single SELECT statement is accepted.
 */
import type { Node, ParseResult, SelectStmt } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';
import { QuerySyntaxError, UnsupportedQueryError } from '../errors.js';
import { tagOf } from './ast.js';
import { PositionMap } from './position.js';

let loading: Promise<void> | undefined;
let loaded = false;

/** Loads the PostgreSQL parser (WASM) once; call (and await) before any synchronous parse. */
export async function initParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  await loading;
}

/** Whether {@link initParser} has completed. */
export function parserReady(): boolean {
  return loaded;
}

/** A parsed defining query: the SELECT statement, its text, and position mapping. */
export interface ParsedQuery {
  /** The user's text, as given. */
  readonly text: string;
  /** The statement's own text: {@link text} without a trailing `;` (and what follows it). */
  readonly statement: string;
  /** The top-level SELECT statement. */
  readonly select: SelectStmt;
  /** The statement as an AST node (`{ SelectStmt: … }`). */
  readonly node: Node;
  /** Maps AST locations to line:column in {@link text}. */
  readonly positions: PositionMap;
}

interface ParserErrorShape {
  message?: unknown;
  sqlDetails?: { message?: unknown; cursorPosition?: unknown };
}

/** Parses SQL text into libpg-query's parse result; syntax errors become {@link QuerySyntaxError}. */
export function parseSql(text: string): ParseResult {
  if (!loaded) {
    throw new QuerySyntaxError(
      'the parser is not initialised (await initParser() before parsing synchronously)',
      undefined,
    );
  }
  try {
    return parseSync(text);
  } catch (error) {
    const e = error as ParserErrorShape;
    const message =
      typeof e.sqlDetails?.message === 'string'
        ? e.sqlDetails.message
        : typeof e.message === 'string'
          ? e.message
          : String(error);
    const cursor = e.sqlDetails?.cursorPosition;
    const position =
      typeof cursor === 'number' && cursor >= 0 ? new PositionMap(text).fromCharOffset(cursor) : undefined;
    throw new QuerySyntaxError(message, position, error);
  }
}

/**
 * Parses a defining query: exactly one statement, and it must be a SELECT (anything else is
 * refused with `PGT_UNSUPPORTED` naming the statement). A trailing `;` is fine.
 */
export function parseQuery(text: string): ParsedQuery {
  const result = parseSql(text);
  const positions = new PositionMap(text);
  const stmts = result.stmts ?? [];
  if (stmts.length === 0) {
    throw new QuerySyntaxError('the query is empty', undefined);
  }
  if (stmts.length > 1) {
    const second = stmts[1];
    throw new UnsupportedQueryError(
      `${stmts.length} statements`,
      'A stream table is defined by exactly one SELECT statement; remove the others.',
      { position: positions.fromByteOffset(second?.stmt_location) },
    );
  }
  const stmt = stmts[0]?.stmt;
  if (stmt === undefined) throw new QuerySyntaxError('the query is empty', undefined);
  const tag = tagOf(stmt);
  if (tag !== 'SelectStmt' || !('SelectStmt' in stmt)) {
    throw new UnsupportedQueryError(
      `${statementName(tag)} statement`,
      'A stream table is defined by a SELECT statement (a query without side effects).',
      { position: positions.fromByteOffset(stmts[0]?.stmt_location ?? 0) },
    );
  }
  const select = stmt.SelectStmt;
  if (select.valuesLists !== undefined && select.targetList === undefined) {
    // A bare VALUES list is a SelectStmt too; it has no sources to maintain.
    throw new UnsupportedQueryError(
      'a bare VALUES statement',
      'A stream table must read from at least one table; a constant list needs no maintenance.',
      { position: positions.fromByteOffset(0) },
    );
  }
  const start = stmts[0]?.stmt_location ?? 0;
  const length = stmts[0]?.stmt_len ?? 0;
  const bytes = Buffer.from(text, 'utf8');
  const statement = bytes.subarray(start, length > 0 ? start + length : bytes.length).toString('utf8');
  return { text, statement, select, node: stmt, positions };
}

function statementName(tag: string): string {
  const words = tag.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2');
  return words.toUpperCase();
}
