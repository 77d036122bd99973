import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  block,
  ContextProvider,
  createGateContext,
  defineContextKey,
  defineGate,
  fixedClock,
  type GateDecision,
  GatePipeline,
  GateTick,
  proceed,
  type RefreshGate,
  type RefreshTier,
  type ResolvedSchedule,
  ScheduleGate,
  type StreamTableKey,
  skip,
  TIER_MULTIPLIERS,
  type WatermarkInputs,
  watermarkGate,
  watermarkInputs,
} from '../src/index.js';
import { at, meta, T0 } from './helpers.js';

/** Property runs; raise with FC_RUNS for a longer soak. */
const runs = { numRuns: Number(process.env.FC_RUNS ?? 200) };

const decisionArb: fc.Arbitrary<GateDecision> = fc.oneof(
  fc.constant(proceed()),
  fc.string({ maxLength: 8 }).map((r) => skip(`skip ${r}`)),
  fc.string({ maxLength: 8 }).map((r) => block(`block ${r}`)),
);

/** Gates g0..gN with the given decisions, sync or async, counting evaluations. */
function makeGates(
  decisions: readonly GateDecision[],
  asyncFlags: readonly boolean[],
  calls: number[],
): RefreshGate[] {
  return decisions.map((d, i) =>
    asyncFlags[i]
      ? defineGate(`g${i}`, async () => {
          calls[i] = (calls[i] ?? 0) + 1;
          return d;
        })
      : defineGate(`g${i}`, () => {
          calls[i] = (calls[i] ?? 0) + 1;
          return d;
        }),
  );
}

const st = meta();
const ctxOf = () => new GateTick({ clock: fixedClock(T0) }).context(st);

describe('pipeline properties', () => {
  it('a pipeline whose gates all proceed proceeds, whatever the order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 0, max: 8 })
          .chain((n) =>
            fc.tuple(
              fc.array(fc.boolean(), { minLength: n, maxLength: n }),
              fc.shuffledSubarray([...Array(n).keys()], { minLength: n }),
            ),
          ),
        async ([asyncFlags, perm]) => {
          const calls: number[] = [];
          const gates = makeGates(
            asyncFlags.map(() => proceed()),
            asyncFlags,
            calls,
          );
          const p = new GatePipeline(gates).withOrder(perm.map((i) => `g${i}`));
          const v = await p.evaluate(st, ctxOf());
          expect(v.decision.kind).toBe('proceed');
          expect(v.gate).toBeNull();
          expect(calls.filter((c) => c === 1).length).toBe(asyncFlags.length);
        },
      ),
      runs,
    );
  });

  it('the decision is the first non-proceed in order; later gates are not evaluated; explain shows every block', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(decisionArb, fc.boolean()), { minLength: 1, maxLength: 8 }),
        async (spec) => {
          const decisions = spec.map(([d]) => d);
          const calls: number[] = [];
          const p = new GatePipeline(
            makeGates(
              decisions,
              spec.map(([, a]) => a),
              calls,
            ),
          );
          const v = await p.evaluate(st, ctxOf());
          const first = decisions.findIndex((d) => d.kind !== 'proceed');
          if (first < 0) {
            expect(v).toEqual({ streamTable: st.id, decision: proceed(), gate: null });
          } else {
            expect(v.gate).toBe(`g${first}`);
            expect(v.decision).toBe(decisions[first]);
            for (let i = 0; i < decisions.length; i++) expect(calls[i] ?? 0).toBe(i <= first ? 1 : 0);
          }
          const e = await p.explain(st, ctxOf());
          expect(e.verdict).toEqual(v);
          expect(e.gates.map((g) => g.decision)).toEqual(decisions);
          const blocks = decisions.flatMap((d, i) => (d.kind === 'block' ? [`g${i}`] : []));
          expect(e.gates.filter((g) => g.decision?.kind === 'block').map((g) => g.gate)).toEqual(blocks);
          if (blocks.length > 0) expect(['block', 'skip']).toContain(v.decision.kind);
        },
      ),
      runs,
    );
  });

  it('each context value is loaded at most once per tick, however many gates (and tables) ask', async () => {
    const keys: StreamTableKey<number>[] = ['k0', 'k1', 'k2', 'k3'].map((n) => defineContextKey<number>(n));
    await fc.assert(
      fc.asyncProperty(
        // per gate: which keys it asks for (with repeats), and whether it asks concurrently
        fc.array(fc.tuple(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 6 }), fc.boolean()), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 }),
        async (gateSpecs, tables) => {
          const loads = new Map<string, number>();
          const provider = new ContextProvider();
          for (const k of keys) {
            provider.provide(k, async (m) => {
              const id = `${m.id}/${k.name}`;
              loads.set(id, (loads.get(id) ?? 0) + 1);
              await Promise.resolve();
              return 1;
            });
          }
          const gates = gateSpecs.map(([wanted, concurrent], i) =>
            defineGate(`g${i}`, async (_m, ctx) => {
              if (concurrent) await Promise.all(wanted.map((k) => ctx.get(keys[k]!)));
              else for (const k of wanted) await ctx.get(keys[k]!);
              return proceed();
            }),
          );
          const p = new GatePipeline(gates);
          const tick = new GateTick({ clock: fixedClock(T0), provider });
          for (const id of tables) {
            const m = meta({ id });
            await p.evaluate(m, tick.context(m));
            await p.explain(m, tick.context(m));
          }
          for (const n of loads.values()) expect(n).toBe(1);
          const expected = new Set(gateSpecs.flatMap(([w]) => w)).size * tables.length;
          expect(loads.size).toBe(expected);
          expect(tick.loadCount).toBe(expected);
        },
      ),
      runs,
    );
  });
});

describe('schedule properties', () => {
  const gate = new ScheduleGate();
  const decide = (schedule: ResolvedSchedule, tier: RefreshTier, now: Date) => {
    const m = meta({ schedule, refreshTier: tier });
    return gate.evaluate(m, new GateTick({ clock: fixedClock(now) }).context(m)).kind;
  };

  it('interval due-ness is monotone in time: once due, due at every later instant', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 1, max: 10_000_000 }).map((ms) => ({ kind: 'interval' as const, ms })),
          fc
            .integer({ min: 1, max: 10_000_000 })
            .map((periodMs) => ({ kind: 'calculated' as const, periodMs })),
        ),
        fc.constantFrom<'hot' | 'warm' | 'cold'>('hot', 'warm', 'cold'),
        fc.integer({ min: -1000, max: 200_000_000 }),
        fc.integer({ min: 0, max: 200_000_000 }),
        (schedule, tier, t, dt) => {
          const earlier = decide(schedule, tier, at(t));
          const later = decide(schedule, tier, at(t + dt));
          if (earlier === 'proceed') expect(later).toBe('proceed');
          const base = schedule.kind === 'interval' ? schedule.ms : schedule.periodMs;
          const period = base * TIER_MULTIPLIERS[tier];
          expect(earlier).toBe(t >= period ? 'proceed' : 'skip');
        },
      ),
      runs,
    );
  });

  it('cron due-ness is monotone in time too', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('*/5 * * * *', '@hourly', '0 3 * * *', '*/10 * * * * *'),
        fc.integer({ min: 0, max: 3 * 86_400_000 }),
        fc.integer({ min: 0, max: 86_400_000 }),
        (expression, t, dt) => {
          const s: ResolvedSchedule = { kind: 'cron', expression };
          if (decide(s, 'hot', at(t)) === 'proceed') expect(decide(s, 'hot', at(t + dt))).toBe('proceed');
        },
      ),
      { numRuns: Math.min(runs.numRuns, 100) },
    );
  });
});

describe('property: the watermark gate', () => {
  const SOURCES = ['a', 'b', 'c', 'd', 'e'];
  const subset = (min: number) =>
    fc.uniqueArray(fc.constantFrom(...SOURCES), { minLength: min, maxLength: 5 });
  const groupsArb = fc.array(fc.record({ sources: subset(2), tolerance: fc.integer({ min: 0, max: 100 }) }), {
    minLength: 0,
    maxLength: 3,
  });
  const watermarksArb = fc.dictionary(fc.constantFrom(...SOURCES), fc.integer({ min: 0, max: 200 }));
  const inputsOf = (
    groups: readonly { sources: string[]; tolerance: number }[],
    table: readonly string[],
    marks: Record<string, number>,
  ): WatermarkInputs<number, number> => ({
    sources: table,
    groups: groups.map((g, i) => ({ name: `g${i}`, ...g })),
    watermarks: new Map(Object.entries(marks)),
  });
  const decide = async (inputs: WatermarkInputs<number, number>) => {
    const st = meta();
    const provider = new ContextProvider().provide(watermarkInputs, () => inputs);
    return (await watermarkGate().evaluate(st, createGateContext(st, { clock: fixedClock(T0), provider })))
      .kind;
  };
  /** The rule as stated: skip iff some group shares ≥ 2 sources with the table, all with a watermark, spread > tolerance. */
  const oracle = (inputs: WatermarkInputs<number, number>) =>
    inputs.groups.some((g) => {
      const shared = g.sources.filter((s) => inputs.sources.includes(s));
      const values = shared.map((s) => inputs.watermarks.get(s));
      if (shared.length < 2 || values.some((v) => v === undefined)) return false;
      const ns = values as number[];
      return Math.max(...ns) - Math.min(...ns) > g.tolerance;
    })
      ? 'skip'
      : 'proceed';

  it('skips exactly when a group sharing two or more watermarked sources is misaligned', async () => {
    await fc.assert(
      fc.asyncProperty(groupsArb, subset(0), watermarksArb, async (groups, table, marks) => {
        const inputs = inputsOf(groups, table, marks);
        expect(await decide(inputs)).toBe(oracle(inputs));
      }),
      runs,
    );
  });

  it('does not depend on the order of groups, of their sources or of the table sources', async () => {
    await fc.assert(
      fc.asyncProperty(groupsArb, subset(0), watermarksArb, async (groups, table, marks) => {
        const reversed = groups.map((g) => ({ ...g, sources: [...g.sources].reverse() })).reverse();
        expect(await decide(inputsOf(reversed, [...table].reverse(), marks))).toBe(
          await decide(inputsOf(groups, table, marks)),
        );
      }),
      runs,
    );
  });

  it('a larger tolerance, or a source without a watermark, never turns proceed into skip', async () => {
    await fc.assert(
      fc.asyncProperty(
        groupsArb,
        subset(0),
        watermarksArb,
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom(...SOURCES),
        async (groups, table, marks, extra, dropped) => {
          if ((await decide(inputsOf(groups, table, marks))) !== 'proceed') return;
          const wider = groups.map((g) => ({ ...g, tolerance: g.tolerance + extra }));
          expect(await decide(inputsOf(wider, table, marks))).toBe('proceed');
          const { [dropped]: _gone, ...fewer } = marks;
          expect(await decide(inputsOf(groups, table, fewer))).toBe('proceed');
        },
      ),
      runs,
    );
  });

  it('a stuck source holds exactly the tables sharing a source with one of its groups', async () => {
    await fc.assert(
      fc.asyncProperty(groupsArb, subset(0), fc.constantFrom(...SOURCES), async (groups, table, stuck) => {
        const inputs = { ...inputsOf(groups, table, {}), stuck: new Map([[stuck, 1]]) };
        const held = groups.some(
          (g) => g.sources.includes(stuck) && g.sources.some((s) => table.includes(s)),
        );
        expect(await decide(inputs)).toBe(held ? 'skip' : 'proceed');
      }),
      runs,
    );
  });
});
