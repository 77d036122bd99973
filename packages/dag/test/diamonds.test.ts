import { describe, expect, it } from 'vitest';
import { consistencyGroups, Dag, diamonds } from '../src/index.js';

function classic(): Dag {
  // A → B → D, A → C → D
  return new Dag()
    .addSource('A')
    .addStreamTable('B', { reads: ['A'] })
    .addStreamTable('C', { reads: ['A'] })
    .addStreamTable('D', { reads: ['B', 'C'] });
}

describe('diamonds', () => {
  it('finds the classic diamond', () => {
    expect(diamonds(classic())).toEqual([
      {
        apex: 'D',
        root: 'A',
        paths: [
          ['A', 'B', 'D'],
          ['A', 'C', 'D'],
        ],
      },
    ]);
  });

  it('counts a source read directly and through a stream table', () => {
    const dag = new Dag()
      .addSource('A')
      .addStreamTable('B', { reads: ['A'] })
      .addStreamTable('D', { reads: ['A', 'B'] });
    expect(dag.diamonds()).toEqual([
      {
        apex: 'D',
        root: 'A',
        paths: [
          ['A', 'D'],
          ['A', 'B', 'D'],
        ],
      },
    ]);
    expect(dag.consistencyGroups()).toEqual([{ members: ['B', 'D'], apexes: ['D'], roots: ['A'] }]);
  });

  it('reports all disjoint paths of a 4-way fan-out', () => {
    const dag = new Dag().addSource('S');
    for (const x of ['p', 'q', 'r', 's']) dag.addStreamTable(x, { reads: ['S'] });
    dag.addStreamTable('J', { reads: ['p', 'q', 'r', 's'] });
    const [d] = dag.diamonds();
    expect(d?.paths).toHaveLength(4);
  });

  it('finds no diamond when a fan-in reads independent sources', () => {
    const dag = new Dag()
      .addSource('B1')
      .addSource('C1')
      .addStreamTable('B2', { reads: ['B1'] })
      .addStreamTable('C2', { reads: ['C1'] })
      .addStreamTable('D', { reads: ['B2', 'C2'] });
    expect(dag.fanInNodes()).toEqual(['D']);
    expect(dag.diamonds()).toEqual([]);
    expect(dag.consistencyGroups()).toEqual([]);
  });

  it('uses the node where paths split as the root, not a dominating ancestor', () => {
    // S → A → B → D, A → C → D: every S→D path passes through A, so S is not a root.
    const dag = new Dag()
      .addSource('S')
      .addStreamTable('A', { reads: ['S'] })
      .addStreamTable('B', { reads: ['A'] })
      .addStreamTable('C', { reads: ['A'] })
      .addStreamTable('D', { reads: ['B', 'C'] });
    expect(dag.diamonds().map((d) => d.root)).toEqual(['A']);
    // The root is a stream table, so it is in the group.
    expect(dag.consistencyGroups()).toEqual([{ members: ['A', 'B', 'C', 'D'], apexes: ['D'], roots: ['A'] }]);
  });

  it('nests: roots can be filtered to outermost or innermost', () => {
    // S → A → {B, C} → D and S → E → D
    const dag = new Dag()
      .addSource('S')
      .addStreamTable('A', { reads: ['S'] })
      .addStreamTable('B', { reads: ['A'] })
      .addStreamTable('C', { reads: ['A'] })
      .addStreamTable('E', { reads: ['S'] })
      .addStreamTable('D', { reads: ['B', 'C', 'E'] });
    expect(dag.diamonds().map((d) => d.root)).toEqual(['S', 'A']);
    expect(dag.diamonds({ roots: 'outermost' }).map((d) => d.root)).toEqual(['S']);
    expect(dag.diamonds({ roots: 'innermost' }).map((d) => d.root)).toEqual(['A']);
    const [outer] = dag.diamonds({ roots: 'outermost' });
    expect(outer?.paths).toEqual([
      ['S', 'E', 'D'],
      ['S', 'A', 'B', 'D'],
    ]);
    expect(consistencyGroups(dag)).toEqual([
      { members: ['A', 'B', 'C', 'E', 'D'], apexes: ['D'], roots: ['S', 'A'] },
    ]);
  });

  it('keeps unrelated upstream stream tables out of the group', () => {
    // F → E → B feeds only one side of the diamond A → {B, C} → D.
    const dag = new Dag()
      .addSource('A')
      .addSource('F')
      .addStreamTable('E', { reads: ['F'] })
      .addStreamTable('B', { reads: ['A', 'E'] })
      .addStreamTable('C', { reads: ['A'] })
      .addStreamTable('D', { reads: ['B', 'C'] })
      .addStreamTable('X', { reads: ['D'] });
    expect(dag.consistencyGroups()).toEqual([{ members: ['B', 'C', 'D'], apexes: ['D'], roots: ['A'] }]);
  });

  it('merges overlapping diamonds into one group and keeps separate ones apart', () => {
    const dag = classic()
      .addStreamTable('E', { reads: ['C'] })
      .addStreamTable('F', { reads: ['C', 'E'] })
      .addSource('Z')
      .addStreamTable('P', { reads: ['Z'] })
      .addStreamTable('Q', { reads: ['Z', 'P'] });
    expect(dag.consistencyGroups()).toEqual([
      { members: ['B', 'C', 'D', 'E', 'F'], apexes: ['D', 'F'], roots: ['A', 'C'] },
      { members: ['P', 'Q'], apexes: ['Q'], roots: ['Z'] },
    ]);
  });

  it('handles long chains without deep recursion', () => {
    const dag = new Dag().addSource('s');
    let prev = 's';
    for (let i = 0; i < 20_000; i++) {
      dag.addStreamTable(`t${i}`, { reads: [prev] });
      prev = `t${i}`;
    }
    dag.addStreamTable('end', { reads: ['s', prev] });
    const ds = dag.diamonds();
    expect(ds).toHaveLength(1);
    expect(ds[0]?.paths[1]).toHaveLength(20_002);
    expect(dag.consistencyGroups()[0]?.members).toHaveLength(20_001);
  });
});
