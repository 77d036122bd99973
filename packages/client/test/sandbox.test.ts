import { randomBytes } from 'node:crypto';
import { createSqlCatalogPort } from '@pgtrickle/dvm';
import { useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Db } from '../src/db.js';
import { type OwnerSandbox, paramText, statementReturnsRows, withSandbox } from '../src/security/sandbox.js';

const db = useTestDatabase();
const owner = `pgt_sandbox_owner_${randomBytes(4).toString('hex')}`;
let client: Db;

beforeAll(async () => {
  await db.query(`
    CREATE ROLE ${owner} NOLOGIN;
    CREATE TABLE readable (x int);
    INSERT INTO readable VALUES (1), (2);
    CREATE TABLE secret (s text);
    INSERT INTO secret VALUES ('hunter2');
    GRANT SELECT ON readable TO ${owner};
    CREATE FUNCTION boom() RETURNS int LANGUAGE plpgsql VOLATILE AS $$ BEGIN RAISE EXCEPTION 'boom ran'; END $$;
  `);
  client = new Db(db.url);
});
afterAll(async () => {
  await client?.close();
  await db.query(`DROP OWNED BY ${owner}; DROP ROLE ${owner}`).catch(() => undefined);
});

async function inSandbox<T>(work: (sb: OwnerSandbox, conn: pg.PoolClient) => Promise<T>) {
  return client.transaction(async (conn) => {
    return withSandbox(conn, { role: owner, searchPath: 'public' }, { TimeZone: 'UTC' }, (sb) =>
      work(sb, conn),
    );
  });
}

describe('the owner sandbox', () => {
  it('runs statements as the owner, returning rows or row counts', async () => {
    await inSandbox(async (sb) => {
      const who = await sb.exec.query('SELECT current_user AS u, $1::int + 1 AS n', [41]);
      expect(who.rows).toEqual([{ u: owner, n: 42 }]);
      const sum = await sb.exec.query('WITH r AS (SELECT x FROM readable) SELECT sum(x)::int AS s FROM r');
      expect(sum.rows).toEqual([{ s: 3 }]);
      await sb.exec.query('CREATE TEMP TABLE scratch (x int)');
      const ins = await sb.exec.query('INSERT INTO scratch SELECT x FROM readable');
      expect(ins.rowCount).toBe(2);
    });
  });

  it("enforces the owner's privileges", async () => {
    await expect(inSandbox((sb) => sb.exec.query('SELECT s FROM secret'))).rejects.toMatchObject({
      code: '42501',
    });
  });

  it('refuses every way back to the sidecar role', async () => {
    for (const way of ['RESET ROLE', 'SET ROLE postgres', 'SET SESSION AUTHORIZATION postgres']) {
      await expect(inSandbox((sb) => sb.exec.query(way))).rejects.toMatchObject({ code: '42501' });
    }
    await expect(inSandbox((sb) => sb.exec.query(`ALTER ROLE ${owner} SUPERUSER`))).rejects.toMatchObject({
      code: '42501',
    });
    const r = await db.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [owner]);
    expect(r.rows[0]?.rolsuper).toBe(false);
  });

  it("undoes the sandboxed code's settings and restores the transaction's own", async () => {
    await inSandbox(async (sb, conn) => {
      const before = await conn.query(`SELECT current_setting('search_path') AS p`);
      await sb.exec.query(
        `SELECT set_config('search_path', 'evil, pg_catalog', false), set_config('TimeZone', 'Asia/Tokyo', false)`,
      );
      await sb.exec.query(`SET work_mem = '64kB'`);
      const after = await conn.query(
        `SELECT current_setting('search_path') AS p, current_setting('TimeZone') AS tz, current_setting('work_mem') AS wm`,
      );
      expect(after.rows[0]).toEqual({
        p: before.rows[0]?.p,
        tz: 'UTC',
        wm: expect.not.stringMatching(/^64kB$/),
      });
    });
  });

  it('describes a query without running it', async () => {
    await inSandbox(async (sb) => {
      const cols = await sb.describe(
        `SELECT x, boom() AS b, 1.5::numeric(6,2) AS n, 'a'::varchar(3) AS v FROM readable`,
      );
      expect(cols).toEqual([
        { name: 'x', type: 'integer' },
        { name: 'b', type: 'integer' },
        { name: 'n', type: 'numeric(6,2)' },
        { name: 'v', type: 'character varying(3)' },
      ]);
    });
  });

  it("reports a described column's collation when not its type's default; answers type questions as the owner", async () => {
    await inSandbox(async (sb) => {
      const cols = await sb.describe(`SELECT 'a'::text COLLATE "C" AS c, 'b'::text AS d, x FROM readable`);
      expect(cols).toEqual([
        { name: 'c', type: 'text', collation: { schema: 'pg_catalog', name: 'C' } },
        { name: 'd', type: 'text' },
        { name: 'x', type: 'integer' },
      ]);
      const port = sb.port(createSqlCatalogPort(sb.exec));
      expect(await port.describeQuery(`SELECT 'a'::text COLLATE "C" AS c, x FROM readable`)).toEqual([
        { name: 'c', type: 'text', collation: { schema: 'pg_catalog', name: 'C' } },
        { name: 'x', type: 'integer' },
      ]);
      expect(await port.unhashableTypes?.(['point', 'text', 'money'])).toEqual(new Set(['point', 'money']));
    });
  });

  it('leaves no function behind and none is ever visible to another session', async () => {
    await inSandbox(async () => {
      const other = await db.query(
        `SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'pgt_sandbox_%'`,
      );
      expect(other.rows[0]?.n).toBe(0);
    });
    const after = await db.query(`SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'pgt_sandbox_%'`);
    expect(after.rows[0]?.n).toBe(0);
  });
});

describe('statement classification', () => {
  it('tells row-returning statements from commands', () => {
    expect(statementReturnsRows('SELECT 1')).toBe(true);
    expect(statementReturnsRows('  -- c\n/* x */ select 1')).toBe(true);
    expect(
      statementReturnsRows(
        'WITH a AS (SELECT 1), "b" AS MATERIALIZED (DELETE FROM t RETURNING 1) SELECT * FROM a',
      ),
    ).toBe(true);
    expect(statementReturnsRows('WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a')).toBe(false);
    expect(
      statementReturnsRows(
        'WITH "select" AS (SELECT 1) MERGE INTO t USING x ON true WHEN MATCHED THEN DELETE',
      ),
    ).toBe(false);
    expect(statementReturnsRows(`WITH a AS (SELECT ')select(' AS s) UPDATE t SET x = 1`)).toBe(false);
    expect(statementReturnsRows('VALUES (1)')).toBe(true);
    expect(statementReturnsRows('INSERT INTO t VALUES (1)')).toBe(false);
    expect(statementReturnsRows('CREATE TEMP TABLE x AS SELECT 1')).toBe(false);
    expect(statementReturnsRows('SET LOCAL x = 1')).toBe(false);
    expect(statementReturnsRows('TRUNCATE t')).toBe(false);
  });

  it('writes bind parameters as PostgreSQL input text', () => {
    expect(paramText(null)).toBeNull();
    expect(paramText(5)).toBe('5');
    expect(paramText([1, null, 'a"b'])).toBe('{"1",NULL,"a\\"b"}');
    expect(paramText({ a: 1 })).toBe('{"a":1}');
  });
});
