/**
 * Shared pieces of the dvm benchmarks: the in-memory catalog port of `test/support/catalog.ts`
 * (answers recorded once from PostgreSQL, then replayed with no database), an embedded
 * PostgreSQL for the suite, and a minimal "maintain" (capture, storage, population, refreshes in
 * transactions) over a `pg` pool.
 */

import pg from 'pg';
// The launcher of @pgtrickle/embedded, by relative path (dvm does not depend on it; benches are
// not published): the same server the test kit starts.
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../embedded/src/index.js';
import {
  baseCaptureDdl,
  type CompiledPlan,
  compileStreamTable,
  createSqlCatalogPort,
  type Frontier,
  runRefresh,
  type SqlExecutor,
} from '../src/index.js';

// The in-memory catalog port lives with the tests (the golden SQL tests compile through it too).
export { memoryPort, type PortRecording, recordingPort } from '../test/support/catalog.js';

/** A throw-away embedded PostgreSQL (temporary directory, removed on stop) and a pool on it. */
export interface BenchDatabase {
  readonly server: EmbeddedPostgres;
  readonly pool: pg.Pool;
  stop(): Promise<void>;
}

/** Starts an embedded PostgreSQL for a suite. */
export async function startBenchDatabase(): Promise<BenchDatabase> {
  const server = await startEmbeddedPostgres({ settings: { max_wal_size: '4GB' } });
  const pool = new pg.Pool({ connectionString: server.url, max: 4 });
  return {
    server,
    pool,
    async stop() {
      await pool.end();
      await server.stop();
    },
  };
}

async function inTransaction<T>(pool: pg.Pool, f: (exec: SqlExecutor) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await f(client as unknown as SqlExecutor);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** A stream table maintained by a compiled plan over base tables (no stream-table sources). */
export class BenchStreamTable {
  frontier: Frontier | null = null;

  private constructor(
    readonly pool: pg.Pool,
    readonly plan: CompiledPlan,
  ) {}

  /** Compiles `query`, installs capture on its sources, creates and populates `public.<name>`. */
  static async create(pool: pg.Pool, name: string, query: string): Promise<BenchStreamTable> {
    const port = createSqlCatalogPort(pool as unknown as SqlExecutor);
    const plan = await compileStreamTable(query, port, {
      name: { schema: 'public', name },
      refreshMode: 'DIFFERENTIAL',
    });
    await inTransaction(pool, async (exec) => {
      for (const s of plan.sources) {
        for (const sql of baseCaptureDdl({ oid: s.oid })) await exec.query(sql);
      }
      for (const sql of plan.storageDdl()) await exec.query(sql);
    });
    const st = new BenchStreamTable(pool, plan);
    await st.refresh('FULL');
    await pool.query(`ANALYZE public."${name}"`);
    return st;
  }

  /** One refresh in its own transaction; returns its wall time in ms. */
  async refresh(action: 'FULL' | 'DIFFERENTIAL'): Promise<number> {
    const start = performance.now();
    const r = await inTransaction(this.pool, (exec) =>
      runRefresh(this.plan, exec, { action, frontier: this.frontier }),
    );
    const ms = performance.now() - start;
    if (r.action !== action) throw new Error(`asked for a ${action} refresh, ran ${r.action} (${r.reason})`);
    this.frontier = r.frontier;
    return ms;
  }
}
