import { Dag } from '@pgtrickle/dag';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ConsistencyGroup,
  type DeclaredGroup,
  detectedGroupId,
  detectedGroups,
  InMemoryGroupStrategy,
  InMemoryStore,
  type IsolationLevel,
  isolationRank,
  mergeGroups,
  refreshUnits,
} from '../src/index.js';

/** Property runs; raise with FC_RUNS for a longer soak. */
const runs = { numRuns: Number(process.env.FC_RUNS ?? 300) };
const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
const isolation = fc.constantFrom<IsolationLevel>('read committed', 'repeatable read');
const memberSet = fc.uniqueArray(fc.constantFrom(...ids), { minLength: 1, maxLength: 4 });

const detectedArb = fc.array(memberSet, { maxLength: 5 }).map((sets) => {
  const seen = new Set<string>();
  const out: ConsistencyGroup[] = [];
  for (const members of sets) {
    const id = detectedGroupId(members);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, members, isolation: 'read committed', origin: 'detected' });
  }
  return out;
});
const declaredArb = fc.uniqueArray(
  fc.record({ name: fc.constantFrom('p', 'q', 'r', 's', 't'), members: memberSet, isolation }),
  {
    maxLength: 4,
    selector: (g) => g.name,
  },
) as fc.Arbitrary<DeclaredGroup[]>;

describe('properties: mergeGroups', () => {
  it('is a partition covering every input member, joining groups that share members', () => {
    fc.assert(
      fc.property(detectedArb, declaredArb, (detected, declared) => {
        const out = mergeGroups(detected, declared);
        const owner = new Map<string, number>();
        out.forEach((g, k) => {
          for (const m of g.members) {
            expect(owner.has(m)).toBe(false);
            owner.set(m, k);
          }
        });
        const inputs: Array<{ members: readonly string[]; isolation: IsolationLevel }> = [
          ...detected,
          ...declared,
        ];
        const all = new Set(inputs.flatMap((g) => g.members));
        expect(new Set(owner.keys())).toEqual(all);
        for (const g of inputs) {
          const k = owner.get(g.members[0]!)!;
          for (const m of g.members) expect(owner.get(m)).toBe(k);
          // Isolation never weakens, and declared isolation is honoured.
          expect(isolationRank(out[k]!.isolation)).toBeGreaterThanOrEqual(isolationRank(g.isolation));
        }
        // Minimality: an output group's isolation is the strongest of its inputs.
        out.forEach((g, k) => {
          const parts = inputs.filter((p) => owner.get(p.members[0]!) === k);
          expect(g.isolation).toBe(
            parts.some((p) => p.isolation === 'repeatable read') ? 'repeatable read' : 'read committed',
          );
          if (parts.length > 1) expect(g.origin).toBe('merged');
        });
      }),
      runs,
    );
  });

  it('is idempotent and independent of input order', () => {
    fc.assert(
      fc.property(detectedArb, declaredArb, fc.nat(), (detected, declared, seed) => {
        const out = mergeGroups(detected, declared);
        expect(mergeGroups(out)).toEqual(out);
        const rotate = <T>(xs: readonly T[]) => {
          const k = xs.length === 0 ? 0 : seed % xs.length;
          return [...xs.slice(k), ...xs.slice(0, k)].reverse();
        };
        const shuffledMembers = (g: ConsistencyGroup) => ({ ...g, members: [...g.members].reverse() });
        expect(
          mergeGroups(
            rotate(detected).map(shuffledMembers),
            rotate(declared).map((d) => ({ ...d, members: [...d.members].reverse() })),
          ),
        ).toEqual(out);
      }),
      runs,
    );
  });
});

/** Random DAG over a few sources and up to 12 stream tables (t0..), plus random declared groups. */
const scenario = fc
  .record({
    sources: fc.integer({ min: 1, max: 3 }),
    reads: fc.array(fc.uniqueArray(fc.nat({ max: 20 }), { maxLength: 3 }), { maxLength: 12 }),
  })
  .chain(({ sources, reads }) =>
    fc.record({
      sources: fc.constant(sources),
      reads: fc.constant(reads),
      declared: fc.uniqueArray(
        fc.record({
          name: fc.constantFrom('p', 'q', 'r', 's'),
          members: fc.uniqueArray(fc.nat({ max: Math.max(reads.length - 1, 0) }), {
            minLength: 1,
            maxLength: 3,
          }),
          isolation,
        }),
        { maxLength: reads.length === 0 ? 0 : 3, selector: (g) => g.name },
      ),
    }),
  );

function build(s: { sources: number; reads: number[][] }): Dag {
  const dag = new Dag();
  for (let i = 0; i < s.sources; i++) dag.addSource(`s${i}`);
  s.reads.forEach((rs, k) => {
    const earlier = [
      ...Array.from({ length: s.sources }, (_, i) => `s${i}`),
      ...Array.from({ length: k }, (_, i) => `t${i}`),
    ];
    dag.addStreamTable(`t${k}`, { reads: [...new Set(rs.map((r) => earlier[r % earlier.length]!))] });
  });
  return dag;
}

describe('properties: refreshUnits', () => {
  it('every stream table is in one unit, after the units of its upstreams; groups stay whole', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const dag = build(s);
        const declared: DeclaredGroup[] = s.declared.map((g) => ({
          name: g.name,
          members: g.members.map((m) => `t${m}`),
          isolation: g.isolation,
        }));
        const groups = mergeGroups(detectedGroups(dag), declared, { dag });
        const units = refreshUnits(dag, groups);
        const at = new Map<string, number>();
        units.forEach((u, k) => {
          for (const m of u.members) {
            expect(at.has(m)).toBe(false);
            at.set(m, k);
          }
          expect(u.kind === 'group').toBe(u.group !== null);
        });
        expect(new Set(at.keys())).toEqual(new Set(dag.streamTables()));
        expect(new Set(units.map((u) => u.id)).size).toBe(units.length);
        const topo = new Map(dag.topologicalOrder().map((id, i) => [id, i]));
        for (const u of units) {
          for (let i = 1; i < u.members.length; i++) {
            expect(topo.get(u.members[i - 1]!)!).toBeLessThan(topo.get(u.members[i]!)!);
          }
          for (const m of u.members) {
            for (const r of dag.upstream(m)) {
              if (dag.isStreamTable(r)) expect(at.get(r)!).toBeLessThanOrEqual(at.get(m)!);
            }
          }
          const k = units.indexOf(u);
          for (const dep of u.dependsOn) expect(units.findIndex((x) => x.id === dep)).toBeLessThan(k);
        }
        for (const g of groups) {
          const k = at.get(g.members[0]!);
          for (const m of g.members) expect(at.get(m)).toBe(k);
          expect(isolationRank(units[k!]!.group!.isolation)).toBeGreaterThanOrEqual(
            isolationRank(g.isolation),
          );
        }
      }),
      runs,
    );
  });
});

describe('properties: InMemoryGroupStrategy', () => {
  const writes = fc.array(fc.tuple(fc.constantFrom('x', 'y', 'z', 'w'), fc.integer()), { maxLength: 4 });

  it('with random failures the store holds all members’ writes or none', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(writes, { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat()),
        fc.boolean(),
        fc.dictionary(fc.constantFrom('x', 'y', 'z', 'w', 'm0:x'), fc.integer()),
        async (perMember, failAt, failCommit, initial) => {
          const members = perMember.map((_, i) => `m${i}`);
          const group: ConsistencyGroup = {
            id: 'g',
            members,
            isolation: 'read committed',
            origin: 'declared',
          };
          const store = new InMemoryStore<number>(Object.entries(initial), {
            beforeCommit: () => {
              if (failCommit) throw new Error('commit failed');
            },
          });
          const before = store.snapshot();
          const failing = failAt === null ? -1 : failAt % (members.length + 1); // may be "none"
          const result = await new InMemoryGroupStrategy(store).execute(group, members, async (m, tx) => {
            const i = members.indexOf(m);
            for (const [k, v] of perMember[i]!) tx.set(`${m}:${k}`, v);
            if (i === failing) throw new Error(`injected at ${m}`);
            return i;
          });
          const expectAll = new Map(before);
          perMember.forEach((ws, i) => {
            for (const [k, v] of ws) expectAll.set(`m${i}:${k}`, v);
          });
          const shouldFail = failCommit || (failing >= 0 && failing < members.length);
          expect(result.ok).toBe(!shouldFail);
          expect(store.snapshot()).toEqual(shouldFail ? before : expectAll);
          if (!result.ok) {
            expect(result.error.code).toBe('PGT_GROUP_FAILED');
            expect(result.failedMember).toBe(
              failing >= 0 && failing < members.length ? members[failing] : null,
            );
          }
        },
      ),
      runs,
    );
  });
});
