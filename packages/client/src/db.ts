/**
 * Connections and transactions over `pg`. `Db` owns (or borrows) a pool; `transaction` runs work
 * on one connection between BEGIN and COMMIT (ROLLBACK on any error; a connection that broke is
 * destroyed, never returned to the pool). `executor` adapts a connection to dvm's `SqlExecutor`.
 */
import type { SqlExecutor, SqlResult } from '@pgtrickle/dvm';
import pg from 'pg';
import { ClientInternalError } from './errors.js';
import { discardSessionState, ranSandboxedCode } from './security/sandbox.js';

/** The statement that opens a read-committed transaction (what `transaction` sends first). */
export const BEGIN_READ_COMMITTED = 'BEGIN ISOLATION LEVEL READ COMMITTED';

/** Isolation levels a transaction may run under. */
export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

/** One connection inside a transaction (or a plain checked-out connection). */
export type Conn = pg.PoolClient;

/** dvm's executor over a connection. */
export function executor(conn: Conn | pg.Pool): SqlExecutor {
  return {
    async query(sql: string, params?: unknown[]): Promise<SqlResult> {
      return conn.query(sql, params);
    },
  };
}

/** Where to connect: a URL, a pool config, or an existing pool (borrowed: not closed by us). */
export type ConnectionOptions = string | pg.PoolConfig | pg.Pool;

/** A pool plus transaction helpers. */
export class Db {
  readonly pool: pg.Pool;
  private readonly owned: boolean;

  constructor(options: ConnectionOptions) {
    if (options instanceof pg.Pool) {
      this.pool = options;
      this.owned = false;
    } else {
      const config: pg.PoolConfig = typeof options === 'string' ? { connectionString: options } : options;
      this.pool = new pg.Pool({ max: 10, ...config });
      this.owned = true;
      // An idle connection killed by the server must not crash the process.
      this.pool.on('error', () => undefined);
    }
  }

  /** One statement on any pooled connection. */
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult> {
    return this.pool.query(sql, params);
  }

  /** Runs `work` on one connection (no transaction). */
  async withConnection<T>(work: (conn: Conn) => Promise<T>): Promise<T> {
    const conn = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (e: Error) => {
      broken = e;
    };
    conn.on('error', onError);
    try {
      return await work(conn);
    } catch (error) {
      if (isConnectionError(error)) broken ??= error as Error;
      throw error;
    } finally {
      conn.off('error', onError);
      // Code that ran in an owner's sandbox may have left session state (temporary tables,
      // settings, prepared statements): clean the session before the pool hands it out again.
      if (broken === undefined && ranSandboxedCode(conn)) {
        await discardSessionState(conn).catch((error: Error) => {
          broken = error;
        });
      }
      conn.release(broken);
    }
  }

  /**
   * Runs `work` in a transaction at `isolation`; commits if it returns, rolls back if it throws.
   * With `beganBy: 'work'`, no BEGIN is sent first: `work`'s first statement must open the
   * transaction itself with {@link BEGIN_READ_COMMITTED} (in the same round trip; read committed only).
   * With `endedBy: 'work'`, `work` may commit the transaction itself (with its last statement, in
   * the same round trip): COMMIT is then sent only when the connection still reports a transaction.
   */
  transaction<T>(
    work: (conn: Conn) => Promise<T>,
    isolation: Isolation = 'read committed',
    options: { readonly beganBy?: 'work'; readonly endedBy?: 'work' } = {},
  ): Promise<T> {
    return this.withConnection(async (conn) => {
      if (options.beganBy !== 'work') await conn.query(`BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`);
      else if (isolation !== 'read committed')
        throw new ClientInternalError('a transaction its work begins runs at read committed');
      try {
        const result = await work(conn);
        if (options.endedBy !== 'work' || conn.getTransactionStatus() !== 'I') await conn.query('COMMIT');
        return result;
      } catch (error) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /** Closes the pool if this Db created it. */
  async close(): Promise<void> {
    if (this.owned) await this.pool.end();
  }
}

/** Whether an error means the connection itself is gone (terminated backend, network). */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  const msg = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|ECONNRESET|EPIPE|Client has encountered a connection error/.test(msg);
}

/** The SQLSTATE of a database error, if any. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
