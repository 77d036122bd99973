/**
 * Compile cost: a typical 20-line defining query (a CTE, three joins, LATERAL unnest, FILTER,
 * GROUP BY / HAVING) compiled to its DIFFERENTIAL plan by `compileStreamTable`, and the SQL
 * generation of that plan's DIFFERENTIAL refresh statement (`plan.refreshSql()`) and population. The catalog
 * port answers from memory: its answers are recorded once from an embedded PostgreSQL in the
 * setup (which is then stopped), and a question it has no answer for fails the case — so the
 * measured compile talks to no database. Target: < 5 ms per compile.
 */
import { defineSuite } from '../../../bench/harness.js';
import {
  type CatalogPort,
  type CompiledPlan,
  compileStreamTable,
  createSqlCatalogPort,
  type SqlExecutor,
} from '../src/index.js';
import { memoryPort, recordingPort, startBenchDatabase } from './support.js';

/** The typical query (20 lines). */
export const TYPICAL_QUERY = `WITH recent AS (
  SELECT o.id, o.customer_id, o.amount, o.tags, o.status
  FROM orders AS o
  WHERE o.status <> 'cancelled'
)
SELECT c.region,
       c.tier,
       t.tag,
       count(*) AS orders,
       count(*) FILTER (WHERE r.status = 'paid') AS paid,
       sum(r.amount) AS revenue,
       avg(r.amount) FILTER (WHERE r.amount > 0) AS avg_positive,
       max(p.price) AS top_price
FROM recent AS r
JOIN customers AS c ON c.id = r.customer_id
JOIN order_lines AS l ON l.order_id = r.id
JOIN products AS p ON p.id = l.product_id
CROSS JOIN LATERAL unnest(r.tags) AS t(tag)
WHERE c.active
GROUP BY c.region, c.tier, t.tag
HAVING count(*) > 1`;

const SCHEMA = `
  CREATE TABLE customers (id int PRIMARY KEY, region text, tier text, active boolean NOT NULL);
  CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, amount numeric(12,2), tags text[], status text);
  CREATE TABLE products (id int PRIMARY KEY, price numeric(10,2));
  CREATE TABLE order_lines (order_id bigint, line int, product_id int, PRIMARY KEY (order_id, line));
`;

const options = { name: { schema: 'public', name: 'sales_by_tag' }, refreshMode: 'DIFFERENTIAL' } as const;

let port: CatalogPort | null = null;
let plan: CompiledPlan | null = null;

export default defineSuite({
  name: 'dvm compile',
  async setup() {
    const db = await startBenchDatabase();
    try {
      await db.pool.query(SCHEMA);
      const rec = recordingPort(createSqlCatalogPort(db.pool as unknown as SqlExecutor));
      const real = await compileStreamTable(TYPICAL_QUERY, rec.port, options);
      if (real.mode !== 'DIFFERENTIAL') throw new Error(`the typical query compiled to ${real.mode}`);
      port = memoryPort(rec.recording);
    } finally {
      await db.stop();
    }
    plan = await compileStreamTable(TYPICAL_QUERY, port, options);
  },
  cases: [
    {
      name: 'compileStreamTable: 20-line query (CTE, 3 joins, LATERAL, FILTER, GROUP BY/HAVING), in-memory port',
      unit: 'compiles',
      fn: () => compileStreamTable(TYPICAL_QUERY, port as CatalogPort, options),
    },
    {
      name: 'plan.refreshSql(): DIFFERENTIAL refresh statement SQL of that plan',
      unit: 'statements',
      fn: () => (plan as CompiledPlan).refreshSql(),
    },
    {
      name: 'plan.populationSelect(): population SQL of that plan',
      unit: 'statements',
      fn: () => (plan as CompiledPlan).populationSelect(),
    },
  ],
});
