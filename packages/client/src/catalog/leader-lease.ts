/** The leader lease row (`pgt_leader`): taking, renewing and reading it, and ending a stale holder. */
import { cat, type Queryable } from './schema.js';

const LEADER = cat('pgt_leader');

/** Takes the lease for `holder` (epoch + 1); returns the new epoch. */
export async function takeLease(q: Queryable, holder: string): Promise<number> {
  const res = await q.query(
    `UPDATE ${LEADER} SET epoch = epoch + 1, holder = $1, acquired_at = clock_timestamp(), renewed_at = clock_timestamp()
     WHERE id = 1 RETURNING epoch`,
    [holder],
  );
  return Number(res.rows[0]?.epoch);
}

/** Renews the lease held at `epoch`; false when another holder took it since. */
export async function renewLease(q: Queryable, epoch: number): Promise<boolean> {
  const res = await q.query(
    `UPDATE ${LEADER} SET renewed_at = clock_timestamp() WHERE id = 1 AND epoch = $1`,
    [epoch],
  );
  return res.rowCount === 1;
}

/** The lease's current epoch, share-locked for the rest of the transaction (fencing). */
export async function leaseEpochForShare(q: Queryable): Promise<number> {
  const res = await q.query(`SELECT epoch FROM ${LEADER} WHERE id = 1 FOR SHARE`);
  return Number(res.rows[0]?.epoch);
}

/** Terminates the backend holding advisory lock `lockKey` when the lease was not renewed for `leaseMs`. */
export async function endStaleHolder(q: Queryable, lockKey: string, leaseMs: number): Promise<void> {
  await q.query(
    `SELECT pg_terminate_backend(l.pid)
     FROM pg_locks AS l, ${LEADER} AS r
     WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND ((l.classid::bigint << 32) | l.objid::bigint) = ${lockKey}::bigint
       AND r.id = 1 AND (r.renewed_at IS NULL OR r.renewed_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000))
       AND l.pid <> pg_backend_pid()`,
    [leaseMs],
  );
}

/** The lease as it stands: holder, epoch, seconds since renewal, and the application holding the lock now. */
export interface LeaseState {
  readonly holder: string | null;
  readonly epoch: number;
  readonly ageSeconds: number | null;
  readonly lockHolder: string | null;
}

/** Reads the lease (null when the row is missing); `lockKey` is the leader's advisory lock. */
export async function readLease(q: Queryable, lockKey: string): Promise<LeaseState | null> {
  const res = await q.query(
    `SELECT r.holder, r.epoch, extract(epoch FROM clock_timestamp() - r.renewed_at)::float8 AS age,
            (SELECT a.application_name FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                AND ((l.classid::bigint << 32) | l.objid::bigint) = ${lockKey}::bigint LIMIT 1) AS lock_holder
       FROM ${LEADER} r WHERE r.id = 1`,
  );
  const r = res.rows[0];
  if (r === undefined) return null;
  return {
    holder: (r.holder as string | null) ?? null,
    epoch: Number(r.epoch),
    ageSeconds: r.age === null ? null : Number(r.age),
    lockHolder: (r.lock_holder as string | null) ?? null,
  };
}
