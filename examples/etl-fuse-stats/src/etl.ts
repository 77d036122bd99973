/**
 * An ETL job guarded by fuse statistics. Each batch arriving from upstream has a row count; before
 * loading it, the job asks `detectAnomaly` whether that count is a spike against the baseline of
 * the batches it has loaded so far:
 *   - normal → load the batch and push its row count into the baseline;
 *   - anomalous → quarantine it for a human, and do NOT push it: a spike must not widen the
 *     baseline it was judged against, or the next spike would look normal.
 * The policy: an absolute ceiling (always on, also during warm-up) plus a z-score test once the
 * baseline has `minSamples` batches. Only the high side trips — a small batch is loaded.
 *
 * The world is simulated and deterministic: row counts come from a seeded PRNG (no clock, no
 * network), batch `spikeAt` is a duplicated upstream export (~10× the usual rows), batch `smallAt`
 * a partial delivery. Halfway through, the job "restarts": the baseline is saved as JSON (what a
 * catalog jsonb column would hold) and restored with `fromJSON`, so decisions continue unchanged.
 */
import {
  type AnomalyPolicy,
  type AnomalyReason,
  detectAnomaly,
  RollingWindow,
  type SummaryStatistics,
  Welford,
} from '@pgtrickle/stats';

/** How the simulated job runs. */
export interface EtlOptions {
  /** PRNG seed of the simulated row counts (default 7). */
  readonly seed?: number;
  /** Number of batches (default 30). */
  readonly batches?: number;
  /** 1-based batch that arrives as a ~10× spike (default 18; 0 = none). */
  readonly spikeAt?: number;
  /** 1-based batch that arrives as a partial delivery, ~40% of the usual rows (default 24; 0 = none). */
  readonly smallAt?: number;
  /** 1-based batch before which the job restarts from its persisted baseline (default 21; 0 = none). */
  readonly restartAt?: number;
  /** Baseline over the last `window` loaded batches instead of all of them (Welford). */
  readonly window?: number;
  /** The fuse policy (default: sensitivity 5, minSamples 10, ceiling 50,000 rows). */
  readonly policy?: AnomalyPolicy;
}

/** What the job did with one batch. */
export interface BatchOutcome {
  /** 1-based batch number. */
  readonly batch: number;
  /** Rows in the batch. */
  readonly rows: number;
  /** Loaded into the warehouse, or held back for inspection. */
  readonly action: 'load' | 'quarantine';
  /** Which rule tripped (null when loaded). */
  readonly reason: AnomalyReason | null;
  /** The anomaly test's sentence. */
  readonly explanation: string;
  /** The baseline the batch was judged against (a frozen copy). */
  readonly baseline: SummaryStatistics;
}

/** The result of a run. */
export interface EtlRun {
  /** Every batch, in arrival order. */
  readonly outcomes: readonly BatchOutcome[];
  /** The printed log. */
  readonly lines: readonly string[];
  /** The baseline at the end (JSON snapshot, as persisted). */
  readonly finalBaseline: unknown;
  /** The JSON text persisted at the restart (null when there was none). */
  readonly persisted: string | null;
}

/** The default fuse policy of the job. */
export const DEFAULT_POLICY: AnomalyPolicy = {
  sensitivity: 5,
  minSamples: 10,
  ceiling: 50_000,
  unit: 'rows',
};

/** Deterministic PRNG (mulberry32): the same seed gives the same batch stream. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The simulated upstream: row counts of `batches` batches around 1,000 (σ ≈ 35, bounded noise),
 * with the spike and the partial delivery at the given 1-based positions (0 = none).
 */
export function simulateBatches(seed: number, batches: number, spikeAt: number, smallAt: number): number[] {
  const rand = prng(seed);
  const rows: number[] = [];
  for (let b = 1; b <= batches; b++) {
    // sum of three uniforms: roughly normal, bounded to ±180
    const normal = Math.round(1_000 + 120 * (rand() + rand() + rand() - 1.5));
    if (b === spikeAt) rows.push(normal * 10 + Math.round(rand() * 100));
    else if (b === smallAt) rows.push(Math.round(normal * 0.4));
    else rows.push(normal);
  }
  return rows;
}

type Baseline = Welford | RollingWindow;

const restore = (json: string): Baseline => {
  const snapshot = JSON.parse(json) as { kind?: string };
  return snapshot.kind === 'rolling-window' ? RollingWindow.fromJSON(snapshot) : Welford.fromJSON(snapshot);
};

const pad = (s: string | number, n: number) => String(s).padStart(n);
const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** Runs the simulated job and returns every decision plus the log. */
export function runEtl(options: EtlOptions = {}): EtlRun {
  const seed = options.seed ?? 7;
  const count = options.batches ?? 30;
  const spikeAt = options.spikeAt ?? 18;
  const smallAt = options.smallAt ?? 24;
  const restartAt = options.restartAt ?? 21;
  const policy = options.policy ?? DEFAULT_POLICY;
  const rows = simulateBatches(seed, count, spikeAt, smallAt);

  let baseline: Baseline = options.window === undefined ? new Welford() : new RollingWindow(options.window);
  let persisted: string | null = null;
  const outcomes: BatchOutcome[] = [];
  const kind =
    options.window === undefined
      ? 'Welford over every loaded batch'
      : `last ${options.window} loaded batches`;
  const lines: string[] = [
    `ETL job: ${count} batches (seed ${seed}); baseline: ${kind}; fuse: sensitivity ${policy.sensitivity}σ ` +
      `after ${policy.minSamples} batches, ceiling ${policy.ceiling ?? 'none'} rows`,
  ];

  rows.forEach((n, i) => {
    const batch = i + 1;
    if (batch === restartAt) {
      // The job stops; its baseline survives as JSON (a catalog jsonb column) and comes back exact.
      persisted = JSON.stringify(baseline);
      baseline = restore(persisted);
      lines.push(
        `  (restart) baseline restored from its JSON snapshot: ${baseline.count} batches, ` +
          `mean ${fmt(baseline.mean)}, σ ${fmt(baseline.stddev)}`,
      );
    }
    const judgedAgainst = Object.freeze({
      count: baseline.count,
      mean: baseline.mean,
      variance: baseline.variance,
      stddev: baseline.stddev,
    });
    const result = detectAnomaly(n, baseline, policy);
    const action = result.anomalous ? 'quarantine' : 'load';
    if (action === 'load') baseline.push(n);
    outcomes.push({
      batch,
      rows: n,
      action,
      reason: result.reason,
      explanation: result.explanation,
      baseline: judgedAgainst,
    });
    lines.push(
      `batch ${pad(batch, 2)} ${pad(n, 6)} rows  ${action === 'load' ? 'load      ' : 'QUARANTINE'}  ${result.explanation}`,
    );
  });

  const loaded = outcomes.filter((o) => o.action === 'load');
  const held = outcomes.filter((o) => o.action === 'quarantine');
  lines.push(
    `loaded ${loaded.length} batches (${loaded.reduce((s, o) => s + o.rows, 0)} rows); quarantined ${held.length}` +
      (held.length
        ? `: ${held.map((o) => `batch ${o.batch} (${o.rows} rows, ${o.reason})`).join(', ')}`
        : ''),
  );
  lines.push(
    `final baseline: ${baseline.count} batches, mean ${fmt(baseline.mean)}, σ ${fmt(baseline.stddev)} — ` +
      'the quarantined rows never entered it',
  );
  const worst = held.reduce<BatchOutcome | null>((w, o) => (w === null || o.rows > w.rows ? o : w), null);
  if (worst) {
    // What loading the quarantined batches would have done: the spike widens its own yardstick.
    const polluted = options.window === undefined ? new Welford() : new RollingWindow(options.window);
    polluted.pushAll(rows);
    const again = detectAnomaly(worst.rows, polluted, policy);
    lines.push(
      `(had the quarantined batches been loaded, σ would be ${fmt(polluted.stddev)} and a repeat of batch ` +
        `${worst.batch} would score ${fmt(again.zScore ?? 0)}σ${again.anomalous ? '' : ' — and be loaded'})`,
    );
  }
  return { outcomes, lines, finalBaseline: baseline.toJSON(), persisted };
}
