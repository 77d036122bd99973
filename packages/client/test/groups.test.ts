/**
 * The group execution strategies on a real server: all members commit together or none does;
 * REPEATABLE READ members read one snapshot, READ COMMITTED ones each their own; a member's
 * nested savepoint undoes only its own work.
 */
import type { ConsistencyGroup } from '@pgtrickle/groups';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createEngine,
  type PgGroupTransaction,
  RepeatableReadGroupStrategy,
  refreshInTransaction,
  SavepointGroupStrategy,
} from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const ids = new Map<string, number>();

function group(
  members: string[],
  isolation: ConsistencyGroup['isolation'] = 'read committed',
): ConsistencyGroup {
  return { id: `declared:${members.join('+')}`, members, isolation, origin: 'declared' };
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE a (id int PRIMARY KEY, v int); CREATE TABLE b (id int PRIMARY KEY, v int);
    INSERT INTO a SELECT g, g FROM generate_series(1, 5) g; INSERT INTO b SELECT g, g FROM generate_series(1, 5) g;
  `);
  for (const [name, q] of [
    ['sa', 'SELECT id, v FROM a'],
    ['sb', 'SELECT id, v FROM b'],
  ] as const) {
    await trickle().createStreamTable({ name, query: q, refreshMode: 'DIFFERENTIAL' });
    const r = await db.query('SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = $1', [name]);
    ids.set(name, Number(r.rows[0]?.pgt_id));
  }
});

const engine = createEngine();
const refresh = (member: string, tx: PgGroupTransaction) =>
  refreshInTransaction(tx.conn, engine, ids.get(member) as number, { initiatedBy: 'SCHEDULER' });

describe('SavepointGroupStrategy', () => {
  it('commits every member together', async () => {
    await db.query('UPDATE a SET v = v + 10; UPDATE b SET v = v + 10');
    const r = await new SavepointGroupStrategy(trickle().db).execute(
      group(['sa', 'sb']),
      ['sa', 'sb'],
      refresh,
    );
    expect(r.ok).toBe(true);
    await expectTableEqualsQuery(db, 'sa', 'SELECT id, v FROM a');
    await expectTableEqualsQuery(db, 'sb', 'SELECT id, v FROM b');
  });

  it('rolls every member back when one fails', async () => {
    await db.query('UPDATE a SET v = v + 1; UPDATE b SET v = v + 1');
    const before = await db.query('SELECT array_agg(v ORDER BY id) AS v FROM sa');
    const r = await new SavepointGroupStrategy(trickle().db).execute(
      group(['sa', 'sb']),
      ['sa', 'sb'],
      async (m, tx) => {
        const out = await refresh(m, tx);
        if (m === 'sb') throw new Error('boom in sb');
        return out;
      },
    );
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.failedMember).toBe('sb');
      expect(r.rolledBack).toEqual(['sa']);
      expect(r.error.code).toBe('PGT_GROUP_FAILED');
    }
    expect((await db.query('SELECT array_agg(v ORDER BY id) AS v FROM sa')).rows[0]?.v).toEqual(
      before.rows[0]?.v,
    );
    // Nothing was consumed: the next group refresh applies everything exactly once.
    const again = await new SavepointGroupStrategy(trickle().db).execute(
      group(['sa', 'sb']),
      ['sa', 'sb'],
      refresh,
    );
    expect(again.ok).toBe(true);
    await expectTableEqualsQuery(db, 'sa', 'SELECT id, v FROM a');
    await expectTableEqualsQuery(db, 'sb', 'SELECT id, v FROM b');
  });

  it('lets a member retry inside its own savepoint', async () => {
    const r = await new SavepointGroupStrategy(trickle().db).execute(
      group(['sa']),
      ['sa'],
      async (_m, tx) => {
        await tx
          .savepoint(async () => {
            await tx.conn.query('CREATE TEMP TABLE scratch (x int)');
            throw new Error('undo me');
          })
          .catch(() => undefined);
        const gone = await tx.conn.query(`SELECT to_regclass('pg_temp.scratch') IS NULL AS gone`);
        return gone.rows[0]?.gone as boolean;
      },
    );
    expect(r.ok && r.results[0]?.value).toBe(true);
  });
});

describe('isolation', () => {
  async function raceBetweenMembers(
    strategy: SavepointGroupStrategy | RepeatableReadGroupStrategy,
    isolation: ConsistencyGroup['isolation'],
  ) {
    await trickle().refresh('sa');
    await trickle().refresh('sb');
    await db.query('UPDATE a SET v = v + 100 WHERE id = 1');
    let racedValue = 0;
    const r = await strategy.execute(group(['sa', 'sb'], isolation), ['sa', 'sb'], async (m, tx) => {
      const out = await refresh(m, tx);
      if (m === 'sa') {
        racedValue = 1000 + Math.floor(Math.random() * 1000);
        await db.query('UPDATE b SET v = $1 WHERE id = 1', [racedValue]); // another session commits
      }
      return out;
    });
    expect(r.ok).toBe(true);
    const seen = await db.query('SELECT v FROM sb WHERE id = 1');
    return { seen: seen.rows[0]?.v as number, racedValue };
  }

  it('REPEATABLE READ: the second member does not see a commit made after the group began', async () => {
    const { seen, racedValue } = await raceBetweenMembers(
      new RepeatableReadGroupStrategy(trickle().db),
      'repeatable read',
    );
    expect(seen).not.toBe(racedValue);
    await trickle().refresh('sb'); // picked up next time
    await expectTableEqualsQuery(db, 'sb', 'SELECT id, v FROM b');
  });

  it('READ COMMITTED: the second member sees it', async () => {
    const { seen, racedValue } = await raceBetweenMembers(
      new SavepointGroupStrategy(trickle().db),
      'read committed',
    );
    expect(seen).toBe(racedValue);
    await expectTableEqualsQuery(db, 'sb', 'SELECT id, v FROM b');
  });

  it('a savepoint strategy still honours a group declared REPEATABLE READ', async () => {
    const { seen, racedValue } = await raceBetweenMembers(
      new SavepointGroupStrategy(trickle().db),
      'repeatable read',
    );
    expect(seen).not.toBe(racedValue);
  });
});
