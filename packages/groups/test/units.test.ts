import { Dag } from '@pgtrickle/dag';
import { describe, expect, it } from 'vitest';
import {
  type ConsistencyGroup,
  detectedGroups,
  InvalidGroupError,
  mergeGroups,
  refreshUnits,
  unitIndex,
} from '../src/index.js';

describe('refreshUnits', () => {
  it('schedules a diamond group as one unit after its upstreams', () => {
    const dag = new Dag()
      .addSource('A')
      .addStreamTable('P', { reads: ['A'] })
      .addStreamTable('B', { reads: ['P'] })
      .addStreamTable('C', { reads: ['P'] })
      .addStreamTable('D', { reads: ['B', 'C'] })
      .addStreamTable('E', { reads: ['D'] })
      .addSource('Z')
      .addStreamTable('Q', { reads: ['Z'] });
    const units = refreshUnits(dag, mergeGroups(detectedGroups(dag), [], { dag }));
    expect(units.map((u) => [u.id, u.kind, u.members, u.dependsOn])).toEqual([
      ['detected:B,C,D,P', 'group', ['P', 'B', 'C', 'D'], []],
      ['E', 'single', ['E'], ['detected:B,C,D,P']],
      ['Q', 'single', ['Q'], []],
    ]);
    expect(unitIndex(units).get('C')?.id).toBe('detected:B,C,D,P');
  });

  it('absorbs a table lying between members of a non-convex group', () => {
    // A → B → C, declared group {B', C} where the middle table M is outside the group.
    const dag = new Dag()
      .addSource('S')
      .addStreamTable('B', { reads: ['S'] })
      .addStreamTable('M', { reads: ['B'] })
      .addStreamTable('C', { reads: ['M'] })
      .addStreamTable('after', { reads: ['C'] });
    const groups = mergeGroups([], [{ name: 'bc', members: ['B', 'C'], isolation: 'repeatable read' }], {
      dag,
    });
    const units = refreshUnits(dag, groups);
    expect(units).toHaveLength(2);
    const [first, second] = units;
    expect(first?.members).toEqual(['B', 'M', 'C']);
    expect(first?.group).toMatchObject({
      origin: 'merged',
      isolation: 'repeatable read',
      id: 'merged:B,C,M',
    });
    expect(first?.group?.reason).toContain('"M"');
    expect(second).toMatchObject({ id: 'after', dependsOn: ['merged:B,C,M'] });
  });

  it('rejects groups that are not a partition of stream tables', () => {
    const dag = new Dag()
      .addSource('S')
      .addStreamTable('a', { reads: ['S'] })
      .addStreamTable('b', { reads: ['a'] });
    const g = (id: string, members: string[]): ConsistencyGroup => ({
      id,
      members,
      isolation: 'read committed',
      origin: 'declared',
    });
    expect(() => refreshUnits(dag, [g('x', ['a']), g('y', ['a', 'b'])])).toThrow(InvalidGroupError);
    expect(() => refreshUnits(dag, [g('x', ['S'])])).toThrow(/is a source/);
    expect(() => refreshUnits(dag, [g('x', ['ghost'])])).toThrow(/not in the DAG/);
    expect(() => refreshUnits(dag, [g('b', ['a'])])).toThrow(/unit ids must be unique/);
  });

  it('returns singles in topological order when there are no groups', () => {
    const dag = new Dag()
      .addSource('s')
      .addStreamTable('y', { reads: ['s'] })
      .addStreamTable('x', { reads: ['s'] });
    dag.setReads('y', ['x']);
    expect(refreshUnits(dag, []).map((u) => u.id)).toEqual(['x', 'y']);
  });
});
