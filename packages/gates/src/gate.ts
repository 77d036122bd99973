/**
 * The RefreshGate contract. Rule: a gate is a named predicate evaluated before a refresh; it reads
 * the stream table's meta and asks the context for whatever else it needs, and answers Proceed,
 * Skip or Block. A gate is pure: it changes nothing (state changes it wants are returned as a
 * decision `effect`), never reads the real clock (use `ctx.now`) and may be async only because
 * context values may come from a database.
 */
import type { GateContext } from './context.js';
import type { GateDecision } from './decision.js';
import type { StreamTableMeta } from './meta.js';

/** A composable check that decides whether a stream table should refresh this tick. */
export interface RefreshGate {
  /** Unique name within a pipeline, e.g. 'fuse'; used by `withOrder` and explain output. */
  readonly name: string;
  /** Decides for `st` in this tick. */
  evaluate(st: StreamTableMeta, ctx: GateContext): GateDecision | Promise<GateDecision>;
}

/** Builds a gate from a name and an evaluate function (the shortest way to write your own). */
export function defineGate(
  name: string,
  evaluate: (st: StreamTableMeta, ctx: GateContext) => GateDecision | Promise<GateDecision>,
): RefreshGate {
  return { name, evaluate };
}
