/**
 * The watermark package's own durations and ISO-8601 reading: unit lengths, English formatting,
 * and instants read exactly as the platform's `Date` reads the same text (fast-check), refusing
 * text without an offset or with out-of-range fields.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { durationMilliseconds, formatDuration, parseIsoInstant } from '../src/index.js';

describe('durations', () => {
  it('converts with fixed unit lengths, calendar units at their averages', () => {
    expect(durationMilliseconds({ years: 1 })).toBe(31_556_952_000);
    expect(durationMilliseconds({ months: 1 })).toBe(2_629_746_000);
    expect(durationMilliseconds({ weeks: 2, days: 1, hours: 1, minutes: 1, seconds: 1.25 })).toBe(
      15 * 86_400_000 + 3_661_250,
    );
    expect(durationMilliseconds({})).toBe(0);
  });

  it('is additive over its units (property)', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(1000), fc.nat(1000), fc.nat(1000), (d, h, m, s) => {
        const whole = durationMilliseconds({ days: d, hours: h, minutes: m, seconds: s });
        const parts =
          durationMilliseconds({ days: d }) +
          durationMilliseconds({ hours: h }) +
          durationMilliseconds({ minutes: m }) +
          durationMilliseconds({ seconds: s });
        expect(whole).toBe(parts);
      }),
    );
  });

  it('formats non-zero units in English, largest first', () => {
    expect(formatDuration({ days: 1, hours: 2, seconds: 1.5 })).toBe('1 day 2 hours 1.5 seconds');
    expect(formatDuration({ minutes: 1 })).toBe('1 minute');
    expect(formatDuration({ hours: 0 })).toBe('');
  });
});

describe('ISO-8601 instants', () => {
  it('reads what Date.prototype.toISOString writes (property)', () => {
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true }), (d) => {
        expect(parseIsoInstant(d.toISOString())?.getTime()).toBe(d.getTime());
      }),
    );
  });

  it('applies the offset in every accepted spelling', () => {
    const utc = Date.parse('2024-01-01T11:00:00Z');
    for (const text of [
      '2024-01-01T12:00:00+01:00',
      '2024-01-01T12:00:00+0100',
      '2024-01-01T12:00+01',
      '2024-01-01T06:00:00.000-05:00',
      '2024-01-01T11:00:00,000Z',
    ]) {
      expect(parseIsoInstant(text)?.getTime(), text).toBe(utc);
    }
  });

  it('refuses text without an offset, other shapes, and out-of-range fields', () => {
    for (const text of [
      '2024-01-01T12:00:00',
      '2024-01-01',
      '20240101T120000Z',
      '2024-02-30T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-01-01T25:00:00Z',
      '2024-01-01T12:60:00Z',
      '2024-01-01T12:00:00+24:00',
      'yesterday',
    ]) {
      expect(parseIsoInstant(text), text).toBeNull();
    }
    expect(parseIsoInstant('2024-02-29T00:00:00Z')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
  });
});
