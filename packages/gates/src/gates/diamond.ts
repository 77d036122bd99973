/**
 * DiamondConsistencyGate — rule: a fan-in table of a diamond reads its upstream stream tables at
 * one version. If the upstream stream tables that share its consistency group have divergent
 * frontiers (group epoch / frontier version; one refreshed, another not — e.g. a failed or skipped
 * member), Skip, naming every upstream that is behind the most advanced one; a missing frontier
 * (never refreshed) also Skips. A table in no consistency group → Proceed without loading anything
 * (every diamond apex belongs to a detected group); fewer than two upstream frontiers → Proceed.
 * The frontiers come from the context value given as `frontiers` (default `upstreamEpochs`:
 * numeric epochs); values are compared with the supplied order.
 */
import type { GateContext, StreamTableKey } from '../context.js';
import { type GateDecision, proceed, skip } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { upstreamEpochs } from '../keys.js';
import type { StreamTableMeta } from '../meta.js';
import type { BoundOrder } from './lsn-tick.js';

/** Name of the diamond consistency gate. */
export const DIAMOND_GATE = 'diamond';

/** Options of a DiamondConsistencyGate over frontier values of type T. */
export interface DiamondGateOptions<T> {
  /** Order of frontier values. */
  readonly order: BoundOrder<T>;
  /** Frontier per upstream stream table in the same consistency group (undefined = none yet). */
  readonly frontiers: StreamTableKey<ReadonlyMap<string, T | undefined>>;
  /** How to print a frontier (default String). */
  readonly format?: (value: T) => string;
}

/** Numeric order (epochs, versions). */
export const numberOrder: BoundOrder<number> = Object.freeze({ compare: (a: number, b: number) => a - b });

/** Skips a fan-in table whose in-group upstream stream tables are at different frontiers. */
export class DiamondConsistencyGate<T> implements RefreshGate {
  /** Gate name. */
  readonly name = DIAMOND_GATE;
  readonly #options: DiamondGateOptions<T>;

  /** A gate over custom frontier values (see `diamondConsistencyGate()` for numeric epochs). */
  constructor(options: DiamondGateOptions<T>) {
    this.#options = options;
  }

  /** Decides from the upstream frontiers. */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    if (st.consistencyGroupId === null || st.consistencyGroupId === undefined) return proceed();
    const { order, frontiers } = this.#options;
    const format = this.#options.format ?? String;
    const map = await ctx.get(frontiers);
    if (map.size < 2) return proceed();
    const missing: string[] = [];
    let leader: [string, T] | null = null;
    for (const [id, v] of map) {
      if (v === undefined) missing.push(id);
      else if (leader === null || order.compare(v, leader[1]) > 0) leader = [id, v];
    }
    if (missing.length > 0) {
      return skip(
        `diamond inputs of "${st.name}" not aligned: upstream ${missing.map((m) => `"${m}"`).join(', ')} ` +
          `ha${missing.length === 1 ? 's' : 've'} no frontier yet`,
      );
    }
    if (leader === null) return proceed();
    const [leaderId, top] = leader;
    const behind = [...map].filter(([, v]) => v !== undefined && order.compare(v, top) < 0);
    if (behind.length === 0) return proceed();
    const list = behind.map(([id, v]) => `"${id}" at ${format(v as T)}`).join(', ');
    return skip(
      `diamond inputs of "${st.name}" not aligned: upstream ${list} behind "${leaderId}" at ${format(top)}`,
    );
  }
}

/** A DiamondConsistencyGate over numeric epochs from `upstreamEpochs`. */
export function diamondConsistencyGate(): DiamondConsistencyGate<number> {
  return new DiamondConsistencyGate<number>({ order: numberOrder, frontiers: upstreamEpochs });
}
