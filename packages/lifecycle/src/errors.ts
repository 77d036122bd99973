/**
 * Errors of @pgtrickle/lifecycle. Rule: every error is a `LifecycleError` subclass with a stable
 * `code` and a message saying what happened and what to do. An event that is not allowed in the
 * current state is `InvalidTransitionError` (PGT_INVALID_TRANSITION) and changes nothing; a
 * malformed machine definition (`InvalidMachineError`) and a value that is not a state, event or
 * option of the machine (`UnknownValueError`) are PGT_INVALID_ARGUMENT.
 */

/** Stable error codes used by this package. */
export type LifecycleErrorCode = 'PGT_INVALID_TRANSITION' | 'PGT_INVALID_ARGUMENT';

/** Base class of every error thrown by @pgtrickle/lifecycle. */
export class LifecycleError extends Error {
  /** Stable machine-readable code. */
  readonly code: LifecycleErrorCode;

  /** An error with a stable code and a message saying what to do. */
  constructor(code: LifecycleErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

function quoteList(items: readonly string[]): string {
  return items.map((i) => `"${i}"`).join(', ');
}

/** An event is not allowed in the current state; the state is unchanged. */
export class InvalidTransitionError extends LifecycleError {
  /** Name of the machine. */
  readonly machine: string;
  /** The state the event was sent in. */
  readonly state: string;
  /** The rejected event. */
  readonly event: string;
  /** The events that are allowed in that state (empty for a terminal state). */
  readonly allowed: readonly string[];

  /** `terminal` says whether `state` is terminal (no event is allowed). */
  constructor(machine: string, state: string, event: string, allowed: readonly string[], terminal: boolean) {
    const what =
      allowed.length > 0
        ? `allowed from ${state}: ${quoteList(allowed)}`
        : terminal
          ? `${state} is terminal: no event is allowed`
          : `no event is allowed from ${state}`;
    super(
      'PGT_INVALID_TRANSITION',
      `${machine}: event "${event}" is not allowed in state ${state} (${what}); the state is unchanged. ` +
        (allowed.length > 0
          ? 'Send one of the allowed events, or check that the state you hold is current.'
          : 'Check that the state you hold is current.'),
    );
    this.machine = machine;
    this.state = state;
    this.event = event;
    this.allowed = allowed;
  }
}

/** A machine definition is malformed; `problems` lists each mistake. */
export class InvalidMachineError extends LifecycleError {
  /** Name of the machine as given. */
  readonly machine: string;
  /** One sentence per problem. */
  readonly problems: readonly string[];

  /** An error listing every problem of one definition. */
  constructor(machine: string, problems: readonly string[]) {
    super('PGT_INVALID_ARGUMENT', `invalid state machine "${machine}": ${problems.join('; ')}.`);
    this.machine = machine;
    this.problems = problems;
  }
}

/** A value is not one of the machine's states or events (or another closed set, such as reset modes). */
export class UnknownValueError extends LifecycleError {
  /** Name of the machine (or helper) that was asked. */
  readonly machine: string;
  /** What kind of value was expected, e.g. 'state', 'event', 'fuse reset mode'. */
  readonly kind: string;
  /** The rejected value. */
  readonly value: unknown;
  /** The accepted values. */
  readonly expected: readonly string[];

  /** An error naming the value and listing the accepted ones. */
  constructor(machine: string, kind: string, value: unknown, expected: readonly string[]) {
    super(
      'PGT_INVALID_ARGUMENT',
      `${machine}: ${typeof value === 'string' ? `"${value}"` : String(value)} is not a ${kind}; ` +
        `expected one of ${quoteList(expected)}.`,
    );
    this.machine = machine;
    this.kind = kind;
    this.value = value;
    this.expected = expected;
  }
}
