/**
 * TPC-H refresh streams: the 22 queries, each as three stream tables (DIFFERENTIAL, FULL, AUTO)
 * over the generated data set; then steps of 0.1% change to `orders` and `lineitem` (half the
 * changed orders updated — their line items' quantity, price and discount, the order's priority and
 * total —, a quarter deleted with their line items, a quarter inserted with new line items), each
 * step followed by one refresh of every table, in an order that rotates each step, each result
 * checked equal to its query. DIFFERENTIAL refused at creation is recorded with its reason; every
 * statement runs under a statement_timeout, and a query whose refresh hits it is recorded as
 * "timed out" and not refreshed again by that method.
 */
import { connect, type Trickle } from '../../../packages/client/src/index.js';
import { type BenchOptions, type BenchServer, type Pool, progress, timed, verify } from '../common.js';
import { generateTpch, ordersSql, tpchScale } from './generate.js';
import { TPCH_QUERIES } from './queries.js';

type TpchMethod = 'differential' | 'full' | 'auto';

/** One query's record. */
export interface TpchQueryResult {
  readonly query: string;
  /** null: DIFFERENTIAL was accepted; else the refusal's message. */
  refused: string | null;
  /** AUTO's mode at creation (and why, when FULL). */
  autoMode: string;
  /** Methods that hit the timeout (or failed), with the message. */
  readonly stopped: Partial<Record<TpchMethod, string>>;
  readonly samples: { step: number; method: TpchMethod; ms: number; action?: string }[];
}

function errorCode(e: unknown): string | undefined {
  for (
    let x: unknown = e;
    x instanceof Error || (typeof x === 'object' && x !== null);
    x = (x as { cause?: unknown }).cause
  ) {
    const code = (x as { code?: unknown }).code;
    if (code === '57014') return code;
    if ((x as { cause?: unknown }).cause === undefined) break;
  }
  return undefined;
}

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]?.slice(0, 300) ?? m;
}

/** One 0.1% change step (seeded by `step`); returns how many orders it inserted. */
export async function applyStep(pool: Pool, step: number, orders: number, nextKey: number): Promise<number> {
  const s = tpchScale(orders);
  const k = Math.max(3, Math.round(0.001 * orders));
  const u = Math.max(1, Math.round(k / 2));
  const d = Math.max(1, Math.round(k / 4));
  const i = Math.max(1, k - u - d);
  const c = await pool.connect();
  try {
    await c.query('SELECT setseed($1)', [((step * 37) % 101) / 101]);
    await c.query('BEGIN');
    await c.query(
      `CREATE TEMP TABLE picked ON COMMIT DROP AS SELECT o_orderkey AS k, row_number() OVER () AS rn
         FROM (SELECT o_orderkey FROM orders ORDER BY random() LIMIT ${u + d}) x`,
    );
    await c.query(`DELETE FROM lineitem WHERE l_orderkey IN (SELECT k FROM picked WHERE rn > ${u})`);
    await c.query(`DELETE FROM orders WHERE o_orderkey IN (SELECT k FROM picked WHERE rn > ${u})`);
    await c.query(
      `UPDATE lineitem SET l_quantity = 1 + (l_quantity + 7) % 50,
              l_extendedprice = round(l_extendedprice / l_quantity * (1 + (l_quantity + 7) % 50), 2),
              l_discount = (floor(random() * 11) / 100.0)
        WHERE l_orderkey IN (SELECT k FROM picked WHERE rn <= ${u})`,
    );
    await c.query(
      `UPDATE orders o SET o_orderpriority = (ARRAY['1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW'])[1 + floor(random() * 5)::int],
              o_totalprice = (SELECT round(sum(l_extendedprice * (1 + l_tax) * (1 - l_discount)), 2) FROM lineitem WHERE l_orderkey = o.o_orderkey)
        WHERE o_orderkey IN (SELECT k FROM picked WHERE rn <= ${u})`,
    );
    for (const q of ordersSql(nextKey, nextKey + i - 1, s.customers, s.parts, s.suppliers)) await c.query(q);
    await c.query('COMMIT');
  } catch (error) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    c.release();
  }
  return i;
}

export async function runTpchWorkload(
  server: BenchServer,
  o: BenchOptions,
): Promise<{
  orders: number;
  scale: ReturnType<typeof tpchScale>;
  timeoutMs: number;
  queries: TpchQueryResult[];
}> {
  const orders = Number(process.env.PGTRICKLE_BENCH_TPCH_ORDERS ?? (o.quick ? 3_000 : 100_000));
  const timeoutMs = o.quick ? 60_000 : 120_000;
  const { url, trickle: admin } = await server.database('bench_tpch');
  await admin.close();
  const t: Trickle = await connect({
    poolConfig: { connectionString: url, options: `-c statement_timeout=${timeoutMs}` },
  });
  const pool = t.db.pool;
  try {
    progress(`TPC-H: generating ${orders} orders`);
    const scale = await generateTpch(pool, orders);
    const li = await pool.query('SELECT count(*)::int AS n FROM lineitem');
    progress(`TPC-H: ${(li.rows[0] as { n: number }).n} line items; creating 3 x 22 stream tables`);
    const results: TpchQueryResult[] = [];
    for (const [name, sql] of Object.entries(TPCH_QUERIES)) {
      const r: TpchQueryResult = { query: name, refused: null, autoMode: '', stopped: {}, samples: [] };
      try {
        await t.createStreamTable({ name: `d_${name}`, query: sql, refreshMode: 'DIFFERENTIAL' });
      } catch (e) {
        r.refused = errorCode(e) ? 'timed out at creation' : message(e);
        r.stopped.differential = r.refused;
      }
      try {
        await t.createStreamTable({ name: `f_${name}`, query: sql, refreshMode: 'FULL' });
      } catch (e) {
        r.stopped.full = message(e);
      }
      try {
        const a = await t.createStreamTable({ name: `a_${name}`, query: sql, refreshMode: 'AUTO' });
        r.autoMode = a.effectiveMode + (a.modeReason ? ` (${a.modeReason})` : '');
      } catch (e) {
        r.stopped.auto = message(e);
      }
      results.push(r);
      progress(
        `  ${name}: DIFFERENTIAL ${r.refused === null ? 'accepted' : `refused: ${r.refused}`}; AUTO ${r.autoMode}`,
      );
    }
    let nextKey = orders + 1;
    const methods: TpchMethod[] = ['differential', 'full', 'auto'];
    for (let step = 0; step < o.reps; step++) {
      nextKey += await applyStep(pool, step, orders, nextKey);
      for (const r of results) {
        const order = methods.map((_, i) => methods[(i + step) % 3] as TpchMethod);
        for (const m of order) {
          if (r.stopped[m] !== undefined) continue;
          const table = `${m === 'differential' ? 'd' : m === 'full' ? 'f' : 'a'}_${r.query}`;
          try {
            const x = await timed(() => t.refresh(table));
            r.samples.push({ step, method: m, ms: x.ms, action: x.value.action });
            await verify(pool, table, TPCH_QUERIES[r.query] as string, `TPC-H ${r.query} ${m}`);
          } catch (e) {
            if (errorCode(e)) r.stopped[m] = `timed out (> ${timeoutMs / 1000} s)`;
            else if (/differs from its query/u.test(message(e))) throw e;
            else r.stopped[m] = message(e);
            progress(`  ${r.query} ${m}: ${r.stopped[m]}`);
          }
        }
      }
      progress(
        `TPC-H step ${step + 1}: ${results
          .map((r) => {
            const s = r.samples.filter((x) => x.step === step);
            const d = s.find((x) => x.method === 'differential');
            const f = s.find((x) => x.method === 'full');
            return `${r.query} ${d ? d.ms.toFixed(0) : '-'}/${f ? f.ms.toFixed(0) : '-'}`;
          })
          .join(' ')}`,
      );
    }
    return { orders, scale, timeoutMs, queries: results };
  } finally {
    await t.close();
  }
}
