/**
 * A group member that would refresh along with its group (skipped only as "not due" or "nothing
 * pending") must still pass every other gate: a watermark or fuse hold on it holds the group.
 */
import { defaultPipeline, defineGate, proceed, skip } from '@pgtrickle/gates';
import { describe, expect, it } from 'vitest';
import { runTick } from '../src/index.js';
import { FakeWorld } from './fakes.js';

const every = (ms: number) => ({ kind: 'interval' as const, ms });

describe('a group member refreshing along', () => {
  it('is still checked by the gates after "not due": a watermark hold on it holds the whole group', async () => {
    let hold = false;
    const pipeline = defaultPipeline().replace(
      defineGate('watermark', (st) =>
        hold && st.id === 'right' ? skip("watermark group 'g' misaligned") : proceed(),
      ),
    );
    const w = new FakeWorld()
      .add('left', ['src'], every(1000))
      .add('right', ['src'], every(60_000))
      .add('apex', ['left', 'right'], every(1000));
    const first = await runTick({ store: w, executor: w, clock: w.clock, pipeline });
    expect(first.units[0]).toMatchObject({ kind: 'group', outcome: 'refreshed' });
    hold = true;
    w.clock.advance(2000);
    w.table('left').pending = 3;
    w.table('right').pending = 3; // right is not due (60 s), so its first verdict is a soft "schedule" skip
    const refreshes = w.events.length;
    const second = await runTick({ store: w, executor: w, clock: w.clock, pipeline });
    expect(second.units[0]).toMatchObject({
      outcome: 'skipped',
      gate: 'watermark',
      reason: "public.right: watermark group 'g' misaligned",
    });
    expect(w.events.length).toBe(refreshes);
    hold = false;
    const third = await runTick({ store: w, executor: w, clock: w.clock, pipeline });
    expect(third.units[0]?.outcome).toBe('refreshed');
  });
});
