/**
 * Benchmarks of @pgtrickle/stats over deterministic change-count-like samples: Welford push and
 * merge, rolling-window push (window of 1,000, full, so every push evicts), EWMA push, and
 * detectAnomaly against a Welford baseline.
 */
import { defineSuite } from '../../../bench/harness.js';
import { detectAnomaly, Ewma, RollingWindow, Welford } from '../src/index.js';

/** Deterministic PRNG (mulberry32), so every run measures the same samples. */
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

const N = 10_000;
let samples: number[] = [];
let parts: Welford[] = [];
let baseline: Welford;
let window: RollingWindow;
const policy = { sensitivity: 3, minSamples: 10, ceiling: 50_000 };

export default defineSuite({
  name: 'stats',
  setup() {
    const rand = prng(42);
    samples = Array.from({ length: N }, () => Math.round(1_000 + 200 * (rand() + rand() + rand() - 1.5)));
    parts = Array.from({ length: 1_000 }, (_, i) => Welford.of(samples.slice(i * 10, i * 10 + 10)));
    baseline = Welford.of(samples);
    window = RollingWindow.of(1_000, samples);
  },
  cases: [
    {
      name: 'Welford push, 10k samples',
      unit: 'updates',
      opsPerCall: N,
      fn: () => {
        const w = new Welford();
        for (let i = 0; i < N; i++) w.push(samples[i]!);
        return w.variance;
      },
    },
    {
      name: 'Welford merge, 1k partitions',
      unit: 'merges',
      opsPerCall: 1_000,
      fn: () => {
        const w = new Welford();
        for (const p of parts) w.merge(p);
        return w.variance;
      },
    },
    {
      name: 'RollingWindow(1000) push, 10k samples',
      unit: 'updates',
      opsPerCall: N,
      fn: () => {
        for (let i = 0; i < N; i++) window.push(samples[i]!);
        return window.variance;
      },
    },
    {
      name: 'Ewma push, 10k samples',
      unit: 'updates',
      opsPerCall: N,
      fn: () => {
        const e = new Ewma({ halfLife: 20 });
        for (let i = 0; i < N; i++) e.push(samples[i]!);
        return e.variance;
      },
    },
    {
      name: 'detectAnomaly vs Welford baseline, 10k values',
      unit: 'checks',
      opsPerCall: N,
      fn: () => {
        let tripped = 0;
        for (let i = 0; i < N; i++) if (detectAnomaly(samples[i]! * 2, baseline, policy).anomalous) tripped++;
        return tripped;
      },
    },
  ],
});
