/**
 * Benchmarks of @pgtrickle/watermark: `checkAlignment` over a 100-source group of Date watermarks
 * (validated group, and a plain object validated on each call; aligned and misaligned), the
 * effective watermark, and advances per second (Watermark objects and raw values).
 */
import { defineSuite } from '../../../bench/harness.js';
import {
  advanceWatermark,
  bigintOrdering,
  checkAlignment,
  effectiveWatermark,
  timeOrdering,
  timeWatermarkGroup,
  Watermark,
  type WatermarkGroup,
} from '../src/index.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const SOURCES = Array.from({ length: 100 }, (_, i) => `source_${String(i).padStart(3, '0')}`);
const ADVANCES = 10_000;

let group: WatermarkGroup<number>;
let plainGroup: WatermarkGroup<number>;
let aligned: Map<string, Date>;
let misaligned: Map<string, Date>;

export default defineSuite({
  name: 'watermark',
  setup() {
    group = timeWatermarkGroup({ name: 'g', sources: SOURCES, tolerance: { minutes: 5 } });
    plainGroup = { name: 'g', sources: [...SOURCES], tolerance: 300_000 };
    // deterministic spreads: within 99 s of each other, or one source 10 minutes behind
    aligned = new Map(SOURCES.map((s, i) => [s, new Date(T0 - ((i * 37) % 100) * 1000)]));
    misaligned = new Map(aligned);
    misaligned.set(SOURCES[42]!, new Date(T0 - 600_000));
  },
  cases: [
    {
      name: 'checkAlignment, 100 sources, aligned',
      unit: 'checks',
      fn: () => checkAlignment(group, aligned, timeOrdering),
    },
    {
      name: 'checkAlignment, 100 sources, misaligned',
      unit: 'checks',
      fn: () => checkAlignment(group, misaligned, timeOrdering),
    },
    {
      name: 'checkAlignment, 100 sources, plain group object',
      unit: 'checks',
      fn: () => checkAlignment(plainGroup, aligned, timeOrdering),
    },
    {
      name: 'effectiveWatermark, 100 sources',
      unit: 'calls',
      fn: () => effectiveWatermark(group, aligned, timeOrdering),
    },
    {
      name: 'Watermark.advance (Date), 10k',
      unit: 'advances',
      opsPerCall: ADVANCES,
      fn: () => {
        let w = Watermark.of('s', new Date(T0), timeOrdering);
        for (let i = 1; i <= ADVANCES; i++) w = w.advance(new Date(T0 + (i >> 1) * 1000)).watermark;
        return w;
      },
    },
    {
      name: 'advanceWatermark (bigint raw values), 10k',
      unit: 'advances',
      opsPerCall: ADVANCES,
      fn: () => {
        let v: bigint | undefined;
        for (let i = 0; i < ADVANCES; i++) v = advanceWatermark('s', v, BigInt(i >> 1), bigintOrdering).value;
        return v;
      },
    },
  ],
});
