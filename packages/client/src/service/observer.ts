/**
 * The service's observer port: what an operator's view (metrics, a status page) learns from the
 * running service as it happens. Rule: observers only watch — they are called after the fact,
 * synchronously, must not throw (a throwing observer is ignored) and cannot change what the
 * service does. The sidecar implements it (Prometheus metrics, the live status page).
 */
import type { RefreshUnit } from '@pgtrickle/groups';
import type { TickReport, UnitExecutor, UnitOutcome } from '@pgtrickle/scheduler';

/** One execution of a refresh unit (its transaction), with its wall time. */
export interface UnitExecution {
  readonly unit: RefreshUnit;
  readonly members: readonly string[];
  readonly outcome: UnitOutcome;
  /** Wall time of the unit's transaction, ms. */
  readonly durationMs: number;
}

/** Watches a running service (every method optional). */
export interface ServiceObserver {
  /** A unit's refresh transaction finished (committed or rolled back). */
  unitExecuted?(execution: UnitExecution): void;
  /** A tick finished, with what it did to every unit; `durationMs` is its wall time. */
  tickCompleted?(report: TickReport, durationMs: number): void;
}

/** Calls `observer`, ignoring what it throws (an observer cannot break the service). */
export function notify<K extends keyof ServiceObserver>(
  observer: ServiceObserver | undefined,
  event: K,
  ...args: Parameters<NonNullable<ServiceObserver[K]>>
): void {
  const fn = observer?.[event] as ((...a: typeof args) => void) | undefined;
  if (fn === undefined) return;
  try {
    fn.apply(observer, args);
  } catch {
    // an observer's failure is its own
  }
}

/** An executor that reports every execution of `inner` to `observer`, with its wall time. */
export function observedExecutor(inner: UnitExecutor, observer: ServiceObserver | undefined): UnitExecutor {
  if (observer?.unitExecuted === undefined) return inner;
  return {
    async execute(unit, members, group) {
      const start = performance.now();
      const outcome = await inner.execute(unit, members, group);
      notify(observer, 'unitExecuted', {
        unit,
        members,
        outcome,
        durationMs: performance.now() - start,
      });
      return outcome;
    },
  };
}
