/**
 * The oracle against the real server: multiset semantics (duplicates, NULLs), column order,
 * hidden columns, types without equality (json, point, xml, arrays and composites of them),
 * float rounding, shape errors, and the assertion messages.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  compareTableWithQuery,
  expectNoNegativeCounts,
  expectTableEqualsQuery,
  TestkitAssertionError,
  TestkitError,
  useTestDatabase,
} from '../src/index.js';

const db = useTestDatabase();

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE items (id int, name text, qty int, __pgt_row_id bigint, __pgt_count bigint);
    INSERT INTO items VALUES
      (1, 'a', 10, 101, 1),
      (2, 'b', NULL, 102, 1),
      (2, 'b', NULL, 103, 1),
      (3, NULL, 5, 104, 2);
    CREATE TABLE src (id int, name text, qty int);
    INSERT INTO src VALUES (1, 'a', 10), (2, 'b', NULL), (2, 'b', NULL), (3, NULL, 5);
  `);
});

describe('compareTableWithQuery / expectTableEqualsQuery', () => {
  it('passes on equal multisets, including NULLs and duplicates, ignoring __pgt_ columns', async () => {
    const c = await compareTableWithQuery(db, 'items', 'SELECT id, name, qty FROM src');
    expect(c).toMatchObject({
      equal: true,
      table: 'items',
      columns: ['id', 'name', 'qty'],
      tableRowCount: 4,
      queryRowCount: 4,
      missingCount: 0,
      extraCount: 0,
    });
    await expectTableEqualsQuery(db, 'items', 'SELECT id, name, qty FROM src;');
  });

  it('matches columns by name, not position', async () => {
    await expectTableEqualsQuery(db, 'items', 'SELECT qty, id, name FROM src');
  });

  it('detects a row missing from the table', async () => {
    await db.query(`CREATE TABLE missing_t AS SELECT * FROM src WHERE id <> 1`);
    const c = await compareTableWithQuery(db, 'missing_t', 'SELECT * FROM src');
    expect(c.equal).toBe(false);
    expect(c.missingCount).toBe(1);
    expect(c.extraCount).toBe(0);
    expect(c.missing).toEqual([{ row: { id: 1, name: 'a', qty: 10 }, count: 1 }]);
    const error = await caught(expectTableEqualsQuery(db, 'missing_t', 'SELECT * FROM src'));
    expect(error).toBeInstanceOf(TestkitAssertionError);
    expect((error as TestkitAssertionError).code).toBe('PGT_TESTKIT_TABLE_MISMATCH');
    expect((error as Error).name).toBe('AssertionError');
    const message = (error as Error).message;
    expect(message).toContain('expected table missing_t to equal its query');
    expect(message).toContain('table has 3 row(s), query has 4');
    expect(message).toContain('1 row(s) missing from the table');
    expect(message).toContain('{"id":1,"name":"a","qty":10}');
    expect(message).toContain('SELECT * FROM src');
    expect(message).not.toContain('extra row');
  });

  it('detects an extra row in the table', async () => {
    await db.query(`CREATE TABLE extra_t AS SELECT * FROM src; INSERT INTO extra_t VALUES (9, 'z', NULL)`);
    const c = await compareTableWithQuery(db, 'extra_t', 'SELECT * FROM src');
    expect(c).toMatchObject({ equal: false, missingCount: 0, extraCount: 1 });
    expect(c.extra).toEqual([{ row: { id: 9, name: 'z', qty: null }, count: 1 }]);
    await expect(expectTableEqualsQuery(db, 'extra_t', 'SELECT * FROM src')).rejects.toThrow(
      /1 extra row\(s\) in the table[\s\S]*\{"id":9,"name":"z","qty":null\}/,
    );
  });

  it('counts duplicates: a multiplicity difference is a mismatch even when the sets are equal', async () => {
    await db.query(
      `CREATE TABLE dup_t AS SELECT * FROM src; INSERT INTO dup_t SELECT * FROM src WHERE id = 2`,
    );
    const c = await compareTableWithQuery(db, 'dup_t', 'SELECT * FROM src');
    expect(c).toMatchObject({
      equal: false,
      missingCount: 0,
      extraCount: 2,
      tableRowCount: 6,
      queryRowCount: 4,
    });
    expect(c.extra).toEqual([{ row: { id: 2, name: 'b', qty: null }, count: 2 }]);
    await expect(expectTableEqualsQuery(db, 'dup_t', 'SELECT * FROM src')).rejects.toThrow(/×2/);

    // Fewer copies in the table than in the query.
    await db.query(`CREATE TABLE dedup_t AS SELECT DISTINCT * FROM src`);
    const d = await compareTableWithQuery(db, 'dedup_t', 'SELECT * FROM src');
    expect(d).toMatchObject({ equal: false, missingCount: 1, extraCount: 0 });
    expect(d.missing).toEqual([{ row: { id: 2, name: 'b', qty: null }, count: 1 }]);
  });

  it('reports both sides and caps the listed rows at maxRows', async () => {
    await db.query(`
      CREATE TABLE many_t (n int);
      INSERT INTO many_t SELECT g FROM generate_series(1, 30) g;`);
    const c = await compareTableWithQuery(db, 'many_t', 'SELECT g AS n FROM generate_series(11, 45) g', {
      maxRows: 3,
    });
    expect(c).toMatchObject({ missingCount: 15, extraCount: 10 });
    expect(c.missing).toHaveLength(3);
    expect(c.extra).toHaveLength(3);
    const error = await caught(
      expectTableEqualsQuery(db, 'many_t', 'SELECT g AS n FROM generate_series(11, 45) g', { maxRows: 3 }),
    );
    expect((error as Error).message).toContain('… and 12 more row(s)');
    expect((error as Error).message).toContain('… and 7 more row(s)');
  });

  it('compares json as jsonb, and point/xml/json[]/composites through text', async () => {
    await db.query(`
      CREATE TYPE pt_pair AS (label text, p point);
      CREATE DOMAIN json_dom AS json;
      CREATE TABLE odd_t (id int, j json, jd json_dom, p point, x xml, ja json[], pp pt_pair, arr point[], jb jsonb);
      INSERT INTO odd_t VALUES
        (1, '{"b": 2, "a": 1}', '[1, 2]', point(1.5, 2), '<a>1</a>', ARRAY['{"k": 1}'::json],
         ROW('x', point(0, 0)), ARRAY[point(1, 1)], '{"z": null}'),
        (1, '{"b": 2, "a": 1}', '[1, 2]', point(1.5, 2), '<a>1</a>', ARRAY['{"k": 1}'::json],
         ROW('x', point(0, 0)), ARRAY[point(1, 1)], '{"z": null}'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`);
    const same = `SELECT * FROM (VALUES
        (1, '{"a":1,"b":2}'::json, '[1,2]'::json, point(1.5, 2), '<a>1</a>'::xml, ARRAY['{"k":1}'::json],
         ROW('x', point(0, 0))::pt_pair, ARRAY[point(1, 1)], '{"z": null}'::jsonb),
        (1, '{"a":1,"b":2}'::json, '[1,2]'::json, point(1.5, 2), '<a>1</a>'::xml, ARRAY['{"k":1}'::json],
         ROW('x', point(0, 0))::pt_pair, ARRAY[point(1, 1)], '{"z": null}'::jsonb),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)) v(id, j, jd, p, x, ja, pp, arr, jb)`;
    await expectTableEqualsQuery(db, 'odd_t', same);

    const differentJson = same.replaceAll(`'{"a":1,"b":2}'::json`, `'{"a":1,"b":3}'::json`);
    const c = await compareTableWithQuery(db, 'odd_t', differentJson);
    expect(c).toMatchObject({ equal: false, missingCount: 2, extraCount: 2 });
    expect(c.missing[0]).toMatchObject({ count: 2, row: { id: 1, j: { a: 1, b: 3 } } });

    const differentPoint = same.replace('ARRAY[point(1, 1)]', 'ARRAY[point(1, 2)]');
    expect(await compareTableWithQuery(db, 'odd_t', differentPoint)).toMatchObject({
      equal: false,
      missingCount: 1,
      extraCount: 1,
    });
  });

  it('rounds floats when floatDigits is given', async () => {
    await db.query(
      `CREATE TABLE f_t (k int, v float8); INSERT INTO f_t VALUES (1, 0.3), (2, 'NaN'), (3, NULL)`,
    );
    const query = `SELECT * FROM (VALUES (1, 0.1::float8 + 0.2::float8), (2, 'NaN'::float8), (3, NULL)) v(k, v)`;
    expect((await compareTableWithQuery(db, 'f_t', query)).equal).toBe(false);
    await expectTableEqualsQuery(db, 'f_t', query, { floatDigits: 9 });
  });

  it('compares only the given columns', async () => {
    await expectTableEqualsQuery(db, 'items', 'SELECT id, 42 AS qty, name FROM src', {
      columns: ['id', 'name'],
    });
    await expectTableEqualsQuery(db, 'items', 'SELECT id, __pgt_count FROM items', {
      columns: ['id', '__pgt_count'],
    });
  });

  it('reports a column mismatch instead of comparing rows', async () => {
    const c = await compareTableWithQuery(db, 'items', 'SELECT id, name, qty, 1 AS extra_col FROM src');
    expect(c.equal).toBe(false);
    expect(c.columnMismatch).toEqual({ onlyInTable: [], onlyInQuery: ['extra_col'] });
    await expect(expectTableEqualsQuery(db, 'items', 'SELECT id, name FROM src')).rejects.toThrow(
      /only in the table: qty/,
    );
  });

  it('throws shape errors for a missing table, a failing query, or ambiguous columns', async () => {
    const noTable = await caught(compareTableWithQuery(db, 'no_such_table', 'SELECT 1'));
    expect(noTable).toBeInstanceOf(TestkitError);
    expect((noTable as TestkitError).code).toBe('PGT_TESTKIT_SHAPE');
    const badQuery = await caught(compareTableWithQuery(db, 'items', 'SELECT nope FROM src'));
    expect((badQuery as TestkitError).code).toBe('PGT_TESTKIT_SHAPE');
    expect((badQuery as Error).message).toContain('column "nope" does not exist');
    const ambiguous = await caught(compareTableWithQuery(db, 'items', 'SELECT id, id, name, qty FROM src'));
    expect((ambiguous as TestkitError).code).toBe('PGT_TESTKIT_SHAPE');
  });

  it('handles schemas, quoted names, query parameters, and user tables named like internal aliases', async () => {
    await db.query(`
      CREATE SCHEMA app;
      CREATE TABLE app."Mixed Case" ("Id" int, "select" text);
      INSERT INTO app."Mixed Case" VALUES (1, 'x'), (2, 'y');
      CREATE TABLE t (r int, n int, d int, s int);
      INSERT INTO t VALUES (1, 2, 3, 4);
      CREATE TABLE t_copy AS SELECT * FROM t;`);
    await expectTableEqualsQuery(
      db,
      'app."Mixed Case"',
      `SELECT "Id", "select" FROM app."Mixed Case" WHERE "Id" <= $1`,
      {
        params: [2],
      },
    );
    await expectTableEqualsQuery(db, 't_copy', 'SELECT r, n, d, s FROM t');
    await db.query('INSERT INTO t_copy VALUES (5, 6, 7, 8)');
    const c = await compareTableWithQuery(db, 't_copy', 'SELECT * FROM t');
    expect(c.extra).toEqual([{ row: { r: 5, n: 6, d: 7, s: 8 }, count: 1 }]);
  });

  it('works with a dedicated client and a pool as the runner', async () => {
    const client = await db.client();
    await expectTableEqualsQuery(client, 'items', 'SELECT id, name, qty FROM src');
    await expectTableEqualsQuery(db.pool, 'items', 'SELECT id, name, qty FROM src');
  });
});

describe('expectNoNegativeCounts', () => {
  it('does nothing for a table without __pgt_count columns', async () => {
    await expectNoNegativeCounts(db, 'src');
  });

  it('passes when every count is >= 0 and fails on a negative one', async () => {
    await expectNoNegativeCounts(db, 'items');
    await db.query(`
      CREATE TABLE counted (k int, __pgt_count bigint, __pgt_count_nn int);
      INSERT INTO counted VALUES (1, 1, 0), (2, 0, -1), (3, -2, 1), (4, NULL, NULL);`);
    const error = await caught(expectNoNegativeCounts(db, 'counted'));
    expect(error).toBeInstanceOf(TestkitAssertionError);
    expect((error as TestkitAssertionError).code).toBe('PGT_TESTKIT_NEGATIVE_COUNT');
    expect((error as Error).message).toContain('found 2 row(s)');
    expect((error as Error).message).toContain('"k":3');
  });
});
