/**
 * Example tests of alignment (aligned, misaligned, missing, ties, boundaries, pg_lsn), group
 * validation, and time tolerances given as Durations.
 */
import { describe, expect, it } from 'vitest';
import {
  bigintOrdering,
  checkAlignment,
  describeAlignment,
  effectiveWatermark,
  formatMilliseconds,
  InvalidWatermarkGroupError,
  InvalidWatermarkValueError,
  lsnOrdering,
  numberOrdering,
  timeOrdering,
  timeWatermarkGroup,
  toMilliseconds,
  validateWatermarkGroup,
  type WatermarkGroup,
  watermarkGroup,
  watermarkGroupProblems,
} from '../src/index.js';

const at = (hhmm: string) => new Date(`2024-01-01T${hhmm}:00Z`);
const ingest: WatermarkGroup<number> = { name: 'ingest', sources: ['clicks', 'payments'], tolerance: 60_000 };

describe('checkAlignment', () => {
  it('aligned when max − min ≤ tolerance (the boundary included)', () => {
    const r = checkAlignment(
      ingest,
      new Map([
        ['clicks', at('12:00')],
        ['payments', at('11:59')],
      ]),
      timeOrdering,
    );
    expect(r).toEqual({
      aligned: true,
      reason: 'aligned',
      group: 'ingest',
      effective: at('11:59'),
      latest: at('12:00'),
      spread: 60_000,
      tolerance: 60_000,
      leader: 'clicks',
      laggard: 'payments',
    });
    expect(describeAlignment(r, timeOrdering)).toBe(
      'watermark group "ingest" aligned: spread 60000 ms (1 minute) within tolerance 60000 ms (1 minute); ' +
        'effective watermark 2024-01-01T11:59:00.000Z (laggard "payments" at 2024-01-01T11:59:00.000Z, ' +
        'leader "clicks" at 2024-01-01T12:00:00.000Z)',
    );
  });

  it('misaligned when the spread exceeds the tolerance, naming laggard and leader', () => {
    const r = checkAlignment(
      ingest,
      new Map([
        ['clicks', at('12:00')],
        ['payments', at('11:50')],
      ]),
      timeOrdering,
    );
    expect(r).toEqual({
      aligned: false,
      reason: 'misaligned',
      group: 'ingest',
      spread: 600_000,
      tolerance: 60_000,
      laggard: 'payments',
      leader: 'clicks',
      effective: at('11:50'),
      latest: at('12:00'),
    });
    expect(describeAlignment(r, timeOrdering)).toBe(
      'watermark group "ingest" misaligned: spread 600000 ms (10 minutes) exceeds tolerance 60000 ms (1 minute) ' +
        '(laggard "payments" at 2024-01-01T11:50:00.000Z, leader "clicks" at 2024-01-01T12:00:00.000Z); ' +
        'waiting for "payments"',
    );
  });

  it('missing: sources without a watermark (undefined, null or absent), in group order', () => {
    const group = { name: 'g', sources: ['c', 'a', 'b', 'd'], tolerance: 0 };
    const r = checkAlignment(
      group,
      new Map<string, number | undefined>([
        ['a', 1],
        ['b', undefined],
        ['d', null as unknown as undefined],
      ]),
      numberOrdering,
    );
    expect(r).toEqual({ aligned: false, reason: 'missing', group: 'g', missing: ['c', 'b', 'd'] });
    expect(describeAlignment(r, numberOrdering)).toBe(
      'watermark group "g": no watermark yet for sources "c", "b", "d"',
    );
    expect(
      describeAlignment(
        checkAlignment({ ...group, sources: ['a', 'x'] }, new Map([['a', 1]]), numberOrdering),
        numberOrdering,
      ),
    ).toBe('watermark group "g": no watermark yet for source "x"');
    expect(effectiveWatermark(group, new Map([['a', 1]]), numberOrdering)).toBeUndefined();
  });

  it('ties go to the smallest source id; a single-source group is always aligned', () => {
    const r = checkAlignment(
      { name: 'g', sources: ['z', 'm', 'a', 'q'], tolerance: 10n },
      new Map([
        ['z', 5n],
        ['m', 9n],
        ['a', 5n],
        ['q', 9n],
      ]),
      bigintOrdering,
    );
    expect(r).toMatchObject({ aligned: true, laggard: 'a', leader: 'm', spread: 4n, effective: 5n });
    expect(
      checkAlignment(
        { name: 'one', sources: ['only'], tolerance: 0 },
        new Map([['only', 7]]),
        numberOrdering,
      ),
    ).toMatchObject({ aligned: true, spread: 0, laggard: 'only', leader: 'only', effective: 7 });
  });

  it('tolerance zero means exactly equal; Infinity means any spread', () => {
    const map = new Map([
      ['a', 1],
      ['b', 1],
    ]);
    expect(
      checkAlignment({ name: 'g', sources: ['a', 'b'], tolerance: 0 }, map, numberOrdering).aligned,
    ).toBe(true);
    map.set('b', 1.0000001);
    expect(
      checkAlignment({ name: 'g', sources: ['a', 'b'], tolerance: 0 }, map, numberOrdering).aligned,
    ).toBe(false);
    map.set('b', 1e300);
    expect(
      checkAlignment(
        { name: 'g', sources: ['a', 'b'], tolerance: Number.POSITIVE_INFINITY },
        map,
        numberOrdering,
      ).aligned,
    ).toBe(true);
  });

  it('works on pg_lsn text by WAL position', () => {
    const r = checkAlignment(
      { name: 'wal', sources: ['a', 'b'], tolerance: 0x100n },
      new Map([
        ['a', '0/FF'],
        ['b', '0/1FF'],
      ]),
      lsnOrdering,
    );
    expect(r).toMatchObject({ aligned: true, spread: 0x100n, laggard: 'a', leader: 'b' });
  });

  it('rejects values the ordering cannot compare, naming the source and group', () => {
    expect(() => checkAlignment(ingest, new Map([['clicks', new Date('not a date')]]), timeOrdering)).toThrow(
      InvalidWatermarkValueError,
    );
    expect(() =>
      checkAlignment(
        ingest,
        new Map([
          ['clicks', at('12:00')],
          ['payments', 5 as unknown as Date],
        ]),
        timeOrdering,
      ),
    ).toThrow('watermark of source "payments" in group "ingest": 5 is not valid');
  });
});

describe('watermark groups', () => {
  it('validates: non-empty name and sources, no duplicates, tolerance ≥ zero', () => {
    const bad = { name: ' ', sources: ['a', 'b', 'a', '', 'b'], tolerance: -5 };
    expect(watermarkGroupProblems(bad, numberOrdering)).toEqual([
      'the name must be non-empty text',
      'source #4 is "", not a non-empty id',
      'sources "a", "b" listed more than once',
      'the tolerance -5 is negative',
    ]);
    let error: unknown;
    try {
      watermarkGroup(bad, numberOrdering);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidWatermarkGroupError);
    expect(error).toMatchObject({ code: 'PGT_INVALID_ARGUMENT', group: ' ' });
    expect((error as Error).message).toMatch(
      /^invalid watermark group " ": the name must be non-empty text; /,
    );
    expect(watermarkGroupProblems({ name: 'g', sources: [], tolerance: 0 }, numberOrdering)).toEqual([
      'it has no sources',
    ]);
    expect(
      watermarkGroupProblems({ name: 'g', sources: ['a'], tolerance: Number.NaN }, numberOrdering),
    ).toEqual(['the tolerance NaN is not a valid "number" distance']);
    expect(
      watermarkGroupProblems({ name: 'g', sources: ['a'], tolerance: 1 } as never, bigintOrdering),
    ).toEqual(['the tolerance 1 is not a valid "bigint" distance']);
    expect(
      watermarkGroupProblems(
        { name: 'g', sources: 'a' as unknown as string[], tolerance: 0 },
        numberOrdering,
      ),
    ).toEqual(['sources must be an array of source ids']);
  });

  it('checkAlignment validates plain group objects too', () => {
    expect(() => checkAlignment({ name: 'g', sources: [], tolerance: 0 }, new Map(), numberOrdering)).toThrow(
      InvalidWatermarkGroupError,
    );
    expect(() =>
      validateWatermarkGroup({ name: 'g', sources: ['a', 'a'], tolerance: 0 }, numberOrdering),
    ).toThrow('invalid watermark group "g": source "a" listed more than once');
  });

  it('watermarkGroup returns a frozen copy', () => {
    const sources = ['a', 'b'];
    const g = watermarkGroup({ name: 'g', sources, tolerance: 1 }, numberOrdering);
    sources.push('c');
    expect(g.sources).toEqual(['a', 'b']);
    expect(Object.isFrozen(g)).toBe(true);
    expect(Object.isFrozen(g.sources)).toBe(true);
  });
});

describe('time tolerances (Durations)', () => {
  it('converts Durations to milliseconds', () => {
    expect(toMilliseconds({ minutes: 5 })).toBe(300_000);
    expect(toMilliseconds({ hours: 1, minutes: 30, seconds: 15 })).toBe(5_415_000);
    expect(toMilliseconds({ seconds: 1.5 })).toBe(1500);
    expect(toMilliseconds({ weeks: 1 })).toBe(7 * 86_400_000);
    expect(toMilliseconds({ months: 1 })).toBe(2_629_746_000); // an average month
    expect(toMilliseconds({})).toBe(0);
    expect(toMilliseconds(250)).toBe(250);
  });

  it('refuses negative, NaN, non-numeric and unknown units', () => {
    for (const bad of [
      -1,
      Number.NaN,
      { minutes: -5 },
      { minutes: Number.NaN },
      { minutes: '5' },
      { milliseconds: 500 },
      null,
      [],
      '5m',
    ]) {
      expect(() => toMilliseconds(bad as never)).toThrow(InvalidWatermarkValueError);
    }
    expect(() => toMilliseconds({ milliseconds: 500 } as never)).toThrow(
      /"milliseconds" is not one; give sub-second tolerances as a number of milliseconds/,
    );
  });

  it('timeWatermarkGroup takes a Duration or ms and checks alignment in ms', () => {
    const g = timeWatermarkGroup({
      name: 'ingest',
      sources: ['clicks', 'payments'],
      tolerance: { minutes: 5 },
    });
    expect(g).toEqual({ name: 'ingest', sources: ['clicks', 'payments'], tolerance: 300_000 });
    const map = new Map([
      ['clicks', at('12:00')],
      ['payments', at('11:55')],
    ]);
    expect(checkAlignment(g, map, timeOrdering).aligned).toBe(true);
    map.set('payments', at('11:54'));
    expect(checkAlignment(g, map, timeOrdering)).toMatchObject({ aligned: false, spread: 360_000 });
    expect(timeWatermarkGroup({ name: 'x', sources: ['a'], tolerance: 1500 }).tolerance).toBe(1500);
    expect(() => timeWatermarkGroup({ name: 'x', sources: ['a'], tolerance: { days: -1 } })).toThrow(
      InvalidWatermarkValueError,
    );
  });

  it('formats millisecond distances for messages', () => {
    expect(formatMilliseconds(250)).toBe('250 ms');
    expect(formatMilliseconds(90_000)).toBe('90000 ms (1 minute 30 seconds)');
    expect(formatMilliseconds(1500)).toBe('1500 ms (1.5 seconds)');
    expect(formatMilliseconds(90_061_000)).toBe('90061000 ms (1 day 1 hour 1 minute 1 second)');
    expect(formatMilliseconds(-60_000)).toBe('-60000 ms (-1 minute)');
    expect(formatMilliseconds(Number.POSITIVE_INFINITY)).toBe('Infinity ms');
  });
});
