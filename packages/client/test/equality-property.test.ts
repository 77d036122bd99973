/**
 * fast-check: equality by the types' own `=` under random DML. A keyed table and a keyless table
 * hold values of many types, drawn from small pools full of values that are equal but written
 * differently (numeric 1 / 1.0 / 1.00, float8 −0 / 0 and full-precision values, bpchar trailing
 * spaces, text under a case-insensitive nondeterministic ICU collation, jsonb 2 / 2.0 and
 * structurally different documents with the same scalars, numeric arrays {3} / {3.0}, timestamptz
 * instants written in several time zones, ranges written with other bounds, numeric ranges
 * that differ only in a sign or in NaN / Infinity, an enum, a domain over numeric, a composite
 * holding a numeric, NULL or a row of NULLs). Random inserts, updates and deletes, then a DIFFERENTIAL refresh: every stream
 * table (DISTINCT and GROUP BY over each column, the keyless table itself, DISTINCT over two of
 * its columns) must equal its query after every batch.
 * Arrays include explicit lower bounds ('[0:0]={3}' is not '{3}'). json has no equality, so it
 * cannot be grouped: its exact read-back is checked by capture-values.test.ts.
 */
import { expectNoNegativeCounts, expectTableEqualsQuery } from '@pgtrickle/testkit';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

/** Column → [SQL type, pool of SQL literals]. Literals are ours (constants), never user input. */
const POOLS: Record<string, readonly [string, readonly string[]]> = {
  num: ['numeric', ['1', '1.0', '1.00', '2.5', '2.50', '-0', '0.000', '100', '1e2', 'NULL', "'NaN'"]],
  flt: [
    'double precision',
    ["'0.30000000000000004'", '0.3', "'-0'", '0', "'1e-300'", "'NaN'", "'Infinity'", 'NULL', "'0.1'"],
  ],
  bp: ['bpchar', ["'a'", "'a '", "'a   '", "'b'", "'b  '", "''", "' '", 'NULL']],
  ci: ['text COLLATE {s}.ci', ["'Red'", "'red'", "'RED'", "'blue'", "'Blue'", "'rEd'", 'NULL']],
  jb: [
    'jsonb',
    [
      `'{"p":2}'`,
      `'{"p":2.0}'`,
      `'{"p":2.00, "q":[1]}'`,
      `'{"q":[1.0], "p":2}'`,
      `'[1,[2]]'`,
      `'[[1],2]'`,
      `'{}'`,
      `'[]'`,
      `'1'`,
      `'[1]'`,
      'NULL',
    ],
  ],
  arr: [
    'numeric[]',
    [
      "'{3}'",
      "'{3.0}'",
      "'{1,3}'",
      "'{1.0,3.00}'",
      "'{}'",
      "'{NULL}'",
      "'{{3}}'",
      "'[0:0]={3}'",
      "'[2:3]={1,3.0}'",
      'NULL',
    ],
  ],
  at: [
    'timestamptz',
    [
      "'2026-01-01 10:00:00+09'",
      "'2026-01-01 01:00:00+00'",
      "'2025-12-31 20:00:00-05'",
      "'2026-01-01 23:30:00+00'",
      "'2026-01-02 08:30:00+09'",
      "'2026-01-01 15:00:00 America/New_York'",
      'NULL',
    ],
  ],
  rng: ['int4range', ["'[1,3)'", "'[1,2]'", "'(0,2]'", "'empty'", "'[5,5)'", "'[2,4)'", 'NULL']],
  nrng: [
    'numrange',
    [
      "'[1,2)'",
      "'[1.0,2.00)'",
      "'(0.5,1]'",
      "'(0.50,1.0]'",
      "'[-3,2)'",
      "'[-3,-2)'",
      "'[1,NaN)'",
      "'[1,Infinity)'",
      'NULL',
    ],
  ],
  mood: ['{s}.mood', ["'sad'", "'ok'", "'happy'", 'NULL']],
  dom: ['{s}.amount', ['1', '1.0', '-1', '7.50', '7.5', '-7.5', '0', '-0.00', 'NULL']],
  cmp: [
    '{s}.pair',
    ["ROW(1, 'x')", "ROW(1.0, 'x')", "ROW(-1, 'x')", "ROW(-1.00, 'x')", 'ROW(NULL, NULL)', 'NULL'],
  ],
};
const COLS = Object.keys(POOLS);

type Row = Record<string, string>;
type Op =
  | { kind: 'insert'; keyed: boolean; id: number; row: Row }
  | { kind: 'update'; keyed: boolean; id: number; col: string; value: string }
  | { kind: 'delete'; keyed: boolean; id: number };

const rowArb: fc.Arbitrary<Row> = fc.record(
  Object.fromEntries(COLS.map((c) => [c, fc.constantFrom(...(POOLS[c] as readonly [string, string[]])[1])])),
);
const idArb = fc.integer({ min: 1, max: 12 });
const keyed = fc.boolean();
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), keyed, id: idArb, row: rowArb }),
  fc.constantFrom(...COLS).chain((col) =>
    fc.record({
      kind: fc.constant('update' as const),
      keyed,
      id: idArb,
      col: fc.constant(col),
      value: fc.constantFrom(...(POOLS[col] as readonly [string, string[]])[1]),
    }),
  ),
  fc.record({ kind: fc.constant('delete' as const), keyed, id: idArb }),
);

function values(row: Row, schema: string): string {
  return COLS.map(
    (c) =>
      `${row[c]}::${(POOLS[c] as readonly [string, string[]])[0].replace(' COLLATE {s}.ci', '').replaceAll('{s}', schema)}`,
  ).join(', ');
}

async function apply(schema: string, o: Op): Promise<void> {
  const t = `${schema}.${o.keyed ? 't' : 'u'}`;
  switch (o.kind) {
    case 'insert':
      if (o.keyed) {
        await db.query(`DELETE FROM ${t} WHERE id = ${o.id}`);
      }
      await db.query(`INSERT INTO ${t} (id, ${COLS.join(', ')}) VALUES (${o.id}, ${values(o.row, schema)})`);
      break;
    case 'update': {
      const type = (POOLS[o.col] as readonly [string, string[]])[0]
        .replace(' COLLATE {s}.ci', '')
        .replaceAll('{s}', schema);
      await db.query(`UPDATE ${t} SET ${o.col} = ${o.value}::${type} WHERE id = ${o.id}`);
      break;
    }
    case 'delete':
      // Keyless: one copy only (by ctid), duplicates stay.
      await db.query(
        o.keyed
          ? `DELETE FROM ${t} WHERE id = ${o.id}`
          : `DELETE FROM ${t} WHERE ctid = (SELECT min(ctid) FROM ${t} WHERE id = ${o.id})`,
      );
      break;
  }
}

function queries(schema: string): Record<string, string> {
  const q: Record<string, string> = {};
  for (const c of COLS) {
    q[`d_${c}`] = `SELECT DISTINCT ${c} FROM ${schema}.t`;
    q[`g_${c}`] = `SELECT ${c}, count(*) AS n, sum(id) AS ids FROM ${schema}.t GROUP BY ${c}`;
  }
  q.keyless = `SELECT * FROM ${schema}.u`;
  q.keyless_distinct = `SELECT DISTINCT ci, jb, num FROM ${schema}.u`;
  q.keyless_groups = `SELECT bp, arr, rng, count(*) AS n FROM ${schema}.u GROUP BY bp, arr, rng`;
  q.days = `SELECT date_trunc('day', at) AS d, at::date AS day, count(*) AS n FROM ${schema}.t GROUP BY 1, 2`;
  return q;
}

let run = 0;

describe('equality of values written differently, under random DML', () => {
  it('keeps DISTINCT, GROUP BY and keyless stream tables equal to their queries (DIFFERENTIAL)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 3, maxLength: 10 }),
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        async (initial, batches) => {
          const schema = `eqp_${++run}`;
          const defs = COLS.map(
            (c) => `${c} ${(POOLS[c] as readonly [string, string[]])[0].replaceAll('{s}', schema)}`,
          ).join(', ');
          await db.query(`CREATE SCHEMA ${schema};
            CREATE COLLATION ${schema}.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE TYPE ${schema}.mood AS ENUM ('sad', 'ok', 'happy');
            CREATE DOMAIN ${schema}.amount AS numeric CHECK (VALUE > -100);
            CREATE TYPE ${schema}.pair AS (a numeric, t text);
            CREATE TABLE ${schema}.t (id int PRIMARY KEY, ${defs});
            CREATE TABLE ${schema}.u (id int, ${defs})`);
          for (const [i, row] of initial.entries()) {
            await db.query(
              `INSERT INTO ${schema}.t (id, ${COLS.join(', ')}) VALUES (${i + 1}, ${values(row, schema)})`,
            );
            await db.query(
              `INSERT INTO ${schema}.u (id, ${COLS.join(', ')}) VALUES (${(i % 4) + 1}, ${values(row, schema)})`,
            );
          }
          const qs = queries(schema);
          for (const [name, query] of Object.entries(qs)) {
            await trickle().createStreamTable({
              name: `${schema}.${name}`,
              query,
              refreshMode: 'DIFFERENTIAL',
            });
            await expectTableEqualsQuery(db, `${schema}.${name}`, query);
          }
          for (const batch of batches) {
            for (const o of batch) await apply(schema, o);
            for (const [name, query] of Object.entries(qs)) {
              await trickle().refresh(`${schema}.${name}`);
              await expectTableEqualsQuery(db, `${schema}.${name}`, query);
              await expectNoNegativeCounts(db, `${schema}.${name}`);
            }
          }
          for (const name of Object.keys(qs)) await trickle().dropStreamTable(`${schema}.${name}`);
          await db.query(`DROP SCHEMA ${schema} CASCADE`);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 6), endOnFailure: true },
    );
  }, 900_000);
});
