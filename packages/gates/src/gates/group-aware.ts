/**
 * groupAware — rule: wraps a gate so that a consistency group is all-or-nothing for it. The wrapped
 * gate is evaluated for the table itself and, if that proceeds and the table is in a group, for
 * every other member (each in its own context of the same tick, so values stay memoized); a member
 * whose decision is Block (or any non-Proceed, with `propagate: 'non-proceed'`) blocks/skips the
 * table too, with the member named in the reason and its effect passed through unchanged (effects
 * name their target table, so the caller can de-duplicate them). The default pipeline wraps the
 * fuse this way: a blown fuse on any consistency-group member blocks the entire group, so the group
 * never commits some members without the others. Members come from the `groupMembers` context value.
 */
import type { GateContext } from '../context.js';
import type { GateDecision } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { groupMembers } from '../keys.js';
import type { StreamTableMeta } from '../meta.js';

/** Options of `groupAware`. */
export interface GroupAwareOptions {
  /** Which member decisions carry over: only Block (default) or any non-Proceed. */
  readonly propagate?: 'block' | 'non-proceed';
  /** Name of the wrapper (default: the wrapped gate's name, so it can replace it in a pipeline). */
  readonly name?: string;
}

/** Wraps `gate` so a Block (or any non-Proceed) on any group member applies to the whole group. */
export function groupAware(gate: RefreshGate, options: GroupAwareOptions = {}): RefreshGate {
  const propagate = options.propagate ?? 'block';
  return {
    name: options.name ?? gate.name,
    async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
      const own = await gate.evaluate(st, ctx);
      if (own.kind !== 'proceed') return own;
      const groupId = st.consistencyGroupId;
      if (groupId === null || groupId === undefined) return own;
      for (const member of await ctx.get(groupMembers)) {
        if (member.id === st.id) continue;
        const d = await gate.evaluate(member, ctx.forStreamTable(member));
        if (d.kind === 'block' || (d.kind === 'skip' && propagate === 'non-proceed')) {
          const reason = `consistency group "${groupId}" member "${member.name}": ${d.reason}`;
          return d.effect === undefined
            ? { kind: d.kind, reason }
            : { kind: d.kind, reason, effect: d.effect };
        }
      }
      return own;
    },
  };
}
