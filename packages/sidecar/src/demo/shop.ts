/**
 * The demo's shop: a schema of customers, products, orders and order lines with deterministic
 * seed data, the pipeline of stream tables over it, and a writer that inserts, updates and deletes
 * at a steady rate. Rule: everything lives in the schema `pgtrickle_demo`, marked by a comment,
 * so the demo can reset it without touching anything it did not create.
 */
import type pg from 'pg';

/** The demo's schema. */
export const DEMO_SCHEMA = 'pgtrickle_demo';
/** The comment that marks the schema as the demo's own. */
export const DEMO_MARKER = 'created by pgtrickle demo; dropped and recreated by every run';

/** A deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COUNTRIES = ['DE', 'FR', 'NL', 'ES', 'IT', 'US', 'JP', 'BR'];
const PRODUCTS = [
  'kettle',
  'teapot',
  'mug',
  'grinder',
  'scale',
  'filter',
  'dripper',
  'carafe',
  'tamper',
  'press',
  'beans (light)',
  'beans (dark)',
  'matcha',
  'sencha',
  'oolong',
  'rooibos',
  'honey',
  'biscuits',
  'tray',
  'thermos',
];

/** SQL creating the shop (tables and seed data) in {@link DEMO_SCHEMA}; the schema must not exist. */
export function shopSql(seed = 42): string[] {
  const rand = prng(seed);
  const s = DEMO_SCHEMA;
  const customers = Array.from({ length: 60 }, (_, i) => {
    const country = COUNTRIES[Math.floor(rand() * COUNTRIES.length)] as string;
    return `(${i + 1}, 'customer ${i + 1}', '${country}')`;
  });
  const products = PRODUCTS.map(
    (name, i) => `(${i + 1}, '${name}', ${(2 + Math.floor(rand() * 9800) / 100).toFixed(2)})`,
  );
  const orders: string[] = [];
  const items: string[] = [];
  let item = 0;
  for (let o = 1; o <= 300; o++) {
    orders.push(`(${o}, ${1 + Math.floor(rand() * 60)}, '${rand() < 0.8 ? 'paid' : 'open'}')`);
    const lines = 1 + Math.floor(rand() * 3);
    for (let l = 0; l < lines; l++) {
      items.push(
        `(${++item}, ${o}, ${1 + Math.floor(rand() * PRODUCTS.length)}, ${1 + Math.floor(rand() * 4)})`,
      );
    }
  }
  return [
    `CREATE SCHEMA ${s}`,
    `COMMENT ON SCHEMA ${s} IS '${DEMO_MARKER}'`,
    `CREATE TABLE ${s}.customers (id int PRIMARY KEY, name text NOT NULL, country text NOT NULL)`,
    `CREATE TABLE ${s}.products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL)`,
    `CREATE TABLE ${s}.orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES ${s}.customers, status text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE ${s}.order_items (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES ${s}.orders ON DELETE CASCADE,
       product_id int NOT NULL REFERENCES ${s}.products, quantity int NOT NULL CHECK (quantity > 0))`,
    `CREATE INDEX ON ${s}.order_items (order_id)`,
    `INSERT INTO ${s}.customers VALUES ${customers.join(', ')}`,
    `INSERT INTO ${s}.products VALUES ${products.join(', ')}`,
    `INSERT INTO ${s}.orders (id, customer_id, status) VALUES ${orders.join(', ')}`,
    `INSERT INTO ${s}.order_items VALUES ${items.join(', ')}`,
  ];
}

/** One stream table of the demo pipeline. */
export interface DemoTable {
  /** Unqualified name (in {@link DEMO_SCHEMA}). */
  readonly name: string;
  /** What it shows about pgtrickle: join, aggregate, chain, diamond. */
  readonly kind: string;
  readonly query: string;
  /** null: CALCULATED (as often as its readers). */
  readonly schedule: string | null;
}

/** The pipeline, in creation order (upstream first). */
export function demoPipeline(): DemoTable[] {
  const s = DEMO_SCHEMA;
  return [
    {
      name: 'order_lines',
      kind: 'join (4 tables)',
      schedule: null,
      query: `SELECT oi.id AS item_id, o.id AS order_id, c.name AS customer, c.country, p.name AS product, oi.quantity,
       oi.quantity * p.price AS amount
  FROM ${s}.order_items oi
  JOIN ${s}.orders o ON o.id = oi.order_id
  JOIN ${s}.customers c ON c.id = o.customer_id
  JOIN ${s}.products p ON p.id = oi.product_id`,
    },
    {
      name: 'revenue_by_product',
      kind: 'aggregate',
      schedule: null,
      query: `SELECT p.id AS product_id, p.name AS product, sum(oi.quantity * p.price) AS revenue, sum(oi.quantity) AS units
  FROM ${s}.order_items oi JOIN ${s}.products p ON p.id = oi.product_id
 GROUP BY p.id, p.name`,
    },
    {
      name: 'revenue_by_country',
      kind: 'aggregate, chain ← order_lines',
      schedule: '1s',
      query: `SELECT country, sum(amount) AS revenue, count(*) AS lines FROM ${s}.order_lines GROUP BY country`,
    },
    {
      name: 'top_products',
      kind: 'top-5, chain ← revenue_by_product',
      schedule: '1s',
      query: `SELECT product_id, product, revenue FROM ${s}.revenue_by_product ORDER BY revenue DESC, product_id LIMIT 5`,
    },
    {
      name: 'orders_per_customer',
      kind: 'diamond: left',
      schedule: null,
      query: `SELECT customer_id, count(*) AS orders FROM ${s}.orders GROUP BY customer_id`,
    },
    {
      name: 'spend_per_customer',
      kind: 'diamond: right',
      schedule: null,
      query: `SELECT o.customer_id, sum(oi.quantity * p.price) AS spend
  FROM ${s}.orders o JOIN ${s}.order_items oi ON oi.order_id = o.id JOIN ${s}.products p ON p.id = oi.product_id
 GROUP BY o.customer_id`,
    },
    {
      name: 'customer_summary',
      kind: 'diamond: join of both',
      schedule: '1s',
      query: `SELECT a.customer_id, a.orders, b.spend
  FROM ${s}.orders_per_customer a JOIN ${s}.spend_per_customer b ON b.customer_id = a.customer_id`,
    },
  ];
}

/** What the writer did so far. */
export interface WriterStats {
  readonly transactions: number;
  readonly inserts: number;
  readonly updates: number;
  readonly deletes: number;
  readonly errors: number;
}

/**
 * Writes to the shop at `ratePerSecond` transactions per second until stopped: new orders with
 * items, quantity and price changes, customers moving country, cancelled (deleted) orders.
 * `pause()` resolves once the transaction in flight has committed and no new one starts until
 * `resume()`.
 */
export class ShopWriter {
  #tx = 0;
  #ins = 0;
  #upd = 0;
  #del = 0;
  #errors = 0;
  #paused = false;
  #stopped = false;
  #inFlight: Promise<void> = Promise.resolve();
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  readonly #rand: () => number;
  #nextOrder = 1_000_000;
  #nextItem = 1_000_000;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ratePerSecond: number,
    seed = 7,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.#rand = prng(seed);
  }

  /** Counts so far. */
  get stats(): WriterStats {
    return {
      transactions: this.#tx,
      inserts: this.#ins,
      updates: this.#upd,
      deletes: this.#del,
      errors: this.#errors,
    };
  }

  /** Starts writing. */
  start(): void {
    this.#loop ??= this.run();
  }

  /** Stops starting transactions; resolves when the one in flight is done. */
  async pause(): Promise<void> {
    this.#paused = true;
    await this.#inFlight;
  }

  /** Resumes after {@link pause}. */
  resume(): void {
    this.#paused = false;
    this.#wakeUp?.();
  }

  /** Stops for good. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wakeUp?.();
    await this.#loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    const interval = 1000 / Math.max(0.1, this.ratePerSecond);
    while (!this.#stopped) {
      if (this.#paused) {
        await this.sleep(1000);
        continue;
      }
      const started = performance.now();
      this.#inFlight = this.once().catch((error: unknown) => {
        this.#errors++;
        this.onError(error);
      });
      await this.#inFlight;
      const wait = interval - (performance.now() - started);
      if (wait > 0 && !this.#stopped) await this.sleep(wait * (0.5 + this.#rand()));
    }
  }

  private pick(n: number): number {
    return 1 + Math.floor(this.#rand() * n);
  }

  /** One transaction of a random kind. */
  private async once(): Promise<void> {
    const s = DEMO_SCHEMA;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const r = this.#rand();
      if (r < 0.45) {
        const order = this.#nextOrder++;
        await client.query(`INSERT INTO ${s}.orders (id, customer_id, status) VALUES ($1, $2, 'open')`, [
          order,
          this.pick(60),
        ]);
        const lines = this.pick(3);
        for (let i = 0; i < lines; i++) {
          await client.query(`INSERT INTO ${s}.order_items VALUES ($1, $2, $3, $4)`, [
            this.#nextItem++,
            order,
            this.pick(PRODUCTS.length),
            this.pick(4),
          ]);
        }
        this.#ins += 1 + lines;
      } else if (r < 0.65) {
        const res = await client.query(
          `UPDATE ${s}.order_items SET quantity = 1 + (quantity % 5)
            WHERE id = (SELECT id FROM ${s}.order_items ORDER BY id OFFSET floor(random() * (SELECT count(*) FROM ${s}.order_items)) LIMIT 1)`,
        );
        this.#upd += res.rowCount ?? 0;
      } else if (r < 0.75) {
        const res = await client.query(
          `UPDATE ${s}.products SET price = greatest(1, round(price * (0.9 + random() * 0.2)::numeric, 2)) WHERE id = $1`,
          [this.pick(PRODUCTS.length)],
        );
        this.#upd += res.rowCount ?? 0;
      } else if (r < 0.85) {
        const res = await client.query(`UPDATE ${s}.customers SET country = $2 WHERE id = $1`, [
          this.pick(60),
          COUNTRIES[Math.floor(this.#rand() * COUNTRIES.length)],
        ]);
        this.#upd += res.rowCount ?? 0;
      } else if (r < 0.92) {
        const res = await client.query(
          `UPDATE ${s}.orders SET status = 'paid' WHERE id = (SELECT id FROM ${s}.orders WHERE status = 'open' ORDER BY random() LIMIT 1)`,
        );
        this.#upd += res.rowCount ?? 0;
      } else {
        // A cancelled order: its items go with it (ON DELETE CASCADE), so two sources change.
        const res = await client.query(
          `DELETE FROM ${s}.orders WHERE id = (SELECT id FROM ${s}.orders ORDER BY random() LIMIT 1)`,
        );
        this.#del += res.rowCount ?? 0;
      }
      await client.query('COMMIT');
      this.#tx++;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
