/**
 * Retry with backoff and suspension. Rule: after the n-th consecutive failure of a table (n ≥ 1),
 * it is not retried before `base × 2^(n−1)` (capped at `max`), scaled by a jitter factor in
 * [1 − jitter, 1 + jitter] so that many failing tables do not retry in lockstep; at
 * `suspendAfter` consecutive failures it is suspended (the scheduler asks the store to record
 * it). A transient failure (`failTransient`: a cancel, a deadlock, a lost connection) backs off the
 * same way but never counts towards suspension. A success forgets the failures. Permanent failures are not retried at all (the executor
 * has put the table in ERROR). State is in memory: a restart retries at once.
 */

/** Retry policy. */
export interface RetryPolicy {
  /** Backoff after the first failure, ms (default 1000). */
  readonly baseMs: number;
  /** Backoff cap, ms (default 60000). */
  readonly maxMs: number;
  /** Relative jitter in [0, 1) (default 0.25). */
  readonly jitter: number;
  /** Consecutive failures that suspend a table (default 3). */
  readonly suspendAfter: number;
}

/** The default policy: 1 s doubling to 60 s, ±25 %, suspend after 3. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  baseMs: 1000,
  maxMs: 60_000,
  jitter: 0.25,
  suspendAfter: 3,
});

/** What the tracker decided after a failure. */
export interface FailureVerdict {
  /** Consecutive failures so far. */
  readonly failures: number;
  /** Not retried before this instant (ms since epoch). */
  readonly retryAt: number;
  /** Whether the table must be suspended now. */
  readonly suspend: boolean;
}

/** The backoff of the n-th consecutive failure (without jitter). */
export function backoffMs(policy: RetryPolicy, failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(policy.maxMs, policy.baseMs * 2 ** (failures - 1));
}

/** Tracks consecutive failures per table. */
export class RetryTracker {
  readonly #state = new Map<string, { failures: number; transient: number; retryAt: number }>();

  constructor(
    readonly policy: RetryPolicy = DEFAULT_RETRY,
    /** Random numbers in [0, 1) for the jitter (inject for determinism). */
    private readonly random: () => number = Math.random,
  ) {
    if (
      !(policy.baseMs > 0) ||
      !(policy.maxMs >= policy.baseMs) ||
      !(policy.jitter >= 0 && policy.jitter < 1) ||
      !(policy.suspendAfter >= 1)
    ) {
      throw new RangeError(
        `Invalid retry policy ${JSON.stringify(policy)}: need baseMs > 0, maxMs ≥ baseMs, 0 ≤ jitter < 1, suspendAfter ≥ 1.`,
      );
    }
  }

  /** Records a failure of `id` at `nowMs`. */
  fail(id: string, nowMs: number): FailureVerdict {
    const prev = this.#state.get(id);
    const failures = (prev?.failures ?? 0) + 1;
    const transient = prev?.transient ?? 0;
    const retryAt = nowMs + this.jittered(failures + transient);
    this.#state.set(id, { failures, transient, retryAt });
    return { failures, retryAt, suspend: failures >= this.policy.suspendAfter };
  }

  /** Records a transient failure of `id` at `nowMs`: backs off, never suspends. */
  failTransient(id: string, nowMs: number): FailureVerdict {
    const prev = this.#state.get(id);
    const failures = prev?.failures ?? 0;
    const transient = (prev?.transient ?? 0) + 1;
    const retryAt = nowMs + this.jittered(failures + transient);
    this.#state.set(id, { failures, transient, retryAt });
    return { failures, retryAt, suspend: false };
  }

  private jittered(n: number): number {
    const factor = 1 + this.policy.jitter * (2 * this.random() - 1);
    return Math.round(backoffMs(this.policy, n) * factor);
  }

  /** Records a success of `id`: its failures are forgotten. */
  succeed(id: string): void {
    this.#state.delete(id);
  }

  /** Forgets `id` (e.g. it was suspended or dropped). */
  forget(id: string): void {
    this.#state.delete(id);
  }

  /** When `id` may be retried (ms), or null when it is not backing off at `nowMs`. */
  backingOffUntil(id: string, nowMs: number): number | null {
    const s = this.#state.get(id);
    return s !== undefined && s.retryAt > nowMs ? s.retryAt : null;
  }

  /** Consecutive failures of `id`. */
  failures(id: string): number {
    return this.#state.get(id)?.failures ?? 0;
  }
}
