import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  calculatedSchedules,
  cronSchedule,
  Dag,
  explainSchedules,
  formatSchedule,
  intervalSchedule,
  parseSchedule,
} from '../src/index.js';

describe('calculated schedules', () => {
  it('keeps explicit intervals, gives cron null and CALCULATED the fastest consumer', () => {
    const dag = new Dag()
      .addSource('s')
      .addStreamTable('a', { reads: ['s'] })
      .addStreamTable('b', { reads: ['a'], schedule: intervalSchedule(5000) })
      .addStreamTable('c', { reads: ['a'], schedule: intervalSchedule(2000) })
      .addStreamTable('d', { reads: ['a'], schedule: cronSchedule('@hourly') });
    expect(calculatedSchedules(dag)).toEqual(
      new Map([
        ['a', 2000],
        ['b', 5000],
        ['c', 2000],
        ['d', null],
      ]),
    );
    const a = explainSchedules(dag).get('a');
    expect(a).toMatchObject({ source: 'consumer', via: 'c', origin: 'c', periodMs: 2000 });
    expect(a?.reason).toContain('"c"');
  });

  it('resolves through chains of CALCULATED tables and defaults leaves', () => {
    const dag = new Dag()
      .addSource('s')
      .addStreamTable('a', { reads: ['s'] })
      .addStreamTable('b', { reads: ['a'] })
      .addStreamTable('c', { reads: ['b'], schedule: { kind: 'interval', ms: 300 } })
      .addStreamTable('leaf', { reads: ['s'] });
    const ex = dag.explainSchedules({ defaultPeriodMs: 60_000 });
    expect(ex.get('a')).toMatchObject({ periodMs: 300, source: 'consumer', via: 'b', origin: 'c' });
    expect(ex.get('b')).toMatchObject({ periodMs: 300, via: 'c', origin: 'c' });
    expect(ex.get('leaf')).toMatchObject({ periodMs: 60_000, source: 'default', origin: 'leaf' });
    expect([...ex.keys()]).toEqual(['a', 'b', 'c', 'leaf']);
    expect(dag.calculatedSchedules().get('leaf')).toBe(1000);
  });

  it('treats a table with only cron consumers like a leaf', () => {
    const dag = new Dag()
      .addSource('s')
      .addStreamTable('a', { reads: ['s'] })
      .addStreamTable('b', { reads: ['a'], schedule: cronSchedule('*/5 * * * *') });
    expect(dag.explainSchedules().get('a')).toMatchObject({ periodMs: 1000, source: 'default' });
  });

  it('rejects a bad default', () => {
    const dag = new Dag().addSource('s').addStreamTable('a', { reads: ['s'] });
    expect(() => dag.calculatedSchedules({ defaultPeriodMs: -1 })).toThrow(/defaultPeriodMs/);
  });

  it('follows schedule changes', () => {
    const dag = new Dag()
      .addSource('s')
      .addStreamTable('a', { reads: ['s'] })
      .addStreamTable('b', { reads: ['a'] });
    expect(dag.calculatedSchedules().get('a')).toBe(1000);
    dag.setSchedule('b', intervalSchedule(250));
    expect(dag.calculatedSchedules().get('a')).toBe(250);
  });
});

describe('parseSchedule / formatSchedule', () => {
  it('reads durations, cron and calculated', () => {
    expect(parseSchedule('30s')).toEqual({ kind: 'interval', ms: 30_000 });
    expect(parseSchedule('1h30m')).toEqual({ kind: 'interval', ms: 5_400_000 });
    expect(parseSchedule('250ms')).toEqual({ kind: 'interval', ms: 250 });
    expect(parseSchedule('0s')).toEqual({ kind: 'interval', ms: 0 });
    expect(formatSchedule(parseSchedule('0ms'))).toBe('0s');
    expect(parseSchedule('2')).toEqual({ kind: 'interval', ms: 2_000 });
    expect(parseSchedule('*/5 * * * *')).toEqual({ kind: 'cron', expression: '*/5 * * * *' });
    expect(parseSchedule('@hourly')).toEqual({ kind: 'cron', expression: '@hourly' });
    expect(parseSchedule('calculated')).toBeNull();
    expect(parseSchedule(null)).toBeNull();
  });
  it('refuses anything else with the accepted forms', () => {
    for (const bad of ['30x', '-1s', '1h 30', '@sometimes', 'soon', '5m30', 'ms']) {
      expect(() => parseSchedule(bad)).toThrow(/schedule|cron/);
    }
  });
  it('formats back to a parseable schedule', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 10 }), (ms) => {
        expect(parseSchedule(formatSchedule({ kind: 'interval', ms }))).toEqual({ kind: 'interval', ms });
      }),
    );
  });
});
