/**
 * Shared pieces of the issue workloads (`pnpm bench`): the options, one embedded PostgreSQL 18
 * with pg_stat_statements for the whole run (a database per section), timing, medians, and the
 * check that a table equals its query (the test kit's oracle, one EXCEPT ALL statement each way).
 * A workload only measures; nothing here asserts a speed.
 */

import { connect, type Trickle } from '../../packages/client/src/index.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../packages/embedded/src/index.js';
import { compareTableWithQuery, formatComparison } from '../../packages/testkit/src/oracle.js';

/** The pg pool the client uses (the bench reaches `pg` only through it). */
export type Pool = Trickle['db']['pool'];

/** What the command line asked for. */
export interface BenchOptions {
  /** The 10x smaller subset (3 repetitions). */
  readonly quick: boolean;
  /** Sections to run (empty: all). */
  readonly only: readonly string[];
  /** Repetitions of every interleaved measurement. */
  readonly reps: number;
}

/** The run's server: throw-away data directory, pg_stat_statements preloaded (plus `extra` settings). */
export class BenchServer {
  private constructor(readonly server: EmbeddedPostgres) {}

  static async start(
    extra: Readonly<Record<string, string | number | boolean>> = {},
    onLog?: (line: string) => void,
  ): Promise<BenchServer> {
    const server = await startEmbeddedPostgres({
      settings: {
        shared_preload_libraries: 'pg_stat_statements',
        'pg_stat_statements.track': 'top',
        max_wal_size: '4GB',
        shared_buffers: '256MB',
        ...extra,
      },
      ...(onLog ? { onLog } : {}),
    });
    return new BenchServer(server);
  }

  /** A fresh database `name` and a client on it (catalog installed). */
  async database(name: string): Promise<{ url: string; trickle: Trickle }> {
    const admin = await connect({ connectionString: this.server.url });
    try {
      await admin.db.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.db.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.close();
    }
    const url = urlFor(this.server.url, name);
    const trickle = await connect({ connectionString: url });
    await trickle.install();
    await trickle.db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return { url, trickle };
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

/** `url` with its database replaced by `db`. */
export function urlFor(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Milliseconds `f` takes (wall clock, from the client: round trips included). */
export async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

/** The median of `xs` (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Throws unless `table` holds exactly the multiset of rows `query` produces. */
export async function verify(pool: Pool, table: string, query: string, what: string): Promise<void> {
  const c = await compareTableWithQuery(pool, table, query, { maxRows: 3 });
  if (!c.equal) throw new Error(`${what}: ${table} differs from its query\n${formatComparison(c)}`);
}

/** Runs `f`, then `ANALYZE`s nothing: a progress line on stderr. */
export function progress(line: string): void {
  process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** "1.5x" etc. */
export function ratio(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 10 ? `${x.toFixed(0)}x` : `${x.toFixed(x >= 3 ? 1 : 2)}x`;
}

/** "12.3 ms" etc. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 10 ? `${x.toFixed(0)} ms` : `${x.toFixed(2)} ms`;
}
