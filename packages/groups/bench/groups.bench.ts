/**
 * Benchmarks of @pgtrickle/groups: merging 1,000 detected and declared groups (deterministic
 * pseudo-random overlaps) and scheduling refresh units for a 2,000-table chain-of-diamonds DAG.
 */
import { Dag } from '@pgtrickle/dag';
import { defineSuite } from '../../../bench/harness.js';
import {
  type ConsistencyGroup,
  type DeclaredGroup,
  detectedGroupId,
  detectedGroups,
  mergeGroups,
  refreshUnits,
} from '../src/index.js';

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let detected: ConsistencyGroup[] = [];
let declared: DeclaredGroup[] = [];
let dag: Dag;
let groups: ConsistencyGroup[] = [];

export default defineSuite({
  name: 'groups',
  setup() {
    const rand = prng(11);
    const pick = () => `t${Math.floor(rand() * 5000)}`;
    detected = [];
    for (let i = 0; i < 800; i++) {
      const members = [...new Set([pick(), pick(), pick()])];
      const id = detectedGroupId(members);
      if (!detected.some((g) => g.id === id)) {
        detected.push({ id, members, isolation: 'read committed', origin: 'detected' });
      }
    }
    declared = Array.from({ length: 200 }, (_, i) => ({
      name: `d${i}`,
      members: [...new Set([pick(), pick()])],
      isolation: i % 3 === 0 ? 'repeatable read' : 'read committed',
    }));
    // 500 diamonds in a chain: s → (a_i, b_i) → j_i → next diamond.
    dag = new Dag().addSource('s');
    let prev = 's';
    for (let i = 0; i < 500; i++) {
      dag.addStreamTable(`a${i}`, { reads: [prev] });
      dag.addStreamTable(`b${i}`, { reads: [prev] });
      dag.addStreamTable(`j${i}`, { reads: [`a${i}`, `b${i}`] });
      dag.addStreamTable(`x${i}`, { reads: [`j${i}`] });
      prev = `x${i}`;
    }
    groups = mergeGroups(detectedGroups(dag), [], { dag });
  },
  cases: [
    {
      name: 'mergeGroups, 1k groups',
      unit: 'groups',
      opsPerCall: 1000,
      fn: () => mergeGroups(detected, declared),
    },
    {
      name: 'refreshUnits, 2k tables / 500 groups',
      unit: 'tables',
      opsPerCall: 2000,
      fn: () => refreshUnits(dag, groups),
    },
  ],
});
