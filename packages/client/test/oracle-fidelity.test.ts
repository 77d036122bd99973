/**
 * The oracle suite, fidelity part: "nothing missed, nothing altered". Each scenario runs through
 * the public API in FULL, DIFFERENTIAL and AUTO like the main oracle suite (the stream table must
 * equal its query after creation and after every step, and a forced FULL refresh changes
 * nothing), with three extras:
 * - `upstream`: stream tables created first (DIFFERENTIAL, so their storage has hidden state
 *   columns) and refreshed before the table under test, for queries over stream tables;
 * - `oracle`: the query the table is compared with when the defining query, run by an outside
 *   reader, would not mean the same (a `SELECT *` over a stream table, whose storage table also
 *   has hidden columns);
 * - `refuse`: modes in which creation must fail with a coded error naming the construct (AUTO then
 *   falls back to FULL unless it is listed too).
 * `{s}` in the SQL is the scenario × mode's own schema.
 */
import { expectNoNegativeCounts, expectTableEqualsQuery } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

type Mode = 'FULL' | 'DIFFERENTIAL' | 'AUTO';

interface Refusal {
  readonly code: string;
  /** A fragment the message must contain (the construct or the relation it names). */
  readonly names: string;
}

interface Scenario {
  readonly name: string;
  readonly setup: string;
  readonly upstream?: readonly { readonly name: string; readonly query: string }[];
  readonly query: string;
  readonly oracle?: string;
  readonly steps: readonly string[];
  readonly refuse?: Partial<Record<Mode, Refusal>>;
  /** The modes to run (default all three), for sources only some modes can read. */
  readonly modes?: readonly Mode[];
}

const SHOP = `
  CREATE TABLE {s}.customers (id int PRIMARY KEY, name text, tier text, country text);
  CREATE TABLE {s}.orders (id int PRIMARY KEY, customer_id int, amount numeric(10,2), status text);
  INSERT INTO {s}.customers VALUES (1, 'ann', 'gold', 'fr'), (2, 'bob', NULL, 'de'), (3, 'cy', 'silver', 'fr');
  INSERT INTO {s}.orders VALUES (10, 1, 100.50, 'paid'), (11, 1, 20, 'open'), (12, 2, NULL, 'paid'),
    (13, 3, 75, 'paid'), (14, 9, 5, 'open'), (15, 3, 75, 'refunded');
`;

const SHOP_STEPS = [
  `INSERT INTO {s}.orders VALUES (16, 2, 300, 'open'), (17, 2, 1, 'aaa')`,
  `UPDATE {s}.orders SET amount = amount * 2 WHERE status = 'paid'; UPDATE {s}.customers SET tier = 'gold' WHERE id = 2`,
  `DELETE FROM {s}.orders WHERE id IN (17, 14); UPDATE {s}.orders SET status = 'open' WHERE id = 13`,
  `DELETE FROM {s}.customers WHERE id = 1; INSERT INTO {s}.customers VALUES (4, 'dee', NULL, NULL)`,
];

const shop = (name: string, query: string, extra: Partial<Scenario> = {}): Scenario => ({
  name,
  setup: SHOP,
  query,
  steps: SHOP_STEPS,
  ...extra,
});

const DOCS = `
  CREATE TABLE {s}.docs (id int PRIMARY KEY, body jsonb);
  INSERT INTO {s}.docs VALUES
    (1, '{"a": 1, "b": true, "tags": ["x", "y"], "items": [{"n": 1, "l": "one"}, {"n": 2, "l": "two"}]}'),
    (2, '{"a": "7", "tags": "solo", "items": []}'),
    (3, '{"items": [{"n": 3}]}'), (4, NULL), (5, '[1, 2]');
`;

const DOCS_STEPS = [
  `INSERT INTO {s}.docs VALUES (6, '{"a": 6, "b": null, "items": [{"n": 6, "l": "six"}]}')`,
  `UPDATE {s}.docs SET body = jsonb_set(body, '{a}', '42') WHERE id IN (1, 3)`,
  `DELETE FROM {s}.docs WHERE id = 2; UPDATE {s}.docs SET body = '{"b": 1}' WHERE id = 4`,
];

const docs = (name: string, query: string, extra: Partial<Scenario> = {}): Scenario => ({
  name,
  setup: DOCS,
  query,
  steps: DOCS_STEPS,
  ...extra,
});

const LONG_A = `orders_with_a_deliberately_long_name_for_truncation_aaaa_1`;
const LONG_B = `orders_with_a_deliberately_long_name_for_truncation_aaaa_2`;

const SCENARIOS: Scenario[] = [
  // the printer: what reaches PostgreSQL means what the user wrote
  shop(
    'FETCH FIRST … WITH TIES keeps the ties',
    'SELECT id, status, amount FROM {s}.orders ORDER BY status FETCH FIRST 1 ROWS WITH TIES',
  ),
  shop(
    'GROUP BY DISTINCT drops duplicate grouping sets',
    'SELECT status, customer_id, count(*) AS n FROM {s}.orders GROUP BY DISTINCT ROLLUP (status, customer_id), ROLLUP (status)',
  ),
  {
    name: 'GROUP BY DISTINCT over a recursive CTE',
    setup: `CREATE TABLE {s}.edges (src int, dst int, PRIMARY KEY (src, dst)); INSERT INTO {s}.edges VALUES (1, 2), (2, 3), (3, 4), (5, 6)`,
    query:
      'WITH RECURSIVE reach(a, b) AS (SELECT src, dst FROM {s}.edges UNION SELECT r.a, e.dst FROM reach r JOIN {s}.edges e ON e.src = r.b) SELECT a, count(*) AS n FROM reach GROUP BY DISTINCT ROLLUP (a), ROLLUP (a)',
    steps: [`INSERT INTO {s}.edges VALUES (4, 5)`, `DELETE FROM {s}.edges WHERE src = 2`],
  },
  {
    name: 'GROUP BY DISTINCT inside a recursive CTE',
    setup: `CREATE TABLE {s}.edges (src int, dst int, PRIMARY KEY (src, dst)); INSERT INTO {s}.edges VALUES (1, 2), (2, 3), (3, 4), (5, 6)`,
    query:
      'WITH RECURSIVE r(a, n, d) AS (SELECT src, count(*), 0 FROM {s}.edges GROUP BY DISTINCT ROLLUP (src), ROLLUP (src) UNION ALL SELECT r.a, r.n, r.d + 1 FROM r WHERE r.d < 2) SELECT a, n, d FROM r',
    steps: [`INSERT INTO {s}.edges VALUES (4, 5)`, `DELETE FROM {s}.edges WHERE src = 2`],
  },
  docs(
    'JSON_VALUE, JSON_QUERY and JSON_EXISTS',
    `SELECT id, JSON_VALUE(body, '$.a' RETURNING int DEFAULT -1 ON ERROR) AS a,
            JSON_QUERY(body, '$.tags' WITH CONDITIONAL WRAPPER) AS tags,
            JSON_QUERY(body, '$.missing' EMPTY ARRAY ON EMPTY) AS missing,
            JSON_EXISTS(body, '$.b') AS has_b
       FROM {s}.docs`,
  ),
  docs(
    'JSON_TABLE (DIFFERENTIAL refuses it: no incremental rule)',
    `SELECT d.id, jt.ord, jt.n, jt.label FROM {s}.docs d,
       JSON_TABLE(d.body, '$.items[*]' COLUMNS (ord FOR ORDINALITY, n int PATH '$.n', label text PATH '$.l' DEFAULT 'none' ON EMPTY)) AS jt`,
    { refuse: { DIFFERENTIAL: { code: 'PGT_UNSUPPORTED', names: 'JSON_TABLE' } } },
  ),
  docs(
    'SQL/JSON constructors and IS JSON',
    `SELECT id, JSON_OBJECT('id': id, 'a': body -> 'a' ABSENT ON NULL) AS obj, JSON_ARRAY(id, body -> 'b') AS arr,
            body IS JSON OBJECT AS is_obj, (body ->> 'a') IS JSON SCALAR AS a_scalar FROM {s}.docs`,
  ),
  docs(
    'JSON_ARRAYAGG and JSON_OBJECTAGG',
    `SELECT (body ->> 'a') IS NULL AS no_a, JSON_ARRAYAGG(id ORDER BY id) AS ids,
            JSON_OBJECTAGG(id::text : id * 2) AS doubled FROM {s}.docs GROUP BY 1`,
    { refuse: { DIFFERENTIAL: { code: 'PGT_UNSUPPORTED', names: 'JSON_ARRAYAGG' } } },
  ),
  // generated names stay distinct after PostgreSQL's 63-byte truncation
  {
    name: 'two 58-character source names differing at the end',
    setup: `CREATE TABLE {s}.${LONG_A} (id int PRIMARY KEY, v int); CREATE TABLE {s}.${LONG_B} (id int PRIMARY KEY, w int);
            INSERT INTO {s}.${LONG_A} VALUES (1, 10), (2, 20), (3, 30); INSERT INTO {s}.${LONG_B} VALUES (1, 100), (3, 300), (4, 400)`,
    query: `SELECT a.id, a.v, b.w FROM {s}.${LONG_A} a JOIN {s}.${LONG_B} b ON b.id = a.id`,
    steps: [
      `INSERT INTO {s}.${LONG_A} VALUES (4, 40); UPDATE {s}.${LONG_B} SET w = w + 1 WHERE id = 1`,
      `DELETE FROM {s}.${LONG_A} WHERE id = 3; INSERT INTO {s}.${LONG_B} VALUES (2, 200)`,
    ],
  },
  // stream tables as sources: only their visible columns exist for a defining query
  shop('SELECT * over an aggregate stream table', 'SELECT * FROM {s}.totals', {
    upstream: [
      {
        name: 'totals',
        query: 'SELECT customer_id, count(*) AS n, sum(amount) AS total FROM {s}.orders GROUP BY customer_id',
      },
    ],
    oracle: 'SELECT customer_id, n, total FROM {s}.totals',
  }),
  shop('NATURAL JOIN with a stream table', 'SELECT * FROM {s}.totals NATURAL JOIN {s}.orders', {
    upstream: [
      {
        name: 'totals',
        query: 'SELECT customer_id, count(*) AS n FROM {s}.orders GROUP BY customer_id',
      },
    ],
    oracle:
      'SELECT o.customer_id, t.n, o.id, o.amount, o.status FROM {s}.totals t JOIN {s}.orders o ON o.customer_id = t.customer_id',
  }),
  shop(
    't.* of a stream table in a join, and SELECT * through a subquery',
    'SELECT t.*, o.id FROM (SELECT * FROM {s}.totals) t JOIN {s}.orders o USING (customer_id)',
    {
      upstream: [
        {
          name: 'totals',
          query: 'SELECT customer_id, count(*) AS n, max(amount) AS top FROM {s}.orders GROUP BY customer_id',
        },
      ],
      oracle:
        'SELECT t.customer_id, t.n, t.top, o.id FROM {s}.totals t JOIN {s}.orders o ON o.customer_id = t.customer_id',
    },
  ),
  shop(
    'TABLE and a CTE over a stream table with a quoted name',
    'WITH x AS (TABLE {s}."Totals") SELECT * FROM x',
    {
      upstream: [
        {
          name: '"Totals"',
          query: 'SELECT customer_id, count(*) AS n FROM {s}.orders GROUP BY customer_id',
        },
      ],
      oracle: 'SELECT customer_id, n FROM {s}."Totals"',
    },
  ),
  shop(
    'whole-row references to a stream table',
    'SELECT t.*, row_to_json(t)::text AS js, (t.*)::text AS whole FROM {s}.paid t',
    {
      upstream: [{ name: 'paid', query: `SELECT DISTINCT customer_id, status FROM {s}.orders` }],
      oracle: `SELECT t.*, row_to_json(t)::text AS js, (t.*)::text AS whole
                 FROM (SELECT customer_id, status FROM {s}.paid) t`,
      refuse: { DIFFERENTIAL: { code: 'PGT_UNSUPPORTED', names: 'whole-row reference' } },
    },
  ),
  // coded refusals instead of wrong results or misleading errors
  shop('a system column in an expression', 'SELECT id, xmin::text AS version FROM {s}.orders', {
    refuse: { DIFFERENTIAL: { code: 'PGT_UNSUPPORTED', names: 'the system column xmin' } },
  }),
  shop('a system column of a stream table', 'SELECT customer_id, xmin::text AS version FROM {s}.totals', {
    upstream: [
      { name: 'totals', query: 'SELECT customer_id, count(*) AS n FROM {s}.orders GROUP BY customer_id' },
    ],
    refuse: {
      FULL: { code: 'PGT_UNSUPPORTED', names: 'the system column xmin of a stream table' },
      DIFFERENTIAL: { code: 'PGT_UNSUPPORTED', names: 'the system column xmin' },
      AUTO: { code: 'PGT_UNSUPPORTED', names: 'the system column xmin of a stream table' },
    },
  }),
  shop('an output column named like a system column', 'SELECT id, ctid FROM {s}.orders', {
    refuse: {
      FULL: { code: 'PGT_UNSUPPORTED', names: 'ctid' },
      DIFFERENTIAL: { code: 'PGT_UNSUPPORTED', names: 'ctid' },
      AUTO: { code: 'PGT_UNSUPPORTED', names: 'ctid' },
    },
  }),
  shop('a materialized view as a source (FULL reads it as last refreshed)', 'SELECT id, amount FROM {s}.mv', {
    setup: `${SHOP} CREATE MATERIALIZED VIEW {s}.mv AS SELECT id, amount FROM {s}.orders`,
    steps: [...SHOP_STEPS.map((step) => `${step}; REFRESH MATERIALIZED VIEW {s}.mv`)],
    refuse: {
      DIFFERENTIAL: {
        code: 'PGT_UNSUPPORTED',
        names: 'materialized view as of its last REFRESH MATERIALIZED VIEW',
      },
    },
  }),
  {
    name: 'a foreign table as a source',
    setup: `CREATE FOREIGN DATA WRAPPER fidelity_fdw; CREATE SERVER fidelity_srv FOREIGN DATA WRAPPER fidelity_fdw;
            CREATE FOREIGN TABLE {s}.remote (id int, v text) SERVER fidelity_srv`,
    query: 'SELECT id, v FROM {s}.remote',
    steps: [],
    modes: ['DIFFERENTIAL'],
    refuse: { DIFFERENTIAL: { code: 'PGT_UNSUPPORTED', names: 'a FULL refresh reads the foreign table' } },
  },
];

const MODES: readonly Mode[] = ['FULL', 'DIFFERENTIAL', 'AUTO'];

describe('oracle suite: fidelity', () => {
  SCENARIOS.forEach((scenario, index) => {
    describe(scenario.name, () => {
      for (const mode of scenario.modes ?? MODES) {
        it(`stays equal to its query in ${mode}`, async () => {
          const schema = `f${index}_${mode.toLowerCase()}`;
          const sub = (sql: string) => sql.replaceAll('{s}', `"${schema}"`);
          await db.query(`CREATE SCHEMA "${schema}"`);
          await db.query(sub(scenario.setup));
          const upstream: string[] = [];
          for (const up of scenario.upstream ?? []) {
            const name = `"${schema}".${up.name}`;
            // DIFFERENTIAL upstreams keep hidden state columns (counts, sums) next to the row id.
            await trickle().createStreamTable({ name, query: sub(up.query), refreshMode: 'DIFFERENTIAL' });
            upstream.push(name);
          }
          const query = sub(scenario.query);
          const oracle = sub(scenario.oracle ?? scenario.query);
          const st = `"${schema}".st`;
          const refusal = scenario.refuse?.[mode];
          if (refusal !== undefined) {
            const error = await trickle()
              .createStreamTable({ name: st, query, refreshMode: mode })
              .then(
                () => null,
                (e: unknown) => e as { code?: unknown; message?: unknown },
              );
            expect(error?.code).toBe(refusal.code);
            expect(String(error?.message)).toContain(refusal.names);
            return;
          }
          const created = await trickle().createStreamTable({ name: st, query, refreshMode: mode });
          if (mode !== 'AUTO') expect(created.effectiveMode).toBe(mode);
          else if (scenario.refuse?.DIFFERENTIAL !== undefined) expect(created.effectiveMode).toBe('FULL');
          await expectTableEqualsQuery(db, st, oracle);
          for (const step of scenario.steps) {
            await db.query(sub(step));
            for (const up of upstream) await trickle().refresh(up);
            await trickle().refresh(st);
            await expectTableEqualsQuery(db, st, oracle);
            await expectNoNegativeCounts(db, st);
          }
          const full = await trickle().refresh(st, { action: 'FULL' });
          expect(full.action).toBe('FULL');
          await expectTableEqualsQuery(db, st, oracle);
          await trickle().dropStreamTable(st);
        }, 120_000);
      }
    });
  });
});

describe('oracle suite: fidelity — a storage table dropped behind pgtrickle', () => {
  for (const mode of MODES) {
    it(`puts the stream table in ERROR with PGT_STORAGE_MISSING, and drop still works, in ${mode}`, async () => {
      const schema = `gone_${mode.toLowerCase()}`;
      await db.query(`CREATE SCHEMA ${schema}; ${SHOP.replaceAll('{s}', schema)}`);
      const st = `${schema}.st`;
      await trickle().createStreamTable({
        name: st,
        query: `SELECT customer_id, count(*) AS n FROM ${schema}.orders GROUP BY customer_id`,
        refreshMode: mode,
      });
      // The storage (and with it the view of the name, which reads it).
      await db.query(`DROP TABLE ${schema}.st__pgt_storage CASCADE`);
      const before = (await trickle().status()).find((s) => s.name === st);
      expect(before?.storageMissing).toBe(true);
      // A table created again under the name is the user's, not the storage.
      await db.query(`CREATE TABLE ${st} (x int); INSERT INTO ${st} VALUES (1)`);
      await db.query(`INSERT INTO ${schema}.orders VALUES (99, 1, 1, 'paid')`);
      const error = await trickle()
        .refresh(st)
        .then(
          () => null,
          (e: unknown) => e as { code?: unknown; message?: unknown },
        );
      expect(error?.code).toBe('PGT_STORAGE_MISSING');
      expect(String(error?.message)).toContain(`pgtrickle drop ${st}`);
      expect(String(error?.message)).toContain(`pgtrickle.drop_stream_table('${st}')`);
      const after = (await trickle().status()).find((s) => s.name === st);
      expect(after?.status).toBe('ERROR');
      expect(after?.lastError).toContain('no longer exists');
      await trickle().dropStreamTable(st);
      expect((await trickle().status()).some((s) => s.name === st)).toBe(false);
      const kept = await db.query(`SELECT x FROM ${st}`);
      expect(kept.rows).toEqual([{ x: 1 }]);
    }, 120_000);
  }
});
