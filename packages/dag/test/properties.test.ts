import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CycleError, type Dag } from '../src/index.js';
import {
  allPaths,
  buildDag,
  canonicalPartition,
  dagSpec,
  internallyDisjoint,
  isDiamondBrute,
  reachable,
  snapshot,
  successors,
} from './arbitraries.js';

/** Property runs; raise with FC_RUNS for a longer soak. */
const runs = { numRuns: Number(process.env.FC_RUNS ?? 300) };

describe('properties: order and closures', () => {
  it('topological order lists every node once and respects every edge', () => {
    fc.assert(
      fc.property(dagSpec(5, 25, 4), (spec) => {
        const dag = buildDag(spec);
        const order = dag.topologicalOrder();
        expect(new Set(order).size).toBe(dag.size);
        expect(order).toHaveLength(dag.size);
        const pos = new Map(order.map((id, i) => [id, i]));
        for (const [from, to] of dag.edges()) expect(pos.get(from)!).toBeLessThan(pos.get(to)!);
      }),
      runs,
    );
  });

  it('ancestors/descendants equal naive closures; levels respect edges', () => {
    fc.assert(
      fc.property(dagSpec(4, 15), (spec) => {
        const dag = buildDag(spec);
        const succ = successors(dag);
        const pred = new Map<string, string[]>(dag.nodes().map((id) => [id, dag.upstream(id)]));
        for (const id of dag.nodes()) {
          expect(new Set(dag.descendants(id))).toEqual(reachable(succ, id));
          expect(new Set(dag.ancestors(id))).toEqual(reachable(pred, id));
        }
        const level = new Map<string, number>();
        dag.levels().forEach((ids, k) => {
          for (const id of ids) level.set(id, k);
        });
        expect(level.size).toBe(dag.size);
        for (const id of dag.nodes()) {
          const ups = dag.upstream(id);
          const expected = ups.length === 0 ? 0 : Math.max(...ups.map((u) => level.get(u)! + 1));
          expect(level.get(id)).toBe(expected);
        }
      }),
      runs,
    );
  });
});

describe('properties: cycles', () => {
  it('closing a cycle is always rejected, leaves the graph unchanged and names a real cycle', () => {
    fc.assert(
      fc.property(dagSpec(3, 12), fc.nat(), fc.nat(), (spec, i, j) => {
        const dag = buildDag(spec);
        const streams = dag.streamTables();
        fc.pre(streams.length > 0);
        const u = streams[i % streams.length]!;
        const below = [u, ...dag.descendants(u)];
        const v = below[j % below.length]!;
        // u reading v adds the edge v → u while u →* v already holds.
        const before = snapshot(dag);
        const version = dag.version;
        let error: unknown;
        try {
          dag.addRead(u, v);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(CycleError);
        expect(snapshot(dag)).toEqual(before);
        expect(dag.version).toBe(version);
        const cycle = (error as CycleError).cycle;
        expect(cycle[0]).toBe(cycle[cycle.length - 1]);
        expect(new Set(cycle.slice(0, -1)).size).toBe(cycle.length - 1);
        const edges = new Set(dag.edges().map(([a, b]) => `${a}>${b}`));
        edges.add(`${v}>${u}`);
        for (let k = 0; k + 1 < cycle.length; k++)
          expect(edges.has(`${cycle[k]}>${cycle[k + 1]}`)).toBe(true);
      }),
      runs,
    );
  });

  it('adding an edge that closes no cycle is accepted', () => {
    fc.assert(
      fc.property(dagSpec(3, 12), fc.nat(), fc.nat(), (spec, i, j) => {
        const dag = buildDag(spec);
        const streams = dag.streamTables();
        fc.pre(streams.length > 0);
        const u = streams[i % streams.length]!;
        const forbidden = new Set([u, ...dag.descendants(u)]);
        const allowed = dag.nodes().filter((id) => !forbidden.has(id));
        fc.pre(allowed.length > 0);
        const v = allowed[j % allowed.length]!;
        dag.addRead(u, v);
        expect(dag.upstream(u)).toContain(v);
        expect(dag.topologicalOrder()).toHaveLength(dag.size);
      }),
      runs,
    );
  });

  it('cascade removal removes exactly the descendants, readers before what they read', () => {
    fc.assert(
      fc.property(dagSpec(3, 12), fc.nat(), (spec, i) => {
        const dag = buildDag(spec);
        const ids = dag.nodes();
        const id = ids[i % ids.length]!;
        const expected = new Set([id, ...dag.descendants(id)]);
        const reads = new Map(ids.map((x) => [x, dag.upstream(x)]));
        const removed = dag.removeNode(id, { cascade: true });
        expect(new Set(removed)).toEqual(expected);
        const at = new Map(removed.map((x, k) => [x, k]));
        for (const x of removed) {
          for (const r of reads.get(x)!) if (at.has(r)) expect(at.get(x)!).toBeLessThan(at.get(r)!);
        }
        for (const x of dag.nodes()) for (const r of dag.upstream(x)) expect(dag.has(r)).toBe(true);
      }),
      runs,
    );
  });
});

/** Reference consistency groups: brute-force diamonds, then interval sets merged naively. */
function referenceGroups(dag: Dag): string[][] {
  const succ = successors(dag);
  const groups: Set<string>[] = [];
  for (const apex of dag.streamTables()) {
    const anc = new Set(dag.ancestors(apex));
    for (const root of anc) {
      if (!isDiamondBrute(succ, root, apex)) continue;
      const g = new Set<string>([apex]);
      if (dag.isStreamTable(root)) g.add(root);
      for (const x of reachable(succ, root)) if (anc.has(x) && dag.isStreamTable(x)) g.add(x);
      groups.push(g);
    }
  }
  // Merge until no two sets overlap.
  let merged = true;
  while (merged) {
    merged = false;
    outer: for (let a = 0; a < groups.length; a++) {
      for (let b = a + 1; b < groups.length; b++) {
        if ([...groups[b]!].some((x) => groups[a]!.has(x))) {
          for (const x of groups[b]!) groups[a]!.add(x);
          groups.splice(b, 1);
          merged = true;
          break outer;
        }
      }
    }
  }
  return groups.map((g) => [...g]);
}

describe('properties: diamonds and groups', () => {
  it('every diamond has ≥2 internally disjoint root→apex paths over real edges', () => {
    fc.assert(
      fc.property(dagSpec(4, 20, 4), (spec) => {
        const dag = buildDag(spec);
        const edges = new Set(dag.edges().map(([a, b]) => `${a}>${b}`));
        for (const d of dag.diamonds()) {
          expect(dag.isStreamTable(d.apex)).toBe(true);
          expect(d.paths.length).toBeGreaterThanOrEqual(2);
          expect(new Set(d.paths.map((p) => p.join('>'))).size).toBe(d.paths.length);
          for (const p of d.paths) {
            expect(p[0]).toBe(d.root);
            expect(p[p.length - 1]).toBe(d.apex);
            for (let k = 0; k + 1 < p.length; k++) expect(edges.has(`${p[k]}>${p[k + 1]}`)).toBe(true);
          }
          for (let a = 0; a < d.paths.length; a++) {
            for (let b = a + 1; b < d.paths.length; b++) {
              expect(internallyDisjoint(d.paths[a]!, d.paths[b]!)).toBe(true);
            }
          }
        }
      }),
      runs,
    );
  });

  it('diamonds are exactly the brute-force (root, apex) pairs, with a maximum path set', () => {
    fc.assert(
      fc.property(dagSpec(3, 7, 3), (spec) => {
        const dag = buildDag(spec);
        const succ = successors(dag);
        const found = new Map(dag.diamonds().map((d) => [`${d.root}>${d.apex}`, d]));
        for (const apex of dag.streamTables()) {
          for (const root of dag.ancestors(apex)) {
            expect(found.has(`${root}>${apex}`)).toBe(isDiamondBrute(succ, root, apex));
          }
        }
        // Maximality: no path outside the reported set is disjoint from all of them... checked by
        // comparing with the brute-force maximum on small instances.
        for (const d of found.values()) {
          const paths = allPaths(succ, d.root, d.apex);
          let best = 0;
          const search = (k: number, chosen: string[][]) => {
            best = Math.max(best, chosen.length);
            for (let x = k; x < paths.length; x++) {
              if (chosen.every((c) => internallyDisjoint(c, paths[x]!)))
                search(x + 1, [...chosen, paths[x]!]);
            }
          };
          search(0, []);
          expect(d.paths.length).toBe(best);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('outermost and innermost roots are subsets of all roots', () => {
    fc.assert(
      fc.property(dagSpec(4, 15), (spec) => {
        const dag = buildDag(spec);
        const all = new Set(dag.diamonds().map((d) => `${d.root}>${d.apex}`));
        const apexes = new Set(dag.diamonds().map((d) => d.apex));
        for (const mode of ['outermost', 'innermost'] as const) {
          const some = dag.diamonds({ roots: mode });
          for (const d of some) expect(all.has(`${d.root}>${d.apex}`)).toBe(true);
          expect(new Set(some.map((d) => d.apex))).toEqual(apexes);
        }
      }),
      runs,
    );
  });

  it('groups equal the reference; every fan-in whose inputs share an ancestor is covered', () => {
    fc.assert(
      fc.property(dagSpec(3, 8, 3), (spec) => {
        const dag = buildDag(spec);
        const groups = dag.consistencyGroups();
        expect(canonicalPartition(groups.map((g) => g.members))).toEqual(
          canonicalPartition(referenceGroups(dag)),
        );
        const groupOf = new Map<string, number>();
        groups.forEach((g, k) => {
          for (const m of g.members) {
            expect(groupOf.has(m)).toBe(false);
            expect(dag.isStreamTable(m)).toBe(true);
            groupOf.set(m, k);
          }
        });
        const apexes = new Set(groups.flatMap((g) => g.apexes));
        for (const d of dag.fanInNodes()) {
          const inputs = dag.upstream(d);
          const closures = inputs.map((x) => new Set([x, ...dag.ancestors(x)]));
          let shared = false;
          for (let a = 0; a < closures.length; a++) {
            for (let b = a + 1; b < closures.length; b++) {
              if ([...closures[a]!].some((x) => closures[b]!.has(x))) shared = true;
            }
          }
          // Covered when its inputs share an ancestor; an apex exactly then (a fan-in node can
          // also be a plain member, lying on another diamond's path).
          if (shared) expect(groupOf.has(d)).toBe(true);
          expect(apexes.has(d)).toBe(shared);
        }
        for (const d of dag.diamonds()) {
          const k = groupOf.get(d.apex);
          for (const p of d.paths)
            for (const x of p) if (dag.isStreamTable(x)) expect(groupOf.get(x)).toBe(k);
        }
      }),
      runs,
    );
  });
});

describe('properties: calculated schedules', () => {
  const schedule = fc.oneof(
    fc.constant(null),
    fc.integer({ min: 1, max: 100_000 }).map((ms) => ({ kind: 'interval' as const, ms })),
    fc.constant({ kind: 'cron' as const, expression: '@hourly' }),
  );

  it('a CALCULATED period is ≤ each consumer period; explicit ones are kept', () => {
    fc.assert(
      fc.property(
        dagSpec(3, 15),
        fc.array(schedule, { minLength: 15, maxLength: 15 }),
        fc.integer({ min: 1, max: 10_000 }),
        (spec, schedules, def) => {
          const dag = buildDag(spec);
          dag.streamTables().forEach((id, k) => {
            dag.setSchedule(id, schedules[k]!);
          });
          const periods = dag.calculatedSchedules({ defaultPeriodMs: def });
          expect([...periods.keys()].sort()).toEqual(dag.streamTables().sort());
          for (const id of dag.streamTables()) {
            const declared = dag.node(id)!.schedule;
            const p = periods.get(id);
            if (declared?.kind === 'interval') expect(p).toBe(declared.ms);
            else if (declared?.kind === 'cron') expect(p).toBeNull();
            else {
              expect(typeof p).toBe('number');
              const consumerPeriods = dag
                .downstream(id)
                .map((c) => periods.get(c))
                .filter((x): x is number => typeof x === 'number');
              for (const cp of consumerPeriods) expect(p!).toBeLessThanOrEqual(cp);
              expect(p).toBe(consumerPeriods.length > 0 ? Math.min(...consumerPeriods) : def);
            }
          }
        },
      ),
      runs,
    );
  });
});
