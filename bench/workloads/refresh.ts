/**
 * The refresh workload of the issue table: `orders` (1,000,000 rows; --quick 100,000) and
 * `customers` (100,000; --quick 10,000); three queries (an aggregate with one group per customer,
 * a join with a filter keeping ≈22.5% of orders, a join + aggregate over 200 regions); change
 * batches of 50% updates (a fifth moving the order to another customer), 25% deletes and 25%
 * inserts, at 0.01%, 0.1%, 1%, 10% and 20% of orders. After each batch every method refreshes its
 * own copy of each query against the same data, in an order that rotates each repetition:
 * REFRESH MATERIALIZED VIEW, … CONCURRENTLY, a FULL stream table, a DIFFERENTIAL one, an AUTO one
 * (with the action it chose), and the hand-written floor (an algebraic MERGE of the changed groups
 * for the aggregates; delete + re-insert of the changed ids for the join), which reads the batch
 * from the side table the batch was applied from. Every result is checked equal to its query
 * after every refresh (untimed). The nine stream tables share the change buffer of `orders`, which
 * is trimmed by the refresh that makes the last of its readers pass a change: one more reader,
 * `bench_trim` (FULL, a count), refreshed untimed after every batch's methods, takes that trim,
 * so it is charged to none of the methods compared; its time is recorded per batch (`trims`) and
 * reported beside the methods, since a source with a single reader pays it at every refresh.
 */
import type { Trickle } from '../../packages/client/src/index.js';
import { type BenchOptions, type BenchServer, type Pool, progress, timed, verify } from './common.js';

/** The last reader's refresh after a batch, which trims the shared change buffer. */
export interface TrimSample {
  readonly fraction: number;
  readonly rep: number;
  readonly ms: number;
}

/** One timed refresh. */
export interface RefreshSample {
  readonly query: string;
  readonly fraction: number;
  readonly rep: number;
  readonly method: Method;
  readonly ms: number;
  /** What an AUTO refresh chose. */
  readonly action?: string;
}

/** The refresh methods compared. */
export type Method = 'matview' | 'concurrently' | 'full' | 'differential' | 'auto' | 'floor';
export const METHODS: readonly Method[] = [
  'matview',
  'concurrently',
  'full',
  'differential',
  'auto',
  'floor',
];
export const FRACTIONS = [0.0001, 0.001, 0.01, 0.1, 0.2] as const;

/** A query of the workload with its floor. */
export interface Query {
  readonly name: 'aggregate' | 'join' | 'join_agg';
  readonly sql: string;
  /** The unique key of the result (for CONCURRENTLY and the floor's table). */
  readonly key: string;
  /** The floor's table definition (columns as the query names them). */
  readonly floorDdl: string;
  /** The floor's refresh from `bench_chg` (one transaction). */
  readonly floor: readonly string[];
}

export const QUERIES: readonly Query[] = [
  {
    name: 'aggregate',
    sql: 'SELECT customer_id, count(*) AS n, sum(amount) AS total, avg(amount) AS mean FROM orders GROUP BY customer_id',
    key: 'customer_id',
    floorDdl: 'customer_id int PRIMARY KEY, n bigint NOT NULL, total numeric NOT NULL, mean numeric NOT NULL',
    floor: [
      `MERGE INTO floor_aggregate t USING (
         SELECT cust, sum(dn) AS dn, sum(ds) AS ds FROM (
           SELECT old_cust AS cust, -1 AS dn, -old_amount AS ds FROM bench_chg WHERE old_cust IS NOT NULL
           UNION ALL SELECT new_cust, 1, new_amount FROM bench_chg WHERE new_cust IS NOT NULL) d
         GROUP BY cust) d ON t.customer_id = d.cust
       WHEN MATCHED AND t.n + d.dn = 0 THEN DELETE
       WHEN MATCHED THEN UPDATE SET n = t.n + d.dn, total = t.total + d.ds, mean = (t.total + d.ds) / (t.n + d.dn)
       WHEN NOT MATCHED AND d.dn > 0 THEN INSERT VALUES (d.cust, d.dn, d.ds, d.ds / d.dn)`,
    ],
  },
  {
    name: 'join',
    sql: `SELECT o.id, o.amount, c.name FROM orders o JOIN customers c ON c.id = o.customer_id
          WHERE o.amount < 450 AND c.region < 100`,
    key: 'id',
    floorDdl: 'id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, name text NOT NULL',
    floor: [
      'DELETE FROM floor_join t USING bench_chg c WHERE t.id = c.id',
      `INSERT INTO floor_join SELECT o.id, o.amount, c.name FROM bench_chg x JOIN orders o ON o.id = x.id
         JOIN customers c ON c.id = o.customer_id
        WHERE x.new_cust IS NOT NULL AND o.amount < 450 AND c.region < 100`,
    ],
  },
  {
    name: 'join_agg',
    sql: `SELECT c.region, count(*) AS n, sum(o.amount) AS total, avg(o.amount) AS mean
          FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.region`,
    key: 'region',
    floorDdl: 'region int PRIMARY KEY, n bigint NOT NULL, total numeric NOT NULL, mean numeric NOT NULL',
    floor: [
      `MERGE INTO floor_join_agg t USING (
         SELECT c.region, sum(dn) AS dn, sum(ds) AS ds FROM (
           SELECT old_cust AS cust, -1 AS dn, -old_amount AS ds FROM bench_chg WHERE old_cust IS NOT NULL
           UNION ALL SELECT new_cust, 1, new_amount FROM bench_chg WHERE new_cust IS NOT NULL) d
         JOIN customers c ON c.id = d.cust GROUP BY c.region) d ON t.region = d.region
       WHEN MATCHED AND t.n + d.dn = 0 THEN DELETE
       WHEN MATCHED THEN UPDATE SET n = t.n + d.dn, total = t.total + d.ds, mean = (t.total + d.ds) / (t.n + d.dn)
       WHEN NOT MATCHED AND d.dn > 0 THEN INSERT VALUES (d.region, d.dn, d.ds, d.ds / d.dn)`,
    ],
  },
];

/** Sizes of the data set. */
export function refreshSizes(o: BenchOptions): { orders: number; customers: number } {
  const forced = Number(process.env.PGTRICKLE_BENCH_ORDERS ?? 0);
  if (forced > 0) return { orders: forced, customers: Math.max(200, Math.round(forced / 10)) };
  return o.quick ? { orders: 100_000, customers: 10_000 } : { orders: 1_000_000, customers: 100_000 };
}

async function inTx(pool: Pool, statements: readonly string[]): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    for (const s of statements) await c.query(s);
    await c.query('COMMIT');
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    c.release();
  }
}

/** One change batch of `n` rows, seeded: written to `bench_chg`, then applied to `orders`. */
export async function applyBatch(
  pool: Pool,
  n: number,
  seed: number,
  nextId: number,
  customers: number,
): Promise<void> {
  const u = Math.round(n / 2);
  const d = Math.round(n / 4);
  const i = n - u - d;
  const moves = Math.round(u / 5);
  const c = await pool.connect();
  try {
    await c.query('TRUNCATE bench_chg');
    await c.query('SELECT setseed($1)', [seed]);
    await c.query(
      `INSERT INTO bench_chg (id, old_cust, old_amount, new_cust, new_amount)
       SELECT id, customer_id, amount,
              CASE WHEN rn <= ${u} THEN (CASE WHEN rn <= ${moves} THEN 1 + floor(random() * ${customers})::int ELSE customer_id END) END,
              CASE WHEN rn <= ${u} THEN round((random() * 1000)::numeric, 2) END
         FROM (SELECT id, customer_id, amount, row_number() OVER (ORDER BY r) AS rn
                 FROM (SELECT id, customer_id, amount, random() AS r FROM orders ORDER BY r LIMIT ${u + d}) s) x`,
    );
    await c.query(
      `INSERT INTO bench_chg (id, old_cust, old_amount, new_cust, new_amount)
       SELECT ${nextId} + g, NULL, NULL, 1 + floor(random() * ${customers})::int, round((random() * 1000)::numeric, 2)
         FROM generate_series(1, ${i}) g`,
    );
    await c.query('ANALYZE bench_chg');
    await c.query('BEGIN');
    await c.query(
      `UPDATE orders o SET customer_id = c.new_cust, amount = c.new_amount FROM bench_chg c
        WHERE o.id = c.id AND c.old_cust IS NOT NULL AND c.new_cust IS NOT NULL`,
    );
    await c.query('DELETE FROM orders o USING bench_chg c WHERE o.id = c.id AND c.new_cust IS NULL');
    await c.query(
      `INSERT INTO orders (id, customer_id, amount, note)
       SELECT id, new_cust, new_amount, 'new' FROM bench_chg WHERE old_cust IS NULL`,
    );
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

/** Refreshes `method`'s copy of `q`; returns its time (and AUTO's action). */
async function refreshOne(t: Trickle, q: Query, method: Method): Promise<{ ms: number; action?: string }> {
  const pool = t.db.pool;
  switch (method) {
    case 'matview':
      return timed(() => pool.query(`REFRESH MATERIALIZED VIEW mv_${q.name}`));
    case 'concurrently':
      return timed(() => pool.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY mvc_${q.name}`));
    case 'floor':
      return timed(() => inTx(pool, q.floor));
    case 'full': {
      const r = await timed(() => t.refresh(`st_full_${q.name}`));
      if (r.value.action !== 'FULL') throw new Error(`FULL table refreshed ${r.value.action}`);
      return { ms: r.ms };
    }
    case 'differential': {
      const r = await timed(() => t.refresh(`st_diff_${q.name}`));
      if (r.value.action !== 'DIFFERENTIAL')
        throw new Error(`DIFFERENTIAL table refreshed ${r.value.action}`);
      return { ms: r.ms };
    }
    case 'auto': {
      const r = await timed(() => t.refresh(`st_auto_${q.name}`));
      return { ms: r.ms, action: r.value.action };
    }
  }
}

function tableOf(q: Query, method: Method): string {
  const prefix = {
    matview: 'mv',
    concurrently: 'mvc',
    full: 'st_full',
    differential: 'st_diff',
    auto: 'st_auto',
    floor: 'floor',
  };
  return `${prefix[method]}_${q.name}`;
}

/** Creates `customers`, `orders`, the change side table and every method's copy of each query; returns result sizes. */
export async function setupRefreshData(
  t: Trickle,
  orders: number,
  customers: number,
): Promise<Record<string, number>> {
  const pool = t.db.pool;
  await pool.query(`SELECT setseed(0.42)`);
  await pool.query(
    `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, region int NOT NULL);
     INSERT INTO customers SELECT g, 'customer ' || g, (g * 7919) % 200 FROM generate_series(1, ${customers}) g;
     CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, amount numeric(12,2) NOT NULL, note text);
     CREATE INDEX ON orders (customer_id);
     CREATE UNLOGGED TABLE bench_chg (id bigint PRIMARY KEY, old_cust int, old_amount numeric(12,2), new_cust int, new_amount numeric(12,2));`,
  );
  const c = await pool.connect();
  try {
    await c.query('SELECT setseed(0.42)');
    await c.query(
      `INSERT INTO orders SELECT g, 1 + floor(random() * ${customers})::int, round((random() * 1000)::numeric, 2), 'order ' || g
         FROM generate_series(1, ${orders}) g`,
    );
  } finally {
    c.release();
  }
  await pool.query('ANALYZE customers; ANALYZE orders');
  const results: Record<string, number> = {};
  for (const q of QUERIES) {
    await pool.query(`CREATE MATERIALIZED VIEW mv_${q.name} AS ${q.sql}`);
    await pool.query(`CREATE MATERIALIZED VIEW mvc_${q.name} AS ${q.sql}`);
    await pool.query(`CREATE UNIQUE INDEX ON mvc_${q.name} (${q.key})`);
    await pool.query(`CREATE TABLE floor_${q.name} (${q.floorDdl}); INSERT INTO floor_${q.name} ${q.sql}`);
    for (const [mode, name] of [
      ['FULL', 'full'],
      ['DIFFERENTIAL', 'diff'],
      ['AUTO', 'auto'],
    ] as const) {
      await t.createStreamTable({ name: `st_${name}_${q.name}`, query: q.sql, refreshMode: mode });
    }
    const n = await pool.query(`SELECT count(*)::int AS n FROM mv_${q.name}`);
    results[q.name] = Number((n.rows[0] as { n: number }).n);
    progress(`  ${q.name}: ${results[q.name]} result rows, every copy created`);
  }
  await t.createStreamTable({
    name: 'bench_trim',
    query: 'SELECT count(*) AS n FROM orders',
    refreshMode: 'FULL',
  });
  await pool.query('ANALYZE');
  return results;
}

/** Builds the data and every copy, then runs the interleaved repetitions. */
export async function runRefreshWorkload(
  server: BenchServer,
  o: BenchOptions,
): Promise<{
  samples: RefreshSample[];
  trims: TrimSample[];
  sizes: { orders: number; customers: number; results: Record<string, number> };
}> {
  const { orders, customers } = refreshSizes(o);
  const { trickle: t } = await server.database('bench_refresh');
  const pool = t.db.pool;
  try {
    progress(`refresh workload: ${orders} orders, ${customers} customers`);
    const results = await setupRefreshData(t, orders, customers);
    const samples: RefreshSample[] = [];
    const trims: TrimSample[] = [];
    let nextId = orders + 1_000_000_000;
    let turn = 0;
    for (const fraction of FRACTIONS) {
      for (let rep = 0; rep < o.reps; rep++) {
        const n = Math.max(4, Math.round(fraction * orders));
        await applyBatch(pool, n, ((fraction * 1e4 + rep) % 97) / 97, nextId, customers);
        nextId += n;
        for (const q of QUERIES) {
          const order = METHODS.map((_, i) => METHODS[(i + turn) % METHODS.length] as Method);
          turn++;
          for (const method of order) {
            const r = await refreshOne(t, q, method);
            samples.push({
              query: q.name,
              fraction,
              rep,
              method,
              ms: r.ms,
              ...(r.action ? { action: r.action } : {}),
            });
            await verify(pool, tableOf(q, method), q.sql, `${q.name} ${method} at ${fraction * 100}%`);
          }
        }
        // The last reader of the buffer: the trim of the batch's changes (untimed for the methods).
        const trim = await timed(() => t.refresh('bench_trim'));
        trims.push({ fraction, rep, ms: trim.ms });
        const line = QUERIES.map((q) => {
          const s = samples.filter((x) => x.query === q.name && x.fraction === fraction && x.rep === rep);
          return `${q.name} ${s.map((x) => `${x.method}=${x.ms.toFixed(0)}`).join(' ')}`;
        }).join(' | ');
        progress(
          `${fraction * 100}% rep ${rep + 1}: ${line} | last reader's refresh with the trim ${trim.ms.toFixed(0)}`,
        );
      }
    }
    return { samples, trims, sizes: { orders, customers, results } };
  } finally {
    await t.close();
  }
}
