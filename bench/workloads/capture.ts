/**
 * Capture write amplification: the same statements on a plain table and on one a DIFFERENTIAL
 * stream table reads (capture installed), interleaved, ratio per repetition. Set statements touch
 * 100,000 rows (--quick 10,000): one INSERT, one UPDATE of every row, one DELETE of every row; and
 * one-row INSERT commits (autocommit, 1,000; --quick 300), and as many autocommit UPDATEs that match
 * no row (what capture costs a statement touching no row), both interleaved with the
 * plain table's statement by statement. After each repetition the stream table
 * is refreshed and both tables vacuumed (untimed), so buffers do not grow across repetitions.
 */
import { type BenchOptions, type BenchServer, median, progress, timed } from './common.js';

/** One timed statement (or commit series). */
export interface CaptureSample {
  readonly op: 'insert' | 'update' | 'delete' | 'commit1' | 'commit0';
  readonly tracked: boolean;
  readonly rep: number;
  readonly ms: number;
  readonly rows: number;
}

export async function runCaptureWorkload(
  server: BenchServer,
  o: BenchOptions,
): Promise<{ samples: CaptureSample[]; rows: number; commits: number }> {
  const rows = o.quick ? 10_000 : 100_000;
  const commits = o.quick ? 300 : 1_000;
  const { trickle: t } = await server.database('bench_capture');
  const pool = t.db.pool;
  const samples: CaptureSample[] = [];
  try {
    progress(`capture: ${rows}-row statements, ${commits} one-row commits`);
    for (const name of ['cap_plain', 'cap_tracked']) {
      await pool.query(
        `CREATE TABLE ${name} (id int PRIMARY KEY, g int NOT NULL, v numeric(12,2) NOT NULL, note text NOT NULL)`,
      );
    }
    await t.createStreamTable({
      name: 'cap_st',
      query: 'SELECT g, count(*) AS n, sum(v) AS s FROM cap_tracked GROUP BY g',
      refreshMode: 'DIFFERENTIAL',
    });
    const statements = {
      insert: (tb: string) =>
        `INSERT INTO ${tb} SELECT g, g % 1000, (g % 997)::numeric / 10, 'row ' || g FROM generate_series(1, ${rows}) g`,
      update: (tb: string) => `UPDATE ${tb} SET v = v + 1`,
      delete: (tb: string) => `DELETE FROM ${tb}`,
    } as const;
    const conn = await pool.connect();
    try {
      for (let rep = 0; rep < o.reps; rep++) {
        const order = rep % 2 === 0 ? [false, true] : [true, false];
        for (const op of ['insert', 'update', 'delete'] as const) {
          for (const tracked of order) {
            const tb = tracked ? 'cap_tracked' : 'cap_plain';
            const r = await timed(() => conn.query(statements[op](tb)));
            samples.push({ op, tracked, rep, ms: r.ms, rows });
          }
        }
        // One-row commits, plain and captured interleaved statement by statement (the one first
        // alternating), so the machine's load moves both alike.
        const series = async (
          op: 'commit1' | 'commit0',
          statement: (tb: string) => string,
          param: (i: number) => number,
        ) => {
          const times: Record<'plain' | 'tracked', number[]> = { plain: [], tracked: [] };
          for (let i = 1; i <= commits; i++) {
            for (const tracked of i % 2 === 0 ? order : [...order].reverse()) {
              const tb = tracked ? 'cap_tracked' : 'cap_plain';
              const r = await timed(() => conn.query(statement(tb), [param(i)]));
              times[tracked ? 'tracked' : 'plain'].push(r.ms);
            }
          }
          for (const tracked of order) {
            // The median statement's time, times the count: a statement the machine's load stalled
            // (both series have such outliers, at random) does not decide the ratio.
            const ms = median(times[tracked ? 'tracked' : 'plain']) * commits;
            samples.push({ op, tracked, rep, ms, rows: commits });
          }
        };
        await series(
          'commit1',
          (tb) => `INSERT INTO ${tb} VALUES ($1, $1 % 1000, 1.5, 'one')`,
          (i) => i,
        );
        await series(
          'commit0',
          (tb) => `UPDATE ${tb} SET v = v + 1 WHERE id = $1`,
          (i) => -i,
        );
        for (const tb of ['cap_plain', 'cap_tracked']) await conn.query(`DELETE FROM ${tb}`);
        await t.refresh('cap_st');
        await conn.query('VACUUM cap_plain');
        await conn.query('VACUUM cap_tracked');
        await conn.query('CHECKPOINT');
        progress(
          `capture rep ${rep + 1}: ${samples
            .filter((s) => s.rep === rep)
            .map((s) => `${s.op}${s.tracked ? '+capture' : ''}=${s.ms.toFixed(0)}`)
            .join(' ')}`,
        );
      }
    } finally {
      conn.release();
    }
    return { samples, rows, commits };
  } finally {
    await t.close();
  }
}
