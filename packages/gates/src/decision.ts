/**
 * Gate decisions. Rule: a gate answers Proceed (refresh may go ahead), Skip (not this tick;
 * re-evaluated next tick, nothing to reset) or Block (stays blocked until an explicit action such
 * as resetting a blown fuse or resuming an errored table). Skip and Block carry a human-readable
 * reason; either may carry an `effect`, a machine-readable request to the caller (gates are pure
 * and never change state themselves — e.g. the fuse gate asks the scheduler to blow the fuse).
 */

/** A machine-readable request a decision makes to whoever acts on it. */
export type GateEffect = BlowFuseEffect;

/** The fuse check tripped: the caller must transition the stream table's fuse to BLOWN and record why. */
export interface BlowFuseEffect {
  readonly kind: 'blow-fuse';
  /** The stream table whose fuse must blow (may differ from the evaluated one under `groupAware`). */
  readonly streamTable: string;
  /** Why: the anomaly explanation. */
  readonly reason: string;
  /** The pending change count that tripped it. */
  readonly changeCount: number;
  /** Which rule tripped. */
  readonly trigger: 'ceiling' | 'z-score';
}

/** Refresh may proceed (as far as this gate is concerned). */
export interface ProceedDecision {
  readonly kind: 'proceed';
}

/** Not this tick; the gate is evaluated again next tick. */
export interface SkipDecision {
  readonly kind: 'skip';
  /** Why, for logs and status views. */
  readonly reason: string;
  /** Optional request to the caller. */
  readonly effect?: GateEffect;
  /** When the gate will next let it through at the earliest (e.g. its schedule's next due time), if known. */
  readonly until?: Date;
}

/** Blocked until an explicit action (reset, resume, fix); the reason says which. */
export interface BlockDecision {
  readonly kind: 'block';
  /** Why and how to unblock. */
  readonly reason: string;
  /** Optional request to the caller (e.g. blow the fuse). */
  readonly effect?: GateEffect;
}

/** What a gate decides for one stream table in one tick. */
export type GateDecision = ProceedDecision | SkipDecision | BlockDecision;

/** The kinds of decision. */
export type GateDecisionKind = GateDecision['kind'];

const PROCEED: ProceedDecision = Object.freeze({ kind: 'proceed' });

/** The Proceed decision (one shared frozen object). */
export function proceed(): ProceedDecision {
  return PROCEED;
}

/** A Skip decision with a reason and optional effect. */
export function skip(reason: string, effect?: GateEffect): SkipDecision {
  return effect === undefined ? { kind: 'skip', reason } : { kind: 'skip', reason, effect };
}

/** A Skip decision that will not change before `until` (the scheduler may sleep until then). */
export function skipUntil(reason: string, until: Date): SkipDecision {
  return { kind: 'skip', reason, until };
}

/** A Block decision with a reason and optional effect. */
export function block(reason: string, effect?: GateEffect): BlockDecision {
  return effect === undefined ? { kind: 'block', reason } : { kind: 'block', reason, effect };
}

/** Whether a decision is Proceed. */
export function isProceed(decision: GateDecision): decision is ProceedDecision {
  return decision.kind === 'proceed';
}

/** One line for logs: "proceed", "skip: <reason>" or "block: <reason>". */
export function formatDecision(decision: GateDecision): string {
  return decision.kind === 'proceed' ? 'proceed' : `${decision.kind}: ${decision.reason}`;
}
