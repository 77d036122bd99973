import { Welford } from '@pgtrickle/stats';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, runEtl, simulateBatches } from '../src/etl.js';

const run = runEtl();
const at = (batch: number) => run.outcomes.find((o) => o.batch === batch)!;

describe('ETL fuse-stats example', () => {
  it('quarantines the spike (batch 18) by z-score and loads every other batch', () => {
    expect(run.outcomes).toHaveLength(30);
    expect(at(18)).toMatchObject({ action: 'quarantine', reason: 'z-score' });
    expect(at(18).rows).toBeGreaterThan(9_000);
    expect(at(18).explanation).toMatch(
      /^\d+ rows is [\d.]+σ above the baseline mean [\d.]+ \(σ [\d.]+, 17 samples\); sensitivity 5$/,
    );
    const others = run.outcomes.filter((o) => o.batch !== 18);
    expect(others.every((o) => o.action === 'load' && o.reason === null)).toBe(true);
  });

  it('warm-up: no z-score before minSamples batches, only the ceiling guards', () => {
    for (let b = 1; b <= DEFAULT_POLICY.minSamples; b++) {
      expect(at(b).baseline.count).toBe(b - 1);
      expect(at(b).explanation).toContain('needed for a z-score');
    }
    expect(at(DEFAULT_POLICY.minSamples + 1).explanation).toMatch(/σ (above|below) the baseline mean/);
  });

  it('does not pollute the baseline with the quarantined batch', () => {
    const loaded = run.outcomes.filter((o) => o.action === 'load').map((o) => o.rows);
    expect(run.finalBaseline).toEqual(Welford.of(loaded).toJSON());
    // the batch after the spike is judged against the same baseline as the spike itself
    expect(at(19).baseline).toEqual(at(18).baseline);
    expect((run.finalBaseline as { max: number }).max).toBeLessThan(at(18).rows);
  });

  it('loads a small partial delivery: only the high side trips', () => {
    expect(at(24)).toMatchObject({ action: 'load' });
    expect(at(24).rows).toBeLessThan(500);
    expect(at(24).explanation).toContain('only values above the mean can trip');
  });

  it('restarting from the persisted JSON baseline changes no decision', () => {
    expect(run.persisted).not.toBeNull();
    expect(JSON.parse(run.persisted!)).toMatchObject({ kind: 'welford', version: 1, count: 19 });
    const straight = runEtl({ restartAt: 0 });
    expect(straight.persisted).toBeNull();
    expect(straight.outcomes).toEqual(run.outcomes);
    expect(straight.finalBaseline).toEqual(run.finalBaseline);
  });

  it('is deterministic: the same seed gives the same stream and log', () => {
    expect(runEtl().lines).toEqual(run.lines);
    expect(simulateBatches(7, 30, 18, 24)).toEqual(run.outcomes.map((o) => o.rows));
    expect(simulateBatches(8, 30, 18, 24)).not.toEqual(simulateBatches(7, 30, 18, 24));
  });

  it('catches the spike and nothing else for many seeds, with a Welford or a rolling-window baseline', () => {
    for (const window of [undefined, 20]) {
      for (let seed = 1; seed <= 100; seed++) {
        const r = runEtl({ seed, window });
        const held = r.outcomes.filter((o) => o.action === 'quarantine').map((o) => o.batch);
        expect(held, `seed ${seed}, window ${window}`).toEqual([18]);
      }
    }
  });

  it('with a rolling window, restores it from JSON too', () => {
    const r = runEtl({ window: 12 });
    expect(JSON.parse(r.persisted!)).toMatchObject({ kind: 'rolling-window', size: 12 });
    expect(r.outcomes.map((o) => o.action)).toEqual(
      runEtl({ window: 12, restartAt: 0 }).outcomes.map((o) => o.action),
    );
    expect(r.outcomes.find((o) => o.batch === 18)?.action).toBe('quarantine');
  });

  it('the ceiling catches a spike during warm-up', () => {
    const early = runEtl({ spikeAt: 3, policy: { ...DEFAULT_POLICY, ceiling: 5_000 } });
    expect(early.outcomes[2]).toMatchObject({ action: 'quarantine', reason: 'ceiling' });
    expect(early.outcomes[2]!.explanation).toMatch(/^\d+ rows is above the ceiling 5000$/);
    expect(early.outcomes.filter((o) => o.action === 'quarantine')).toHaveLength(1);
  });

  it('prints a readable log', () => {
    expect(run.lines[0]).toMatch(/^ETL job: 30 batches \(seed 7\)/);
    expect(run.lines).toContain(
      `batch 18 ${String(at(18).rows).padStart(6)} rows  QUARANTINE  ${at(18).explanation}`,
    );
    expect(
      run.lines.some((l) => l.startsWith('  (restart) baseline restored from its JSON snapshot: 19 batches')),
    ).toBe(true);
    expect(run.lines.at(-3)).toMatch(
      /^loaded 29 batches \(\d+ rows\); quarantined 1: batch 18 \(\d+ rows, z-score\)$/,
    );
  });
});
