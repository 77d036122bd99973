/**
 * The opening of a refresh in one round trip (`refresh-open.ts`): BEGIN, the lock and the preflight
 * sent together on the row read just before. When the locked row is not that row — a refresh
 * committed in between, or one that committed while the lock was awaited — the transaction is
 * rolled back and opened the ordinary way, so the refresh applies only what is left of the window
 * (nothing twice) and the table stays equal to its query.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamTableById } from '../src/catalog/find-stream-table.js';
import { refreshInTransaction } from '../src/refresh.js';
import { useTrickle } from './support/setup.js';
import { recorded } from './support/statements.js';

const { db, trickle } = useTrickle();

const QUERY = 'SELECT k, count(*) AS n, sum(v) AS s FROM ro_src GROUP BY k';

/** The stream table's id. */
async function idOf(name: string): Promise<number> {
  const r = await db.query('SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = $1', [name]);
  return Number(r.rows[0]?.pgt_id);
}

beforeAll(async () => {
  await db.query('CREATE TABLE ro_src (id int PRIMARY KEY, k int NOT NULL, v numeric(10,2) NOT NULL)');
  await db.query('INSERT INTO ro_src SELECT g, g % 5, g FROM generate_series(1, 100) g');
  await trickle().createStreamTable({ name: 'ro_st', query: QUERY, refreshMode: 'DIFFERENTIAL' });
  // Two refreshes with changes: the plan cached, the preflight prepared in the session.
  for (const id of [1, 2]) {
    await db.query('UPDATE ro_src SET v = v + 1 WHERE id = $1', [id]);
    expect((await trickle().refresh('ro_st')).action).toBe('DIFFERENTIAL');
  }
});

describe('a refresh opened in one round trip', () => {
  it('rolls back and opens the ordinary way when the locked row is not the row read before', async () => {
    const t = trickle();
    const pgtId = await idOf('ro_st');
    const stale = await streamTableById(db, pgtId);
    if (stale === null) throw new Error('no row');
    // A refresh commits after that read: the frontier moves.
    await db.query('UPDATE ro_src SET v = v + 1 WHERE id BETWEEN 3 AND 7');
    expect((await t.refresh('ro_st')).action).toBe('DIFFERENTIAL');
    await db.query('UPDATE ro_src SET v = v + 1 WHERE id BETWEEN 8 AND 9');
    const { value, texts } = await recorded(t, () =>
      t.db.transaction(
        (conn) =>
          refreshInTransaction(conn, t.engineState, pgtId, {
            initiatedBy: 'MANUAL',
            begin: true,
            peek: false,
            seen: stale,
          }),
        'read committed',
        { beganBy: 'work' },
      ),
    );
    // Tried in one round trip, rolled back, opened again with the lock alone.
    expect(texts[0]).toMatch(
      /^BEGIN ISOLATION LEVEL READ COMMITTED; WITH st AS MATERIALIZED .*; EXECUTE "pgt_p_/s,
    );
    expect(texts[1]).toBe('ROLLBACK');
    expect(texts[2]).toMatch(/^BEGIN ISOLATION LEVEL READ COMMITTED; WITH st AS MATERIALIZED /);
    expect(texts[2]).not.toContain('EXECUTE');
    // Only the changes after the refresh in between.
    expect(value.action).toBe('DIFFERENTIAL');
    expect(value.pendingChanges).toBe(4);
    await expectTableEqualsQuery(db, 'ro_st', QUERY);
  });

  it('sees a refresh that committed while its lock was awaited, and applies nothing twice', async () => {
    const t = trickle();
    const pgtId = await idOf('ro_st');
    await db.query('UPDATE ro_src SET v = v + 10 WHERE id BETWEEN 20 AND 29');
    const holder = await db.pool.connect();
    try {
      // Another transaction refreshes the table and holds its lock, uncommitted.
      await holder.query('BEGIN');
      const held = await refreshInTransaction(holder, t.engineState, pgtId, {
        initiatedBy: 'MANUAL',
        peek: false,
      });
      expect(held.action).toBe('DIFFERENTIAL');
      expect(held.pendingChanges).toBe(20);
      // refresh(): its opening read sees the frontier before that refresh, and its lock waits.
      const waiting = recorded(t, () => t.refresh('ro_st'));
      for (;;) {
        const w = await db.query(
          `SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'BEGIN ISOLATION LEVEL READ COMMITTED;%'`,
        );
        if (Number(w.rows[0]?.n) > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await holder.query('COMMIT');
      const { value: r, texts } = await waiting;
      // It waited in the one round trip, found the row moved on, and opened again the ordinary way.
      expect(texts[1]).toMatch(/; EXECUTE "pgt_p_[0-9a-f]{40}"\(.*\)$/s);
      expect(texts[2]).toBe('ROLLBACK');
      // The window the other refresh consumed is not applied again.
      expect(r.pendingChanges).toBe(0);
      expect(['NO_DATA', 'DIFFERENTIAL']).toContain(r.action);
    } finally {
      holder.release();
    }
    await expectTableEqualsQuery(db, 'ro_st', QUERY);
  });
});
