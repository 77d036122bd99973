import { Dag } from '@pgtrickle/dag';
import { describe, expect, it } from 'vitest';
import {
  type ConsistencyGroup,
  detectedGroups,
  InvalidGroupError,
  isIsolationLevel,
  isolationRank,
  mergeGroups,
  strongestIsolation,
  validateDeclaredGroups,
} from '../src/index.js';

/** A → {B, C} → D (a diamond), plus independent X1 → X2, Y1 → Y2 and J reading X2, Y2. */
function pipeline(): Dag {
  return new Dag()
    .addSource('A')
    .addStreamTable('B', { reads: ['A'] })
    .addStreamTable('C', { reads: ['A'] })
    .addStreamTable('D', { reads: ['B', 'C'] })
    .addSource('X1')
    .addSource('Y1')
    .addStreamTable('X2', { reads: ['X1'] })
    .addStreamTable('Y2', { reads: ['Y1'] })
    .addStreamTable('J', { reads: ['X2', 'Y2'] });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('isolation', () => {
  it('orders levels', () => {
    expect(isolationRank('repeatable read')).toBeGreaterThan(isolationRank('read committed'));
    expect(strongestIsolation([])).toBe('read committed');
    expect(strongestIsolation(['read committed', 'repeatable read'])).toBe('repeatable read');
    expect(isIsolationLevel('serializable')).toBe(false);
  });
});

describe('detectedGroups', () => {
  it('turns DAG groups into read-committed groups with deterministic ids', () => {
    expect(detectedGroups(pipeline())).toEqual([
      {
        id: 'detected:B,C,D',
        members: ['B', 'C', 'D'],
        isolation: 'read committed',
        origin: 'detected',
        reason: 'diamond at "D" from shared "A"',
      },
    ]);
  });
});

describe('validateDeclaredGroups', () => {
  it('accepts valid groups', () => {
    expect(() =>
      validateDeclaredGroups(
        [{ name: 'snap', members: ['X2', 'Y2'], isolation: 'repeatable read' }],
        pipeline(),
      ),
    ).not.toThrow();
  });

  it('lists every problem in one error', () => {
    const e = thrown(() =>
      validateDeclaredGroups(
        [
          { name: 'g', members: [], isolation: 'read committed' },
          { name: 'g', members: ['X2', 'X2'], isolation: 'repeatable read' },
          { name: '', members: ['nope', 'A'], isolation: 'serializable' as 'read committed' },
        ],
        pipeline(),
      ),
    ) as InvalidGroupError;
    expect(e).toBeInstanceOf(InvalidGroupError);
    expect(e.code).toBe('PGT_INVALID_ARGUMENT');
    expect(e.problems).toEqual([
      'group "g" has no members',
      'group name "g" is used twice',
      'group "g" lists "X2" twice',
      'group #3 has no name',
      `group #3 has isolation "serializable"; use 'read committed' or 'repeatable read'`,
      'group #3: "nope" is not in the DAG',
      'group #3: "A" is a source, not a stream table',
    ]);
    expect(e.message).toContain('used twice');
  });

  it('checks membership only when a DAG is given', () => {
    expect(() =>
      validateDeclaredGroups([{ name: 'x', members: ['ghost'], isolation: 'read committed' }]),
    ).not.toThrow();
  });
});

describe('mergeGroups', () => {
  it('keeps disjoint groups and lets a declared group join the diamond group', () => {
    const dag = pipeline();
    const merged = mergeGroups(
      detectedGroups(dag),
      [
        { name: 'snap', members: ['X2', 'Y2', 'J'], isolation: 'repeatable read' },
        { name: 'dj', members: ['D', 'J'], isolation: 'read committed' },
      ],
      { dag },
    );
    expect(merged).toEqual([
      {
        id: 'merged:B,C,D,J,X2,Y2',
        members: ['B', 'C', 'D', 'X2', 'Y2', 'J'],
        isolation: 'repeatable read',
        origin: 'merged',
        reason: 'merged declared:dj, declared:snap, detected:B,C,D (they share members)',
      },
    ]);
  });

  it('keeps a lone group as it is (members normalized)', () => {
    const g: ConsistencyGroup = {
      id: 'declared:x',
      members: ['b', 'a'],
      isolation: 'read committed',
      origin: 'declared',
    };
    expect(mergeGroups([g])).toEqual([{ ...g, members: ['a', 'b'] }]);
  });

  it('declared isolation beats detected', () => {
    const dag = pipeline();
    const [g] = mergeGroups(detectedGroups(dag), [
      { name: 'rr', members: ['D'], isolation: 'repeatable read' },
    ]);
    expect(g?.isolation).toBe('repeatable read');
    expect(g?.origin).toBe('merged');
  });

  it('rejects conflicting ids and invalid declared groups', () => {
    const a: ConsistencyGroup = { id: 'g', members: ['x'], isolation: 'read committed', origin: 'detected' };
    const b: ConsistencyGroup = { ...a, members: ['y'] };
    expect(() => mergeGroups([a, b])).toThrow(InvalidGroupError);
    expect(mergeGroups([a, { ...a }])).toEqual([a]);
    expect(() => mergeGroups([], [{ name: 'e', members: [], isolation: 'read committed' }])).toThrow(
      /no members/,
    );
    expect(() =>
      mergeGroups([], [{ name: 'e', members: ['A'], isolation: 'read committed' }], { dag: pipeline() }),
    ).toThrow(/is a source/);
  });
});
