/**
 * The watermark commands against the test database, in-process: advance (forward only, the same
 * value again is a no-op), group create / list / drop with their errors and hints, status with
 * each group's alignment and each source's watermark, in text and with --json.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { main } from '../src/index.js';
import { captureIo } from './support/io.js';

const db = useTestDatabase();

async function cli(argv: string[]) {
  const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_LOG_LEVEL: 'warn' } });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

beforeAll(async () => {
  expect((await cli(['migrate'])).code).toBe(0);
  await db.query('CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE shipments (id int PRIMARY KEY)');
});

describe('pgtrickle watermark', () => {
  it('advance: forward only, the same value again changes nothing', async () => {
    const r = await cli(['watermark', 'advance', 'orders', '2024-01-01T12:05:00Z']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('watermark of public.orders: 2024-01-01T12:05:00.000Z\n');
    expect((await cli(['watermark', 'advance', 'orders', '2024-01-01T12:05:00Z'])).code).toBe(0);
    const back = await cli(['watermark', 'advance', 'orders', '2024-01-01T11:00:00Z', '--json']);
    expect(back.code).toBe(1);
    expect(JSON.parse(back.stderr)).toMatchObject({
      error: {
        code: 'PGT_WATERMARK_REGRESSION',
        message: expect.stringContaining('watermark moved backward'),
        hint: 'the current watermarks: pgtrickle watermark status',
      },
    });
    const json = await cli(['watermark', 'advance', 'shipments', '2024-01-01 11:55:00+00', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      source: 'public.shipments',
      watermark: '2024-01-01T11:55:00.000Z',
    });
  });

  it('group create / list / drop, with the SQL errors as codes', async () => {
    const created = await cli([
      'watermark',
      'group',
      'create',
      'fulfilment',
      'orders',
      'shipments',
      '-t',
      '60',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(
      /^created watermark group fulfilment \(#\d+\) over orders, shipments, tolerance 60s\n$/,
    );
    const dup = await cli(['watermark', 'group', 'create', 'fulfilment', 'orders', 'shipments']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(
      /^pgtrickle watermark: PGT_ALREADY_EXISTS: watermark group "fulfilment" already exists/,
    );
    const one = await cli(['watermark', 'group', 'create', 'solo', 'orders']);
    expect(one.stderr).toMatch(/PGT_INVALID_ARGUMENT: .*at least two distinct sources/);
    expect((await cli(['watermark', 'group', 'create', 'x', 'orders', 'shipments', '-t', '-5'])).code).toBe(
      2,
    );
    const list = await cli(['watermark', 'group', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      { groupName: 'fulfilment', sourceCount: 2, toleranceSecs: 60, createdAt: expect.any(String) },
    ]);
    const status = await cli(['watermark', 'status']);
    expect(status.stdout).toMatch(
      /^GROUP\s+MIN\s+MAX\s+LAG\s+ALIGNED\s+WATERMARKED\nfulfilment\s+2024-01-01T11:55:00.000Z\s+2024-01-01T12:05:00.000Z\s+10m00s\s+no\s+2\/2\n/,
    );
    expect(status.stdout).toMatch(/public\.orders\s+2024-01-01T12:05:00.000Z\s+.* ago/);
    const statusJson = JSON.parse((await cli(['watermark', 'status', '--json'])).stdout);
    expect(statusJson.groups).toEqual([
      {
        groupName: 'fulfilment',
        minWatermark: '2024-01-01T11:55:00.000Z',
        maxWatermark: '2024-01-01T12:05:00.000Z',
        lagSecs: 600,
        aligned: false,
        sourcesWithWatermark: 2,
        sourcesTotal: 2,
      },
    ]);
    expect((await cli(['watermark', 'group', 'drop', 'fulfilment'])).stdout).toBe(
      'dropped watermark group fulfilment\n',
    );
    const gone = await cli(['watermark', 'group', 'drop', 'fulfilment', '--json']);
    expect(JSON.parse(gone.stderr)).toMatchObject({
      error: { code: 'PGT_NOT_FOUND', hint: 'list the watermark groups: pgtrickle watermark group list' },
    });
  });
});

describe('scheduler.watermark_holdback_timeout_ms', () => {
  it('is 0 (never stuck) by default, read from the environment or a flag, and refuses a negative value', () => {
    expect(loadConfig({ env: {} }).config.scheduler.watermarkHoldbackTimeoutMs).toBe(0);
    expect(
      loadConfig({ env: { PGTRICKLE_WATERMARK_HOLDBACK_TIMEOUT_MS: '2000' } }).config.scheduler
        .watermarkHoldbackTimeoutMs,
    ).toBe(2000);
    expect(
      loadConfig({ env: {}, flags: { 'watermark-holdback-timeout-ms': '60000' } }).config.scheduler
        .watermarkHoldbackTimeoutMs,
    ).toBe(60_000);
    expect(() => loadConfig({ env: { PGTRICKLE_WATERMARK_HOLDBACK_TIMEOUT_MS: '-1' } })).toThrow(
      /scheduler.watermark_holdback_timeout_ms must be an integer from 0 to 86400000/,
    );
  });
});
