/**
 * ScheduleGate — rule: refresh only when the schedule says it is due (docs/scheduler.md, "Schedules").
 * - Interval (and a CALCULATED schedule, which arrives resolved to a period): due when
 *   now − lastRefreshAt ≥ period × tier multiplier (hot 1, warm 2, cold 10); a period of 0 ("0s",
 *   as soon as possible) is always due.
 * - Cron: due when the expression fired at some instant in (lastRefreshAt, now] (croner, used as a
 *   pure calculator: paused, no timers; UTC unless a timezone is configured).
 * - Never refreshed, a pending reinitialization, or a manual refresh (`ctx.initiatedBy ===
 *   'manual'`) → due regardless of the schedule.
 * - Frozen tier → Skip (refreshes only on manual request).
 * - An invalid cron expression → Block: waiting will not fix it; alter the schedule.
 * All times come from `ctx.now` (the tick's instant); due-ness is monotone in `now`.
 */
import { Cron } from 'croner';
import type { GateContext } from '../context.js';
import { block, type GateDecision, proceed, skip, skipUntil } from '../decision.js';
import { describeError } from '../errors.js';
import type { RefreshGate } from '../gate.js';
import type { RefreshTier, ResolvedSchedule, StreamTableMeta } from '../meta.js';

/** Name of the schedule gate. */
export const SCHEDULE_GATE = 'schedule';

/** Interval multiplier per refresh tier (frozen: never due on schedule). */
export const TIER_MULTIPLIERS: Readonly<Record<RefreshTier, number>> = Object.freeze({
  hot: 1,
  warm: 2,
  cold: 10,
  frozen: Number.POSITIVE_INFINITY,
});

/** Options of the schedule gate. */
export interface ScheduleGateOptions {
  /** IANA timezone cron expressions are read in (default 'UTC'). */
  readonly timezone?: string;
}

/** Whether a schedule is due at `now`, and when it next will be. */
export type ScheduleStatus =
  | { readonly due: true; readonly why: string }
  | { readonly due: false; readonly nextDueAt: Date | null; readonly why: string };

/** Parses cron expressions once and answers "next fire after t" without timers. */
export class CronCalculator {
  readonly #timezone: string;
  readonly #cache = new Map<string, Cron | Error>();

  /** Reads expressions in `timezone` (default 'UTC'). */
  constructor(timezone = 'UTC') {
    this.#timezone = timezone;
  }

  /** The parsed expression, or the parse error. */
  parse(expression: string): Cron | Error {
    let entry = this.#cache.get(expression);
    if (entry === undefined) {
      try {
        entry = new Cron(expression, { paused: true, timezone: this.#timezone });
      } catch (e) {
        entry = e instanceof Error ? e : new Error(String(e));
      }
      this.#cache.set(expression, entry);
    }
    return entry;
  }

  /** The first fire time strictly after `after`; null if it never fires again. Throws on an invalid expression. */
  nextAfter(expression: string, after: Date): Date | null {
    const cron = this.parse(expression);
    if (cron instanceof Error) throw cron;
    return cron.nextRun(after);
  }
}

const defaultCron = new CronCalculator();

/**
 * Pure due-ness of a schedule: `lastRefreshAt` null → due; interval/calculated → due when
 * now − last ≥ period × multiplier; cron → due when a fire time lies in (last, now].
 * Throws for an invalid cron expression or a period that is not a finite number > 0.
 */
export function scheduleStatus(
  schedule: ResolvedSchedule,
  lastRefreshAt: Date | null,
  now: Date,
  options: { readonly tier?: RefreshTier; readonly cron?: CronCalculator } = {},
): ScheduleStatus {
  const tier = options.tier ?? 'hot';
  if (tier === 'frozen')
    return { due: false, nextDueAt: null, why: 'frozen tier: refreshes only on manual request' };
  if (lastRefreshAt === null) return { due: true, why: 'never refreshed' };
  if (schedule.kind === 'cron') {
    const cron = options.cron ?? defaultCron;
    const next = cron.nextAfter(schedule.expression, lastRefreshAt);
    if (next === null) {
      return { due: false, nextDueAt: null, why: `cron "${schedule.expression}" never fires again` };
    }
    if (next.getTime() <= now.getTime()) {
      return { due: true, why: `cron "${schedule.expression}" fired at ${next.toISOString()}` };
    }
    return {
      due: false,
      nextDueAt: next,
      why: `cron "${schedule.expression}" next fires at ${next.toISOString()}`,
    };
  }
  const base = schedule.kind === 'interval' ? schedule.ms : schedule.periodMs;
  if (typeof base !== 'number' || !Number.isFinite(base) || base < 0) {
    throw new RangeError(`period must be a finite number of ms ≥ 0, got ${String(base)}`);
  }
  const period = base * TIER_MULTIPLIERS[tier];
  const label =
    (schedule.kind === 'interval' ? `every ${base} ms` : `CALCULATED every ${base} ms`) +
    (tier === 'hot' ? '' : ` ×${TIER_MULTIPLIERS[tier]} (${tier} tier)`);
  const dueAt = lastRefreshAt.getTime() + period;
  if (now.getTime() >= dueAt)
    return { due: true, why: `${label}, last refresh ${lastRefreshAt.toISOString()}` };
  return {
    due: false,
    nextDueAt: new Date(dueAt),
    why: `${label}; next at ${new Date(dueAt).toISOString()} (last refresh ${lastRefreshAt.toISOString()})`,
  };
}

/** Lets a stream table through only when its schedule is due (or on manual request / reinit). */
export class ScheduleGate implements RefreshGate {
  /** Gate name. */
  readonly name = SCHEDULE_GATE;
  readonly #cron: CronCalculator;

  /** A schedule gate reading cron expressions in `options.timezone` (default UTC). */
  constructor(options: ScheduleGateOptions = {}) {
    this.#cron = new CronCalculator(options.timezone ?? 'UTC');
  }

  /** Decides from the meta's schedule, last refresh and tier, at `ctx.now`. */
  evaluate(st: StreamTableMeta, ctx: GateContext): GateDecision {
    if (ctx.initiatedBy === 'manual') return proceed();
    if (st.needsReinit) return proceed();
    let status: ScheduleStatus;
    try {
      status = scheduleStatus(st.schedule, st.lastRefreshAt, ctx.now, {
        tier: st.refreshTier ?? 'hot',
        cron: this.#cron,
      });
    } catch (e) {
      return block(
        `"${st.name}" has an invalid schedule: ${describeError(e)}; alter its schedule to a valid cron expression or interval`,
      );
    }
    if (status.due) return proceed();
    return status.nextDueAt === null
      ? skip(`not due: ${status.why}`)
      : skipUntil(`not due: ${status.why}`, status.nextDueAt);
  }
}

/** A new ScheduleGate. */
export function scheduleGate(options: ScheduleGateOptions = {}): ScheduleGate {
  return new ScheduleGate(options);
}
