/**
 * The row-id formula (diff/rowid.ts) on PostgreSQL: values equal under their type's equality and
 * collation share an id, unequal values do not (including the shapes the types' own hash
 * functions confuse), ids do not depend on session settings, and distinct keys of the folding
 * types (bigint, timestamps) do not collide at scale.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import {
  createSqlCatalogPort,
  keyRowIdExpr,
  printWithTypeShapes,
  rowIdExpr,
  rowText,
  typeShapesOf,
} from '../src/index.js';

const db = useTestDatabase({
  setupSql: `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    CREATE TYPE mood AS ENUM ('sad', 'ok');
    CREATE DOMAIN amount AS numeric;
    CREATE EXTENSION citext;
    CREATE TYPE pt AS (p point, n int);
    CREATE TYPE pair AS (a int, b text);
    CREATE DOMAIN dp AS point;
    CREATE TYPE mr AS RANGE (subtype = money);
    CREATE TYPE bits AS (b bit(4));
    CREATE TYPE nested AS (x pair, y mood[]);
    CREATE TYPE deep AS (x pair, y pt[]);
    CREATE TYPE npair AS (a numeric, t text);
    CREATE TYPE nouter AS (p npair, n int)`,
});

/** The id of one value literal of `type` (a one-part id). */
function idOf(literal: string, type: string, collation?: string): string {
  const expr = `${literal}::${type}${collation === undefined ? '' : ` COLLATE ${collation}`}`;
  return rowIdExpr([{ expr, type }]);
}

async function ids(exprs: readonly string[]): Promise<string[]> {
  const res = await db.query(`SELECT ${exprs.map((e, i) => `${e}::text AS c${i}`).join(', ')}`);
  const row = res.rows[0] as Record<string, string>;
  return exprs.map((_, i) => row[`c${i}`] as string);
}

const EQUAL: readonly [string, string, string, string?][] = [
  ['numeric', '2', '2.000'],
  ['numeric', "'NaN'", "'nan'"],
  ['amount', '7.5', '7.50'],
  ['double precision', "'-0'", '0'],
  ['real', "'-0'", '0'],
  ['bpchar', "'a'", "'a   '"],
  ['character(4)', "'a'", "'a  '"],
  ['jsonb', `'{"p":2}'`, `'{"p":2.0}'`],
  ['jsonb', `'{"a":1,"b":[1.0]}'`, `'{"b":[1], "a":1.00}'`],
  ['json', `'{"a": 1}'`, `'{"a":1}'`],
  ['numeric[]', "'{3}'", "'{3.0}'"],
  ['numeric', '-2.5', '-2.50'],
  ['numeric', "'-Infinity'", "'-inf'"],
  ['numeric[]', "'{-3,NaN,NULL,Infinity}'", "'{-3.00,nan,NULL,inf}'"],
  ['jsonb', "'[-1, 2]'", "'[-1.0, 2.00]'"],
  ['text', "'Red'", "'rED'", 'ci'],
  ['interval', "'1 day'", "'24 hours'"],
  ['timestamp with time zone', "'2026-01-01 10:00:00+09'", "'2026-01-01 01:00:00+00'"],
  ['int4range', "'[1,3)'", "'[1,2]'"],
  ['numrange', "'[1,2)'", "'[1.0,2.00)'"],
  ['money', "'1.50'", "'1.5'"],
  ['mood', "'ok'", "'ok'"],
  ['citext', "'ABC'", "'abc'"],
];

const UNEQUAL: readonly [string, string, string][] = [
  ['jsonb', "'{}'", "'[]'"],
  ['jsonb', "'1'", "'[1]'"],
  ['jsonb', "'[1,[2]]'", "'[[1],2]'"],
  ['jsonb', "'[[]]'", 'NULL'],
  ['integer[]', "'{{1,2}}'", "'{1,2}'"],
  ['integer[]', "'[0:1]={1,2}'", "'{1,2}'"],
  ['numeric', '0', 'NULL'],
  ['double precision', '0', 'NULL'],
  ['bigint', '1', "'4294967296'"],
  ['bigint', '-1', '0'],
  ['timestamp with time zone', "'2026-01-01 00:00:00+00'", "'2026-01-01 00:00:00.000001+00'"],
  ['bpchar', "'a'", "'A'"],
  ['text', "'Red'", "'red'"],
  ['numeric', '1', '1.000001'],
  // numeric's hash ignores the sign and gives NaN and ±Infinity one value.
  ['numeric', '-1', '1'],
  ['numeric', '-2.5', '2.5'],
  ['numeric', "'NaN'", "'Infinity'"],
  ['numeric', "'Infinity'", "'-Infinity'"],
  ['numeric', "'NaN'", "'-Infinity'"],
  ['numeric[]', "'{-1}'", "'{1}'"],
  ['numeric[]', "'{1,-2}'", "'{-1,2}'"],
  ['numeric[]', "'{NaN}'", "'{Infinity}'"],
  ['jsonb', "'-1'", "'1'"],
  ['jsonb', `'{"a":[-1,2]}'`, `'{"a":[1,-2]}'`],
  ['point', "'(1,2)'", "'(2,1)'"],
];

describe('row ids', () => {
  it('are equal for values equal under the type and collation', async () => {
    for (const [type, a, b, coll] of EQUAL) {
      const [x, y] = await ids([idOf(a, type, coll), idOf(b, type, coll)]);
      expect({ type, a, b, id: x }).toEqual({ type, a, b, id: y });
    }
  });

  it('differ for unequal values, also where the types’ hash functions confuse them', async () => {
    for (const [type, a, b] of UNEQUAL) {
      const [x, y] = await ids([idOf(a, type), idOf(b, type)]);
      expect({ type, a, b, same: x === y }).toEqual({ type, a, b, same: false });
    }
    // Two parts: NULL and a one-NULL array against an empty array and NULL.
    const pair = (a: string, b: string) =>
      rowIdExpr([
        { expr: `${a}::int[]`, type: 'integer[]' },
        { expr: `${b}::int[]`, type: 'integer[]' },
      ]);
    const [p, q] = await ids([pair('NULL', "'{NULL}'"), pair("'{}'", 'NULL')]);
    expect(p).not.toBe(q);
  });

  it('see through domains, ranges, arrays and composites to the numbers inside (with the type shapes)', async () => {
    const port = createSqlCatalogPort({ query: (sql, params) => db.query(sql, params) });
    const shapes = await typeShapesOf(
      ['amount', 'amount[]', 'numrange', 'npair', 'nouter', 'nummultirange'],
      port,
    );
    expect(shapes.get('amount')).toEqual({ kind: 'domain', base: 'numeric' });
    expect(shapes.get('nummultirange')).toEqual({ kind: 'range', subtype: 'numeric' });
    expect(shapes.get('nouter')).toEqual({
      kind: 'composite',
      fields: [
        { name: 'p', type: 'npair' },
        { name: 'n', type: 'integer' },
      ],
    });
    const shaped = (literal: string, type: string) => printWithTypeShapes(shapes, () => idOf(literal, type));
    const equal: [string, string, string][] = [
      ['amount', '2', '2.00'],
      ['amount[]', "'{-2,3}'", "'{-2.0,3.00}'"],
      ['numrange', "'[-1,2)'", "'[-1.0,2.00)'"],
      ['nummultirange', "'{[-1,2)}'", "'{[-1.0,2.00)}'"],
      ['npair', "ROW(-2, 'x')", "ROW(-2.00, 'x')"],
      ['nouter', "ROW(ROW(2, 'x'), 1)", "ROW(ROW(2.0, 'x'), 1)"],
    ];
    for (const [type, a, b] of equal) {
      const [x, y] = await ids([shaped(a, type), shaped(b, type)]);
      expect({ type, a, b, id: x }).toEqual({ type, a, b, id: y });
    }
    const unequal: [string, string, string][] = [
      ['amount', '-1', '1'],
      ['amount[]', "'{-1}'", "'{1}'"],
      ['numrange', "'[-3,2)'", "'[-3,-2)'"],
      ['numrange', "'[1,NaN)'", "'[1,Infinity)'"],
      ['nummultirange', "'{[-3,2)}'", "'{[-3,-2)}'"],
      ['npair', "ROW(-1, 'x')", "ROW(1, 'x')"],
      ['nouter', "ROW(ROW(-1, 'x'), 1)", "ROW(ROW(1, 'x'), 1)"],
      ['nouter', 'NULL', 'ROW(NULL, NULL)'],
      ['npair', 'NULL', 'ROW(NULL, NULL)'],
    ];
    for (const [type, a, b] of unequal) {
      // Without the shapes these collide: the types' own hash functions drop the sign.
      const [x, y] = await ids([shaped(a, type), shaped(b, type)]);
      expect({ type, a, b, same: x === y }).toEqual({ type, a, b, same: false });
    }
    const [plainA, plainB] = await ids([idOf('-1', 'amount'), idOf('1', 'amount')]);
    expect(plainA).toBe(plainB);
  });

  it('do not depend on session settings; row images neither', async () => {
    const exprs = [
      idOf("'2026-01-01 10:00:00+09'", 'timestamp with time zone'),
      idOf("'2026-01-01 10:00:00'", 'timestamp without time zone'),
      idOf("'0.30000000000000004'", 'double precision'),
      idOf("'1 year 2 days 03:04:05'", 'interval'),
      idOf("'\\x00ff'", 'bytea'),
      idOf("'2026-01-01'", 'date'),
      `(SELECT pg_catalog.encode(${rowText('r', ['a', 'b', 'c'])}, 'hex') FROM (SELECT '2026-01-01 10:00+09'::timestamptz AS a, 0.1::float8 AS b, '1 day'::interval AS c) AS r)`,
    ];
    const client = await db.client();
    try {
      const read = async () => {
        const res = await client.query(`SELECT ${exprs.map((e, i) => `${e}::text AS c${i}`).join(', ')}`);
        return res.rows[0] as Record<string, string>;
      };
      const before = await read();
      await client.query(`SET TimeZone = 'Asia/Tokyo'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = -3;
        SET IntervalStyle = 'sql_standard'; SET bytea_output = 'escape'`);
      expect(await read()).toEqual(before);
    } finally {
      await client.end();
    }
  });

  it('do not collide over 200,000 distinct bigints, timestamps and composite keys', async () => {
    const res = await db.query(`
      WITH v AS (SELECT g, (g::bigint * 2654435761 * 4099) # (g::bigint << 40) AS big,
                        '2000-01-01'::timestamptz + g * interval '1.000001 second' AS at
                 FROM generate_series(1, 200000) AS g)
      SELECT count(DISTINCT ${rowIdExpr([{ expr: 'v.big', type: 'bigint' }])})::int AS bigs,
             count(DISTINCT ${rowIdExpr([{ expr: 'v.at', type: 'timestamp with time zone' }])})::int AS ats,
             count(DISTINCT ${rowIdExpr([
               { expr: 'v.g % 1000', type: 'integer' },
               { expr: 'v.g / 1000', type: 'integer' },
             ])})::int AS pairs,
             count(DISTINCT ${rowIdExpr(['v.big', 'v.g::bigint'])})::int AS ids
      FROM v`);
    expect(res.rows[0]).toEqual({ bigs: 200000, ats: 200000, pairs: 200000, ids: 200000 });
  });
});

describe('row ids of keys', () => {
  it('take a key of one integer column as it is, and hash every other key', async () => {
    const key = (expr: string, type: string, keyed = true) => keyRowIdExpr([{ expr, type }], keyed);
    const res = await db.query(`CREATE DOMAIN pos AS int;
      SELECT ${key('7::smallint', 'smallint')} AS small, ${key('-7::integer', 'integer')} AS int,
             ${key('9007199254740993::bigint', 'bigint')} AS big, ${key('12::oid', 'oid')} AS oid,
             ${key('7::integer', 'integer', false)} AS keyless, ${key('7::pos', 'pos')} AS domain,
             ${key('7::numeric', 'numeric')} AS num, ${rowIdExpr([{ expr: '7::integer', type: 'integer' }])} AS hashed,
             ${keyRowIdExpr(
               [
                 { expr: '7::integer', type: 'integer' },
                 { expr: '8::integer', type: 'integer' },
               ],
               true,
             )} AS pair`);
    const row = (res as unknown as { rows: Record<string, string>[] }[])[1]?.rows[0];
    expect(row).toMatchObject({ small: '7', int: '-7', big: '9007199254740993', oid: '12' });
    // Keyless, a domain, another type, two columns: the formula's hash.
    expect(row?.keyless).toBe(row?.hashed);
    for (const hashed of [row?.keyless, row?.domain, row?.num, row?.pair]) {
      expect(['7', '8']).not.toContain(hashed);
    }
    expect(typeof row?.big).toBe('string');
  });

  it('keep the ids of pairs of integer keys distinct (a join of two such scans)', async () => {
    const res = await db.query(`
      SELECT count(DISTINCT ${rowIdExpr(['(g % 400)::bigint', '(g / 400)::bigint'])})::int AS n
      FROM generate_series(1, 200000) AS g`);
    expect(res.rows[0]).toEqual({ n: 200000 });
  });
});

describe("the catalog port's unhashableTypes", () => {
  it('names exactly the types hash_record_extended has no extended hash function for', async () => {
    const types = [
      'text',
      'character varying(10)',
      'numeric(10,2)',
      'integer[]',
      'int4range',
      'int4multirange',
      'jsonb',
      'json',
      'point',
      'money',
      'bit(3)',
      'xml',
      'tsvector',
      'uuid',
      'inet',
      'cidr',
      'macaddr',
      'interval',
      'mood',
      'mood[]',
      'amount',
      'citext',
      'pt',
      'pt[]',
      'pair',
      'pair[]',
      'dp',
      'mr',
      'mr[]',
      'mr_multirange',
      'bits',
      'nested',
      'deep',
      'tstzrange',
      'bytea',
      'oid',
    ];
    const expected = new Set<string>();
    for (const type of types) {
      const client = await db.client();
      try {
        await client.query(`SELECT pg_catalog.hash_record_extended(ROW(NULL::${type}), 7919)`);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('42883');
        expected.add(type);
      } finally {
        await client.end();
      }
    }
    expect(expected).toContain('pt');
    expect(expected).not.toContain('text');
    const port = createSqlCatalogPort({ query: (sql, params) => db.query(sql, params) });
    expect([...((await port.unhashableTypes?.(types)) ?? [])].sort()).toEqual([...expected].sort());
  });
});
