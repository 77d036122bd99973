/**
 * The loop. Rule: ticks run one after another, never overlapping; between ticks the loop waits
 * for the poll interval, a wake-up, or the moment a table skipped as not due becomes due
 * (`TickReport.nextDueAt`, no sooner than `minWakeIntervalMs`), whichever comes first. A wake-up
 * (LISTEN/NOTIFY in the sidecar) after at least `minWakeIntervalMs` without a tick starts one at
 * once (wake-ups of the same moment give one tick); otherwise wake-ups are debounced: a burst of
 * them within `debounceMs` gives one tick, and a wake-up that arrives during a tick makes the
 * next tick start right after it (after the debounce). Wake-ups
 * are also rate-bounded: a tick they start begins at least `minWakeIntervalMs` after the previous
 * tick began, so a flood of notifications (anyone may NOTIFY) cannot make the loop tick faster
 * than 1000 / `minWakeIntervalMs` times a second. Stopping
 * (the signal aborts) lets the tick in flight finish — its refreshes commit or roll back — and
 * starts no other.
 */
import { type Clock, defaultPipeline, type GatePipeline } from '@pgtrickle/gates';
import { VerdictMemo } from './memo.js';
import type { SchedulerLogger, SchedulerStore, Sleep, UnitExecutor } from './ports.js';
import { silentLogger } from './ports.js';
import { DEFAULT_RETRY, type RetryPolicy, RetryTracker } from './retry.js';
import { runTick, type TickReport } from './tick.js';

/** Options of a Scheduler. */
export interface SchedulerOptions {
  readonly store: SchedulerStore;
  readonly executor: UnitExecutor;
  readonly clock: Clock;
  /** The gate pipeline (default: the default pipeline of @pgtrickle/gates). */
  readonly pipeline?: GatePipeline;
  /** Units refreshed in parallel, at most (default 4). */
  readonly concurrency?: number;
  /** Longest wait between ticks without a wake-up, ms (default 1000). */
  readonly pollIntervalMs?: number;
  /** Wake-ups within this many ms of a recent tick give one tick (default 25). */
  readonly debounceMs?: number;
  /** A tick started by a wake-up begins at least this many ms after the previous one began (default 50). */
  readonly minWakeIntervalMs?: number;
  /** Retry policy (partial: the rest from the default). */
  readonly retry?: Partial<RetryPolicy>;
  /** Random numbers for retry jitter (default Math.random). */
  readonly random?: () => number;
  /** How to wait (default: timers). */
  readonly sleep?: Sleep;
  readonly logger?: SchedulerLogger;
  /** Called after every tick with its report. */
  readonly onTick?: (report: TickReport) => void;
  /**
   * Called by `run` before each tick (e.g. leadership, pending user requests); returning false
   * skips the tick and waits as usual.
   */
  readonly beforeTick?: () => Promise<boolean>;
}

/** Waits `ms` with a timer, resolving early on abort. */
export const timerSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** The refresh loop over its ports. */
export class Scheduler {
  readonly retry: RetryTracker;
  readonly #options: SchedulerOptions;
  /** One pipeline for every tick, so the memo's verdicts stay valid from tick to tick. */
  readonly #pipeline: GatePipeline;
  readonly #memo = new VerdictMemo();
  readonly #logger: SchedulerLogger;
  #ticks = 0;
  #current: Promise<TickReport> | null = null;
  #woken = false;
  #waiting: AbortController | null = null;
  #debounce: ReturnType<typeof setTimeout> | null = null;
  #lastTickStart = Number.NEGATIVE_INFINITY;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.retry = new RetryTracker({ ...DEFAULT_RETRY, ...options.retry }, options.random);
    this.#pipeline = options.pipeline ?? defaultPipeline();
  }

  /** Number of ticks run so far. */
  get ticks(): number {
    return this.#ticks;
  }

  /** Runs one tick now (waiting for one in flight first). */
  async tick(): Promise<TickReport> {
    while (this.#current !== null) await this.#current.catch(() => undefined);
    this.#ticks++;
    const o = this.#options;
    this.#lastTickStart = o.clock.now().getTime();
    const run = runTick({
      store: o.store,
      executor: o.executor,
      clock: o.clock,
      retry: this.retry,
      tick: this.#ticks,
      pipeline: this.#pipeline,
      memo: this.#memo,
      ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
      logger: this.#logger,
    });
    this.#current = run;
    try {
      const report = await run;
      o.onTick?.(report);
      return report;
    } finally {
      this.#current = null;
    }
  }

  /** Asks for a tick soon (debounced). */
  wake(): void {
    if (this.#waiting === null) {
      // A tick is in flight: the loop ticks again right after it.
      this.#woken = true;
      return;
    }
    if (this.#debounce !== null) return;
    const sinceLastTick = this.#options.clock.now().getTime() - this.#lastTickStart;
    const minInterval = this.#options.minWakeIntervalMs ?? 50;
    // Idle for at least the minimum interval: tick at once (wake-ups of the same moment still
    // give one tick); otherwise debounce, and no sooner than the minimum interval allows.
    const delay =
      sinceLastTick >= minInterval
        ? 0
        : Math.max(this.#options.debounceMs ?? 25, minInterval - sinceLastTick);
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      this.#waiting?.abort();
    }, delay);
  }

  /** Ticks until `signal` aborts; the tick in flight when it does completes first. */
  async run(signal: AbortSignal): Promise<void> {
    const sleep = this.#options.sleep ?? timerSleep;
    while (!signal.aborted) {
      let nextDueAt: Date | null = null;
      try {
        const go = this.#options.beforeTick === undefined ? true : await this.#options.beforeTick();
        if (go && !signal.aborted) nextDueAt = (await this.tick()).nextDueAt;
      } catch (error) {
        // The catalog could not be loaded (connection lost…): log, wait, try again.
        this.#logger.error('tick-failed', { error: error instanceof Error ? error.message : String(error) });
      }
      if (signal.aborted) break;
      const wait = new AbortController();
      const onStop = () => wait.abort();
      signal.addEventListener('abort', onStop, { once: true });
      this.#waiting = wait;
      if (this.#woken) {
        this.#woken = false;
        this.wake();
      }
      // Until the poll interval ends, or sooner when a skipped table becomes due before it (not
      // sooner than a wake-up could make it tick).
      const poll = this.#options.pollIntervalMs ?? 1000;
      const untilDue =
        nextDueAt === null
          ? poll
          : Math.max(
              this.#options.minWakeIntervalMs ?? 50,
              nextDueAt.getTime() - this.#options.clock.now().getTime(),
            );
      await sleep(Math.min(poll, untilDue), wait.signal);
      signal.removeEventListener('abort', onStop);
      this.#waiting = null;
    }
    if (this.#debounce !== null) clearTimeout(this.#debounce);
    this.#debounce = null;
  }
}
