/**
 * IMMEDIATE write overhead: the same UPDATE statements on a 1,000,000-row table joined to a
 * 100,000-row one (--quick: 100,000 and 10,000), once on plain tables and once on the sources of
 * an IMMEDIATE stream table joining them, interleaved statement by statement (plain, IMMEDIATE,
 * IMMEDIATE, plain, …) so both see the same load. Cases: a single-row UPDATE in its own
 * transaction (autocommit, commit included), and a 10,000-row UPDATE (--quick 1,000). The
 * overhead is the ratio of the medians of one repetition, then the median over repetitions.
 * After the run the stream table is checked equal to its query (untimed).
 */
import { type BenchOptions, type BenchServer, median, progress, timed, verify } from './common.js';

/** One timed statement. */
export interface ImmediateSample {
  readonly op: 'single' | 'batch';
  readonly immediate: boolean;
  readonly rep: number;
  readonly ms: number;
}

/** What the section measured. */
export interface ImmediateResult {
  readonly big: number;
  readonly dim: number;
  readonly batch: number;
  readonly samples: ImmediateSample[];
}

const QUERY = 'SELECT b.id, b.v, d.name FROM big_immediate AS b JOIN dim_immediate AS d ON d.id = b.k';

export async function runImmediateWorkload(server: BenchServer, o: BenchOptions): Promise<ImmediateResult> {
  const big = o.quick ? 100_000 : 1_000_000;
  const dim = big / 10;
  const batch = o.quick ? 1_000 : 10_000;
  const singles = o.quick ? 200 : 500;
  const batches = o.quick ? 6 : 4;
  const { trickle: t } = await server.database('bench_immediate');
  const pool = t.db.pool;
  const samples: ImmediateSample[] = [];
  try {
    progress(`immediate: ${big}-row source joined to ${dim} rows; single-row and ${batch}-row UPDATEs`);
    for (const v of ['plain', 'immediate']) {
      await pool.query(`CREATE TABLE dim_${v} (id int PRIMARY KEY, name text NOT NULL)`);
      await pool.query(`INSERT INTO dim_${v} SELECT g, 'name ' || g FROM generate_series(1, ${dim}) g`);
      await pool.query(`CREATE TABLE big_${v} (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL)`);
      await pool.query(`INSERT INTO big_${v} SELECT g, 1 + g % ${dim}, g FROM generate_series(1, ${big}) g`);
      await pool.query(`VACUUM ANALYZE dim_${v}, big_${v}`);
    }
    await t.createStreamTable({ name: 'joined', query: QUERY, refreshMode: 'IMMEDIATE' });
    await pool.query('VACUUM ANALYZE joined');
    let next = 0;
    const someId = () => {
      next = (next + 7919) % big;
      return next + 1;
    };
    const conn = await pool.connect();
    try {
      for (let rep = 0; rep < o.reps; rep++) {
        for (let i = 0; i < singles; i++) {
          const id = someId();
          const order = i % 2 === 0 ? [false, true] : [true, false];
          for (const immediate of order) {
            const tb = immediate ? 'big_immediate' : 'big_plain';
            const r = await timed(() => conn.query(`UPDATE ${tb} SET v = v + 1 WHERE id = ${id}`));
            samples.push({ op: 'single', immediate, rep, ms: r.ms });
          }
        }
        for (let i = 0; i < batches; i++) {
          const from = (someId() % (big - batch)) + 1;
          const order = i % 2 === 0 ? [false, true] : [true, false];
          for (const immediate of order) {
            const tb = immediate ? 'big_immediate' : 'big_plain';
            const r = await timed(() =>
              conn.query(`UPDATE ${tb} SET v = v + 1 WHERE id BETWEEN ${from} AND ${from + batch - 1}`),
            );
            samples.push({ op: 'batch', immediate, rep, ms: r.ms });
          }
        }
        await conn.query('VACUUM big_plain, big_immediate, joined');
        progress(`immediate rep ${rep + 1}: ${summary(samples, rep)}`);
      }
    } finally {
      conn.release();
    }
    await verify(pool, 'joined', QUERY, 'immediate');
    return { big, dim, batch, samples };
  } finally {
    await t.close();
  }
}

function summary(samples: readonly ImmediateSample[], rep: number): string {
  return (['single', 'batch'] as const)
    .map((op) => `${op} ${overheadOf(samples, op, rep).toFixed(2)}x`)
    .join(', ');
}

/** Median IMMEDIATE time ÷ median plain time of `op` in repetition `rep`. */
export function overheadOf(
  samples: readonly ImmediateSample[],
  op: ImmediateSample['op'],
  rep: number,
): number {
  const of = (immediate: boolean) =>
    median(samples.filter((s) => s.op === op && s.rep === rep && s.immediate === immediate).map((s) => s.ms));
  return of(true) / of(false);
}
