/**
 * Time, injected. Rule: nothing in this package reads the real clock; every "now" comes from a
 * `Clock` passed in by the caller, and one tick reads it exactly once (see `GateTick`), so every
 * gate in a tick sees the same instant. `ManualClock` is a deterministic clock for tests, examples
 * and simulations.
 */

/** A source of the current time. */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** A clock that always returns `at`. */
export function fixedClock(at: Date): Clock {
  const ms = at.getTime();
  return { now: () => new Date(ms) };
}

/** A clock that only moves when told to (tests, examples, simulations). */
export class ManualClock implements Clock {
  #ms: number;

  /** Starts at `start` (a Date or epoch milliseconds). */
  constructor(start: Date | number) {
    this.#ms = typeof start === 'number' ? start : start.getTime();
  }

  /** The current instant. */
  now(): Date {
    return new Date(this.#ms);
  }

  /** Moves forward by `ms` milliseconds (must be ≥ 0) and returns the new instant. */
  advance(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(
        `ManualClock.advance needs a finite ms ≥ 0, got ${ms}; clocks do not go backwards.`,
      );
    }
    this.#ms += ms;
    return this.now();
  }

  /** Jumps to `at` (must not be earlier than now) and returns it. */
  set(at: Date | number): Date {
    const ms = typeof at === 'number' ? at : at.getTime();
    if (!(ms >= this.#ms)) {
      throw new RangeError(`ManualClock.set cannot move backwards from ${this.now().toISOString()}.`);
    }
    this.#ms = ms;
    return this.now();
  }
}
