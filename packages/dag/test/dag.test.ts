import { describe, expect, it } from 'vitest';
import {
  CycleError,
  Dag,
  DagError,
  DependentsExistError,
  DuplicateNodeError,
  InvalidArgumentError,
  UnknownNodeError,
} from '../src/index.js';

function chain(): Dag {
  // a → b → c → d, and a → d
  return new Dag()
    .addSource('a')
    .addStreamTable('b', { reads: ['a'] })
    .addStreamTable('c', { reads: ['b'] })
    .addStreamTable('d', { reads: ['c', 'a'] });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('building', () => {
  it('adds sources and stream tables and reports them', () => {
    const dag = chain();
    expect(dag.size).toBe(4);
    expect(dag.edgeCount).toBe(4);
    expect(dag.sources()).toEqual(['a']);
    expect(dag.streamTables()).toEqual(['b', 'c', 'd']);
    expect(dag.kind('a')).toBe('source');
    expect(dag.isStreamTable('d')).toBe(true);
    expect(dag.node('d')).toEqual({
      id: 'd',
      kind: 'streamTable',
      reads: ['c', 'a'],
      schedule: null,
      meta: undefined,
    });
    expect(dag.node('zz')).toBeUndefined();
    expect(dag.edges()).toEqual([
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['a', 'd'],
    ]);
  });

  it('keeps metadata and de-duplicates reads', () => {
    const dag = new Dag<{ oid: number }>().addSource('s', { oid: 7 });
    dag.addStreamTable('t', { reads: ['s', 's'], meta: { oid: 9 } });
    expect(dag.node('s')?.meta).toEqual({ oid: 7 });
    expect(dag.upstream('t')).toEqual(['s']);
    expect(dag.edgeCount).toBe(1);
    dag.setMeta('t', { oid: 10 });
    expect(dag.node('t')?.meta).toEqual({ oid: 10 });
  });

  it('allows a stream table that reads nothing', () => {
    const dag = new Dag().addStreamTable('const', { reads: [] });
    expect(dag.topologicalOrder()).toEqual(['const']);
  });

  it('rejects duplicates, unknown reads, bad ids and bad schedules with stable codes', () => {
    const dag = chain();
    const v = dag.version;
    const dup = thrown(() => dag.addSource('a'));
    expect(dup).toBeInstanceOf(DuplicateNodeError);
    expect(dup).toBeInstanceOf(DagError);
    expect((dup as DagError).code).toBe('PGT_ALREADY_EXISTS');

    const unknown = thrown(() => dag.addStreamTable('e', { reads: ['a', 'x', 'y'] })) as UnknownNodeError;
    expect(unknown).toBeInstanceOf(UnknownNodeError);
    expect(unknown.code).toBe('PGT_NOT_FOUND');
    expect(unknown.ids).toEqual(['x', 'y']);
    expect(unknown.message).toContain('"x", "y"');

    const bad = thrown(() =>
      dag.addStreamTable('e', { reads: ['a'], schedule: { kind: 'interval', ms: -1 } }),
    );
    expect(bad).toBeInstanceOf(InvalidArgumentError);
    expect((bad as DagError).code).toBe('PGT_INVALID_ARGUMENT');
    expect(() =>
      dag.addStreamTable('e', { reads: ['a'], schedule: { kind: 'cron', expression: ' ' } }),
    ).toThrow(InvalidArgumentError);
    expect(() => dag.addSource('')).toThrow(InvalidArgumentError);
    expect(dag.version).toBe(v);
    expect(dag.has('e')).toBe(false);
  });

  it('refuses reads and schedules on sources', () => {
    const dag = chain();
    expect(() => dag.setReads('a', ['b'])).toThrow(InvalidArgumentError);
    expect(() => dag.setSchedule('a', null)).toThrow(/is a source/);
    expect(() => dag.setReads('nope', [])).toThrow(UnknownNodeError);
  });
});

describe('cycles', () => {
  it('rejects a self-read', () => {
    const dag = chain();
    const e = thrown(() => dag.addStreamTable('e', { reads: ['e'] })) as CycleError;
    expect(e.code).toBe('PGT_CYCLE');
    expect(e.cycle).toEqual(['e', 'e']);
    expect(() => dag.addRead('b', 'b')).toThrow(CycleError);
  });

  it('rejects an alter that closes a cycle, names it, and leaves the graph unchanged', () => {
    const dag = chain();
    const before = dag.nodes().map((id) => dag.node(id));
    const v = dag.version;
    const e = thrown(() => dag.setReads('b', ['a', 'd'])) as CycleError;
    expect(e).toBeInstanceOf(CycleError);
    expect(e.cycle).toEqual(['b', 'c', 'd', 'b']);
    expect(e.message).toContain('b → c → d → b');
    expect(e.message).toContain('do not let "b" read "d"');
    expect(dag.nodes().map((id) => dag.node(id))).toEqual(before);
    expect(dag.version).toBe(v);
    expect(dag.downstream('d')).toEqual([]);
  });

  it('reports the shortest cycle through the new edge', () => {
    const dag = chain();
    // b → c → d and b → d would both make d-reading-b... here c reads d: c → d → c
    const e = thrown(() => dag.addRead('c', 'd')) as CycleError;
    expect(e.cycle).toEqual(['c', 'd', 'c']);
  });

  it('accepts alters that keep the graph acyclic', () => {
    const dag = chain();
    dag.setReads('d', ['b']);
    expect(dag.upstream('d')).toEqual(['b']);
    expect(dag.downstream('c')).toEqual([]);
    expect(dag.edgeCount).toBe(3);
    dag.setReads('c', ['a']).addRead('d', 'c');
    expect(dag.topologicalOrder()).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('removal', () => {
  it('refuses to remove a node others read, listing them', () => {
    const dag = chain();
    const e = thrown(() => dag.removeNode('a')) as DependentsExistError;
    expect(e).toBeInstanceOf(DependentsExistError);
    expect(e.code).toBe('PGT_DEPENDENTS_EXIST');
    expect(e.dependents).toEqual(['b', 'd']);
    expect(e.message).toContain('cascade');
    expect(dag.size).toBe(4);
  });

  it('removes a leaf', () => {
    const dag = chain();
    expect(dag.removeNode('d')).toEqual(['d']);
    expect(dag.downstream('a')).toEqual(['b']);
    expect(dag.edgeCount).toBe(2);
  });

  it('cascades in a safe drop order (readers first)', () => {
    const dag = chain().addStreamTable('e', { reads: ['c'] });
    const removed = dag.removeNode('b', { cascade: true });
    expect(removed).toEqual(['e', 'd', 'c', 'b']);
    expect(dag.nodes()).toEqual(['a']);
    expect(dag.edgeCount).toBe(0);
    expect(() => dag.removeNode('b')).toThrow(UnknownNodeError);
  });

  it('re-adding a removed id puts it last in insertion order', () => {
    const dag = new Dag().addSource('x').addSource('y');
    dag.removeNode('x');
    dag.addSource('x');
    expect(dag.topologicalOrder()).toEqual(['y', 'x']);
  });
});

describe('queries', () => {
  it('breaks topological ties by insertion order, not by name', () => {
    const dag = new Dag()
      .addSource('z')
      .addSource('a')
      .addStreamTable('m', { reads: ['a'] })
      .addStreamTable('b', { reads: ['z'] });
    expect(dag.topologicalOrder()).toEqual(['z', 'a', 'm', 'b']);
  });

  it('places an earlier-inserted reader after a later-inserted input', () => {
    const dag = new Dag()
      .addSource('s')
      .addStreamTable('x', { reads: ['s'] })
      .addStreamTable('y', { reads: ['s'] });
    dag.setReads('x', ['y']);
    expect(dag.topologicalOrder()).toEqual(['s', 'y', 'x']);
    expect(dag.ancestors('x')).toEqual(['s', 'y']);
  });

  it('answers direct and transitive neighbours', () => {
    const dag = chain();
    expect(dag.upstream('d')).toEqual(['c', 'a']);
    expect(dag.downstream('a')).toEqual(['b', 'd']);
    expect(dag.ancestors('d')).toEqual(['a', 'b', 'c']);
    expect(dag.descendants('a')).toEqual(['b', 'c', 'd']);
    expect(dag.descendants('d')).toEqual([]);
    expect(() => dag.ancestors('q')).toThrow(UnknownNodeError);
  });

  it('computes levels by longest path', () => {
    const dag = chain();
    expect(dag.levels()).toEqual([['a'], ['b'], ['c'], ['d']]);
    expect(dag.levels({ streamTablesOnly: true })).toEqual([['b'], ['c'], ['d']]);
    const wide = new Dag()
      .addSource('s1')
      .addSource('s2')
      .addStreamTable('x', { reads: ['s1'] })
      .addStreamTable('y', { reads: ['s2'] })
      .addStreamTable('z', { reads: ['x', 'y'] });
    expect(wide.levels()).toEqual([['s1', 's2'], ['x', 'y'], ['z']]);
  });

  it('finds fan-in nodes and independent branches', () => {
    const dag = chain()
      .addSource('s')
      .addStreamTable('p', { reads: ['s'] })
      .addStreamTable('q', { reads: ['p', 's'] })
      .addStreamTable('r', { reads: ['a'] });
    expect(dag.fanInNodes()).toEqual(['d', 'q']);
    // r shares only the source a with b/c/d: a separate branch.
    expect(dag.independentBranches()).toEqual([['b', 'c', 'd'], ['p', 'q'], ['r']]);
  });

  it('clones independently', () => {
    const dag = chain();
    const copy = dag.clone();
    copy.addStreamTable('e', { reads: ['d'] });
    copy.removeNode('e');
    copy.setReads('d', ['c']);
    expect(dag.upstream('d')).toEqual(['c', 'a']);
    expect(copy.upstream('d')).toEqual(['c']);
    expect(dag.downstream('a')).toEqual(['b', 'd']);
    expect(copy.downstream('a')).toEqual(['b']);
  });

  it('bumps the version on every change only', () => {
    const dag = new Dag();
    expect(dag.version).toBe(0);
    dag.addSource('a');
    dag.topologicalOrder();
    expect(dag.version).toBe(1);
    dag.addStreamTable('b', { reads: ['a'] });
    dag.setSchedule('b', { kind: 'interval', ms: 5 });
    expect(dag.version).toBe(3);
  });
});
