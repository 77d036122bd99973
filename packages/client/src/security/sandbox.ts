/**
 * The owner's sandbox: how every statement that evaluates a stream table's defining query — or
 * anything the owner controls (functions, operators, casts, domain checks, triggers and index
 * expressions on the storage table) — runs with the stream table owner's rights, never the
 * sidecar's, as `REFRESH MATERIALIZED VIEW` runs with the materialized view owner's.
 *
 * Rule: for the length of one transaction, a PL/pgSQL function `pg_temp.pgt_sandbox_<n>` is
 * created, made SECURITY DEFINER and owned by the stream table's owner, with the owner's recorded
 * `search_path` (and `pg_temp` last) pinned by its SET clause. Each statement is EXECUTEd inside
 * it, so:
 * - privileges, row-level security and `current_user` are the owner's;
 * - the sandboxed code cannot take the sidecar's role back: PostgreSQL refuses `SET ROLE`,
 *   `RESET ROLE` and `SET SESSION AUTHORIZATION` inside a security-definer function;
 * - whatever the code changed with a plain `SET` is undone when the statement returns (`RESET
 *   ALL`, then the transaction-local settings the refresh relies on are set again), so it cannot
 *   steer the sidecar's own later statements (e.g. a `search_path` that shadows an operator).
 * The function is dropped before the transaction ends, so no other session ever sees it (it is
 * never committed) and the owner cannot alter it. A transaction that used a sandbox leaves its
 * connection with state the owner's code may have created (temporary tables, prepared
 * statements): {@link discardSessionState} clears it before the connection is reused.
 *
 * Statements are classified by their leading keyword (and, after a WITH list, the keyword at
 * nesting depth 0): a SELECT returns its rows (as jsonb objects, one per row), anything else its
 * row count. `describe` reports a query's result columns (names, types, and collations other than
 * the type's default) by creating a temporary view of it inside the sandbox: parsed and
 * type-checked, never planned or run.
 */
import {
  type CatalogPort,
  createSqlCatalogPort,
  type QueryColumn,
  quoteIdent,
  quoteLiteral,
  type SqlExecutor,
  type SqlResult,
} from '@pgtrickle/dvm';
import type { Conn } from '../db.js';
import { ClientInternalError } from '../errors.js';
import { forgetPrepared, preparedQuery } from '../prepared.js';

/** Who a sandbox runs as, and with what name resolution. */
export interface SandboxOwner {
  /** The role the statements run as (the stream table's owner). */
  readonly role: string;
  /** The search_path the owner created the stream table under (names in its query resolve by it). */
  readonly searchPath: string;
}

/** The most bind parameters one sandboxed statement may use. */
export const SANDBOX_MAX_PARAMS = 32;

/** A sandbox open in one transaction. */
export interface OwnerSandbox {
  /** dvm's executor: every statement runs as the owner. */
  readonly exec: SqlExecutor;
  /** The owner. */
  readonly owner: SandboxOwner;
  /** The result columns of a SELECT, as the owner would see them (parsed, not run). */
  describe(sql: string): Promise<readonly QueryColumn[]>;
  /** Wraps a catalog port so query descriptions happen in this sandbox. */
  port(base: CatalogPort): CatalogPort;
  /** Drops the sandbox function (call before the transaction commits). */
  close(): Promise<void>;
  /**
   * For a sandbox of the connection's own role: the caller's search_path, which closing it sets
   * again (a caller may set it in a statement of its own and then call {@link closeRestored});
   * null for a sandbox run by a function.
   */
  readonly restorePath: string | null;
  /** Closes a sandbox whose {@link restorePath} the caller has set again itself (no statement sent). */
  closeRestored(): void;
}

/**
 * What opening a sandbox reads first, when the caller read it in one of its own statements:
 * whether the owner is the connection's role (`current_user`) — and then the owner's search_path
 * ({@link sandboxSearchPath}) must already be set for the transaction — and the search_path before.
 */
export interface SandboxSession {
  readonly self: boolean;
  readonly path: string;
}

/** The search_path statements run under in `owner`'s sandbox (pg_temp last: no temporary table shadows a name). */
export function sandboxSearchPath(owner: SandboxOwner): string {
  return owner.searchPath.trim() === '' ? 'pg_temp' : `${owner.searchPath}, pg_temp`;
}

let sequence = 0;

/** Connections whose session ran sandboxed code since they were last cleaned. */
const sandboxedSessions = new WeakSet<object>();

/** Whether `conn`'s session ran sandboxed code (and must be cleaned before reuse). */
export function ranSandboxedCode(conn: object): boolean {
  return sandboxedSessions.has(conn);
}

function functionBody(maxParams: number): string {
  const using = Array.from({ length: maxParams }, (_, i) => `params[${i + 1}]`).join(', ');
  return `
DECLARE
  n bigint;
  i integer;
  r record;
BEGIN
  IF mode = 'rows' THEN
    -- A loop rather than a subquery: a WITH holding data-modifying parts must be the top level.
    FOR r IN EXECUTE stmt USING ${using} LOOP
      RETURN NEXT pg_catalog.to_jsonb(r);
    END LOOP;
  ELSIF mode = 'describe' THEN
    EXECUTE 'CREATE TEMPORARY VIEW __pgt_describe AS ' || stmt;
    RETURN QUERY
      SELECT pg_catalog.jsonb_build_object('name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
               'coll_schema', cn.nspname, 'coll_name', co.collname)
      FROM pg_catalog.pg_attribute AS a
      JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_collation AS co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
      LEFT JOIN pg_catalog.pg_namespace AS cn ON cn.oid = co.collnamespace
      WHERE a.attrelid = 'pg_temp.__pgt_describe'::pg_catalog.regclass AND a.attnum > 0
      ORDER BY a.attnum;
    DROP VIEW pg_temp.__pgt_describe;
  ELSE
    EXECUTE stmt USING ${using};
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN NEXT pg_catalog.jsonb_build_object('rowCount', n);
  END IF;
  RESET ALL;
  FOR i IN 1 .. COALESCE(pg_catalog.array_length(restore, 1), 0) / 2 LOOP
    PERFORM pg_catalog.set_config(restore[2 * i - 1], restore[2 * i], true);
  END LOOP;
END
`;
}

/** Whether `sql` returns rows (a SELECT, VALUES or TABLE, also after a WITH list). */
export function statementReturnsRows(sql: string): boolean {
  let depth = 0;
  let sawWith = false;
  const n = sql.length;
  for (let i = 0; i < n; ) {
    const c = sql[i] as string;
    if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"') {
      i++;
      while (i < n) {
        if (sql[i] === c) {
          if (sql[i + 1] === c) i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === '(') {
      depth++;
      i++;
    } else if (c === ')') {
      depth--;
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < n && /[A-Za-z0-9_$]/.test(sql[j] as string)) j++;
      if (depth === 0) {
        const word = sql.slice(i, j).toUpperCase();
        if (word === 'WITH' && !sawWith) sawWith = true;
        else if (word === 'SELECT' || word === 'VALUES' || word === 'TABLE') return true;
        else if (['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(word)) return false;
        else if (!sawWith) return false;
      }
      i = j;
    } else i++;
  }
  return false;
}

/** A bind parameter as the text PostgreSQL's input function reads (null stays null). */
export function paramText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    const items = value.map((v) => {
      const t = paramText(v);
      return t === null ? 'NULL' : `"${t.replace(/["\\]/g, (m) => `\\${m}`)}"`;
    });
    return `{${items.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Wraps `port` so its query descriptions run through `describe` under a savepoint on `conn`: a
 * query PostgreSQL rejects must not abort the caller's transaction.
 */
export function describingPort(
  conn: Conn,
  port: CatalogPort,
  describe: (sql: string) => Promise<readonly QueryColumn[]>,
) {
  return {
    ...port,
    async describeQuery(sql: string) {
      await conn.query('SAVEPOINT pgtrickle_describe');
      try {
        const columns = await describe(sql);
        await conn.query('RELEASE SAVEPOINT pgtrickle_describe');
        return columns;
      } catch (error) {
        await conn.query('ROLLBACK TO SAVEPOINT pgtrickle_describe');
        throw error;
      }
    },
  };
}

/**
 * The sandbox of a stream table owned by the connection's own role: no role to protect, so the
 * statements run directly (under the owner's search_path for the transaction's rest, restored on
 * close: `savedPath` is the caller's), and queries are described by the base port.
 */
function ownSandbox(conn: Conn, owner: SandboxOwner, savedPath: string): OwnerSandbox {
  let closed = false;
  const exec: SqlExecutor = {
    query: (sql: string, params?: unknown[]) => conn.query(sql, params),
    queryPrepared: (sql: string, params?: unknown[]) => preparedQuery(conn, sql, params),
  };
  const describer = createSqlCatalogPort(exec);
  return {
    exec,
    owner,
    describe: (sql: string) => describer.describeQuery(sql),
    port: (base: CatalogPort) => describingPort(conn, base, (sql) => describer.describeQuery(sql)),
    async close() {
      if (closed) return;
      closed = true;
      await conn.query(`SELECT pg_catalog.set_config('search_path', $1, true)`, [savedPath]);
    },
    restorePath: savedPath,
    closeRestored() {
      closed = true;
    },
  };
}

/**
 * Opens a sandbox running as `owner` in the transaction open on `conn`. `restore` holds the
 * transaction-local settings to set again after each statement (the sandboxed code may change
 * any setting). Close it before the transaction commits. A stream table owned by the connection's
 * own role gets a pass-through (nothing to protect: its code has that role's rights anyway).
 */
export async function openSandbox(
  conn: Conn,
  owner: SandboxOwner,
  restore: Readonly<Record<string, string>> = {},
  session?: SandboxSession,
): Promise<OwnerSandbox> {
  // One round trip (none when the caller read it): whether the owner is the connection's role
  // and, if so, its search_path set (pg_temp last: no temporary table shadows a name of the
  // query) with the caller's kept.
  const me =
    session ??
    (
      await conn.query<{ self: boolean; path: string }>(
        `SELECT s.self, s.path, CASE WHEN s.self THEN pg_catalog.set_config('search_path', $2, true) END AS set
       FROM (SELECT current_user = $1 AS self, pg_catalog.current_setting('search_path') AS path OFFSET 0) AS s`,
        [owner.role, sandboxSearchPath(owner)],
      )
    ).rows[0];
  if (me?.self === true) return ownSandbox(conn, owner, me.path);
  sequence += 1;
  const fn = `pg_temp.${quoteIdent(`pgt_sandbox_${process.pid}_${sequence}`)}`;
  const signature = `${fn}(text, text[], text, text[])`;
  const restoreArray = Object.entries(restore).flat();
  // One round trip: pin the owner's search_path (pg_temp last: no temporary table shadows a name
  // of the query) in the function's SET clause, taken FROM CURRENT, then restore the caller's and
  // give the function to the owner.
  const path = sandboxSearchPath(owner);
  await conn.query(
    `SELECT pg_catalog.set_config('pgtrickle.saved_search_path', pg_catalog.current_setting('search_path'), true),
            pg_catalog.set_config('search_path', ${quoteLiteral(path)}, true);
     CREATE FUNCTION ${fn}(stmt text, params text[], mode text, restore text[]) RETURNS SETOF jsonb
       LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $pgt_sandbox$${functionBody(SANDBOX_MAX_PARAMS)}$pgt_sandbox$;
     SELECT pg_catalog.set_config('search_path', pg_catalog.current_setting('pgtrickle.saved_search_path'), true);
     ALTER FUNCTION ${signature} OWNER TO ${quoteIdent(owner.role)}`,
  );
  sandboxedSessions.add(conn);
  let closed = false;

  const call = async (sql: string, params: readonly unknown[], mode: 'rows' | 'command' | 'describe') => {
    if (closed) throw new ClientInternalError('the owner sandbox was used after it was closed');
    if (params.length > SANDBOX_MAX_PARAMS) {
      throw new ClientInternalError(
        `a sandboxed statement has ${params.length} parameters; at most ${SANDBOX_MAX_PARAMS} are supported`,
      );
    }
    const res = await conn.query<{ r: Record<string, unknown> }>(
      `SELECT r FROM ${fn}($1, $2::text[], $3, $4::text[]) AS r`,
      [sql, params.map(paramText), mode, restoreArray],
    );
    return res.rows.map((row) => row.r);
  };

  const exec: SqlExecutor = {
    async query(sql: string, params: unknown[] = []): Promise<SqlResult> {
      if (statementReturnsRows(sql)) {
        const rows = await call(sql, params, 'rows');
        return { rows, rowCount: rows.length };
      }
      const [first] = await call(sql, params, 'command');
      return { rows: [], rowCount: Number(first?.rowCount ?? 0) };
    },
  };

  const describe = async (sql: string): Promise<readonly QueryColumn[]> => {
    const rows = await call(sql, [], 'describe');
    return rows.map((r) => ({
      name: String(r.name),
      type: String(r.type),
      ...(typeof r.coll_name === 'string'
        ? { collation: { schema: String(r.coll_schema), name: r.coll_name } }
        : {}),
    }));
  };

  return {
    exec,
    owner,
    describe,
    port: (base: CatalogPort) => describingPort(conn, base, describe),
    async close() {
      if (closed) return;
      closed = true;
      await conn.query(`DROP FUNCTION IF EXISTS ${signature}`);
    },
    restorePath: null,
    closeRestored() {
      throw new ClientInternalError('a sandbox run by a function is closed by dropping it (close())');
    },
  };
}

/**
 * Clears what sandboxed code may have left in a session (temporary objects, settings, prepared
 * statements, listens). Run outside a transaction, on a connection whose transaction used a sandbox.
 */
export async function discardSessionState(conn: Conn): Promise<void> {
  await conn.query('DISCARD ALL');
  forgetPrepared(conn);
  sandboxedSessions.delete(conn);
}

/**
 * Runs `work` with a sandbox open as `owner` in the transaction on `conn`, and closes it when
 * `work` succeeds. When `work` fails the sandbox is left to the transaction's rollback (an error
 * inside it has aborted the transaction anyway): the caller must not commit after such an error.
 */
export async function withSandbox<T>(
  conn: Conn,
  owner: SandboxOwner,
  restore: Readonly<Record<string, string>>,
  work: (sandbox: OwnerSandbox) => Promise<T>,
  session?: SandboxSession,
): Promise<T> {
  const sandbox = await openSandbox(conn, owner, restore, session);
  const result = await work(sandbox);
  await sandbox.close();
  return result;
}
