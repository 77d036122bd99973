/**
 * FuseGate — rule: halt refresh when the change volume is anomalous (docs/refresh-control.md, "Fuse").
 * - No fuse, or mode 'off' → Proceed (a BLOWN fuse still blocks: only an explicit reset clears it).
 * - `bypassNextCheck` (set by a caller that accepts the pending batch after a reset) → Proceed
 *   without checking, so the accepted batch does not trip the fuse again.
 * - Fuse BLOWN → Block "fuse blown at …; reset it with …".
 * - A 'fixed' fuse without a ceiling is inert: it never trips (TRUNCATE included).
 * - A TRUNCATE among the pending changes (`pendingTruncate`) trips any other fuse that is not off.
 * - Ceiling rule ('fixed' and 'statistical'): the pending change count strictly above the ceiling
 *   trips it — on the `consecutive`-th consecutive over-ceiling check: with `consecutive` n > 1 a
 *   batch above the ceiling proceeds while fewer than n − 1 batches applied just before it were
 *   above it too (`overCeilingStreak`). Without a ceiling the rule does nothing.
 * - Statistical rule ('statistical' only): the count tested against a baseline of recent applied
 *   batches' change counts (`changeCountBaseline`): trips when count > μ + k·σ (k = `sensitivity`,
 *   default 3), only once the baseline has `minSamples` (default 10); σ = 0 trips on any count above
 *   μ. The test is `detectAnomaly` from @pgtrickle/stats.
 * - Tripped → Block with the explanation and an effect `{ kind: 'blow-fuse' }`: the gate is pure,
 *   the caller must blow the fuse (and should not feed the tripping count into the baseline).
 * Trips are monotone in the count: if n pending changes trip a fuse, n + 1 do too.
 * Wrap with `groupAware` so a blown fuse on any consistency-group member blocks the whole group.
 */
import { type AnomalyPolicy, detectAnomaly, type SummaryStatistics } from '@pgtrickle/stats';
import type { GateContext } from '../context.js';
import { type BlowFuseEffect, block, type GateDecision, proceed } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { changeCountBaseline, overCeilingStreak, pendingChangeCount, pendingTruncate } from '../keys.js';
import type { FuseMeta, StreamTableMeta } from '../meta.js';

/** Name of the fuse gate. */
export const FUSE_GATE = 'fuse';

/** Default z-score threshold (k in μ + k·σ) of a statistical fuse. */
export const DEFAULT_FUSE_SENSITIVITY = 3;

/** Default number of baseline samples before the z-score applies. */
export const DEFAULT_FUSE_MIN_SAMPLES = 10;

/** The anomaly policy of a fuse's statistical rule (the ceiling is checked apart, see the module rule). */
export function fusePolicy(fuse: FuseMeta): AnomalyPolicy {
  const ceiling = fuse.ceiling ?? undefined;
  if (fuse.mode === 'fixed') {
    // ceiling only: the z-score never gets enough samples
    return { sensitivity: Number.POSITIVE_INFINITY, ceiling, minSamples: Number.POSITIVE_INFINITY };
  }
  return {
    sensitivity: fuse.sensitivity ?? DEFAULT_FUSE_SENSITIVITY,
    ceiling,
    minSamples: fuse.minSamples ?? DEFAULT_FUSE_MIN_SAMPLES,
  };
}

/** A number for a blow reason: integers as is, others to 1 decimal. */
function num(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

/**
 * Whether `count` pending changes trip `fuse` (null: no), given the pending TRUNCATE flag, the
 * over-ceiling streak before it and the baseline; pure, the rule of the module header.
 */
export function fuseTrip(
  fuse: FuseMeta,
  count: number,
  truncated: boolean,
  streak: number,
  baseline: SummaryStatistics,
): Omit<BlowFuseEffect, 'kind' | 'streamTable'> | null {
  const ceiling = fuse.ceiling ?? null;
  if (fuse.mode === 'off' || (fuse.mode === 'fixed' && ceiling === null)) return null;
  if (truncated) {
    return {
      reason: 'a source was truncated (TRUNCATE among the pending changes)',
      changeCount: count,
      trigger: 'truncate',
      ceiling,
    };
  }
  const needed = Math.max(1, fuse.consecutive ?? 1);
  if (ceiling !== null && count > ceiling && streak + 1 >= needed) {
    return {
      reason:
        `change count (${count}) exceeded ceiling (${ceiling})` +
        (needed > 1 ? ` on ${needed} consecutive checks` : ''),
      changeCount: count,
      trigger: 'ceiling',
      ceiling,
    };
  }
  if (fuse.mode !== 'statistical') return null;
  const policy = { ...fusePolicy(fuse), ceiling: undefined };
  const result = detectAnomaly(count, baseline, policy);
  if (!result.anomalous) return null;
  const k = policy.sensitivity;
  const threshold = baseline.mean + k * baseline.stddev;
  return {
    reason:
      `change count (${count}) exceeded μ + k·σ = ${num(threshold)} ` +
      `(μ ${num(baseline.mean)}, σ ${num(baseline.stddev)}, k ${num(k)}, over the last ${baseline.count} applied refreshes)`,
    changeCount: count,
    trigger: 'z-score',
    ceiling,
    baseline: { mean: baseline.mean, stddev: baseline.stddev, k, samples: baseline.count },
  };
}

const NO_BASELINE: SummaryStatistics = Object.freeze({ count: 0, mean: 0, variance: 0, stddev: 0 });

/** Options of the fuse gate. */
export interface FuseGateOptions {
  /**
   * How users reset a fuse, quoted in Block reasons (default: pgtrickle's own commands, the SQL
   * function `pgtrickle.reset_fuse` and the CLI's `pgtrickle fuse reset`; pass your own when your
   * application offers another command for it).
   */
  readonly resetHint?: (st: StreamTableMeta) => string;
}

/** Blocks refreshes of tables whose fuse is blown or whose change volume trips it. */
export class FuseGate implements RefreshGate {
  /** Gate name. */
  readonly name = FUSE_GATE;
  readonly #resetHint: (st: StreamTableMeta) => string;

  /** A fuse gate; `options.resetHint` customises the reset instruction. */
  constructor(options: FuseGateOptions = {}) {
    this.#resetHint =
      options.resetHint ??
      ((st) =>
        `pgtrickle.reset_fuse('${st.name.replaceAll("'", "''")}', 'apply' | 'reinitialize' | 'skip_changes') or pgtrickle fuse reset ${st.name}`);
  }

  /** Decides from `st.fuse`, `pendingChangeCount`, `pendingTruncate`, and when needed `overCeilingStreak` and `changeCountBaseline`. */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    const fuse = st.fuse;
    if (!fuse) return proceed();
    if (fuse.state === 'BLOWN') {
      const when = fuse.blownAt ? ` at ${fuse.blownAt.toISOString()}` : '';
      const why = fuse.blownReason ? ` (${fuse.blownReason})` : '';
      return block(
        `fuse blown${when}${why}; reset it with ${this.#resetHint(st)} once the change volume is understood`,
      );
    }
    if (fuse.mode === 'off' || fuse.bypassNextCheck) return proceed();
    if (fuse.mode === 'fixed' && (fuse.ceiling === null || fuse.ceiling === undefined)) return proceed();
    const count = await ctx.get(pendingChangeCount);
    const truncated = await ctx.get(pendingTruncate);
    const ceiling = fuse.ceiling ?? null;
    const needed = Math.max(1, fuse.consecutive ?? 1);
    const streak =
      !truncated && ceiling !== null && count > ceiling && needed > 1 ? await ctx.get(overCeilingStreak) : 0;
    const ceilingTrips = truncated || (ceiling !== null && count > ceiling && streak + 1 >= needed);
    const baseline =
      fuse.mode === 'statistical' && !ceilingTrips ? await ctx.get(changeCountBaseline) : NO_BASELINE;
    const trip = fuseTrip(fuse, count, truncated, streak, baseline);
    if (trip === null) return proceed();
    return block(
      `fuse tripped on ${count} pending changes: ${trip.reason}; the fuse must be blown — ` +
        `inspect the changes, then reset it with ${this.#resetHint(st)}`,
      { kind: 'blow-fuse', streamTable: st.id, ...trip },
    );
  }
}

/** A new FuseGate. */
export function fuseGate(options: FuseGateOptions = {}): FuseGate {
  return new FuseGate(options);
}
