import { describe, expect, it } from 'vitest';
import {
  CronCalculator,
  createGateContext,
  fixedClock,
  ScheduleGate,
  StatusGate,
  type StreamTableMeta,
  scheduleStatus,
} from '../src/index.js';
import { at, meta, T0 } from './helpers.js';

describe('StatusGate', () => {
  const gate = new StatusGate();
  const decide = (st: StreamTableMeta) => gate.evaluate(st);

  it('lets ACTIVE and INITIALIZING through', () => {
    expect(decide(meta({ status: 'ACTIVE' })).kind).toBe('proceed');
    expect(decide(meta({ status: 'INITIALIZING' })).kind).toBe('proceed');
  });

  it('skips PENDING and SUSPENDED with a reason', () => {
    expect(decide(meta({ status: 'PENDING' }))).toEqual({
      kind: 'skip',
      reason: '"public.st1" is PENDING: its creation has not finished',
    });
    expect(decide(meta({ status: 'SUSPENDED', consecutiveErrors: 3, lastError: 'lock timeout' }))).toEqual({
      kind: 'skip',
      reason:
        '"public.st1" is SUSPENDED after 3 consecutive errors (last: lock timeout); resume it to refresh again',
    });
    expect(decide(meta({ status: 'SUSPENDED' }))).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('resume'),
    });
  });

  it('blocks ERROR and DROPPED', () => {
    expect(decide(meta({ status: 'ERROR', lastError: 'column x does not exist' }))).toEqual({
      kind: 'block',
      reason:
        '"public.st1" is in ERROR: column x does not exist; fix the cause, then resume or reinitialize it',
    });
    expect(decide(meta({ status: 'DROPPED' })).kind).toBe('block');
  });

  it('skips IMMEDIATE tables (triggers maintain them)', () => {
    expect(decide(meta({ refreshMode: 'IMMEDIATE' }))).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('IMMEDIATE'),
    });
  });
});

describe('ScheduleGate', () => {
  const gate = new ScheduleGate();
  const decide = (st: StreamTableMeta, now: Date, manual = false) =>
    gate.evaluate(
      st,
      createGateContext(st, { clock: fixedClock(now), initiatedBy: manual ? 'manual' : 'scheduler' }),
    );

  it('interval: due once the period has elapsed (inclusive)', () => {
    const st = meta({ schedule: { kind: 'interval', ms: 5000 } });
    expect(decide(st, at(4999))).toEqual({
      kind: 'skip',
      reason:
        'not due: every 5000 ms; next at 2024-01-01T12:00:05.000Z (last refresh 2024-01-01T12:00:00.000Z)',
    });
    expect(decide(st, at(5000)).kind).toBe('proceed');
    expect(decide(st, at(60_000)).kind).toBe('proceed');
  });

  it('calculated: uses the resolved period', () => {
    const st = meta({ schedule: { kind: 'calculated', periodMs: 2000 } });
    expect(decide(st, at(1999))).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('CALCULATED every 2000 ms'),
    });
    expect(decide(st, at(2000)).kind).toBe('proceed');
  });

  it('tiers multiply the period; frozen never runs on schedule', () => {
    const warm = meta({ schedule: { kind: 'interval', ms: 1000 }, refreshTier: 'warm' });
    expect(decide(warm, at(1999))).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('×2 (warm tier)'),
    });
    expect(decide(warm, at(2000)).kind).toBe('proceed');
    const cold = meta({ refreshTier: 'cold' });
    expect(decide(cold, at(9999)).kind).toBe('skip');
    expect(decide(cold, at(10_000)).kind).toBe('proceed');
    const frozen = meta({ refreshTier: 'frozen' });
    expect(decide(frozen, at(1e12))).toMatchObject({
      kind: 'skip',
      reason: expect.stringContaining('frozen'),
    });
    expect(decide(frozen, at(0), true).kind).toBe('proceed');
  });

  it('never refreshed, reinit pending, or manual → due', () => {
    expect(decide(meta({ lastRefreshAt: null }), at(0)).kind).toBe('proceed');
    expect(decide(meta({ needsReinit: true }), at(1)).kind).toBe('proceed');
    expect(decide(meta(), at(1), true).kind).toBe('proceed');
  });

  it('cron: due when a fire time lies in (lastRefreshAt, now]', () => {
    // T0 = 12:00:00 exactly, which is itself a fire time of "*/5 * * * *": it does not count.
    const st = meta({ schedule: { kind: 'cron', expression: '*/5 * * * *' } });
    expect(decide(st, at(4 * 60_000))).toEqual({
      kind: 'skip',
      reason: 'not due: cron "*/5 * * * *" next fires at 2024-01-01T12:05:00.000Z',
    });
    expect(decide(st, at(5 * 60_000 - 1)).kind).toBe('skip');
    expect(decide(st, at(5 * 60_000)).kind).toBe('proceed');
    const hourly = meta({ schedule: { kind: 'cron', expression: '@hourly' }, lastRefreshAt: at(1) });
    expect(decide(hourly, at(3_599_999)).kind).toBe('skip');
    expect(decide(hourly, at(3_600_000)).kind).toBe('proceed');
  });

  it('cron reads expressions in the configured timezone', () => {
    // 00:00 in Stockholm (UTC+1 in January) is 23:00 UTC the day before.
    const tzGate = new ScheduleGate({ timezone: 'Europe/Stockholm' });
    const st = meta({
      schedule: { kind: 'cron', expression: '@daily' },
      lastRefreshAt: new Date('2024-01-01T22:00:00Z'),
    });
    const ctx = (now: string) => createGateContext(st, { clock: fixedClock(new Date(now)) });
    expect(tzGate.evaluate(st, ctx('2024-01-01T22:59:59Z')).kind).toBe('skip');
    expect(tzGate.evaluate(st, ctx('2024-01-01T23:00:00Z')).kind).toBe('proceed');
  });

  it('blocks an invalid cron expression or period', () => {
    const st = meta({ schedule: { kind: 'cron', expression: 'every tuesday' } });
    expect(decide(st, at(0))).toMatchObject({
      kind: 'block',
      reason: expect.stringContaining('invalid schedule'),
    });
    const bad = meta({ schedule: { kind: 'interval', ms: -5 } });
    expect(decide(bad, at(0))).toMatchObject({ kind: 'block' });
  });
});

describe('scheduleStatus', () => {
  it('reports the next due instant', () => {
    const s = scheduleStatus({ kind: 'interval', ms: 1000 }, T0, at(10));
    expect(s).toMatchObject({ due: false, nextDueAt: at(1000) });
  });

  it('caches parsed cron expressions', () => {
    const c = new CronCalculator();
    expect(c.parse('@daily')).toBe(c.parse('@daily'));
    expect(c.parse('nope')).toBeInstanceOf(Error);
    expect(c.nextAfter('@daily', T0)).toEqual(new Date('2024-01-02T00:00:00Z'));
  });
});
