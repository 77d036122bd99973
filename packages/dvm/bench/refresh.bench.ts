/**
 * Refresh cost vs table size: scan, filter, aggregate (COUNT/SUM/AVG by a key) and join stream
 * tables over sources of 10,000, 100,000 and 1,000,000 rows (primary key, an index on the
 * group / join key; the join's other side has 10,000 rows). A DIFFERENTIAL refresh after 100
 * changed rows (40 value updates, 20 key moves, 20 deletes, 20 inserts; the changes are made
 * before the timed refresh and not timed) should cost about the same at every size; a FULL
 * refresh grows with the table. The server is an embedded PostgreSQL started for the suite
 * (temporary directory, removed in teardown). Times are per refresh, commit included.
 */
import { type BenchCase, defineSuite } from '../../../bench/harness.js';
import { type BenchDatabase, BenchStreamTable, startBenchDatabase } from './support.js';

const SIZES = [10_000, 100_000, 1_000_000] as const;
const KEYS = 10_000;

const QUERIES: readonly { name: string; sql: (t: string) => string }[] = [
  { name: 'scan', sql: (t) => `SELECT * FROM ${t}` },
  { name: 'filter', sql: (t) => `SELECT id, g, v FROM ${t} WHERE v > 50` },
  {
    name: 'aggregate',
    sql: (t) => `SELECT g, count(*) AS n, sum(v) AS s, avg(v) AS a FROM ${t} GROUP BY g`,
  },
  { name: 'join', sql: (t) => `SELECT b.id, b.v, d.name FROM ${t} AS b JOIN dim AS d ON d.id = b.g` },
];

let db: BenchDatabase | null = null;

function database(): BenchDatabase {
  if (db === null) throw new Error('the suite setup did not run');
  return db;
}

/** Per source table: where the next batch of changes starts. */
const cursor = new Map<string, { update: number; insert: number }>();

/** 100 changed rows of `t` (`size` rows initially). */
async function change100(t: string, size: number): Promise<void> {
  const c = cursor.get(t) ?? { update: 0, insert: size };
  cursor.set(t, c);
  const span = (n: number) => {
    const from = (c.update * 7919) % size;
    c.update += n;
    return `SELECT id FROM ${t} WHERE id > ${from} ORDER BY id LIMIT ${n}`;
  };
  const pool = database().pool;
  await pool.query(`UPDATE ${t} SET v = (v + 37) % 97 WHERE id IN (${span(40)})`);
  await pool.query(`UPDATE ${t} SET g = (g + 1) % ${KEYS} WHERE id IN (${span(20)})`);
  await pool.query(`DELETE FROM ${t} WHERE id IN (${span(20)})`);
  await pool.query(
    `INSERT INTO ${t} SELECT ${c.insert} + i, (${c.insert} + i) % ${KEYS}, i % 97, 'new' FROM generate_series(1, 20) AS i`,
  );
  c.insert += 20;
}

const tables: { query: string; size: number; source: string; st: BenchStreamTable }[] = [];

export default defineSuite({
  name: 'dvm refresh',
  timeMs: 1000,
  iterations: 3,
  warmup: false,
  async setup() {
    db = await startBenchDatabase();
    const pool = db.pool;
    await pool.query(
      `CREATE TABLE dim (id int PRIMARY KEY, name text NOT NULL);
       INSERT INTO dim SELECT i, 'd' || i FROM generate_series(0, ${KEYS - 1}) AS i; ANALYZE dim;`,
    );
    for (const size of SIZES) {
      const t = `src_${size}`;
      await pool.query(
        `CREATE TABLE ${t} (id int PRIMARY KEY, g int NOT NULL, v int, pad text);
         INSERT INTO ${t} SELECT i, i % ${KEYS}, i % 97, 'p' || (i % 13) FROM generate_series(1, ${size}) AS i;
         CREATE INDEX ON ${t} (g); ANALYZE ${t};`,
      );
      for (const q of QUERIES) {
        const st = await BenchStreamTable.create(pool, `st_${q.name}_${size}`, q.sql(t));
        tables.push({ query: q.name, size, source: t, st });
      }
    }
  },
  async teardown() {
    await db?.stop();
    db = null;
  },
  cases(): BenchCase[] {
    const cases: BenchCase[] = [];
    for (const action of ['DIFFERENTIAL', 'FULL'] as const) {
      for (const q of QUERIES) {
        for (const size of SIZES) {
          const t = tables.find((x) => x.query === q.name && x.size === size);
          if (t === undefined) throw new Error(`no stream table for ${q.name} / ${size}`);
          let caughtUp = false;
          cases.push({
            name: `${q.name}, ${size.toLocaleString('en-US')} rows: ${action === 'FULL' ? 'FULL refresh' : 'DIFFERENTIAL refresh of 100 changed rows'}`,
            unit: 'refreshes',
            async fn() {
              if (action === 'FULL') return { overriddenDuration: await t.st.refresh('FULL') };
              // Changes other cases made to the shared source are consumed first, untimed.
              if (!caughtUp) {
                await t.st.refresh('FULL');
                caughtUp = true;
              }
              await change100(t.source, size);
              return { overriddenDuration: await t.st.refresh('DIFFERENTIAL') };
            },
          });
        }
      }
    }
    return cases;
  },
});
