/**
 * The quiet refresh (refresh-quiet.ts): a refresh with nothing to apply answers NO_DATA without a
 * catalog write, a history row or a transaction id; anything that needs the real refresh (a
 * pending change, source DDL, a disabled guard, a pending rebuild, FULL mode) still gets it.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const QUERY = 'SELECT k, sum(v) AS s, count(*) AS n FROM q_src GROUP BY k';

async function historyCount(): Promise<number> {
  const r = await db.query(`SELECT count(*)::int AS n FROM pgtrickle.pgt_refresh_history`);
  return Number(r.rows[0]?.n);
}

async function rowVersion(name: string): Promise<string> {
  const r = await db.query(`SELECT xmin::text AS x FROM pgtrickle.pgt_stream_tables WHERE table_name = $1`, [
    name,
  ]);
  return String(r.rows[0]?.x);
}

/** Refreshes `name` in a transaction on one connection; whether that transaction got an xid (wrote anything). */
async function refreshWrote(name: string): Promise<{ action: string; wrote: boolean }> {
  const t = trickle();
  return t.db.transaction(async (conn) => {
    const { refreshInTransaction } = await import('../src/refresh.js');
    const { findStreamTable } = await import('../src/catalog/find-stream-table.js');
    const row = await findStreamTable(conn, 'public', name);
    const out = await refreshInTransaction(conn, t.engineState, row?.pgtId as number, {
      initiatedBy: 'MANUAL',
    });
    const x = await conn.query('SELECT pg_catalog.pg_current_xact_id_if_assigned() IS NOT NULL AS w');
    return { action: out.action, wrote: x.rows[0]?.w === true };
  });
}

beforeAll(async () => {
  await db.query('CREATE TABLE q_src (id int PRIMARY KEY, k int, v int)');
  await db.query('INSERT INTO q_src SELECT g, g % 5, g FROM generate_series(1, 100) g');
  await trickle().createStreamTable({ name: 'q_st', query: QUERY, refreshMode: 'DIFFERENTIAL' });
  await trickle().createStreamTable({ name: 'q_full', query: QUERY, refreshMode: 'FULL' });
});

describe('a refresh with nothing to apply', () => {
  it('is NO_DATA with no history row, no catalog write and (after the first freshness mark) no xid', async () => {
    const history = await historyCount();
    const version = await rowVersion('q_st');
    expect((await trickle().refresh('q_st')).action).toBe('NO_DATA');
    const second = await refreshWrote('q_st');
    expect(second).toEqual({ action: 'NO_DATA', wrote: false });
    expect(await historyCount()).toBe(history);
    expect(await rowVersion('q_st')).toBe(version);
  });

  it('a pending change still refreshes, and the table equals its query', async () => {
    await db.query('UPDATE q_src SET v = v + 1 WHERE id <= 10');
    expect((await trickle().refresh('q_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'q_st', QUERY);
    expect((await trickle().refresh('q_st')).action).toBe('NO_DATA');
  });

  it('an uncommitted write is not pending; once committed it is', async () => {
    const w = await db.client();
    await w.query('BEGIN');
    await w.query('INSERT INTO q_src VALUES (1000, 1, 1)');
    try {
      expect((await refreshWrote('q_st')).wrote).toBe(false);
    } finally {
      await w.query('COMMIT');
      await w.end();
    }
    expect((await trickle().refresh('q_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'q_st', QUERY);
  });

  it('source DDL, a disabled guard and a pending rebuild take the full path', async () => {
    await db.query('ALTER TABLE q_src ADD COLUMN extra int');
    expect((await trickle().refresh('q_st')).action).toBe('REINITIALIZE');
    expect((await trickle().refresh('q_st')).action).toBe('NO_DATA');
    await db.query('ALTER TABLE q_st__pgt_storage DISABLE TRIGGER pgtrickle_guard');
    expect((await trickle().refresh('q_st')).action).toBe('FULL');
    await db.query(`UPDATE pgtrickle.pgt_stream_tables SET needs_reinit = true WHERE table_name = 'q_st'`);
    expect((await trickle().refresh('q_st')).action).toBe('FULL');
    await expectTableEqualsQuery(db, 'q_st', QUERY);
  });

  it('a FULL table is always recomputed', async () => {
    await trickle().refresh('q_full'); // (rebuilt once after the DDL above)
    expect((await trickle().refresh('q_full')).action).toBe('FULL');
    expect((await trickle().refresh('q_full')).action).toBe('FULL');
  });
});
