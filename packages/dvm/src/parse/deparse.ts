/**
 * Printing AST back to SQL (compact, one line) with the project's printer (`printer.ts`). User
 * expressions reach the generated SQL only through here, rebuilt from their parse tree, and only
 * after the round-trip check (`roundtrip.ts`): the printed text must parse back to the same
 * tree. A tree the printer cannot print, or prints as something else, is refused with
 * `PGT_UNSUPPORTED` naming the construct — never sent as a different query. Verdicts are cached
 * per tree, so a plan's statements are checked when it is compiled and cost nothing afterwards.
 */
import type { Node } from '@pgsql/types';
import { UnsupportedQueryError } from '../errors.js';
import { PgtDeparser } from './printer.js';
import { checkRoundTrip, isLocationKey, type RoundTripMismatch } from './roundtrip.js';

const HINT =
  "the query is printed again from its parse tree and the printed text would not mean the same; in refreshMode 'FULL' (or 'AUTO') a query is run as written unless it reads a stream table, otherwise rewrite this part of the query";

/** Per tree (locations aside): its checked text, or why it cannot be printed. */
const verdicts = new Map<
  string,
  { readonly sql: string } | { readonly failure: string | RoundTripMismatch; readonly cause?: unknown }
>();
const MAX_VERDICTS = 20_000;

function locationFree(node: Node): string {
  return JSON.stringify(node, (key, value) => (isLocationKey(key) ? undefined : value));
}

/** A readable name for where printing failed: the innermost node tag and the field. */
function constructAt(path: string): string {
  const parts = path.split('.').map((p) => p.replace(/\[\d+\]$/, ''));
  const tags = parts.filter((p) => /^[A-Z]/.test(p));
  const tag = tags.at(-1) ?? 'node';
  const field = parts.at(-1);
  return field !== undefined && field !== tag ? `${tag}.${field}` : tag;
}

function refusal(failure: string | RoundTripMismatch, cause?: unknown): UnsupportedQueryError {
  const construct =
    typeof failure === 'string'
      ? `a construct the SQL printer has no rule for (${failure})`
      : `a construct the SQL printer would change (${constructAt(failure.path)}: ${failure.detail})`;
  return new UnsupportedQueryError(construct, `${HINT}.`, cause === undefined ? {} : { cause });
}

function print(
  node: Node,
): { readonly sql: string } | { readonly failure: string | RoundTripMismatch; readonly cause?: unknown } {
  let sql: string;
  try {
    sql = new PgtDeparser(node, { pretty: false }).deparseQuery().trim();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { failure: /does not handle node type: (\w+)/.exec(message)?.[1] ?? message, cause: error };
  }
  const mismatch = checkRoundTrip(node, sql);
  return mismatch === null ? { sql } : { failure: mismatch };
}

/** Prints an expression (or any node) as SQL on one line, checked to parse back to the same tree. */
export function deparseNode(node: Node): string {
  const key = locationFree(node);
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = print(node);
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    verdicts.set(key, verdict);
  }
  if ('sql' in verdict) return verdict.sql;
  throw refusal(verdict.failure, verdict.cause);
}

/** Prints an expression for embedding in a larger expression: parenthesised unless atomic. */
export function deparseOperand(node: Node): string {
  const sql = deparseNode(node);
  return /^[A-Za-z0-9_."$]+$/.test(sql) ? sql : `(${sql})`;
}
