/**
 * A user-written gate: no refreshes during a daily maintenance window. Rule: Skip while the tick's
 * instant (UTC time of day) lies in [startMinute, endMinute) — a window may wrap past midnight —
 * and Proceed otherwise. Pure: it reads only `ctx.now`.
 */
import { defineGate, proceed, type RefreshGate, skip } from '@pgtrickle/gates';

/** A daily window in minutes after 00:00 UTC; start === end means "no window". */
export interface MaintenanceWindow {
  readonly startMinute: number;
  readonly endMinute: number;
}

/** Whether the UTC time of day of `at` lies inside the window. */
export function inWindow(window: MaintenanceWindow, at: Date): boolean {
  const minute = at.getUTCHours() * 60 + at.getUTCMinutes();
  const { startMinute: s, endMinute: e } = window;
  if (s === e) return false;
  return s < e ? minute >= s && minute < e : minute >= s || minute < e;
}

/** The gate: Skip inside the window, Proceed outside. */
export function maintenanceWindowGate(window: MaintenanceWindow): RefreshGate {
  return defineGate('maintenance-window', (st, ctx) =>
    inWindow(window, ctx.now) ? skip(`"${st.name}" waits: maintenance window in progress`) : proceed(),
  );
}
