import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffMs, DEFAULT_RETRY, RetryTracker, runTick, Scheduler, type Sleep } from '../src/index.js';
import { FakeWorld } from './fakes.js';

const every = (ms: number) => ({ kind: 'interval' as const, ms });

/** A random layered DAG of stream tables over a few sources, with random schedules. */
const worldArb = fc
  .record({
    sources: fc.integer({ min: 1, max: 3 }),
    layers: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
    seed: fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
  })
  .map(({ sources, layers, seed }) => {
    const w = new FakeWorld();
    let k = 0;
    const next = () => seed[k++ % seed.length] as number;
    const previous: string[] = Array.from({ length: sources }, (_, i) => `src${i}`);
    const all: string[] = [];
    layers.forEach((width, li) => {
      const layer: string[] = [];
      for (let i = 0; i < width; i++) {
        const id = `st${li}_${i}`;
        const pool = [...previous, ...all];
        const reads = [
          ...new Set([pool[next() % pool.length] as string, pool[next() % pool.length] as string]),
        ];
        const schedule = next() % 3 === 0 ? null : every(1000 * (1 + (next() % 3)));
        w.add(id, reads, schedule);
        layer.push(id);
      }
      all.push(...layer);
      previous.splice(0, previous.length, ...layer);
    });
    return w;
  });

describe('runTick', () => {
  it('never refreshes a table before its upstreams in the same tick, never twice at once, and respects the concurrency bound', async () => {
    await fc.assert(
      fc.asyncProperty(
        worldArb,
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat({ max: 9 }), { minLength: 3, maxLength: 6 }),
        async (w, concurrency, pendingSeeds) => {
          for (const [i, p] of pendingSeeds.entries()) {
            w.tickNo = i + 1;
            for (const t of w.tables.values()) if ((p + t.id.length) % 3 !== 0) t.pending += p;
            const report = await runTick({
              store: w,
              executor: w,
              clock: w.clock,
              concurrency,
              tick: w.tickNo,
            });
            expect(report.units.filter((u) => u.outcome === 'failed')).toEqual([]);
            w.clock.advance(1000);
          }
          expect(w.violations).toEqual([]);
          expect(w.events.length, 'something must have refreshed').toBeGreaterThan(0);
          expect(w.maxInFlight).toBeLessThanOrEqual(concurrency);
          for (const e of w.events) {
            for (const up of w.table(e.member).reads) {
              for (const u of w.events.filter(
                (x) => x.tick === e.tick && x.member === up && x.unit !== e.unit,
              )) {
                expect(u.end, `${up} must finish before ${e.member} starts (tick ${e.tick})`).toBeLessThan(
                  e.start,
                );
              }
            }
          }
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 100) },
    );
  });

  it('refreshes downstream tables in the tick their upstream changed', async () => {
    const w = new FakeWorld().add('a', ['src']).add('b', ['a']).add('c', ['b']);
    for (const t of w.tables.values()) t.pending = 0;
    w.table('a').pending = 5;
    const report = await runTick({ store: w, executor: w, clock: w.clock });
    expect(report.units.map((u) => [u.unit, u.outcome])).toEqual([
      ['a', 'refreshed'],
      ['b', 'refreshed'],
      ['c', 'refreshed'],
    ]);
    w.clock.advance(5000);
    const quiet = await runTick({ store: w, executor: w, clock: w.clock });
    expect(quiet.units.every((u) => u.outcome === 'skipped' && u.gate === 'upstream-changes')).toBe(true);
  });

  it('runs a diamond as one unit, and members that are only "not due" refresh with it', async () => {
    const w = new FakeWorld()
      .add('left', ['src'])
      .add('right', ['src'])
      .add('apex', ['left', 'right'], every(1000));
    const first = await runTick({ store: w, executor: w, clock: w.clock });
    const unit = first.units.find((u) => u.members.includes('apex'));
    expect(unit?.kind).toBe('group');
    expect(unit?.members).toEqual(['left', 'right', 'apex']);
    expect(unit?.outcome).toBe('refreshed');
    w.clock.advance(2000);
    w.table('left').pending = 3; // right has nothing pending: it still refreshes with its group
    const second = await runTick({ store: w, executor: w, clock: w.clock });
    expect(second.units[0]?.outcome).toBe('refreshed');
    expect(second.units[0]?.results?.map((r) => r.id)).toEqual(['left', 'right', 'apex']);
  });

  it('holds a whole group when one member is blocked', async () => {
    const w = new FakeWorld().add('left', ['src']).add('right', ['src']).add('apex', ['left', 'right']);
    w.table('right').status = 'ERROR';
    const r = await runTick({ store: w, executor: w, clock: w.clock });
    expect(r.units[0]).toMatchObject({ outcome: 'blocked', gate: 'status' });
    expect(w.events).toEqual([]);
  });

  it('backs off after failures and suspends after the third', async () => {
    const w = new FakeWorld().add('a', ['src'], every(1000));
    w.table('a').failNext = 10;
    const retry = new RetryTracker(DEFAULT_RETRY, () => 0.5);
    const outcomes: string[] = [];
    for (let i = 0; i < 12 && w.table('a').status !== 'SUSPENDED'; i++) {
      w.table('a').pending = 1;
      const r = await runTick({ store: w, executor: w, clock: w.clock, retry });
      outcomes.push(`${r.units[0]?.outcome}${r.units[0]?.gate === 'retry-backoff' ? '(backoff)' : ''}`);
      w.clock.advance(1000);
    }
    expect(outcomes.filter((o) => o === 'failed')).toHaveLength(2);
    expect(outcomes).toContain('skipped(backoff)');
    expect(outcomes.at(-1)).toBe('suspended');
    expect(w.suspended[0]?.reason).toMatch(
      /suspended after 3 consecutive failed refreshes; last error: a failed/,
    );
    expect(backoffMs(DEFAULT_RETRY, 1)).toBe(1000);
    expect(backoffMs(DEFAULT_RETRY, 3)).toBe(4000);
    expect(backoffMs(DEFAULT_RETRY, 30)).toBe(60_000);
  });

  it('backs off after transient failures but never suspends for them', async () => {
    const w = new FakeWorld().add('a', ['src'], every(1000));
    w.table('a').failTransientNext = 6;
    const retry = new RetryTracker(DEFAULT_RETRY, () => 0.5);
    const outcomes: string[] = [];
    for (let i = 0; i < 200 && outcomes.at(-1) !== 'refreshed'; i++) {
      w.table('a').pending = 1;
      const r = await runTick({ store: w, executor: w, clock: w.clock, retry });
      outcomes.push(`${r.units[0]?.outcome}${r.units[0]?.gate === 'retry-backoff' ? '(backoff)' : ''}`);
      w.clock.advance(1000);
    }
    expect(outcomes.filter((o) => o === 'failed')).toHaveLength(6);
    expect(outcomes).toContain('skipped(backoff)');
    expect(outcomes).not.toContain('suspended');
    expect(outcomes.at(-1)).toBe('refreshed');
    expect(w.suspended).toEqual([]);
    // A deterministic failure after transient ones still counts from zero towards suspension.
    expect(retry.failures('a')).toBe(0);
  });

  it('leaves out tables on a cycle (a corrupted catalog) and schedules the rest', async () => {
    const w = new FakeWorld().add('ok', ['src']).add('x', ['y']).add('y', ['x']).add('z', ['x']);
    const r = await runTick({ store: w, executor: w, clock: w.clock });
    expect(r.units.map((u) => u.unit)).toEqual(['ok']);
    expect(r.excluded.map((e) => e.id).sort()).toEqual(['x', 'y', 'z']);
    expect(r.excluded[0]?.reason).toMatch(/cycle/);
  });

  it('does not retry a permanent failure', async () => {
    const w = new FakeWorld().add('a', ['src']);
    w.table('a').broken = true;
    const r = await runTick({ store: w, executor: w, clock: w.clock });
    expect(r.units[0]?.outcome).toBe('failed');
    expect(w.suspended).toEqual([]);
  });
});

describe('Scheduler loop', () => {
  /** A sleep that records waits and returns when aborted or after the scripted delay. */
  function scriptedSleep(waits: number[]): Sleep {
    return (ms, signal) =>
      new Promise((resolve) => {
        waits.push(ms);
        const t = setTimeout(resolve, 5);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
  }

  it('ticks until stopped, and lets the tick in flight finish', async () => {
    const w = new FakeWorld().add('a', ['src']);
    const waits: number[] = [];
    const s = new Scheduler({
      store: w,
      executor: w,
      clock: w.clock,
      pollIntervalMs: 500,
      sleep: scriptedSleep(waits),
    });
    const stop = new AbortController();
    const running = s.run(stop.signal);
    while (s.ticks < 3) await new Promise((r) => setTimeout(r, 1));
    stop.abort();
    await running;
    expect(s.ticks).toBeGreaterThanOrEqual(3);
    expect(waits.every((ms) => ms === 500)).toBe(true);
  });

  it('sleeps only until a table skipped as not due becomes due, never longer than the poll interval', async () => {
    const w = new FakeWorld().add('a', ['src'], { kind: 'interval', ms: 300 });
    const waits: number[] = [];
    const s = new Scheduler({
      store: w,
      executor: w,
      clock: w.clock,
      pollIntervalMs: 5_000,
      minWakeIntervalMs: 20,
      sleep: scriptedSleep(waits),
    });
    const stop = new AbortController();
    const running = s.run(stop.signal);
    while (s.ticks < 3) await new Promise((r) => setTimeout(r, 1));
    stop.abort();
    await running;
    // The first tick refreshes it (never refreshed): nothing skipped, the whole poll interval. The
    // second finds it not due; the clock does not move, so it is due 300 ms later.
    expect(waits.slice(0, 2)).toEqual([5_000, 300]);
    expect(waits.every((ms) => ms >= 20 && ms <= 5_000)).toBe(true);
  });

  it('debounces a burst of wake-ups into one early tick', async () => {
    const w = new FakeWorld().add('a', ['src']);
    let ticks = 0;
    const s = new Scheduler({
      store: w,
      executor: w,
      clock: w.clock,
      pollIntervalMs: 60_000,
      debounceMs: 10,
      onTick: () => {
        ticks++;
      },
    });
    const stop = new AbortController();
    const running = s.run(stop.signal);
    while (ticks < 1) await new Promise((r) => setTimeout(r, 1));
    for (let i = 0; i < 20; i++) s.wake();
    await new Promise((r) => setTimeout(r, 80));
    expect(ticks).toBe(2); // one for the burst, none from polling (60 s)
    stop.abort();
    await running;
  });

  it('bounds the tick rate under a flood of wake-ups', async () => {
    const w = new FakeWorld().add('a', ['src']);
    let ticks = 0;
    const s = new Scheduler({
      store: w,
      executor: w,
      clock: { now: () => new Date() },
      pollIntervalMs: 60_000,
      debounceMs: 1,
      minWakeIntervalMs: 40,
      onTick: () => {
        ticks++;
      },
    });
    const stop = new AbortController();
    const running = s.run(stop.signal);
    const started = Date.now();
    while (Date.now() - started < 400) {
      s.wake();
      await new Promise((r) => setTimeout(r, 1));
    }
    const elapsed = Date.now() - started;
    stop.abort();
    await running;
    // One tick at start, then at most one per 40 ms of flooding (never one per wake-up).
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(ticks).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 40));
  });
});
