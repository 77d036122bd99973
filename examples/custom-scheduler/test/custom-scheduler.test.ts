import { describe, expect, it } from 'vitest';
import { runCustomScheduler, type TickLogEntry } from '../src/scheduler.js';

const log = await runCustomScheduler({ ticks: 8 });
const at = (tick: number, table: string, unit?: string): TickLogEntry => {
  const e = log.entries.find(
    (x) => x.tick === tick && x.table === table && (unit === undefined || x.unit === unit),
  );
  if (!e) throw new Error(`no entry for ${table} at tick ${tick}`);
  return e;
};
const scheduled = (tick: number, table: string) =>
  log.entries.find((x) => x.tick === tick && x.table === table && x.unit !== 'manual')!;

/** Direct stream-table inputs of each stream table (mirrors the example's DAG). */
const READS: Record<string, string[]> = {
  order_totals: [],
  customer_orders: [],
  dashboard: ['order_totals', 'customer_orders'],
  click_revenue: [],
  payment_audit: [],
  rollup_5s: ['dashboard'],
};

describe('custom scheduler example', () => {
  it('evaluates every table every tick, in an order that respects the DAG', () => {
    for (let t = 1; t <= 8; t++) {
      const order = log.entries.filter((e) => e.tick === t && e.unit !== 'manual').map((e) => e.table);
      expect(order.sort()).toEqual(Object.keys(READS).sort());
      const refreshed = log.entries
        .filter((e) => e.tick === t && e.outcome === 'refresh')
        .map((e) => e.table);
      for (const [i, table] of refreshed.entries()) {
        for (const input of READS[table] ?? []) {
          const j = refreshed.indexOf(input);
          if (j >= 0) expect(j).toBeLessThan(i);
        }
      }
    }
  });

  it('populates every table on tick 1 except the one whose watermark group is misaligned', () => {
    const refreshed = log.entries.filter((e) => e.tick === 1 && e.outcome === 'refresh').map((e) => e.table);
    expect(refreshed).toEqual(['order_totals', 'customer_orders', 'dashboard', 'payment_audit', 'rollup_5s']);
  });

  it('the watermark gate skips click_revenue (laggard payments) until tick 4, then lets it through', () => {
    for (const t of [1, 2, 3]) {
      expect(at(t, 'click_revenue')).toMatchObject({
        outcome: 'skip',
        gate: 'watermark',
        reason: expect.stringMatching(
          /^watermark group 'ingest' misaligned: lag \d+s exceeds tolerance 60s; waiting for payments/,
        ),
      });
    }
    for (const t of [4, 5, 6, 7, 8]) expect(at(t, 'click_revenue').outcome).toBe('refresh');
  });

  it('the fuse blocks payment_audit on the spike, stays blown, and lets it through after the reset', () => {
    for (const t of [1, 2, 3, 4]) expect(at(t, 'payment_audit').outcome).toBe('refresh');
    expect(at(5, 'payment_audit')).toMatchObject({
      outcome: 'block',
      gate: 'fuse',
      reason: expect.stringContaining('fuse tripped on 5000 pending changes'),
    });
    expect(at(6, 'payment_audit')).toMatchObject({
      outcome: 'block',
      gate: 'fuse',
      reason: expect.stringContaining('fuse blown at 2024-01-01T12:00:05.000Z'),
    });
    expect(at(7, 'payment_audit').outcome).toBe('refresh');
    expect(at(8, 'payment_audit').outcome).toBe('refresh');
    expect(log.events).toEqual([
      { tick: 5, event: 'fuse of payment_audit BLOWN (5000 changes)' },
      { tick: 7, event: 'operator reset the fuse of payment_audit, discarding the pending spike' },
    ]);
  });

  it('refuses a manual refresh of a group member outside its group', () => {
    expect(at(2, 'order_totals', 'manual')).toMatchObject({
      outcome: 'skip',
      gate: 'snapshot-coherence',
      reason: expect.stringContaining('refreshes only together with it'),
    });
    expect(scheduled(2, 'order_totals').outcome).toBe('refresh');
  });

  it('refreshes the diamond group as a unit, and skips it when nothing changed', () => {
    const group = ['order_totals', 'customer_orders', 'dashboard'];
    for (let t = 1; t <= 8; t++) {
      const outcomes = new Set(group.map((g) => scheduled(t, g).outcome));
      expect(outcomes.size).toBe(1);
    }
    // tick 6: no orders and no customers changes
    for (const g of group) {
      expect(scheduled(6, g)).toMatchObject({ outcome: 'skip', gate: 'upstream-changes' });
    }
    expect(scheduled(7, 'dashboard').outcome).toBe('refresh');
  });

  it('runs the cron table when its expression fires', () => {
    const runs = log.entries
      .filter((e) => e.table === 'rollup_5s' && e.outcome === 'refresh')
      .map((e) => e.tick);
    expect(runs).toEqual([1, 5]);
    expect(at(2, 'rollup_5s')).toMatchObject({
      gate: 'schedule',
      reason: expect.stringContaining('next fires at'),
    });
  });

  it('prints a readable log', () => {
    expect(log.lines[0]).toBe('tick 1 12:00:01');
    expect(log.lines.some((l) => l.includes('(effect) fuse of payment_audit BLOWN'))).toBe(true);
  });
});
