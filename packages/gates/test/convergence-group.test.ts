import { describe, expect, it } from 'vitest';
import {
  allOf,
  block,
  blueGreenFrontiers,
  blueMeta,
  ContextProvider,
  type ConvergenceCheck,
  ConvergenceGate,
  contentHashEqual,
  contentHashes,
  createGateContext,
  dataTimestampCaughtUp,
  defineContextKey,
  defineGate,
  fixedClock,
  frontierCaughtUp,
  GateTick,
  groupAware,
  groupMembers,
  lagBelow,
  proceed,
  type StreamTableMeta,
  skip,
} from '../src/index.js';
import { at, meta, T0 } from './helpers.js';

const clock = fixedClock(T0);

describe('ConvergenceGate', () => {
  const blue = meta({ id: 'blue', dataTimestamp: at(10_000) });
  const green = (overrides: Partial<StreamTableMeta> = {}) =>
    meta({ id: 'green', greenOf: 'blue', dataTimestamp: at(10_000), ...overrides });
  const provider = (
    frontiers: { blue: string | null; green: string | null },
    hashes = { blue: 'h1', green: 'h1' },
  ) =>
    new ContextProvider()
      .provide(blueMeta, (st) => (st.greenOf === 'blue' ? blue : null))
      .provide(blueGreenFrontiers, () => frontiers)
      .provide(contentHashes, () => hashes);

  it('proceeds for a table that is not green', async () => {
    const st = meta();
    expect((await new ConvergenceGate().evaluate(st, createGateContext(st, { clock }))).kind).toBe('proceed');
  });

  it('default check: green frontier caught up with blue (pg_lsn order, not string order)', async () => {
    const gate = new ConvergenceGate();
    const st = green();
    const decide = (f: { blue: string | null; green: string | null }) =>
      gate.evaluate(st, createGateContext(st, { clock, provider: provider(f) }));
    expect((await decide({ blue: '0/A0', green: '0/A0' })).kind).toBe('proceed');
    expect((await decide({ blue: '0/9', green: '0/10' })).kind).toBe('proceed');
    expect(await decide({ blue: '1/0', green: '0/FFFFFFFF' })).toEqual({
      kind: 'skip',
      reason:
        'green "public.green" has not converged with "public.blue": frontier: green frontier 0/FFFFFFFF behind blue 1/0',
    });
    expect(await decide({ blue: '0/1', green: null })).toMatchObject({
      reason: expect.stringContaining('no frontier yet'),
    });
  });

  it('all checks must pass; every unmet one is listed', async () => {
    const gate = new ConvergenceGate({
      checks: [frontierCaughtUp(), lagBelow(500), dataTimestampCaughtUp(), contentHashEqual()],
    });
    const st = green({ dataTimestamp: at(9000) });
    const d = await gate.evaluate(
      st,
      createGateContext(st, {
        clock,
        provider: provider({ blue: '0/5', green: '0/4' }, { blue: 'a', green: 'b' }),
      }),
    );
    expect(d.kind).toBe('skip');
    const reason = d.kind === 'skip' ? d.reason : '';
    expect(reason).toContain('frontier: green frontier 0/4 behind blue 0/5');
    expect(reason).toContain('lag: lag 1000 ms > 500 ms');
    expect(reason).toContain('data-timestamp: green data is 1000 ms older than blue');
    expect(reason).toContain('content-hash: content hash b ≠ blue a');
    const ok = green();
    const yes = await gate.evaluate(
      ok,
      createGateContext(ok, { clock, provider: provider({ blue: '0/5', green: '0/5' }) }),
    );
    expect(yes.kind).toBe('proceed');
  });

  it('stopAtFirstUnmet skips the expensive checks', async () => {
    let hashed = false;
    const expensive: ConvergenceCheck = {
      name: 'hash',
      check() {
        hashed = true;
        return { converged: true, detail: '' };
      },
    };
    const gate = new ConvergenceGate({ checks: [frontierCaughtUp(), expensive], stopAtFirstUnmet: true });
    const st = green();
    await gate.evaluate(
      st,
      createGateContext(st, { clock, provider: provider({ blue: '0/5', green: '0/4' }) }),
    );
    expect(hashed).toBe(false);
  });

  it('skips when the blue table is unknown; composes checks with allOf', async () => {
    const st = meta({ id: 'g2', greenOf: 'nope' });
    const gate = new ConvergenceGate({ checks: [allOf([lagBelow(0), dataTimestampCaughtUp()])] });
    const d = await gate.evaluate(
      st,
      createGateContext(st, { clock, provider: provider({ blue: null, green: null }) }),
    );
    expect(d).toEqual({ kind: 'skip', reason: 'green "public.g2": its blue table "nope" is unknown' });
    const st2 = green({ dataTimestamp: null });
    const d2 = await gate.evaluate(
      st2,
      createGateContext(st2, { clock, provider: provider({ blue: null, green: null }) }),
    );
    expect(d2).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('all: lag: green has no data yet; data-timestamp'),
    });
    expect(() => lagBelow(-1)).toThrow(RangeError);
  });
});

describe('groupAware', () => {
  const flagged = defineContextKey<boolean>('flagged');
  const inner = defineGate('flag', async (st, ctx) =>
    (await ctx.get(flagged)) ? block(`"${st.id}" is flagged`) : st.id === 'c' ? skip('c is slow') : proceed(),
  );
  const members = ['b', 'c', 'd'].map((id) => meta({ id, consistencyGroupId: 'g' }));
  const run = async (flaggedIds: string[], propagate?: 'block' | 'non-proceed', st = members[0]!) => {
    let loads = 0;
    const provider = new ContextProvider()
      .provide(flagged, (m) => {
        loads++;
        return flaggedIds.includes(m.id);
      })
      .provide(groupMembers, () => members);
    const tick = new GateTick({ clock, provider });
    const gate = groupAware(inner, propagate ? { propagate } : {});
    const d = await gate.evaluate(st, tick.context(st));
    return { d, loads, tick };
  };

  it('keeps the wrapped gate name', () => {
    expect(groupAware(inner).name).toBe('flag');
    expect(groupAware(inner, { name: 'flag-group' }).name).toBe('flag-group');
  });

  it('a block on any member blocks every member', async () => {
    const { d } = await run(['d']);
    expect(d).toEqual({ kind: 'block', reason: 'consistency group "g" member "public.d": "d" is flagged' });
    expect((await run(['d'], undefined, members[2]!)).d.kind).toBe('block');
  });

  it('the table’s own decision wins and members are then not evaluated', async () => {
    const { d, loads } = await run(['b', 'd']);
    expect(d).toEqual({ kind: 'block', reason: '"b" is flagged' });
    expect(loads).toBe(1);
  });

  it('skips of members carry over only with propagate: non-proceed', async () => {
    expect((await run([])).d.kind).toBe('proceed');
    expect((await run([], 'non-proceed')).d).toEqual({
      kind: 'skip',
      reason: 'consistency group "g" member "public.c": c is slow',
    });
  });

  it('is a no-op for a table in no group', async () => {
    const loner = meta({ id: 'x' });
    const gate = groupAware(inner);
    const provider = new ContextProvider().provide(flagged, () => false);
    expect((await gate.evaluate(loner, createGateContext(loner, { clock, provider }))).kind).toBe('proceed');
  });

  it('loads each member value once per tick even when every member is evaluated', async () => {
    let loads = 0;
    const provider = new ContextProvider()
      .provide(flagged, () => {
        loads++;
        return false;
      })
      .provide(groupMembers, () => members);
    const tick = new GateTick({ clock, provider });
    const gate = groupAware(inner);
    for (const m of members) await gate.evaluate(m, tick.context(m));
    expect(loads).toBe(3);
  });
});
