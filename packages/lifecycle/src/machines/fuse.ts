/**
 * The fuse machine (docs/scheduler.md, "Fuses"). Rule: a fuse is INTACT (refreshes pass the fuse gate) or
 * BLOWN (every refresh is blocked). `blow` is automatic — the fuse gate returns a `blow-fuse` effect
 * and the caller sends it — and `reset` is manual, only from BLOWN. A reset says what happens to the
 * batch that blew the fuse, as data the caller acts on (`fuseResetPlan`):
 * - 'apply': accept it — the next refresh applies the pending changes without the fuse check
 *   (the caller sets the fuse's `bypassNextCheck`, and clears it after that refresh);
 * - 'skip': discard it — the caller moves the table's frontier past the pending changes, which are
 *   never applied (the table then differs from its query by them until a reinitialize);
 * - 'reinitialize': rebuild — the caller marks the table for reinitialization (a full refresh that
 *   recomputes it and seeds a fresh frontier), so the pending changes no longer matter.
 */
import { UnknownValueError } from '../errors.js';
import { defineMachine, type EventOf, type StateOf } from '../machine.js';

/** The fuse machine: INTACT ⇄ BLOWN. */
export const fuseMachine = defineMachine({
  name: 'fuse',
  states: ['INTACT', 'BLOWN'],
  events: ['blow', 'reset'],
  initial: 'INTACT',
  transitions: {
    INTACT: {
      blow: {
        to: 'BLOWN',
        description: 'the change volume tripped the fuse; refreshes are blocked until a reset',
      },
    },
    BLOWN: {
      reset: {
        to: 'INTACT',
        description: 'an operator reset the fuse, choosing what happens to the pending batch',
      },
    },
  },
  descriptions: {
    states: { INTACT: 'refreshes pass the fuse', BLOWN: 'every refresh is blocked until an explicit reset' },
  },
});

/** A fuse state: 'INTACT' | 'BLOWN' (the same set as FuseStateName in @pgtrickle/gates). */
export type FuseState = StateOf<typeof fuseMachine>;

/** A fuse event: 'blow' | 'reset'. */
export type FuseEvent = EventOf<typeof fuseMachine>;

/** What a reset does with the batch that blew the fuse. */
export type FuseResetMode = 'apply' | 'skip' | 'reinitialize';

/** Every reset mode, in display order. */
export const FUSE_RESET_MODES: readonly FuseResetMode[] = Object.freeze(['apply', 'skip', 'reinitialize']);

/** What the caller must do after a reset, in the given mode. */
export interface FuseResetPlan {
  /** The reset mode. */
  readonly mode: FuseResetMode;
  /** The fuse state after the reset. */
  readonly state: 'INTACT';
  /** Set the fuse's `bypassNextCheck` so the next refresh applies the pending batch unchecked ('apply'). */
  readonly bypassNextCheck: boolean;
  /** Move the table's frontier past the pending changes without applying them ('skip'). */
  readonly skipPendingChanges: boolean;
  /** Mark the table for reinitialization: full refresh and a fresh frontier ('reinitialize'). */
  readonly reinitialize: boolean;
  /** One sentence on what the reset does. */
  readonly description: string;
}

const PLANS: Readonly<Record<FuseResetMode, FuseResetPlan>> = Object.freeze({
  apply: Object.freeze({
    mode: 'apply',
    state: 'INTACT',
    bypassNextCheck: true,
    skipPendingChanges: false,
    reinitialize: false,
    description: 'accept the pending batch: the next refresh applies it without the fuse check',
  }),
  skip: Object.freeze({
    mode: 'skip',
    state: 'INTACT',
    bypassNextCheck: false,
    skipPendingChanges: true,
    reinitialize: false,
    description:
      'discard the pending batch: the frontier moves past it and it is never applied (reinitialize later to include it)',
  }),
  reinitialize: Object.freeze({
    mode: 'reinitialize',
    state: 'INTACT',
    bypassNextCheck: false,
    skipPendingChanges: false,
    reinitialize: true,
    description:
      'rebuild the table with a full refresh and a fresh frontier; the pending batch no longer matters',
  }),
});

/** Whether a runtime value is a reset mode. */
export function isFuseResetMode(value: unknown): value is FuseResetMode {
  return typeof value === 'string' && (FUSE_RESET_MODES as readonly string[]).includes(value);
}

/** Reads a reset mode from text, accepting pg_trickle's 'skip_changes' for 'skip'; throws `UnknownValueError`. */
export function parseFuseResetMode(text: unknown): FuseResetMode {
  if (text === 'skip_changes') return 'skip';
  if (!isFuseResetMode(text)) throw new UnknownValueError('fuse', 'fuse reset mode', text, FUSE_RESET_MODES);
  return text;
}

/** What a reset in `mode` asks of the caller (not checking the fuse's state: see `resetFuse`). */
export function fuseResetPlan(mode: FuseResetMode): FuseResetPlan {
  return PLANS[parseFuseResetMode(mode)];
}

/**
 * Resets a fuse: checks that `state` allows it (only BLOWN does; otherwise `InvalidTransitionError`)
 * and returns what the caller must do for `mode`.
 */
export function resetFuse(state: FuseState, mode: FuseResetMode): FuseResetPlan {
  const plan = fuseResetPlan(mode);
  fuseMachine.transition(state, 'reset');
  return plan;
}
