/**
 * Statements kept prepared per session (prepared.ts): a statement is parsed once per session and
 * answers as the plain statement does; a session keeps at most MAX_PREPARED_PER_SESSION (least
 * recently used deallocated); after DISCARD ALL, forgetPrepared lets them be prepared again.
 * repeatedQueryAndCommit runs a statement prepared in the session with COMMIT in one round trip,
 * its values as literals answering as the bound values do, and an error in it commits nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Conn } from '../src/db.js';
import {
  forgetPrepared,
  MAX_PREPARED_PER_SESSION,
  preparedName,
  preparedQuery,
  repeatedQueryAndCommit,
} from '../src/prepared.js';
import { openSandbox, ranSandboxedCode } from '../src/security/sandbox.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

async function preparedHere(conn: Conn): Promise<string[]> {
  const r = await conn.query(`SELECT name FROM pg_catalog.pg_prepared_statements WHERE name LIKE 'pgt_p_%'`);
  return r.rows.map((x) => String(x.name));
}

describe('statements kept prepared', () => {
  it('runs a kept statement and COMMIT in one round trip, its values as literals, and commits nothing after an error', async () => {
    await db.query(
      'CREATE TABLE prep_commit (id int PRIMARY KEY, t text, at timestamptz, ok boolean, j jsonb)',
    );
    await trickle().db.withConnection(async (conn) => {
      const text = `INSERT INTO prep_commit VALUES ($1, $2, $3, $4, $5::jsonb)
        RETURNING id, t, at = $3::timestamptz AS same_at, ok, j`;
      const at = new Date('2026-01-02T03:04:05.678Z');
      const sent: string[] = [];
      const query = conn.query.bind(conn);
      (conn as { query: unknown }).query = (...a: Parameters<typeof conn.query>) => {
        sent.push(typeof a[0] === 'string' ? a[0] : String((a[0] as { text?: unknown }).text));
        return query(...a);
      };
      try {
        // Not yet prepared in the session: the statement prepared, then COMMIT on its own.
        await conn.query('BEGIN');
        await repeatedQueryAndCommit(conn, text, [1, 'a', at, true, '{"a":1}']);
        expect(conn.getTransactionStatus()).toBe('I');
        expect(sent.slice(1)).toEqual([text, 'COMMIT']);
        // Kept: one round trip, the same answers as bound values give.
        sent.length = 0;
        await conn.query('BEGIN');
        const odd = "it's a \\ back'slash";
        const res = await repeatedQueryAndCommit(conn, text, [2, odd, at, false, '{"b":[1,2]}']);
        expect(conn.getTransactionStatus()).toBe('I');
        expect(sent).toHaveLength(2);
        expect(sent[1]).toBe(
          `EXECUTE "${preparedName(text)}"('2', E'it''s a \\\\ back''slash', '${at.toISOString()}', false, '{"b":[1,2]}'); COMMIT`,
        );
        expect(res.rows).toEqual([{ id: 2, t: odd, same_at: true, ok: false, j: { b: [1, 2] } }]);
        // An error in the statement (a duplicate key) skips the COMMIT: the transaction is left failed.
        await conn.query('BEGIN');
        await conn.query("INSERT INTO prep_commit VALUES (3, 'kept only if committed', NULL, NULL, NULL)");
        await expect(repeatedQueryAndCommit(conn, text, [2, null, null, null, null])).rejects.toMatchObject({
          code: '23505',
        });
        await expect(conn.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
        await conn.query('ROLLBACK');
      } finally {
        (conn as { query: unknown }).query = query;
      }
      forgetPrepared(conn);
      await conn.query('DEALLOCATE ALL');
    });
    expect((await db.query('SELECT id, t FROM prep_commit ORDER BY id')).rows).toEqual([
      { id: 1, t: 'a' },
      { id: 2, t: "it's a \\ back'slash" },
    ]);
  });

  it('prepares a statement once per session and answers as the plain statement', async () => {
    await trickle().db.withConnection(async (conn) => {
      const text = 'SELECT $1::int + 1 AS n';
      expect((await preparedQuery(conn, text, [1])).rows).toEqual([{ n: 2 }]);
      expect((await preparedQuery(conn, text, [41])).rows).toEqual([{ n: 42 }]);
      expect(await preparedHere(conn)).toEqual([preparedName(text)]);
      forgetPrepared(conn);
      await conn.query('DEALLOCATE ALL');
    });
  });

  it('keeps at most MAX_PREPARED_PER_SESSION, the least recently used deallocated first', async () => {
    await trickle().db.withConnection(async (conn) => {
      const texts = Array.from(
        { length: MAX_PREPARED_PER_SESSION + 3 },
        (_, i) => `SELECT ${i} + $1::int AS n`,
      );
      for (const [i, text] of texts.entries()) {
        expect((await preparedQuery(conn, text, [1])).rows).toEqual([{ n: i + 1 }]);
        // The first one stays in use: it is never the least recently used.
        expect((await preparedQuery(conn, texts[0] as string, [0])).rows).toEqual([{ n: 0 }]);
      }
      const names = await preparedHere(conn);
      expect(names.length).toBe(MAX_PREPARED_PER_SESSION);
      expect(names).toContain(preparedName(texts[0] as string));
      expect(names).not.toContain(preparedName(texts[1] as string));
      // An evicted one is prepared again when it comes back.
      expect((await preparedQuery(conn, texts[1] as string, [1])).rows).toEqual([{ n: 2 }]);
      forgetPrepared(conn);
      await conn.query('DEALLOCATE ALL');
    });
  });

  it('after DISCARD ALL and forgetPrepared, the same statement is prepared again', async () => {
    await trickle().db.withConnection(async (conn) => {
      const text = 'SELECT $1::text AS s';
      expect((await preparedQuery(conn, text, ['a'])).rows).toEqual([{ s: 'a' }]);
      await conn.query('DISCARD ALL');
      forgetPrepared(conn);
      expect((await preparedQuery(conn, text, ['b'])).rows).toEqual([{ s: 'b' }]);
      expect(await preparedHere(conn)).toEqual([preparedName(text)]);
      forgetPrepared(conn);
      await conn.query('DEALLOCATE ALL');
    });
  });

  it('a statement failing when run stays counted and usable', async () => {
    await trickle().db.withConnection(async (conn) => {
      const text = 'SELECT 1 / $1::int AS n';
      await expect(preparedQuery(conn, text, [0])).rejects.toMatchObject({ code: '22012' });
      expect((await preparedQuery(conn, text, [1])).rows).toEqual([{ n: 1 }]);
      expect(await preparedHere(conn)).toEqual([preparedName(text)]);
      forgetPrepared(conn);
      await conn.query('DEALLOCATE ALL');
    });
  });

  it("runs unnamed in a session where another role's code ran, until its state is discarded", async () => {
    await db.query(
      'DO $$ BEGIN CREATE ROLE pgt_prep_other; EXCEPTION WHEN duplicate_object THEN NULL; END $$',
    );
    const t = trickle();
    await t.db.withConnection(async (conn) => {
      await conn.query('BEGIN');
      const sandbox = await openSandbox(conn, { role: 'pgt_prep_other', searchPath: 'public' });
      expect(ranSandboxedCode(conn)).toBe(true);
      expect((await preparedQuery(conn, 'SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
      expect(await preparedHere(conn)).toEqual([]);
      await sandbox.close();
      await conn.query('COMMIT');
    });
    // The connection went back to the pool cleaned (DISCARD ALL): named statements again.
    await t.db.withConnection(async (conn) => {
      expect(ranSandboxedCode(conn)).toBe(false);
      await preparedQuery(conn, 'SELECT 8 AS n');
      expect(await preparedHere(conn)).toEqual([preparedName('SELECT 8 AS n')]);
      forgetPrepared(conn);
      await conn.query('DEALLOCATE ALL');
    });
  });
});
