/**
 * Refresh-mode changes, checked by @pgtrickle/lifecycle's refresh-mode machine: a change of a
 * table's effective mode is a transition of `refreshModeMachine`, whose steps are what the
 * change must do. A rebuild (ALTER, a changed source) re-records capture on every source and runs a
 * FULL refresh that records a fresh frontier, which covers the steps of FULL ⇄ DIFFERENTIAL; steps
 * it cannot do (IMMEDIATE triggers) are refused.
 */

import { UnsupportedQueryError } from '@pgtrickle/dvm';
import type { RefreshModeStep } from '@pgtrickle/lifecycle';
import { refreshModeTransitionSteps } from '@pgtrickle/lifecycle';

type Mode = 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';

/** The steps a rebuild performs: capture on every source, a fresh frontier, a full refresh. */
const REBUILD_DOES: ReadonlySet<RefreshModeStep> = new Set([
  'install_change_capture',
  'seed_frontier',
  'full_refresh',
]);

/** Checks the switch of effective mode `from` → `to` by the machine; returns its steps ([] when unchanged). */
export function modeSwitch(from: Mode, to: Mode): readonly RefreshModeStep[] {
  const steps = refreshModeTransitionSteps(from, to);
  const missing = steps.filter((s) => !REBUILD_DOES.has(s));
  if (missing.length > 0) {
    throw new UnsupportedQueryError(
      `switching refresh mode ${from} → ${to}`,
      `it needs ${missing.join(', ')}, which this version cannot do; use 'DIFFERENTIAL', 'FULL' or 'AUTO'.`,
    );
  }
  return steps;
}
