/**
 * Refresh-mode changes, by @pgtrickle/lifecycle's refresh-mode machine: a change of a table's
 * effective mode is a transition of `refreshModeMachine`, whose steps are what the change must
 * do. A rebuild (ALTER, a changed source) does every step in one transaction: it re-records the
 * dependencies (capture on every source unless the new mode is IMMEDIATE; capture no reader
 * needs any more is dropped, which unregisters the table as a consumer), drops the IMMEDIATE
 * triggers when leaving IMMEDIATE (`drop_immediate_triggers`, done by the caller on these steps),
 * and runs a FULL refresh, which records a fresh frontier and, entering IMMEDIATE, installs the
 * triggers first.
 */

import type { RefreshModeStep } from '@pgtrickle/lifecycle';
import { refreshModeTransitionSteps } from '@pgtrickle/lifecycle';

type Mode = 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';

/** The steps of the switch of effective mode `from` → `to`, by the machine ([] when unchanged). */
export function modeSwitch(from: Mode, to: Mode): readonly RefreshModeStep[] {
  return refreshModeTransitionSteps(from, to);
}
