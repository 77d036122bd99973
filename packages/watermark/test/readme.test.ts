/** The README's example, run as written. */
import { describe, expect, it } from 'vitest';
import {
  bigintOrdering,
  checkAlignment,
  effectiveWatermark,
  timeOrdering,
  timeWatermarkGroup,
  Watermark,
  WatermarkRegressionError,
} from '../src/index.js';

describe('README example', () => {
  it('gates on alignment, advances monotonically, persists, and works for bigints', () => {
    const group = timeWatermarkGroup({
      name: 'ingest',
      sources: ['clicks', 'payments'],
      tolerance: { minutes: 5 },
    });

    const clicks = Watermark.of('clicks', new Date('2024-01-01T12:00:00Z'), timeOrdering);
    let payments = Watermark.of('payments', new Date('2024-01-01T11:50:00Z'), timeOrdering);
    const current = () => new Map([clicks, payments].map((w) => [w.source, w.value]));

    expect(checkAlignment(group, current(), timeOrdering)).toEqual({
      aligned: false,
      reason: 'misaligned',
      group: 'ingest',
      spread: 600_000,
      tolerance: 300_000,
      laggard: 'payments',
      leader: 'clicks',
      effective: new Date('2024-01-01T11:50:00Z'),
      latest: new Date('2024-01-01T12:00:00Z'),
    });

    payments = payments.advance(new Date('2024-01-01T11:58:00Z')).watermark;
    expect(checkAlignment(group, current(), timeOrdering).aligned).toBe(true);
    expect(effectiveWatermark(group, current(), timeOrdering)).toEqual(new Date('2024-01-01T11:58:00Z'));

    expect(clicks.advance(new Date('2024-01-01T12:00:00Z')).changed).toBe(false);
    let code: string | undefined;
    try {
      clicks.advance(new Date('2024-01-01T11:00:00Z'));
    } catch (e) {
      if (e instanceof WatermarkRegressionError) code = e.code;
    }
    expect(code).toBe('PGT_WATERMARK_REGRESSION');

    const stored = JSON.stringify(payments);
    expect(stored).toBe('{"source":"payments","kind":"time","value":"2024-01-01T11:58:00.000Z"}');
    expect(Watermark.fromJSON(JSON.parse(stored), timeOrdering).value).toEqual(
      new Date('2024-01-01T11:58:00Z'),
    );

    expect(
      checkAlignment(
        { name: 'seq', sources: ['orders', 'refunds'], tolerance: 100n },
        new Map([
          ['orders', 1_000n],
          ['refunds', 1_050n],
        ]),
        bigintOrdering,
      ).aligned,
    ).toBe(true);
  });
});
