/**
 * Refresh-mode changes, checked by @pgtrickle/lifecycle's refresh-mode machine: a change of a
 * table's effective mode is a transition of `refreshModeMachine`, whose steps are what the
 * change must do. A rebuild (ALTER, a changed source) does them in one transaction: it re-records
 * the dependencies (capture on every source unless the new mode is IMMEDIATE; capture no other
 * reader needs is dropped), drops the IMMEDIATE triggers when leaving IMMEDIATE, and runs a FULL
 * refresh, which records a fresh frontier and (entering IMMEDIATE) installs the triggers first.
 * A step it cannot do is refused.
 */

import { UnsupportedQueryError } from '@pgtrickle/dvm';
import type { RefreshModeStep } from '@pgtrickle/lifecycle';
import { refreshModeTransitionSteps } from '@pgtrickle/lifecycle';

type Mode = 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';

/** The steps a rebuild performs: capture on every source, a fresh frontier, a full refresh. */
const REBUILD_DOES: ReadonlySet<RefreshModeStep> = new Set([
  'install_change_capture',
  'unregister_change_consumer',
  'seed_frontier',
  'install_immediate_triggers',
  'drop_immediate_triggers',
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
