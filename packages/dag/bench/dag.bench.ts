/**
 * Benchmarks of @pgtrickle/dag on deterministic layered random DAGs: topological order of 10,000
 * nodes, diamond and consistency-group detection on 1,000 nodes, CALCULATED schedules on 10,000.
 */
import { defineSuite } from '../../../bench/harness.js';
import { Dag, intervalSchedule } from '../src/index.js';

/** Deterministic PRNG (mulberry32), so every run measures the same graph. */
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

/**
 * A layered DAG: `nodes` nodes in `layers` layers, the first layer sources; each stream table reads
 * 1–3 nodes from the previous three layers; every fifth stream table has an explicit interval.
 */
export function layeredDag(nodes: number, layers: number, seed: number): Dag {
  const rand = prng(seed);
  const dag = new Dag();
  const perLayer = Math.ceil(nodes / layers);
  const byLayer: string[][] = [];
  let count = 0;
  for (let l = 0; l < layers && count < nodes; l++) {
    const layer: string[] = [];
    for (let i = 0; i < perLayer && count < nodes; i++, count++) {
      const id = `n${count}`;
      if (l === 0) {
        dag.addSource(id);
      } else {
        const k = 1 + Math.floor(rand() * 3);
        const reads: string[] = [];
        for (let r = 0; r < k; r++) {
          const from = byLayer[Math.max(0, l - 1 - Math.floor(rand() * 3))]!;
          reads.push(from[Math.floor(rand() * from.length)]!);
        }
        const schedule = count % 5 === 0 ? intervalSchedule(1000 + Math.floor(rand() * 59_000)) : null;
        dag.addStreamTable(id, { reads, schedule });
      }
      layer.push(id);
    }
    byLayer.push(layer);
  }
  return dag;
}

let big: Dag;
let mid: Dag;

export default defineSuite({
  name: 'dag',
  setup() {
    big = layeredDag(10_000, 20, 42);
    mid = layeredDag(1_000, 10, 7);
  },
  cases: [
    { name: 'build 10k-node DAG', unit: 'nodes', opsPerCall: 10_000, fn: () => layeredDag(10_000, 20, 42) },
    {
      name: 'topologicalOrder, 10k nodes',
      unit: 'nodes',
      opsPerCall: 10_000,
      fn: () => big.topologicalOrder(),
    },
    { name: 'levels, 10k nodes', unit: 'nodes', opsPerCall: 10_000, fn: () => big.levels() },
    { name: 'descendants of a source, 10k nodes', unit: 'calls', fn: () => big.descendants('n0') },
    {
      name: 'consistencyGroups, 1k nodes',
      unit: 'nodes',
      opsPerCall: 1_000,
      fn: () => mid.consistencyGroups(),
    },
    {
      name: 'diamonds (outermost roots), 1k nodes',
      unit: 'nodes',
      opsPerCall: 1_000,
      fn: () => mid.diamonds({ roots: 'outermost' }),
    },
    { name: 'diamonds (all roots), 1k nodes', unit: 'nodes', opsPerCall: 1_000, fn: () => mid.diamonds() },
    {
      name: 'calculatedSchedules, 10k nodes',
      unit: 'nodes',
      opsPerCall: 10_000,
      fn: () => big.calculatedSchedules(),
    },
  ],
});
