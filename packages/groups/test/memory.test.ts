import { describe, expect, it } from 'vitest';
import {
  type ConsistencyGroup,
  GroupExecutionError,
  InMemoryGroupStrategy,
  InMemoryStore,
  InvalidGroupError,
  TransactionClosedError,
  unwrapGroupResult,
} from '../src/index.js';

const group: ConsistencyGroup = {
  id: 'g',
  members: ['a', 'b', 'c'],
  isolation: 'read committed',
  origin: 'declared',
};

describe('InMemoryStore', () => {
  it('commits, rolls back and isolates uncommitted writes', () => {
    const store = new InMemoryStore<number>([['k', 1]]);
    const tx = store.begin();
    tx.set('k', 2);
    tx.set('n', 3);
    tx.delete('k');
    expect(tx.get('k')).toBeUndefined();
    expect(tx.has('n')).toBe(true);
    expect(store.get('k')).toBe(1);
    expect(tx.writes()).toEqual(
      new Map([
        ['k', undefined],
        ['n', 3],
      ]),
    );
    tx.commit();
    expect(store.snapshot()).toEqual(new Map([['n', 3]]));
    expect(() => tx.set('x', 1)).toThrow(TransactionClosedError);

    const tx2 = store.begin();
    tx2.set('n', 9);
    tx2.rollback();
    tx2.rollback();
    expect(store.get('n')).toBe(3);
    expect(tx2.state).toBe('rolled back');
  });

  it('supports nested savepoints', () => {
    const store = new InMemoryStore<string>();
    const tx = store.begin();
    tx.set('a', '1');
    const sp1 = tx.savepoint();
    tx.set('b', '2');
    const sp2 = tx.savepoint();
    tx.set('c', '3');
    tx.rollbackTo(sp2);
    expect(tx.has('c')).toBe(false);
    tx.rollbackTo(sp1);
    expect(tx.has('b')).toBe(false);
    expect(() => tx.rollbackTo(sp2)).toThrow(RangeError);
    tx.commit();
    expect(store.snapshot()).toEqual(new Map([['a', '1']]));
  });

  it('read committed sees later commits; repeatable read keeps its snapshot', () => {
    const store = new InMemoryStore<number>([['x', 1]]);
    const rc = store.begin('read committed');
    const rr = store.begin('repeatable read');
    store.set('x', 2);
    expect(rc.get('x')).toBe(2);
    expect(rr.get('x')).toBe(1);
    expect(rr.has('x')).toBe(true);
  });
});

describe('InMemoryGroupStrategy', () => {
  it('commits every member together', async () => {
    const store = new InMemoryStore<string>();
    const strategy = new InMemoryGroupStrategy(store);
    const result = await strategy.execute(group, ['a', 'b', 'c'], async (m, tx) => {
      tx.set(m, `v-${m}`);
      expect(store.has(m)).toBe(false);
      return m.toUpperCase();
    });
    expect(unwrapGroupResult(result)).toEqual([
      { member: 'a', value: 'A' },
      { member: 'b', value: 'B' },
      { member: 'c', value: 'C' },
    ]);
    expect(store.snapshot()).toEqual(
      new Map([
        ['a', 'v-a'],
        ['b', 'v-b'],
        ['c', 'v-c'],
      ]),
    );
    expect(store.commitCount).toBe(1);
  });

  it('rolls back everything when a member fails and reports it', async () => {
    const store = new InMemoryStore<string>([['keep', 'old']]);
    const strategy = new InMemoryGroupStrategy(store);
    const boom = new Error('merge failed');
    const ran: string[] = [];
    const result = await strategy.execute(group, ['a', 'b', 'c'], async (m, tx) => {
      ran.push(m);
      tx.set(m, 'new');
      tx.set('keep', 'overwritten');
      if (m === 'b') throw boom;
      return m;
    });
    expect(ran).toEqual(['a', 'b']);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failedMember).toBe('b');
    expect(result.rolledBack).toEqual(['a']);
    expect(result.error).toBeInstanceOf(GroupExecutionError);
    expect(result.error.code).toBe('PGT_GROUP_FAILED');
    expect(result.error.cause).toBe(boom);
    expect(result.error.message).toContain('"b"');
    expect(result.error.message).toContain('merge failed');
    expect(store.snapshot()).toEqual(new Map([['keep', 'old']]));
    expect(() => unwrapGroupResult(result)).toThrow(GroupExecutionError);
  });

  it('reports a commit failure with member null', async () => {
    const store = new InMemoryStore<number>([], {
      beforeCommit: () => {
        throw new Error('disk full');
      },
    });
    const result = await new InMemoryGroupStrategy(store).execute(group, ['a'], async (m, tx) => {
      tx.set(m, 1);
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failedMember).toBeNull();
    expect(result.error.message).toContain('while committing');
    expect(store.size).toBe(0);
  });

  it('undoes only a savepoint when a member recovers inside it', async () => {
    const store = new InMemoryStore<string>();
    const result = await new InMemoryGroupStrategy(store).execute(group, ['a', 'b'], async (m, tx) => {
      try {
        await tx.savepoint(async () => {
          tx.set(`${m}:diff`, 'partial');
          throw new Error('differential not possible');
        });
      } catch {
        tx.set(`${m}:full`, 'done');
      }
    });
    expect(result.ok).toBe(true);
    expect([...store.snapshot().keys()]).toEqual(['a:full', 'b:full']);
  });

  it('runs under the group isolation', async () => {
    const store = new InMemoryStore<number>([['src', 1]]);
    const rr: ConsistencyGroup = { ...group, isolation: 'repeatable read' };
    const seen: Array<number | undefined> = [];
    await new InMemoryGroupStrategy(store).execute(rr, ['a', 'b'], async (m, tx) => {
      expect(tx.isolation).toBe('repeatable read');
      seen.push(tx.get('src'));
      if (m === 'a') store.set('src', 2); // a concurrent commit between members
    });
    expect(seen).toEqual([1, 1]);
  });

  it('rejects bad member lists and makes the transaction unusable afterwards', async () => {
    const strategy = new InMemoryGroupStrategy(new InMemoryStore());
    const refresh = async () => undefined;
    await expect(strategy.execute(group, [], refresh)).rejects.toBeInstanceOf(InvalidGroupError);
    await expect(strategy.execute(group, ['a', 'a'], refresh)).rejects.toThrow(/listed twice/);
    await expect(strategy.execute(group, ['zz'], refresh)).rejects.toThrow(/not a member/);
    let leaked: { set(k: string, v: unknown): void } | undefined;
    await strategy.execute(group, ['a'], async (_m, tx) => {
      leaked = tx;
    });
    expect(() => leaked?.set('late', 1)).toThrow(TransactionClosedError);
  });
});
