/**
 * Consistency groups in the catalog. Rules: declared refresh groups are read by the scheduler at
 * each tick (members as pgt ids); the groups the scheduler computed are written by the leader
 * only when they change (keyed by the stable group key, so epochs survive rebuilds: a row whose key
 * is still planned keeps its epoch, a row whose key is gone is deleted); a group's epoch advances
 * in the transaction of each atomic commit of that group.
 */
import type { DeclaredGroup } from '@pgtrickle/groups';
import { cat, type Queryable } from './schema.js';

const RG = cat('pgt_refresh_groups');
const CG = cat('pgt_consistency_groups');

/** The declared refresh groups, members as pgt ids (text), isolation as the scheduler spells it. */
export async function readDeclaredGroups(q: Queryable): Promise<DeclaredGroup[]> {
  const res = await q.query(
    `SELECT group_name, member_ids::text[] AS ids, isolation FROM ${RG} ORDER BY group_id`,
  );
  return res.rows.map((r) => ({
    name: String(r.group_name),
    members: (r.ids as string[]).map(String),
    isolation: r.isolation === 'repeatable_read' ? 'repeatable read' : 'read committed',
  }));
}

/** One computed group as stored. */
export interface ConsistencyGroupRow {
  readonly key: string;
  readonly origin: 'detected' | 'declared' | 'merged';
  /** Member pgt ids in refresh (topological) order. */
  readonly memberIds: readonly number[];
  readonly convergenceIds: readonly number[];
  readonly consistency: 'none' | 'atomic';
  readonly schedulePolicy: 'fastest' | 'slowest';
  readonly isolation: 'read_committed' | 'repeatable_read';
  readonly reason: string | null;
}

/** Replaces the stored computed groups by `rows` (in display order), keeping the epoch of every kept key. */
export async function writeConsistencyGroups(
  q: Queryable,
  rows: readonly ConsistencyGroupRow[],
): Promise<void> {
  await q.query(`DELETE FROM ${CG} WHERE NOT (group_key = ANY ($1::text[]))`, [rows.map((r) => r.key)]);
  for (const [i, r] of rows.entries()) {
    await q.query(
      `INSERT INTO ${CG} (group_key, position, origin, member_ids, convergence_ids, consistency, schedule_policy, isolation, reason)
       VALUES ($1, $2, $3, $4::bigint[], $5::bigint[], $6, $7, $8, $9)
       ON CONFLICT (group_key) DO UPDATE SET position = EXCLUDED.position, origin = EXCLUDED.origin,
         member_ids = EXCLUDED.member_ids, convergence_ids = EXCLUDED.convergence_ids, consistency = EXCLUDED.consistency,
         schedule_policy = EXCLUDED.schedule_policy, isolation = EXCLUDED.isolation, reason = EXCLUDED.reason,
         updated_at = now()`,
      [
        r.key,
        i + 1,
        r.origin,
        r.memberIds,
        r.convergenceIds,
        r.consistency,
        r.schedulePolicy,
        r.isolation,
        r.reason,
      ],
    );
  }
}

/** Advances the epoch of every stored atomic group with a member in `pgtIds` (call inside the group's commit). */
export async function advanceGroupEpochs(q: Queryable, pgtIds: readonly number[]): Promise<void> {
  await q.query(
    `UPDATE ${CG} SET epoch = epoch + 1, last_commit_at = now() WHERE consistency = 'atomic' AND member_ids && $1::bigint[]`,
    [pgtIds],
  );
}
