/**
 * AUTO's cost model (`auto-cost.ts`): properties of the pure model (the choice only grows with the
 * change count; a history where DIFFERENTIAL costs more than FULL at a size picks FULL there and a
 * cheap one picks DIFFERENTIAL; short history falls back to the ratio), and on a real PostgreSQL
 * the refresh reading its own history to choose.
 */
import { type CompiledPlan, PREPARED_WINDOW_MAX_CHANGES, type WindowInspection } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  autoFullCap,
  autoPreferFull,
  costModel,
  FIRST_POPULATION_SHARE,
  MIN_DIFFERENTIAL_SAMPLES,
  type RefreshCostSample,
  readCostSamples,
} from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

const plan = { sources: [{ key: 's', name: 'public.src' }] } as unknown as CompiledPlan;
const windowOf = (changes: number, rows = 1_000_000): WindowInspection => ({
  changes: { s: changes },
  truncated: [],
  reltuples: { s: rows },
});

const sample = fc.record({
  action: fc.constantFrom<'FULL' | 'DIFFERENTIAL'>('FULL', 'DIFFERENTIAL', 'DIFFERENTIAL'),
  changes: fc.integer({ min: 0, max: 1_000_000 }),
  ms: fc.double({ min: 0, max: 100_000, noNaN: true }),
});

describe('the cost model', () => {
  it('never goes back to DIFFERENTIAL for more changes once it chose FULL', () => {
    fc.assert(
      fc.property(
        fc.array(sample, { maxLength: 40 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        (samples, a, b) => {
          const choose = autoPreferFull(0.15, samples);
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          if (choose(windowOf(lo), plan) !== null) expect(choose(windowOf(hi), plan)).not.toBeNull();
          const model = costModel(samples);
          if (model !== null)
            expect(model.differentialMs(hi)).toBeGreaterThanOrEqual(model.differentialMs(lo));
        },
      ),
    );
  });

  it('caps a window count where a source alone sends it FULL', () => {
    const two = { sources: [...plan.sources, { key: 't', name: 'public.other' }] } as unknown as CompiledPlan;
    fc.assert(
      fc.property(
        fc.array(sample, { maxLength: 40 }),
        fc.constantFrom(-1, 0, 500, 10_000, 1_000_000),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        (samples, rows, ratio, extra, other) => {
          const cap = autoFullCap(samples);
          const model = costModel(samples);
          // As the capped inspection computes it per source.
          const byRatio = Math.max(Math.ceil(Math.max(rows, 1000) * ratio) + 1, cap.floor);
          const limit = cap.count === null ? byRatio : Math.min(cap.count, byRatio);
          const window = (n: number): WindowInspection => ({
            changes: { s: n, t: other },
            truncated: [],
            reltuples: { s: rows, t: 1000 },
            capped: ['s'],
          });
          // A source counted up to its cap, whatever the other holds, goes FULL.
          expect(autoPreferFull(ratio, samples)(window(limit), two)).not.toBeNull();
          expect(autoPreferFull(ratio, samples)(window(limit + extra), two)).not.toBeNull();
          // A window of up to PREPARED_WINDOW_MAX_CHANGES records is always counted exactly.
          expect(limit).toBeGreaterThan(PREPARED_WINDOW_MAX_CHANGES);
          if (model === null) expect(cap.count).toBeNull();
          // One record fewer, the model alone would not (unless that is under the least cap).
          else if (cap.count !== null && cap.count > PREPARED_WINDOW_MAX_CHANGES + 1)
            expect(model.differentialMs(Math.min(cap.count - 1, model.trustedUpTo))).toBeLessThanOrEqual(
              model.fullMs,
            );
        },
      ),
    );
  });

  it('follows the measured costs: FULL where DIFFERENTIAL was slower, DIFFERENTIAL where it was faster', () => {
    // DIFFERENTIAL: 5 ms + 1 ms per 100 records; FULL: 300 ms. Crossover near 29,500 records.
    const history: RefreshCostSample[] = [
      { action: 'FULL', changes: 0, ms: 300 },
      ...[100, 1_000, 5_000, 10_000, 20_000].map((n) => ({
        action: 'DIFFERENTIAL' as const,
        changes: n,
        ms: 5 + n / 100,
      })),
    ];
    const choose = autoPreferFull(0.15, history);
    expect(choose(windowOf(10_000), plan)).toBeNull();
    expect(choose(windowOf(25_000), plan)).toBeNull();
    expect(choose(windowOf(40_000), plan)).toMatch(/≈405 ms against ≈300 ms for FULL; FULL is cheaper/);
    // Superlinear: two slow refreshes around 8,000 records make FULL the choice from there on.
    const slow = [
      ...history,
      { action: 'DIFFERENTIAL' as const, changes: 7_000, ms: 900 },
      { action: 'DIFFERENTIAL' as const, changes: 8_000, ms: 1_000 },
    ];
    expect(autoPreferFull(0.15, slow)(windowOf(8_000), plan)).not.toBeNull();
    expect(autoPreferFull(0.15, slow)(windowOf(1_000), plan)).toBeNull();
  });

  it('takes FULL from later FULL refreshes, and half the first population while it is the only one', () => {
    // DIFFERENTIAL: 10 ms + 1 ms per 10 records; the first population took 2,000 ms.
    const diffs = [1_000, 2_000, 4_000, 8_000, 16_000].map((n) => ({
      action: 'DIFFERENTIAL' as const,
      changes: n,
      ms: 10 + n / 10,
    }));
    const first: RefreshCostSample = { action: 'FULL', changes: 0, ms: 2_000, population: true };
    const alone = costModel([first, ...diffs]);
    expect(alone?.fullMs).toBe(2_000 * FIRST_POPULATION_SHARE);
    expect(alone?.fullFromPopulation).toBe(true);
    // 12,000 records: ≈1,210 ms of DIFFERENTIAL against 1,000 ms: FULL, saying where FULL's cost came from.
    expect(autoPreferFull(0.15, [first, ...diffs])(windowOf(12_000), plan)).toMatch(
      /against ≈1000 ms for FULL \(0.5 × its first population, its only FULL refresh so far\); FULL is cheaper/,
    );
    expect(autoPreferFull(0.15, [first, ...diffs])(windowOf(8_000), plan)).toBeNull();
    // While FULL's cost is only that guess, the fixed ratio still decides too: 12,000 records of a
    // 50,000-row source (> 0.15 × its rows) go FULL although the guess (a population of 40 s) says
    // DIFFERENTIAL; with a measured FULL of the same 20 s they go DIFFERENTIAL.
    const slowFirst: RefreshCostSample = { action: 'FULL', changes: 0, ms: 40_000, population: true };
    expect(autoPreferFull(0.15, [slowFirst, ...diffs])(windowOf(12_000, 50_000), plan)).toMatch(
      /exceed 0.15 × 50000 rows/,
    );
    expect(autoPreferFull(0.15, [slowFirst, ...diffs])(windowOf(7_000, 50_000), plan)).toBeNull();
    // A source of unknown size (never analysed, or partitioned: reltuples −1) does not count there.
    expect(autoPreferFull(0.15, [slowFirst, ...diffs])(windowOf(12_000, -1), plan)).toBeNull();
    const measured = [slowFirst, { action: 'FULL' as const, changes: 0, ms: 20_000 }, ...diffs];
    expect(autoPreferFull(0.15, measured)(windowOf(12_000, 50_000), plan)).toBeNull();
    // A later FULL of 1,500 ms replaces the population's figure: 12,000 records go DIFFERENTIAL.
    const later = [first, { action: 'FULL' as const, changes: 0, ms: 1_500 }, ...diffs];
    expect(costModel(later)?.fullMs).toBe(1_500);
    expect(costModel(later)?.fullFromPopulation).toBe(false);
    expect(autoPreferFull(0.15, later)(windowOf(12_000), plan)).toBeNull();
  });

  it('uses the fixed ratio until the history has enough refreshes', () => {
    const few: RefreshCostSample[] = [
      { action: 'FULL', changes: 0, ms: 1 },
      ...Array.from({ length: MIN_DIFFERENTIAL_SAMPLES - 1 }, () => ({
        action: 'DIFFERENTIAL' as const,
        changes: 10,
        ms: 1_000,
      })),
    ];
    expect(costModel(few)).toBeNull();
    expect(autoPreferFull(0.15, few)(windowOf(100), plan)).toBeNull();
    expect(autoPreferFull(0.15, few)(windowOf(200_000), plan)).toMatch(/exceed 0.15 × 1000000 rows/);
  });
});

describe('AUTO on PostgreSQL', () => {
  it('chooses from its own refresh history', async () => {
    await db.query(
      'CREATE TABLE ac_src (id int PRIMARY KEY, v int); INSERT INTO ac_src SELECT g, g FROM generate_series(1, 10000) g; ANALYZE ac_src',
    );
    const t = trickle();
    await t.createStreamTable({
      name: 'ac_st',
      query: 'SELECT id, v FROM ac_src WHERE v % 2 = 0',
      refreshMode: 'AUTO',
    });
    const id = Number(
      (await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'ac_st'`)).rows[0]
        ?.pgt_id,
    );
    const record = (action: string, changes: number, ms: number) =>
      db.query(
        `INSERT INTO pgtrickle.pgt_refresh_history (pgt_id, action, status, initiated_by, started_at, finished_at, pending_changes)
         VALUES ($1, $2, 'COMPLETED', 'SCHEDULER', now() - make_interval(secs => $4::float8 / 1000), now(), $3)`,
        [id, action, changes, ms],
      );
    // A history where FULL is cheap and DIFFERENTIAL costs 10 ms per record: 20 records go FULL,
    // although the fixed ratio (0.15 × 10,000 rows) would say DIFFERENTIAL.
    // The creation's population is in the history, marked as such.
    expect((await readCostSamples(db, id)).filter((s) => s.population === true)).toHaveLength(1);
    await record('FULL', 0, 5);
    for (const n of [2, 4, 6, 8]) await record('DIFFERENTIAL', n, 10 * n);
    await db.query('UPDATE ac_src SET v = v + 1 WHERE id <= 10');
    const out = await t.refresh('ac_st');
    expect(out.action).toBe('FULL');
    expect(out.reason).toMatch(/from the last 4 DIFFERENTIAL refreshes .* FULL is cheaper/);
    await expectTableEqualsQuery(db, 'ac_st', 'SELECT id, v FROM ac_src WHERE v % 2 = 0');
    // FULL has become slow since (its last five took 5 s each): two records go DIFFERENTIAL.
    for (let i = 0; i < 5; i++) await record('FULL', 0, 5_000);
    await db.query('UPDATE ac_src SET v = v + 1 WHERE id = 11');
    expect((await t.refresh('ac_st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'ac_st', 'SELECT id, v FROM ac_src WHERE v % 2 = 0');
  });

  it('counts a window only up to where its history sends it FULL, and in full when the history now says DIFFERENTIAL', async () => {
    await db.query(
      'CREATE TABLE ac_cap (id int PRIMARY KEY, v int); INSERT INTO ac_cap SELECT g, g FROM generate_series(1, 10000) g; ANALYZE ac_cap',
    );
    const t = trickle();
    const query = 'SELECT id, v FROM ac_cap WHERE v % 3 = 0';
    await t.createStreamTable({ name: 'ac_cap_st', query, refreshMode: 'AUTO' });
    const id = Number(
      (await db.query(`SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE table_name = 'ac_cap_st'`))
        .rows[0]?.pgt_id,
    );
    const record = (action: string, changes: number, ms: number) =>
      db.query(
        `INSERT INTO pgtrickle.pgt_refresh_history (pgt_id, action, status, initiated_by, started_at, finished_at, pending_changes)
         VALUES ($1, $2, 'COMPLETED', 'SCHEDULER', now() - make_interval(secs => $4::float8 / 1000), now(), $3)`,
        [id, action, changes, ms],
      );
    // FULL cheap, DIFFERENTIAL a second per record: one record already goes FULL.
    await record('FULL', 0, 5);
    for (const n of [2, 4, 6, 8]) await record('DIFFERENTIAL', n, 1_000 * n);
    await db.query('UPDATE ac_cap SET v = v + 1 WHERE id <= 2');
    expect((await t.refresh('ac_cap_st')).action).toBe('FULL');
    // That refresh read the history: the next window (3,000 records) is counted up to its cap
    // only, the least cap (PREPARED_WINDOW_MAX_CHANGES + 1 records).
    await db.query('UPDATE ac_cap SET v = v + 1 WHERE id <= 1500');
    const capped = await t.refresh('ac_cap_st');
    expect(capped.action).toBe('FULL');
    expect(capped.reason).toMatch(/AUTO: at least \d+ pending change records/);
    expect(capped.pendingChanges).toBe(PREPARED_WINDOW_MAX_CHANGES + 1);
    await expectTableEqualsQuery(db, 'ac_cap_st', query);
    // FULL has become slow since: the window reaches the cap of the history read before, but the
    // history read now sends it DIFFERENTIAL, so it is counted in full.
    for (let i = 0; i < 5; i++) await record('FULL', 0, 10_000_000);
    await db.query('UPDATE ac_cap SET v = v + 1 WHERE id BETWEEN 2001 AND 2600');
    const counted = await t.refresh('ac_cap_st');
    expect(counted.action, counted.reason ?? '').toBe('DIFFERENTIAL');
    expect(counted.pendingChanges).toBe(1200);
    await expectTableEqualsQuery(db, 'ac_cap_st', query);
  });
});
