import type { ConsistencyGroup, RefreshUnit } from '@pgtrickle/groups';
import { describe, expect, it } from 'vitest';
import {
  ContextProvider,
  changedUpstreams,
  createGateContext,
  currentRefreshUnit,
  fixedClock,
  hasPendingSourceChanges,
  ownConsistencyGroup,
  pendingChangeCount,
  SnapshotCoherenceGate,
  type StreamTableMeta,
  UpstreamChangesGate,
} from '../src/index.js';
import { meta, T0 } from './helpers.js';

const clock = fixedClock(T0);

describe('UpstreamChangesGate', () => {
  const gate = new UpstreamChangesGate();
  const decide = (st: StreamTableMeta, provider: ContextProvider) =>
    gate.evaluate(st, createGateContext(st, { clock, provider }));

  it('proceeds when a base source has pending changes, without asking about upstream tables', async () => {
    let askedUpstreams = false;
    const provider = new ContextProvider()
      .provide(pendingChangeCount, () => 3)
      .provide(changedUpstreams, () => {
        askedUpstreams = true;
        return [];
      });
    expect((await decide(meta(), provider)).kind).toBe('proceed');
    expect(askedUpstreams).toBe(false);
  });

  it('proceeds when an upstream stream table refreshed since', async () => {
    const provider = new ContextProvider()
      .provide(hasPendingSourceChanges, () => false)
      .provide(changedUpstreams, () => ['b']);
    expect((await decide(meta(), provider)).kind).toBe('proceed');
  });

  it('skips with "no pending changes" otherwise', async () => {
    const provider = new ContextProvider()
      .provide(pendingChangeCount, () => 0)
      .provide(changedUpstreams, () => []);
    expect(await decide(meta(), provider)).toEqual({
      kind: 'skip',
      reason:
        'no pending changes: no source has pending changes and no upstream stream table refreshed since 2024-01-01T12:00:00.000Z',
    });
  });

  it('proceeds for a never-refreshed table or a pending reinit without loading anything', async () => {
    const empty = new ContextProvider();
    expect((await decide(meta({ lastRefreshAt: null }), empty)).kind).toBe('proceed');
    expect((await decide(meta({ needsReinit: true }), empty)).kind).toBe('proceed');
  });
});

describe('SnapshotCoherenceGate', () => {
  const gate = new SnapshotCoherenceGate();
  const group: ConsistencyGroup = {
    id: 'declared:g',
    members: ['b', 'c', 'd'],
    isolation: 'repeatable read',
    origin: 'declared',
  };
  const unitOf = (g: ConsistencyGroup, members = g.members): RefreshUnit => ({
    id: g.id,
    kind: 'group',
    members,
    group: g,
    dependsOn: [],
  });
  const decide = (st: StreamTableMeta, unit: RefreshUnit | null, own: ConsistencyGroup | null = group) =>
    gate.evaluate(
      st,
      createGateContext(st, {
        clock,
        provider: new ContextProvider()
          .provide(currentRefreshUnit, () => unit)
          .provide(ownConsistencyGroup, () => own),
      }),
    );
  const member = meta({ id: 'b', consistencyGroupId: 'declared:g' });

  it('ignores tables in no group', async () => {
    expect((await decide(meta({ id: 'x' }), null)).kind).toBe('proceed');
  });

  it('skips a member evaluated on its own', async () => {
    expect(await decide(member, null)).toEqual({
      kind: 'skip',
      reason:
        '"public.b" belongs to consistency group "declared:g" and refreshes only together with it, not on its own',
    });
    const single: RefreshUnit = { id: 'b', kind: 'single', members: ['b'], group: null, dependsOn: [] };
    expect((await decide(member, single)).kind).toBe('skip');
  });

  it('proceeds inside its own group unit', async () => {
    expect((await decide(member, unitOf(group))).kind).toBe('proceed');
  });

  it('skips inside a unit that does not contain it', async () => {
    const other: ConsistencyGroup = { ...group, id: 'declared:h', members: ['x', 'y'] };
    expect(await decide(member, unitOf(other))).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('does not contain it'),
    });
  });

  it('checks a merged unit covers the whole group at a strong enough isolation', async () => {
    const merged: ConsistencyGroup = {
      id: 'merged:b,c,d,e',
      members: ['b', 'c', 'd', 'e'],
      isolation: 'repeatable read',
      origin: 'merged',
    };
    expect((await decide(member, unitOf(merged))).kind).toBe('proceed');
    const partial = { ...merged, members: ['b', 'e'] };
    expect(await decide(member, unitOf(partial))).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('lacks "c", "d"'),
    });
    const weak = { ...merged, isolation: 'read committed' as const };
    expect(await decide(member, unitOf(weak))).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('runs at read committed but'),
    });
  });
});
