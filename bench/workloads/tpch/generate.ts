/**
 * A deterministic TPC-H-like data set, generated in SQL from a seeded PRNG (`setseed` then
 * `random()` in one session, no parallel workers): the eight tables of the TPC-H schema with its
 * keys and, approximately, its value domains (dates 1992-01-01 to 1998-12, the standard segments,
 * priorities, ship modes, part types, containers, brands, nations and regions; 1–7 line items per
 * order; a third of customers without orders). Scale: `orders` orders; the other tables scale as
 * in TPC-H (SF = orders / 1,500,000: 150,000 customers, 200,000 parts, 10,000 suppliers per SF).
 */
import type { Pool } from '../common.js';

const NATIONS: readonly [string, number][] = [
  ['ALGERIA', 0],
  ['ARGENTINA', 1],
  ['BRAZIL', 1],
  ['CANADA', 1],
  ['EGYPT', 4],
  ['ETHIOPIA', 0],
  ['FRANCE', 3],
  ['GERMANY', 3],
  ['INDIA', 2],
  ['INDONESIA', 2],
  ['IRAN', 4],
  ['IRAQ', 4],
  ['JAPAN', 2],
  ['JORDAN', 4],
  ['KENYA', 0],
  ['MOROCCO', 0],
  ['MOZAMBIQUE', 0],
  ['PERU', 1],
  ['CHINA', 2],
  ['ROMANIA', 3],
  ['SAUDI ARABIA', 4],
  ['VIETNAM', 2],
  ['RUSSIA', 3],
  ['UNITED KINGDOM', 3],
  ['UNITED STATES', 1],
];

/** Row counts for a number of orders. */
export function tpchScale(orders: number): {
  sf: number;
  customers: number;
  parts: number;
  suppliers: number;
} {
  const sf = orders / 1_500_000;
  return {
    sf,
    customers: Math.max(30, Math.round(sf * 150_000)),
    parts: Math.max(40, Math.round(sf * 200_000)),
    suppliers: Math.max(8, Math.round(sf * 10_000)),
  };
}

/** SQL arrays of the value domains. */
const A = (xs: readonly string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(',')}]`;
const pick = (arr: string) => `(${arr})[1 + floor(random() * array_length(${arr}, 1))::int]`;
const SEGMENTS = A(['AUTOMOBILE', 'BUILDING', 'FURNITURE', 'MACHINERY', 'HOUSEHOLD']);
const PRIORITIES = A(['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW']);
const MODES = A(['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB']);
const INSTRUCT = A(['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN']);
const T1 = A(['STANDARD', 'SMALL', 'MEDIUM', 'LARGE', 'ECONOMY', 'PROMO']);
const T2 = A(['ANODIZED', 'BURNISHED', 'PLATED', 'POLISHED', 'BRUSHED']);
const T3 = A(['TIN', 'NICKEL', 'BRASS', 'STEEL', 'COPPER']);
const C1 = A(['SM', 'LG', 'MED', 'JUMBO', 'WRAP']);
const C2 = A(['CASE', 'BOX', 'BAG', 'JAR', 'PKG', 'PACK', 'CAN', 'DRUM']);
const COLORS = A([
  'almond',
  'antique',
  'aquamarine',
  'azure',
  'beige',
  'bisque',
  'black',
  'blanched',
  'blue',
  'blush',
  'brown',
  'burlywood',
  'burnished',
  'chartreuse',
  'chiffon',
  'chocolate',
  'coral',
  'cornflower',
  'cornsilk',
  'cream',
  'cyan',
  'dark',
  'deep',
  'dim',
  'dodger',
  'drab',
  'firebrick',
  'floral',
  'forest',
  'frosted',
  'gainsboro',
  'ghost',
  'goldenrod',
  'green',
  'grey',
  'honeydew',
  'hot',
  'indian',
  'ivory',
  'khaki',
  'lace',
  'lavender',
  'lawn',
  'lemon',
  'light',
  'lime',
  'linen',
  'magenta',
  'maroon',
  'medium',
  'metallic',
  'midnight',
  'mint',
  'misty',
  'moccasin',
  'navajo',
  'navy',
  'olive',
  'orange',
  'orchid',
  'pale',
  'papaya',
  'peach',
  'peru',
  'pink',
  'plum',
  'powder',
  'puff',
  'purple',
  'red',
  'rose',
  'rosy',
  'royal',
  'saddle',
  'salmon',
  'sandy',
  'seashell',
  'sienna',
  'sky',
  'slate',
  'smoke',
  'snow',
  'spring',
  'steel',
  'tan',
  'thistle',
  'tomato',
  'turquoise',
  'violet',
  'wheat',
  'white',
  'yellow',
]);
const WORDS = A([
  'furiously',
  'quickly',
  'carefully',
  'blithely',
  'slyly',
  'ironic',
  'final',
  'regular',
  'express',
  'special',
  'pending',
  'bold',
  'even',
  'silent',
  'unusual',
  'requests',
  'deposits',
  'packages',
  'accounts',
  'theodolites',
  'pinto',
  'beans',
  'foxes',
  'ideas',
  'instructions',
  'dependencies',
]);
const comment = (n: number) =>
  `(SELECT string_agg(${pick(WORDS)}, ' ') FROM generate_series(1, ${n}) WHERE x IS NOT NULL)`;

/** The schema (TPC-H keys; secondary indexes on the join keys). */
export const TPCH_DDL = `
CREATE TABLE region (r_regionkey int PRIMARY KEY, r_name text NOT NULL, r_comment text NOT NULL);
CREATE TABLE nation (n_nationkey int PRIMARY KEY, n_name text NOT NULL, n_regionkey int NOT NULL, n_comment text NOT NULL);
CREATE TABLE supplier (s_suppkey int PRIMARY KEY, s_name text NOT NULL, s_address text NOT NULL, s_nationkey int NOT NULL,
  s_phone text NOT NULL, s_acctbal numeric(15,2) NOT NULL, s_comment text NOT NULL);
CREATE TABLE customer (c_custkey int PRIMARY KEY, c_name text NOT NULL, c_address text NOT NULL, c_nationkey int NOT NULL,
  c_phone text NOT NULL, c_acctbal numeric(15,2) NOT NULL, c_mktsegment text NOT NULL, c_comment text NOT NULL);
CREATE TABLE part (p_partkey int PRIMARY KEY, p_name text NOT NULL, p_mfgr text NOT NULL, p_brand text NOT NULL, p_type text NOT NULL,
  p_size int NOT NULL, p_container text NOT NULL, p_retailprice numeric(15,2) NOT NULL, p_comment text NOT NULL);
CREATE TABLE partsupp (ps_partkey int NOT NULL, ps_suppkey int NOT NULL, ps_availqty int NOT NULL, ps_supplycost numeric(15,2) NOT NULL,
  ps_comment text NOT NULL, PRIMARY KEY (ps_partkey, ps_suppkey));
CREATE TABLE orders (o_orderkey bigint PRIMARY KEY, o_custkey int NOT NULL, o_orderstatus text NOT NULL, o_totalprice numeric(15,2) NOT NULL,
  o_orderdate date NOT NULL, o_orderpriority text NOT NULL, o_clerk text NOT NULL, o_shippriority int NOT NULL, o_comment text NOT NULL);
CREATE TABLE lineitem (l_orderkey bigint NOT NULL, l_partkey int NOT NULL, l_suppkey int NOT NULL, l_linenumber int NOT NULL,
  l_quantity numeric(15,2) NOT NULL, l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL, l_tax numeric(15,2) NOT NULL,
  l_returnflag text NOT NULL, l_linestatus text NOT NULL, l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
  l_shipinstruct text NOT NULL, l_shipmode text NOT NULL, l_comment text NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber));
CREATE INDEX ON nation (n_regionkey);
CREATE INDEX ON supplier (s_nationkey);
CREATE INDEX ON customer (c_nationkey);
CREATE INDEX ON partsupp (ps_suppkey);
CREATE INDEX ON orders (o_custkey);
CREATE INDEX ON orders (o_orderdate);
CREATE INDEX ON lineitem (l_partkey, l_suppkey);
CREATE INDEX ON lineitem (l_suppkey);
CREATE INDEX ON lineitem (l_shipdate);
`;

/** Orders `from..to` (keys) and their line items, drawn from the session's PRNG. */
export function ordersSql(
  from: number,
  to: number,
  customers: number,
  parts: number,
  suppliers: number,
): string[] {
  return [
    `INSERT INTO orders
     SELECT k, c, 'O', 0, d, ${pick(PRIORITIES)}, 'Clerk#' || lpad((1 + floor(random() * 1000))::text, 9, '0'), 0,
            ${comment(6).replace('WHERE x IS NOT NULL', 'WHERE k IS NOT NULL')}
       FROM (SELECT k, (1 + 3 * floor(random() * ${Math.floor((customers - 1) / 3)}) + floor(random() * 2))::int AS c,
                    date '1992-01-01' + floor(random() * 2406)::int AS d
               FROM generate_series(${from}, ${to}) k) x`,
    `INSERT INTO lineitem
     SELECT o_orderkey, p, s, n, q, round(q * (90000 + ((p / 10) % 20001) + 100 * (p % 1000)) / 100.0, 2), disc, tax,
            CASE WHEN sd + rd <= date '1995-06-17' THEN (CASE WHEN random() < 0.5 THEN 'R' ELSE 'A' END) ELSE 'N' END,
            CASE WHEN sd > date '1995-06-17' THEN 'O' ELSE 'F' END,
            sd, o_orderdate + 30 + floor(random() * 61)::int, sd + rd, ${pick(INSTRUCT)}, ${pick(MODES)},
            ${comment(3).replace('WHERE x IS NOT NULL', 'WHERE o_orderkey IS NOT NULL')}
       FROM (SELECT o_orderkey, o_orderdate, n, p, 1 + ((p + floor(random() * 4)::int * (${suppliers} / 4 + (p - 1) / ${suppliers})) % ${suppliers}) AS s,
                    (1 + floor(random() * 50))::numeric AS q, (floor(random() * 11) / 100.0)::numeric(15,2) AS disc,
                    (floor(random() * 9) / 100.0)::numeric(15,2) AS tax,
                    o_orderdate + 1 + floor(random() * 121)::int AS sd, 1 + floor(random() * 30)::int AS rd
               FROM (SELECT o_orderkey, o_orderdate, n, 1 + floor(random() * ${parts})::int AS p
                       FROM orders, generate_series(1, 1 + floor(random() * 7 + 0 * o_orderkey)::int) n
                      WHERE o_orderkey BETWEEN ${from} AND ${to}) y) z`,
    `UPDATE orders o SET o_totalprice = t.total, o_orderstatus = t.status
       FROM (SELECT l_orderkey, round(sum(l_extendedprice * (1 + l_tax) * (1 - l_discount)), 2) AS total,
                    CASE WHEN bool_and(l_linestatus = 'F') THEN 'F' WHEN bool_and(l_linestatus = 'O') THEN 'O' ELSE 'P' END AS status
               FROM lineitem WHERE l_orderkey BETWEEN ${from} AND ${to} GROUP BY l_orderkey) t
      WHERE o.o_orderkey = t.l_orderkey`,
  ];
}

/** Creates and fills the TPC-H tables with `orders` orders (seeded, deterministic). */
export async function generateTpch(pool: Pool, orders: number): Promise<ReturnType<typeof tpchScale>> {
  const s = tpchScale(orders);
  const c = await pool.connect();
  try {
    await c.query(TPCH_DDL);
    await c.query('SET max_parallel_workers_per_gather = 0');
    await c.query('SELECT setseed(0.1992)');
    await c.query(
      `INSERT INTO region VALUES (0, 'AFRICA', 'r'), (1, 'AMERICA', 'r'), (2, 'ASIA', 'r'), (3, 'EUROPE', 'r'), (4, 'MIDDLE EAST', 'r')`,
    );
    await c.query(
      `INSERT INTO nation VALUES ${NATIONS.map(([n, r], i) => `(${i}, '${n}', ${r}, 'n')`).join(', ')}`,
    );
    await c.query(
      `INSERT INTO supplier SELECT x, 'Supplier#' || lpad(x::text, 9, '0'), 'addr ' || x, nk,
              (nk + 10) || '-' || (100 + floor(random() * 900)) || '-' || (1000 + floor(random() * 9000)),
              round((random() * 10998.99 - 999.99)::numeric, 2),
              CASE WHEN x % 97 = 5 THEN 'wake Customer slyly Complaints' WHEN x % 89 = 3 THEN 'quick Customer Recommends' ELSE ${comment(5)} END
         FROM (SELECT x, floor(random() * 25)::int AS nk FROM generate_series(1, ${s.suppliers}) x) y`,
    );
    await c.query(
      `INSERT INTO customer SELECT x, 'Customer#' || lpad(x::text, 9, '0'), 'addr ' || x, nk,
              (nk + 10) || '-' || (100 + floor(random() * 900)) || '-' || (1000 + floor(random() * 9000)),
              round((random() * 10998.99 - 999.99)::numeric, 2), ${pick(SEGMENTS)}, ${comment(6)}
         FROM (SELECT x, floor(random() * 25)::int AS nk FROM generate_series(1, ${s.customers}) x) y`,
    );
    await c.query(
      `INSERT INTO part SELECT x,
              (SELECT string_agg(${pick(COLORS)}, ' ') FROM generate_series(1, 5) WHERE x IS NOT NULL),
              'Manufacturer#' || m, 'Brand#' || m || (1 + floor(random() * 5)),
              ${pick(T1)} || ' ' || ${pick(T2)} || ' ' || ${pick(T3)}, 1 + floor(random() * 50)::int,
              ${pick(C1)} || ' ' || ${pick(C2)}, (90000 + ((x / 10) % 20001) + 100 * (x % 1000)) / 100.0, ${comment(3)}
         FROM (SELECT x, 1 + floor(random() * 5)::int AS m FROM generate_series(1, ${s.parts}) x) y`,
    );
    await c.query(
      `INSERT INTO partsupp SELECT x, 1 + ((x + i * (${s.suppliers} / 4 + (x - 1) / ${s.suppliers})) % ${s.suppliers}),
              1 + floor(random() * 9999)::int, round((1 + random() * 999)::numeric, 2), ${comment(8)}
         FROM generate_series(1, ${s.parts}) x, generate_series(0, 3) i
       ON CONFLICT DO NOTHING`,
    );
    for (let from = 1; from <= orders; from += 50_000) {
      for (const q of ordersSql(from, Math.min(orders, from + 49_999), s.customers, s.parts, s.suppliers))
        await c.query(q);
    }
    await c.query('ANALYZE');
    return s;
  } finally {
    c.release();
  }
}
