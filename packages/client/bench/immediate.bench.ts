/**
 * IMMEDIATE write overhead: the same statements against sources without a stream table and
 * against sources of an IMMEDIATE stream table joining them (a 1,000,000-row table joined to a
 * 100,000-row one). Cases: a single-row UPDATE in its own transaction (commit included), and a
 * 10,000-row UPDATE statement. The overhead of IMMEDIATE is its time ÷ the plain time of the same
 * case (printed after the table runs as `overhead`).
 */
import pg from 'pg';
import { type BenchCase, defineSuite } from '../../../bench/harness.js';
// The launcher of @pgtrickle/embedded, by relative path (benches are not published).
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../embedded/src/index.js';
import { connect, type Trickle } from '../src/index.js';

const BIG = 1_000_000;
const DIM = 100_000;
const BATCH = 10_000;
const VARIANTS = ['plain', 'immediate'] as const;

let server: EmbeddedPostgres | null = null;
let pool: pg.Pool | null = null;
let trickle: Trickle | null = null;
const means = new Map<string, number[]>();

function db(): pg.Pool {
  if (pool === null) throw new Error('the suite setup did not run');
  return pool;
}

let next = 0;
/** A row id spread over the table, different on every call. */
function someId(): number {
  next = (next + 7919) % BIG;
  return next + 1;
}

async function timed(key: string, statement: string): Promise<{ overriddenDuration: number }> {
  const start = performance.now();
  await db().query(statement);
  const ms = performance.now() - start;
  means.set(key, [...(means.get(key) ?? []), ms]);
  return { overriddenDuration: ms };
}

export default defineSuite({
  name: 'immediate',
  timeMs: 2000,
  iterations: 20,
  async setup() {
    server = await startEmbeddedPostgres({ settings: { max_wal_size: '4GB' } });
    pool = new pg.Pool({ connectionString: server.url, max: 2 });
    trickle = await connect({ connectionString: server.url });
    await trickle.install();
    for (const v of VARIANTS) {
      await db().query(`CREATE TABLE dim_${v} (id int PRIMARY KEY, name text NOT NULL)`);
      await db().query(`INSERT INTO dim_${v} SELECT g, 'name ' || g FROM generate_series(1, ${DIM}) g`);
      await db().query(`CREATE TABLE big_${v} (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL)`);
      await db().query(`INSERT INTO big_${v} SELECT g, 1 + g % ${DIM}, g FROM generate_series(1, ${BIG}) g`);
      await db().query(`VACUUM ANALYZE dim_${v}, big_${v}`);
    }
    await trickle.createStreamTable({
      name: 'joined',
      query: 'SELECT b.id, b.v, d.name FROM big_immediate AS b JOIN dim_immediate AS d ON d.id = b.k',
      refreshMode: 'IMMEDIATE',
    });
    await db().query('VACUUM ANALYZE joined');
  },
  async teardown() {
    const mean = (key: string) => {
      const xs = means.get(key) ?? [];
      return xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
    };
    for (const c of ['single-row UPDATE', `${BATCH}-row UPDATE`]) {
      const ratio = mean(`${c} immediate`) / mean(`${c} plain`);
      process.stderr.write(
        `immediate overhead, ${c}: ${ratio.toFixed(2)}x the same write without a stream table\n`,
      );
    }
    await trickle?.close();
    await pool?.end();
    await server?.stop();
    trickle = null;
    pool = null;
    server = null;
  },
  cases: () =>
    VARIANTS.flatMap((v): BenchCase[] => [
      {
        name: `single-row UPDATE of a 1M-row table joined to a 100k-row one, ${v}`,
        unit: 'statements',
        fn: () => timed(`single-row UPDATE ${v}`, `UPDATE big_${v} SET v = v + 1 WHERE id = ${someId()}`),
      },
      {
        name: `${BATCH}-row UPDATE of the same table, ${v}`,
        unit: 'rows',
        opsPerCall: BATCH,
        fn: () => {
          const from = (someId() % (BIG - BATCH)) + 1;
          return timed(
            `${BATCH}-row UPDATE ${v}`,
            `UPDATE big_${v} SET v = v + 1 WHERE id BETWEEN ${from} AND ${from + BATCH - 1}`,
          );
        },
      },
    ]),
});
