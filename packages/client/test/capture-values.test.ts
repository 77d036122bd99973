/**
 * fast-check: values of many types — jsonb (null, numbers of any scale), json text, arrays with
 * lower bounds, numeric scales and specials, float8 at full precision (NaN, ±Infinity, -0,
 * subnormals), bpchar, text under an ICU collation, timestamptz, intervals, ranges, enums, domains,
 * bytea — inserted, updated and deleted by writers whose sessions use other TimeZone, DateStyle,
 * IntervalStyle and extra_float_digits settings, through a keyed and a keyless source. After every
 * refresh the DIFFERENTIAL stream tables equal their queries, which print every value as text
 * (so a value that came back different in any way is caught), in both capture formats.
 */
import { SOURCE_DDL_EVENT_TRIGGER } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import fc from 'fast-check';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

const COLUMNS = ['jb', 'js', 'arr', 'num', 'f', 'bp', 'tx', 'ts', 'iv', 'rg', 'en', 'dm', 'by'] as const;
type Column = (typeof COLUMNS)[number];
type Row = Record<Column, string | null>;

const nullable = (a: fc.Arbitrary<string>) => fc.option(a, { nil: null, freq: 6 });
const jsonText = fc.oneof(
  fc.constantFrom(
    'null',
    '{"p": 2.0}',
    '{"p":2}',
    '[1, 2.50, null]',
    '"s"',
    '{ "a" :  [1,  {"b" : null}] }',
    '1e2',
  ),
  fc.json({ maxDepth: 2 }).filter((s) => !s.includes('\\u0000')),
);
const values: { readonly [C in Column]: fc.Arbitrary<string | null> } = {
  jb: nullable(jsonText),
  js: nullable(jsonText),
  arr: nullable(
    fc
      .tuple(
        fc.integer({ min: -3, max: 3 }),
        fc.array(fc.integer({ min: -9, max: 9 }), { minLength: 1, maxLength: 3 }),
      )
      .map(([lo, xs]) => `[${lo}:${lo + xs.length - 1}]={${xs.join(',')}}`),
  ),
  num: nullable(
    fc.constantFrom('2', '2.0', '2.000', '-0.001', 'NaN', 'Infinity', '1e-20', '123456789.123456789'),
  ),
  f: nullable(
    fc.oneof(
      fc.double().map((x) => (Number.isNaN(x) ? 'NaN' : Object.is(x, -0) ? '-0' : String(x))),
      fc.constantFrom('0.30000000000000004', '5e-324', '-Infinity', '1.7976931348623157e308'),
    ),
  ),
  bp: nullable(fc.constantFrom('ab', 'ab   ', 'x', '', 'abcde')),
  tx: nullable(fc.constantFrom('apple', 'Apple', 'Zebra', 'éclair', 'Eclair', 'straße', '')),
  ts: nullable(
    fc
      .date({
        min: new Date('1900-01-01T00:00:00Z'),
        max: new Date('2100-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
  ),
  iv: nullable(
    fc.constantFrom('1 day', '24 hours', '1 mon -2 days 03:00:00.5', '-1 year', 'P1Y2M3DT4H5M6.5S'),
  ),
  rg: nullable(fc.constantFrom('[1,5)', 'empty', '(,3]', '[2,2]', '(0,)')),
  en: nullable(fc.constantFrom('low', 'mid', 'high')),
  dm: nullable(fc.constantFrom('0', '1.5', '1.50', '9999.99')),
  by: nullable(fc.uint8Array({ maxLength: 4 }).map((b) => `\\x${Buffer.from(b).toString('hex')}`)),
};
const row: fc.Arbitrary<Row> = fc.record(values);

/** A writer's session settings (output and input styles the capture must not depend on). */
const session = fc.record({
  TimeZone: fc.constantFrom('UTC', 'Asia/Tokyo', 'America/St_Johns'),
  DateStyle: fc.constantFrom('ISO, MDY', 'SQL, DMY', 'German', 'Postgres, YMD'),
  IntervalStyle: fc.constantFrom('postgres', 'sql_standard', 'postgres_verbose', 'iso_8601'),
  extra_float_digits: fc.constantFrom('-15', '0', '1', '3'),
});

type Op =
  | { kind: 'insert'; id: number; row: Row }
  | { kind: 'update'; id: number; column: Column; value: string | null }
  | { kind: 'delete'; id: number };

const id = fc.integer({ min: 1, max: 8 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), id, row }),
  fc.constantFrom(...COLUMNS).chain((column) =>
    fc.record({
      kind: fc.constant('update' as const),
      id,
      column: fc.constant(column),
      value: values[column],
    }),
  ),
  fc.record({ kind: fc.constant('delete' as const), id }),
);
const batch = fc.record({ session, ops: fc.array(op, { minLength: 1, maxLength: 4 }) });

const TYPES: Record<Column, string> = {
  jb: 'jsonb',
  js: 'json',
  arr: 'int[]',
  num: 'numeric',
  f: 'float8',
  bp: 'char(5)',
  tx: 'text COLLATE "und-x-icu"',
  ts: 'timestamptz',
  iv: 'interval',
  rg: 'int4range',
  en: 'public.mood',
  dm: 'public.money2',
  by: 'bytea',
};
/** The type a parameter is cast to (a collation is the column's business). */
const cast = (c: Column) => TYPES[c].replace(/ COLLATE .*/, '');

/** Every column as text, so any difference in a value shows (the oracle's equality is the text's). */
const printed = COLUMNS.map((c) => `${c}::text AS ${c}`).join(', ');

async function apply(client: pg.PoolClient, schema: string, o: Op): Promise<void> {
  const keyed = `"${schema}".keyed`;
  const keyless = `"${schema}".keyless`;
  switch (o.kind) {
    case 'insert': {
      const cols = COLUMNS.join(', ');
      const params = COLUMNS.map((c, i) => `$${i + 2}::${cast(c)}`).join(', ');
      const args = [o.id, ...COLUMNS.map((c) => o.row[c])];
      await client.query(
        `INSERT INTO ${keyed} (id, ${cols}) VALUES ($1, ${params}) ON CONFLICT (id) DO UPDATE SET ${COLUMNS.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`,
        args,
      );
      await client.query(`INSERT INTO ${keyless} (id, ${cols}) VALUES ($1, ${params})`, args);
      break;
    }
    case 'update': {
      const t = cast(o.column);
      await client.query(`UPDATE ${keyed} SET ${o.column} = $2::${t} WHERE id = $1`, [o.id, o.value]);
      await client.query(`UPDATE ${keyless} SET ${o.column} = $2::${t} WHERE id = $1`, [o.id, o.value]);
      break;
    }
    case 'delete':
      await client.query(`DELETE FROM ${keyed} WHERE id = $1`, [o.id]);
      await client.query(
        `DELETE FROM ${keyless} WHERE ctid = (SELECT min(ctid) FROM ${keyless} WHERE id = $1)`,
        [o.id],
      );
      break;
  }
}

let run = 0;

async function property(format: 'typed' | 'text'): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(batch, { minLength: 1, maxLength: 4 }), async (batches) => {
      const schema = `cv_${format}_${run++}`;
      await db.query(`CREATE SCHEMA "${schema}"`);
      const defs = COLUMNS.map((c) => `${c} ${TYPES[c]}`).join(', ');
      await db.query(`CREATE TABLE "${schema}".keyed (id int PRIMARY KEY, ${defs});
        CREATE TABLE "${schema}".keyless (id int, ${defs})`);
      const queries = {
        keyed: `SELECT id, ${printed} FROM "${schema}".keyed`,
        keyless: `SELECT id, ${printed} FROM "${schema}".keyless`,
      };
      for (const [name, query] of Object.entries(queries)) {
        await trickle().createStreamTable({
          name: `"${schema}".st_${name}`,
          query,
          refreshMode: 'DIFFERENTIAL',
        });
      }
      const fmt = await db.query(
        `SELECT DISTINCT format FROM pgtrickle_changes.capture_state WHERE source_oid IN ('"${schema}".keyed'::regclass, '"${schema}".keyless'::regclass)`,
      );
      expect(fmt.rows).toEqual([{ format }]);
      for (const b of batches) {
        const client = await db.pool.connect();
        try {
          for (const [k, v] of Object.entries(b.session))
            await client.query(`SELECT set_config($1, $2, false)`, [k, v]);
          for (const o of b.ops) await apply(client, schema, o);
        } finally {
          await client.query('RESET ALL');
          client.release();
        }
        for (const [name, query] of Object.entries(queries)) {
          await trickle().refresh(`"${schema}".st_${name}`);
          await expectTableEqualsQuery(db, `"${schema}".st_${name}`, query);
        }
      }
      for (const name of Object.keys(queries)) await trickle().dropStreamTable(`"${schema}".st_${name}`);
    }),
    { numRuns: 12 },
  );
}

describe('captured values come back exactly', () => {
  it('in typed buffers', async () => {
    await db.query(`CREATE TYPE public.mood AS ENUM ('low', 'mid', 'high');
      CREATE DOMAIN public.money2 AS numeric(6,2) CHECK (VALUE >= 0)`);
    await property('typed');
  }, 600_000);

  it('in text buffers', async () => {
    await db.query(`DROP EVENT TRIGGER IF EXISTS "${SOURCE_DDL_EVENT_TRIGGER}"`);
    await property('text');
  }, 600_000);
});
