/**
 * DiamondConsistencyGate — rule: a diamond fan-in table must not refresh while the upstream stream
 * tables on its diamond paths have consumed their shared sources up to different points: D joining
 * B and C would see source A at two versions. The frontiers (default: pg_lsn upper bounds, the
 * frontier alignment check; any ordered "frontier version" works) come from the context
 * value `diamondFrontiers` — the provider returns them only for fan-in tables (an empty map
 * otherwise).
 * - Upstreams that are members of the refresh unit currently running (`currentRefreshUnit`) are
 *   left out of the comparison: the unit refreshes them together, to the same tick bound, so they
 *   align by construction (this is what lets an atomic group realign and populate initially).
 * - Among the remaining upstreams, a frontier behind the most advanced one → Skip naming every
 *   upstream that is behind; "never refreshed" (undefined) counts as behind any frontier, and a
 *   set where every frontier is undefined is aligned.
 * - Fewer than two inputs left to compare → Proceed.
 * In non-atomic operation (members refreshed as separate units, possibly on different schedules)
 * this is the check that keeps the apex waiting until a lagging input catches up.
 */
import type { GateContext, StreamTableKey } from '../context.js';
import { type GateDecision, proceed, skip } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { currentRefreshUnit, diamondFrontiers } from '../keys.js';
import type { StreamTableMeta } from '../meta.js';
import { type BoundOrder, lsnOrder } from './lsn-tick.js';

/** Name of the diamond consistency gate. */
export const DIAMOND_GATE = 'diamond';

/** Options of a DiamondConsistencyGate over frontier values of type T. */
export interface DiamondGateOptions<T> {
  /** Order of frontier values. */
  readonly order: BoundOrder<T>;
  /** Frontier of each of `st.diamondInputs` (undefined or absent = never refreshed). */
  readonly frontiers: StreamTableKey<ReadonlyMap<string, T | undefined>>;
  /** How to print a frontier (default String). */
  readonly format?: (value: T) => string;
}

/** Numeric order (epochs, versions). */
export const numberOrder: BoundOrder<number> = Object.freeze({ compare: (a: number, b: number) => a - b });

/** Skips a fan-in table whose diamond inputs (outside the running unit) are at different frontiers. */
export class DiamondConsistencyGate<T> implements RefreshGate {
  /** Gate name. */
  readonly name = DIAMOND_GATE;
  readonly #options: DiamondGateOptions<T>;

  /** A gate over custom frontier values (see `diamondConsistencyGate()` for pg_lsn frontiers). */
  constructor(options: DiamondGateOptions<T>) {
    this.#options = options;
  }

  /** Decides from the diamond inputs' frontiers and the running unit. */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    const inputs = [...new Set(st.diamondInputs ?? [])];
    if (inputs.length < 2) return proceed();
    const { order, frontiers } = this.#options;
    const format = this.#options.format ?? String;
    const all = await ctx.get(frontiers);
    const unit = await ctx.get(currentRefreshUnit);
    const together = new Set(unit?.members ?? []);
    const compared: [string, T | undefined][] = inputs
      .filter((id) => !together.has(id))
      .map((id) => [id, all.get(id)]);
    if (compared.length < 2) return proceed();
    let leader: [string, T] | null = null;
    for (const [id, v] of compared) {
      if (v !== undefined && (leader === null || order.compare(v, leader[1]) > 0)) leader = [id, v];
    }
    if (leader === null) return proceed();
    const [leaderId, top] = leader;
    const behind = compared.filter(([, v]) => v === undefined || order.compare(v, top) < 0);
    if (behind.length === 0) return proceed();
    const list = behind
      .map(([id, v]) => (v === undefined ? `"${id}" (never refreshed)` : `"${id}" at ${format(v)}`))
      .join(', ');
    return skip(
      `diamond inputs of "${st.name}" not aligned: upstream ${list} behind "${leaderId}" at ${format(top)}; ` +
        'waiting for them to catch up',
    );
  }
}

/** A DiamondConsistencyGate over pg_lsn frontiers from `diamondFrontiers`. */
export function diamondConsistencyGate(): DiamondConsistencyGate<string> {
  return new DiamondConsistencyGate<string>({ order: lsnOrder, frontiers: diamondFrontiers });
}
