/**
 * StatusGate — rule: only ACTIVE and INITIALIZING stream tables refresh (docs/scheduler.md,
 * "Stream-table status").
 * - PENDING (creation not finished) → Skip: it will become INITIALIZING on its own.
 * - SUSPENDED → Skip: paused (by a user, or after repeated errors) and re-checked every tick, so
 *   it resumes as soon as its status is set back to ACTIVE; a status, not a fault to reset here.
 * - ERROR → Block: a permanent error needs a fix and an explicit resume/reinitialize.
 * - DROPPED → Block: a dropped table never refreshes again.
 * - IMMEDIATE-mode tables are maintained by triggers, never by the scheduler → Skip.
 */
import type { GateContext } from '../context.js';
import { block, type GateDecision, proceed, skip } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import type { StreamTableMeta } from '../meta.js';

/** Name of the status gate. */
export const STATUS_GATE = 'status';

/** Lets only ACTIVE and INITIALIZING stream tables through. */
export class StatusGate implements RefreshGate {
  /** Gate name. */
  readonly name = STATUS_GATE;

  /** Decides from `st.status` (and `st.refreshMode`) alone. */
  evaluate(st: StreamTableMeta, _ctx?: GateContext): GateDecision {
    if (st.refreshMode === 'IMMEDIATE') {
      return skip(
        `"${st.name}" is IMMEDIATE: triggers maintain it inside each writing transaction, not the scheduler`,
      );
    }
    switch (st.status) {
      case 'ACTIVE':
      case 'INITIALIZING':
        return proceed();
      case 'PENDING':
        return skip(`"${st.name}" is PENDING: its creation has not finished`);
      case 'SUSPENDED': {
        const why =
          st.consecutiveErrors > 0
            ? ` after ${st.consecutiveErrors} consecutive error${st.consecutiveErrors === 1 ? '' : 's'}` +
              (st.lastError ? ` (last: ${st.lastError})` : '')
            : '';
        return skip(`"${st.name}" is SUSPENDED${why}; resume it to refresh again`);
      }
      case 'ERROR':
        return block(
          `"${st.name}" is in ERROR${st.lastError ? `: ${st.lastError}` : ''}; ` +
            'fix the cause, then resume or reinitialize it',
        );
      case 'DROPPED':
        return block(`"${st.name}" was dropped and never refreshes again`);
      default:
        return block(`"${st.name}" has unknown status ${JSON.stringify(st.status)}; set a valid status`);
    }
  }
}

/** A new StatusGate. */
export function statusGate(): StatusGate {
  return new StatusGate();
}
