/**
 * UpstreamChangesGate — rule: skip "no pending changes" when no base source has pending changes and
 * no upstream stream table has new data since this table last refreshed. Loads lazily:
 * `hasPendingSourceChanges` first, `changedUpstreams` only when the sources are quiet. Never
 * refreshed, or a pending reinitialization → Proceed without loading anything. (The scheduler may
 * record such a skip as a NO_DATA run; the gate itself changes nothing.)
 */
import type { GateContext } from '../context.js';
import { type GateDecision, proceed, skip } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { changedUpstreams, hasPendingSourceChanges } from '../keys.js';
import type { StreamTableMeta } from '../meta.js';

/** Name of the upstream-changes gate. */
export const UPSTREAM_CHANGES_GATE = 'upstream-changes';

/** Skips stream tables with nothing new upstream. */
export class UpstreamChangesGate implements RefreshGate {
  /** Gate name. */
  readonly name = UPSTREAM_CHANGES_GATE;

  /** Decides from `hasPendingSourceChanges` and `changedUpstreams`. */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    if (st.lastRefreshAt === null || st.needsReinit) return proceed();
    if (await ctx.get(hasPendingSourceChanges)) return proceed();
    const changed = await ctx.get(changedUpstreams);
    if (changed.length > 0) return proceed();
    return skip(
      `no pending changes: no source has pending changes and no upstream stream table refreshed since ${st.lastRefreshAt.toISOString()}`,
    );
  }
}

/** A new UpstreamChangesGate. */
export function upstreamChangesGate(): UpstreamChangesGate {
  return new UpstreamChangesGate();
}
