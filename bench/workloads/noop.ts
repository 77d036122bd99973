/**
 * A zero-change `refresh()`: a DIFFERENTIAL aggregate over a 100,000-row source (--quick 10,000),
 * refreshed with nothing changed, as a user calls it through the client. Time per call, and, for
 * one call, the statements it sent (pg_stat_statements, top-level) and the WAL records they wrote.
 */
import { type BenchOptions, type BenchServer, progress, timed } from './common.js';

export interface NoopResult {
  readonly samples: number[];
  readonly statements: number;
  readonly walRecords: number;
  /** Statements that change something (DML or DDL) with their call counts. */
  readonly writes: readonly { query: string; calls: number; wal: number }[];
  readonly all: readonly { query: string; calls: number; wal: number }[];
  /** For comparison: the statements of a DIFFERENTIAL refresh of one inserted row. */
  readonly oneRow?: { statements: number; writes: number; ms: number };
}

/** Whether a statement writes: DML or DDL, or a WITH holding a data-modifying part. */
function writing(r: { query: string }): boolean {
  if (/^\s*(INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE)\b/iu.test(r.query)) return true;
  return (
    /^\s*WITH\b/iu.test(r.query) &&
    /\b(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|MERGE\s+INTO)\b/iu.test(r.query)
  );
}

export async function runNoopWorkload(server: BenchServer, o: BenchOptions): Promise<NoopResult> {
  const rows = o.quick ? 10_000 : 100_000;
  const calls = o.quick ? 30 : 100;
  const { trickle: t } = await server.database('bench_noop');
  const pool = t.db.pool;
  try {
    progress(`zero-change refresh(): ${calls} calls`);
    await pool.query(
      `CREATE TABLE src (id int PRIMARY KEY, g int NOT NULL, v numeric(12,2) NOT NULL);
       INSERT INTO src SELECT i, i % 1000, i % 97 FROM generate_series(1, ${rows}) AS i; ANALYZE src;`,
    );
    await t.createStreamTable({
      name: 'noop_st',
      query: 'SELECT g, count(*) AS n, sum(v) AS s, avg(v) AS a FROM src GROUP BY g',
      refreshMode: 'DIFFERENTIAL',
    });
    await t.refresh('noop_st');
    await t.refresh('noop_st');
    const samples: number[] = [];
    for (let i = 0; i < calls; i++) {
      const r = await timed(() => t.refresh('noop_st'));
      if (r.value.action !== 'NO_DATA') throw new Error(`a zero-change refresh did ${r.value.action}`);
      samples.push(r.ms);
    }
    await pool.query('SELECT pg_stat_statements_reset()');
    await t.refresh('noop_st');
    const stats = await pool.query(
      `SELECT query, calls::int AS calls, wal_records::int AS wal FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC, query`,
    );
    const all = stats.rows as { query: string; calls: number; wal: number }[];
    const writes = all.filter(writing);
    // For comparison: one inserted row, refreshed.
    await pool.query('INSERT INTO src VALUES ($1, 7, 1.5)', [rows + 1]);
    await pool.query('SELECT pg_stat_statements_reset()');
    const one = await timed(() => t.refresh('noop_st'));
    const oneStats = await pool.query(
      `SELECT query, calls::int AS calls FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query NOT LIKE '%pg_stat_statements%'`,
    );
    const oneAll = oneStats.rows as { query: string; calls: number }[];
    return {
      samples,
      statements: all.reduce((a, r) => a + r.calls, 0),
      walRecords: all.reduce((a, r) => a + r.wal, 0),
      writes,
      all,
      oneRow: {
        statements: oneAll.reduce((a, r) => a + r.calls, 0),
        writes: oneAll.filter(writing).reduce((a, r) => a + r.calls, 0),
        ms: one.ms,
      },
    };
  } finally {
    await t.close();
  }
}
