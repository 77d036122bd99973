/**
 * LsnTickGate (one global bound per tick) — rule: per tick the scheduler
 * captures ONE upper bound B (a WAL LSN, optionally held back, or a snapshot id) as a tick
 * context value, and every refresh in that tick is capped to B: it consumes changes in
 * (frontier, B] and its new frontier is at most B, so all tables refreshed in a tick see their
 * sources as of the same point. The gate checks that the cap is possible:
 * - no bound captured this tick (null) → Skip (retry next tick);
 * - the table's frontier is AHEAD of B (e.g. a manual refresh ran after B was captured) → Skip:
 *   capping at B would move its frontier backwards;
 * - otherwise (frontier ≤ B, or never refreshed) → Proceed. The scheduler then reads the same
 *   memoized bound from the context to cap the refresh.
 * Pure: values are compared with the supplied order (default: pg_lsn order on "X/Y" text).
 */
import type { GateContext, StreamTableKey, TickKey } from '../context.js';
import { type GateDecision, proceed, skip } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { frontierLsn, tickLsn } from '../keys.js';
import { compareLsn } from '../lsn.js';
import type { StreamTableMeta } from '../meta.js';

/** Name of the LSN tick gate. */
export const LSN_TICK_GATE = 'lsn-tick';

/** A total order on bound values. */
export interface BoundOrder<T> {
  /** Negative, 0 or positive as a is before, equal to, or after b. */
  compare(a: T, b: T): number;
}

/** Options of a LsnTickGate over bound values of type T. */
export interface LsnTickGateOptions<T> {
  /** Order of bound values. */
  readonly order: BoundOrder<T>;
  /** The tick's captured upper bound (null = not captured). */
  readonly tickBound: TickKey<T | null>;
  /** The table's current frontier upper bound (null = never refreshed). */
  readonly frontier: StreamTableKey<T | null>;
  /** How to print a bound (default String). */
  readonly format?: (value: T) => string;
}

/** pg_lsn text order, for `LsnTickGate` and other bound comparisons. */
export const lsnOrder: BoundOrder<string> = Object.freeze({ compare: compareLsn });

/** Skips tables whose refresh cannot be capped to the tick's bound. */
export class LsnTickGate<T> implements RefreshGate {
  /** Gate name. */
  readonly name = LSN_TICK_GATE;
  readonly #options: LsnTickGateOptions<T>;

  /** A gate over custom bound values (see `lsnTickGate()` for pg_lsn text with the default keys). */
  constructor(options: LsnTickGateOptions<T>) {
    this.#options = options;
  }

  /** Decides from the tick bound and the table's frontier. */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    const { order, tickBound, frontier } = this.#options;
    const format = this.#options.format ?? String;
    const bound = await ctx.get(tickBound);
    if (bound === null) return skip(`no tick bound was captured in tick ${ctx.tick}; retrying next tick`);
    const current = await ctx.get(frontier);
    if (current === null) return proceed();
    if (order.compare(current, bound) > 0) {
      return skip(
        `"${st.name}" frontier ${format(current)} is ahead of the tick bound ${format(bound)}; ` +
          'a refresh capped at the bound would move it backwards, retrying next tick',
      );
    }
    return proceed();
  }
}

/** A LsnTickGate over pg_lsn text, reading `tickLsn` and `frontierLsn`. */
export function lsnTickGate(): LsnTickGate<string> {
  return new LsnTickGate<string>({ order: lsnOrder, tickBound: tickLsn, frontier: frontierLsn });
}
