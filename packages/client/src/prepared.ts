/**
 * Statements kept planned across refreshes. Rule: a statement the refresh path runs again and
 * again with the same text (its catalog reads, a plan's window inspection and delta statement,
 * with the window bounds as parameters) is prepared once per session under a name derived from
 * its text (`pgt_p_<sha1>`), so a later run skips parsing and planning (PostgreSQL's plan cache
 * decides between custom and generic plans). A session keeps at most
 * {@link MAX_PREPARED_PER_SESSION} of them: the least recently used is deallocated first. When a
 * session's state is discarded (`DISCARD ALL`), {@link forgetPrepared} forgets them. Statements
 * run unnamed where `pg`'s own record of a connection's prepared statements cannot be reached, and
 * in a session where another role's code ran (an owner's sandbox, docs/security.md) until its
 * state is discarded: that code could have prepared a statement under one of these names, which
 * would then run with the sidecar's rights.
 */
import { createHash } from 'node:crypto';
import { quoteIdent, quoteLiteral } from '@pgtrickle/dvm';
import type pg from 'pg';
import { ranSandboxedCode } from './security/sandbox.js';

/** The most statements one session keeps prepared. */
export const MAX_PREPARED_PER_SESSION = 48;

/** Per connection: the names it has prepared, least recently used first. */
const sessions = new WeakMap<object, Map<string, true>>();

/** `pg`'s record of what a connection has parsed (name → text), or null when it is not reachable. */
function pgStatementCache(conn: object): Record<string, string> | null {
  const c = (conn as { connection?: { parsedStatements?: unknown } }).connection;
  const cache = c?.parsedStatements;
  return cache !== null && typeof cache === 'object' ? (cache as Record<string, string>) : null;
}

/** The name the statement `text` is prepared under. */
export function preparedName(text: string): string {
  return `pgt_p_${createHash('sha1').update(text).digest('hex')}`;
}

/** Runs `text` with `values` on `conn` as a statement prepared once per session. */
export async function preparedQuery(
  conn: pg.PoolClient | pg.Client,
  text: string,
  values: readonly unknown[] = [],
): Promise<pg.QueryResult> {
  // Code of another role ran in this session (an owner's sandbox) and may have prepared or
  // deallocated statements under any name: nothing named is trusted until the session's state is
  // discarded (`DISCARD ALL`, then forgetPrepared).
  if (pgStatementCache(conn) === null || ranSandboxedCode(conn)) return conn.query(text, [...values]);
  const name = preparedName(text);
  let names = sessions.get(conn);
  if (names === undefined) {
    names = new Map();
    sessions.set(conn, names);
  }
  if (names.has(name)) {
    names.delete(name);
  } else if (names.size >= MAX_PREPARED_PER_SESSION) {
    const oldest = names.keys().next().value as string;
    await conn.query(`DEALLOCATE ${quoteIdent(oldest)}`);
    names.delete(oldest);
    const cache = pgStatementCache(conn);
    if (cache !== null) delete cache[oldest];
  }
  try {
    const res = await conn.query({ name, text, values: [...values] });
    names.set(name, true);
    return res;
  } catch (error) {
    // Parsed before the error (it failed running): the server keeps it, so it is counted.
    if (pgStatementCache(conn)?.[name] !== undefined) names.set(name, true);
    throw error;
  }
}

/**
 * Runs `text` on `q` prepared when `q` is one connection (a pool or other executor: unnamed).
 * For statements with a fixed text run on every refresh.
 */
export function repeatedQuery(
  q: { query(text: string, values?: unknown[]): Promise<pg.QueryResult> },
  text: string,
  values: readonly unknown[] = [],
): Promise<pg.QueryResult> {
  if (pgStatementCache(q) !== null) return preparedQuery(q as pg.PoolClient, text, values);
  return q.query(text, [...values]);
}

/** Forgets every statement `conn` prepared (call after `DISCARD ALL` or `DEALLOCATE ALL`). */
export function forgetPrepared(conn: object): void {
  sessions.delete(conn);
  const cache = pgStatementCache(conn);
  if (cache === null) return;
  for (const name of Object.keys(cache)) delete cache[name];
}

/** `value` as an SQL literal for EXECUTE's arguments (typed by the prepared statement), or null when it has no plain text form here. */
function argumentLiteral(value: unknown): string | null {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' || typeof value === 'bigint') return quoteLiteral(String(value));
  if (typeof value === 'string') return value.includes('\u0000') ? null : quoteLiteral(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : quoteLiteral(value.toISOString());
  if (Array.isArray(value)) {
    // An array of numbers or strings as its text form (each element double-quoted).
    const items: string[] = [];
    for (const v of value) {
      if (typeof v === 'number' && Number.isFinite(v)) items.push(String(v));
      else if (typeof v === 'string' && !v.includes('\u0000'))
        items.push(`"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`);
      else return null;
    }
    return quoteLiteral(`{${items.join(',')}}`);
  }
  return null;
}

/**
 * Runs `text` with `values` like {@link repeatedQuery}, then commits the transaction open on
 * `conn`, in ONE round trip when the statement is already prepared in this session: a simple
 * query `EXECUTE <name>(<values as literals>); COMMIT` runs the kept plan and commits (an error
 * in the statement skips the COMMIT and leaves the transaction failed, for the caller's
 * ROLLBACK). Otherwise the statement runs prepared, then COMMIT is sent on its own.
 */
export async function repeatedQueryAndCommit(
  conn: pg.PoolClient | pg.Client,
  text: string,
  values: readonly unknown[] = [],
): Promise<pg.QueryResult> {
  const execute = keptExecuteSql(conn, text, values);
  if (execute === null) {
    const res = await repeatedQuery(conn, text, values);
    await conn.query('COMMIT');
    return res;
  }
  // Simple-query protocol: one result per statement (the EXECUTE's first).
  const out: unknown = await conn.query(`${execute}; COMMIT`);
  return (Array.isArray(out) ? out[0] : out) as pg.QueryResult;
}

/**
 * `EXECUTE <name>(<values as literals>)` running the statement `text` prepared in `conn`'s
 * session with its kept plan, for a simple query that sends it with other statements in one round
 * trip; null when it is not prepared there (or not trusted: sandboxed code ran in the session),
 * or a value has no literal form here. Counts as a use of the statement.
 */
export function keptExecuteSql(
  conn: pg.PoolClient | pg.Client,
  text: string,
  values: readonly unknown[] = [],
): string | null {
  const name = preparedName(text);
  const names = sessions.get(conn);
  if (pgStatementCache(conn)?.[name] !== text || names?.has(name) !== true || ranSandboxedCode(conn))
    return null;
  const args = values.map(argumentLiteral);
  if (args.some((a) => a === null)) return null;
  names.delete(name);
  names.set(name, true);
  return `EXECUTE ${quoteIdent(name)}${args.length === 0 ? '' : `(${args.join(', ')})`}`;
}
