import { describe, expect, it } from 'vitest';
import {
  block,
  ContextProvider,
  createGateContext,
  defineContextKey,
  defineGate,
  fixedClock,
  GateConfigError,
  type GateDecision,
  GateEvaluationError,
  GatePipeline,
  GateTick,
  proceed,
  skip,
} from '../src/index.js';
import { meta, T0 } from './helpers.js';

const clock = fixedClock(T0);

function recorder() {
  const seen: string[] = [];
  const gate = (name: string, decision: GateDecision) =>
    defineGate(name, () => {
      seen.push(name);
      return decision;
    });
  return { seen, gate };
}

describe('GatePipeline.evaluate', () => {
  it('proceeds when every gate proceeds', async () => {
    const { seen, gate } = recorder();
    const p = new GatePipeline([gate('a', proceed()), gate('b', proceed())]);
    const v = await p.evaluate(meta(), createGateContext(meta(), { clock }));
    expect(v).toEqual({ streamTable: 'st1', decision: { kind: 'proceed' }, gate: null });
    expect(seen).toEqual(['a', 'b']);
  });

  it('returns the first non-proceed and evaluates nothing after it', async () => {
    const { seen, gate } = recorder();
    const p = new GatePipeline([gate('a', proceed()), gate('b', skip('later')), gate('c', block('stop'))]);
    const v = await p.evaluate(meta(), createGateContext(meta(), { clock }));
    expect(v).toEqual({ streamTable: 'st1', decision: { kind: 'skip', reason: 'later' }, gate: 'b' });
    expect(seen).toEqual(['a', 'b']);
  });

  it('does not load context values of gates it never reaches', async () => {
    let loads = 0;
    const key = defineContextKey<number>('expensive');
    const provider = new ContextProvider().provide(key, () => ++loads);
    const p = new GatePipeline([
      defineGate('first', () => skip('no')),
      defineGate('second', async (_st, ctx) => ((await ctx.get(key)) > 0 ? proceed() : skip('x'))),
    ]);
    await p.evaluate(meta(), createGateContext(meta(), { clock, provider }));
    expect(loads).toBe(0);
  });

  it('accepts async gates', async () => {
    const p = new GatePipeline([defineGate('async', async () => block('later'))]);
    const v = await p.evaluate(meta(), createGateContext(meta(), { clock }));
    expect(v.decision).toEqual({ kind: 'block', reason: 'later' });
  });

  it('turns a throwing gate into GateEvaluationError (PGT_GATE_FAILED) with the cause', async () => {
    const cause = new Error('loader exploded');
    const p = new GatePipeline([
      defineGate('bad', () => {
        throw cause;
      }),
    ]);
    const err = await p.evaluate(meta(), createGateContext(meta(), { clock })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GateEvaluationError);
    expect(err).toMatchObject({ code: 'PGT_GATE_FAILED', gate: 'bad', streamTable: 'st1', cause });
    expect((err as Error).message).toContain('loader exploded');
  });

  it('rejects a gate that returns something that is not a decision', async () => {
    const p = new GatePipeline([defineGate('bad', () => ({ kind: 'maybe' }) as unknown as GateDecision)]);
    await expect(p.evaluate(meta(), createGateContext(meta(), { clock }))).rejects.toMatchObject({
      code: 'PGT_GATE_FAILED',
    });
  });

  it('rejects a context built for another stream table', async () => {
    const p = new GatePipeline([]);
    await expect(
      p.evaluate(meta({ id: 'a' }), createGateContext(meta({ id: 'b' }), { clock })),
    ).rejects.toThrow(GateConfigError);
  });
});

describe('GatePipeline configuration', () => {
  const gates = ['a', 'b', 'c'].map((n) => defineGate(n, () => proceed()));

  it('rejects duplicate names', () => {
    expect(() => new GatePipeline([gates[0]!, gates[0]!])).toThrow(/used twice/);
  });

  it('reorders by name and rejects unknown, repeated or missing names', () => {
    const p = new GatePipeline(gates);
    expect(p.withOrder(['c', 'a', 'b']).names()).toEqual(['c', 'a', 'b']);
    expect(() => p.withOrder(['c', 'a', 'x'])).toThrow(/unknown gate "x"/);
    expect(() => p.withOrder(['c', 'a', 'a', 'b'])).toThrow(/named twice/);
    const err = (() => {
      try {
        p.withOrder(['c', 'a']);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(GateConfigError);
    expect(err).toMatchObject({ code: 'PGT_INVALID_ARGUMENT' });
    expect((err as Error).message).toContain('leaves out "b"');
    expect(p.names()).toEqual(['a', 'b', 'c']);
  });

  it('drops, inserts and replaces gates', () => {
    const p = new GatePipeline(gates);
    expect(p.without('b').names()).toEqual(['a', 'c']);
    expect(() => p.without('z')).toThrow(GateConfigError);
    const x = defineGate('x', () => proceed());
    expect(p.with(x).names()).toEqual(['a', 'b', 'c', 'x']);
    expect(p.with(x, { before: 'b' }).names()).toEqual(['a', 'x', 'b', 'c']);
    expect(p.with(x, { after: 'b' }).names()).toEqual(['a', 'b', 'x', 'c']);
    expect(() => p.with(x, { after: 'zz' })).toThrow(GateConfigError);
    const b2 = defineGate('b', () => skip('new b'));
    expect(p.replace(b2).gate('b')).toBe(b2);
    expect(() => p.replace(x)).toThrow(GateConfigError);
  });
});

describe('GatePipeline.explain', () => {
  it('evaluates every gate, marks which were reached, and reports the verdict and loads', async () => {
    const key = defineContextKey<number>('count');
    const provider = new ContextProvider().provide(key, () => 42);
    const tick = new GateTick({ clock, provider });
    const st = meta();
    const p = new GatePipeline([
      defineGate('a', () => proceed()),
      defineGate('b', () => skip('not yet')),
      defineGate('c', async (_st, ctx) => block(`count ${await ctx.get(key)}`)),
    ]);
    const e = await p.explain(st, tick.context(st));
    expect(e.verdict).toEqual({
      streamTable: 'st1',
      decision: { kind: 'skip', reason: 'not yet' },
      gate: 'b',
    });
    expect(e.error).toBeNull();
    expect(e.gates.map((g) => [g.gate, g.decision?.kind, g.reached, g.requested])).toEqual([
      ['a', 'proceed', true, []],
      ['b', 'skip', true, []],
      ['c', 'block', false, ['count']],
    ]);
    expect(e.context).toEqual([
      {
        key: 'count',
        scope: 'stream-table',
        streamTable: 'st1',
        status: 'loaded',
        value: 42,
        requests: [{ by: 'c', evaluating: 'st1' }],
      },
    ]);
  });

  it('reports a failing gate in its entry and as the verdict error when it would have decided', async () => {
    const p = new GatePipeline([
      defineGate('boom', () => {
        throw new Error('x');
      }),
      defineGate('after', () => block('b')),
    ]);
    const e = await p.explain(meta(), createGateContext(meta(), { clock }));
    expect(e.verdict).toBeNull();
    expect(e.error).toBeInstanceOf(GateEvaluationError);
    expect(e.gates[0]?.error?.gate).toBe('boom');
    expect(e.gates[1]).toMatchObject({ gate: 'after', decision: { kind: 'block' }, reached: false });
  });

  it('agrees with evaluate when all proceed', async () => {
    const p = new GatePipeline([defineGate('a', () => proceed())]);
    const e = await p.explain(meta(), createGateContext(meta(), { clock }));
    expect(e.verdict).toEqual({ streamTable: 'st1', decision: proceed(), gate: null });
  });
});
