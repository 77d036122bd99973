/**
 * SnapshotCoherenceGate — rule: a member of a consistency group refreshes only inside a refresh
 * unit that runs its whole group, at an isolation at least as strong as the group's (cross-source
 * snapshot consistency; applies to declared and detected groups alike; see docs/scheduler.md,
 * "Consistency groups and strategies").
 *
 * What a pure gate can check, from `st.consistencyGroupId` and the context:
 * 1. the table is being evaluated inside a group unit (`currentRefreshUnit`), not on its own —
 *    else Skip (it will run with its unit);
 * 2. that unit contains the table and, when the unit is not exactly the table's group (e.g. a
 *    merged unit), every member of the table's group (`ownConsistencyGroup`) — else Skip;
 * 3. the unit's isolation is at least the group's ('repeatable read' > 'read committed') — else Skip.
 * What it cannot check, and who does: that the members really read one snapshot (the
 * GroupExecutionStrategy runs them in one REPEATABLE READ transaction), and that every member is
 * otherwise allowed to refresh (wrap member-sensitive gates with `groupAware`, and have the
 * scheduler skip the unit when any member does not proceed).
 */
import { isolationRank } from '@pgtrickle/groups';
import type { GateContext } from '../context.js';
import { type GateDecision, proceed, skip } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { currentRefreshUnit, ownConsistencyGroup } from '../keys.js';
import type { StreamTableMeta } from '../meta.js';

/** Name of the snapshot-coherence gate. */
export const SNAPSHOT_COHERENCE_GATE = 'snapshot-coherence';

/** Keeps consistency-group members from refreshing outside a unit that runs their whole group. */
export class SnapshotCoherenceGate implements RefreshGate {
  /** Gate name. */
  readonly name = SNAPSHOT_COHERENCE_GATE;

  /** Decides from `st.consistencyGroupId`, `currentRefreshUnit` and (if needed) `ownConsistencyGroup`. */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    const groupId = st.consistencyGroupId;
    if (groupId === null || groupId === undefined) return proceed();
    const unit = await ctx.get(currentRefreshUnit);
    if (unit === null || unit.group === null) {
      return skip(
        `"${st.name}" belongs to consistency group "${groupId}" and refreshes only together with it, not on its own`,
      );
    }
    if (!unit.members.includes(st.id)) {
      return skip(`"${st.name}" is evaluated in refresh unit "${unit.id}", which does not contain it`);
    }
    if (unit.group.id === groupId) return proceed();
    const group = await ctx.get(ownConsistencyGroup);
    if (group === null) return proceed();
    const inUnit = new Set(unit.members);
    const missing = group.members.filter((m) => !inUnit.has(m));
    if (missing.length > 0) {
      return skip(
        `refresh unit "${unit.id}" lacks ${missing.map((m) => `"${m}"`).join(', ')} of "${st.name}"'s ` +
          `consistency group "${group.id}"; the group must refresh as a whole`,
      );
    }
    if (isolationRank(unit.group.isolation) < isolationRank(group.isolation)) {
      return skip(
        `refresh unit "${unit.id}" runs at ${unit.group.isolation} but "${st.name}"'s consistency group ` +
          `"${group.id}" needs ${group.isolation}`,
      );
    }
    return proceed();
  }
}

/** A new SnapshotCoherenceGate. */
export function snapshotCoherenceGate(): SnapshotCoherenceGate {
  return new SnapshotCoherenceGate();
}
