/**
 * FuseGate — rule: halt refresh when the change volume is anomalous (docs/scheduler.md, "Fuses").
 * - No fuse, or mode 'off' → Proceed (a BLOWN fuse still blocks: only an explicit reset clears it).
 * - `bypassNextCheck` (set by the caller after a reset that accepts the pending batch) → Proceed
 *   without checking, so the accepted batch does not trip the fuse again.
 * - Fuse BLOWN → Block "fuse blown at …; reset with …".
 * - 'fixed': pending changes above the ceiling trip it; the baseline is not loaded.
 * - 'statistical': the pending change count is tested against a baseline of recent change counts
 *   (`changeCountBaseline`, any SummaryStatistics: Welford, rolling window, EWMA) by z-score once
 *   the baseline has `minSamples`, plus the optional ceiling.
 * - Tripped → Block with the anomaly explanation and an effect `{ kind: 'blow-fuse' }`: the gate is
 *   pure, the caller must transition the fuse machine to BLOWN (and should not feed the tripping
 *   count into the baseline).
 * The trip decision itself is `detectAnomaly` from @pgtrickle/stats. Wrap with `groupAware` so a
 * blown fuse on any consistency-group member blocks the whole group.
 */
import { type AnomalyPolicy, detectAnomaly, type SummaryStatistics } from '@pgtrickle/stats';
import type { GateContext } from '../context.js';
import { block, type GateDecision, proceed } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { changeCountBaseline, pendingChangeCount } from '../keys.js';
import type { FuseMeta, StreamTableMeta } from '../meta.js';

/** Name of the fuse gate. */
export const FUSE_GATE = 'fuse';

/** Default z-score threshold of a statistical fuse. */
export const DEFAULT_FUSE_SENSITIVITY = 3;

/** Default number of baseline samples before the z-score applies. */
export const DEFAULT_FUSE_MIN_SAMPLES = 10;

const NO_BASELINE: SummaryStatistics = Object.freeze({ count: 0, mean: 0, variance: 0, stddev: 0 });

/** The anomaly policy a fuse's configuration stands for. */
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

/** Options of the fuse gate. */
export interface FuseGateOptions {
  /**
   * How users reset a fuse, quoted in Block reasons (default: `resetFuse` of @pgtrickle/lifecycle,
   * which a scheduler composed from these gates calls on the table's fuse state; pass your own
   * when your application offers a command for it).
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
      options.resetHint ?? ((st) => `resetFuse (@pgtrickle/lifecycle) on ${st.name}'s fuse state`);
  }

  /** Decides from `st.fuse`, `pendingChangeCount` and (statistical mode) `changeCountBaseline`. */
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
    if (fuse.mode === 'fixed' && (fuse.ceiling === null || fuse.ceiling === undefined)) {
      return block(
        `fuse of "${st.name}" is 'fixed' but has no ceiling; set a ceiling or switch the fuse off`,
      );
    }
    const count = await ctx.get(pendingChangeCount);
    const baseline = fuse.mode === 'statistical' ? await ctx.get(changeCountBaseline) : NO_BASELINE;
    const result = detectAnomaly(count, baseline, fusePolicy(fuse));
    if (!result.anomalous || result.reason === null) return proceed();
    return block(
      `fuse tripped on ${count} pending changes: ${result.explanation}; the fuse must be blown — ` +
        `inspect the changes, then reset it with ${this.#resetHint(st)}`,
      {
        kind: 'blow-fuse',
        streamTable: st.id,
        reason: result.explanation,
        changeCount: count,
        trigger: result.reason,
      },
    );
  }
}

/** A new FuseGate. */
export function fuseGate(options: FuseGateOptions = {}): FuseGate {
  return new FuseGate(options);
}
