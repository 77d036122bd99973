/**
 * Statements kept prepared per session (prepared.ts): a statement is parsed once per session and
 * answers as the plain statement does; a session keeps at most MAX_PREPARED_PER_SESSION (least
 * recently used deallocated); after DISCARD ALL, forgetPrepared lets them be prepared again.
 */
import { describe, expect, it } from 'vitest';
import type { Conn } from '../src/db.js';
import { forgetPrepared, MAX_PREPARED_PER_SESSION, preparedName, preparedQuery } from '../src/prepared.js';
import { openSandbox, ranSandboxedCode } from '../src/security/sandbox.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

async function preparedHere(conn: Conn): Promise<string[]> {
  const r = await conn.query(`SELECT name FROM pg_catalog.pg_prepared_statements WHERE name LIKE 'pgt_p_%'`);
  return r.rows.map((x) => String(x.name));
}

describe('statements kept prepared', () => {
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
