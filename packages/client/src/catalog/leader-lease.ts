/**
 * The leader lease row (`pgt_leader`): taking, renewing and reading it, and ending a stale holder.
 * Rules:
 * - a refresh transaction of the leader holds the row `FOR KEY SHARE` (fencing) and checks that
 *   its leader session still holds the leadership lock (`holdsAdvisoryLock`); renewing only
 *   updates `renewed_at` (a non-key update, which does not wait for those), while taking the lease
 *   locks the row `FOR UPDATE` first, so a new epoch waits for every fenced refresh of the old one;
 * - the lease records the leader's tag, which is in the `application_name` of each of its
 *   connections: once the lease is older than `leaseMs`, a standby terminates every backend with
 *   that tag (and the holder of the leadership lock), whatever they hold;
 * - taking the lease never waits longer than its lock timeout.
 */
import { cat, type Queryable } from './schema.js';

const LEADER = cat('pgt_leader');

/** The application_name suffix that marks a sidecar's connections with its tag. */
export function taggedApplicationName(role: string, tag: string): string {
  return `pgtrickle ${role} #${tag}`.slice(0, 63);
}

/**
 * Takes the lease for `holder` (epoch + 1) with its `tag`; returns the new epoch. Waits at most
 * `lockTimeoutMs` for the row (55P03 lock_not_available after that). Runs in its own transaction.
 */
export async function takeLease(
  q: Queryable,
  holder: string,
  tag: string,
  lockTimeoutMs: number,
): Promise<number> {
  await q.query('BEGIN');
  try {
    await q.query(`SELECT pg_catalog.set_config('lock_timeout', $1, true)`, [
      `${Math.max(1, lockTimeoutMs)}ms`,
    ]);
    await q.query(`SELECT epoch FROM ${LEADER} WHERE id = 1 FOR UPDATE`);
    const res = await q.query(
      `UPDATE ${LEADER} SET epoch = epoch + 1, holder = $1, holder_tag = $2, acquired_at = clock_timestamp(), renewed_at = clock_timestamp()
       WHERE id = 1 RETURNING epoch`,
      [holder, tag],
    );
    await q.query('COMMIT');
    return Number(res.rows[0]?.epoch);
  } catch (error) {
    await q.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Renews the lease held at `epoch`; false when another holder took it since. */
export async function renewLease(q: Queryable, epoch: number): Promise<boolean> {
  const res = await q.query(
    `UPDATE ${LEADER} SET renewed_at = clock_timestamp() WHERE id = 1 AND epoch = $1`,
    [epoch],
  );
  return res.rowCount === 1;
}

/** The lease's current epoch, key-share-locked for the rest of the transaction (fencing). */
export async function leaseEpochForShare(q: Queryable): Promise<number> {
  const res = await q.query(`SELECT epoch FROM ${LEADER} WHERE id = 1 FOR KEY SHARE`);
  return Number(res.rows[0]?.epoch);
}

/**
 * Whether backend `pid` holds the session advisory lock `key` (a bigint key) right now. Read from
 * the lock table, not from a snapshot: the answer is current even inside a transaction reading as
 * of an older snapshot (the tick bound), where the lease row may predate a takeover.
 */
export async function holdsAdvisoryLock(q: Queryable, pid: number, key: string): Promise<boolean> {
  const res = await q.query(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks
                     WHERE locktype = 'advisory' AND granted AND pid = $1 AND objsubid = 1
                       AND classid::text::bigint = ($2::bigint >> 32) AND objid::text::bigint = ($2::bigint & 4294967295)) AS held`,
    [pid, key],
  );
  return res.rows[0]?.held === true;
}

/** A backend of a stale leader that was terminated. */
export interface EndedBackend {
  readonly pid: number;
  readonly applicationName: string;
  readonly state: string | null;
}

/**
 * When the lease was not renewed for `leaseMs`: terminates the backend holding advisory lock
 * `lockKey` and every backend carrying the stale leader's tag (its refreshes, its listener),
 * never this session. Returns what it terminated (empty when the lease is fresh).
 */
export async function endStaleHolder(
  q: Queryable,
  lockKey: string,
  leaseMs: number,
): Promise<EndedBackend[]> {
  const res = await q.query(
    `WITH lease AS (
       SELECT r.holder_tag FROM ${LEADER} AS r
        WHERE r.id = 1 AND (r.renewed_at IS NULL OR r.renewed_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000))
     ), victims AS (
       SELECT l.pid FROM pg_catalog.pg_locks AS l, lease
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
          AND ((l.classid::bigint << 32) | l.objid::bigint) = ${lockKey}::bigint
       UNION
       SELECT a.pid FROM pg_catalog.pg_stat_activity AS a, lease
        WHERE lease.holder_tag IS NOT NULL AND a.datname = current_database()
          AND a.application_name LIKE '%#' || lease.holder_tag
     )
     SELECT a.pid, a.application_name, a.state, pg_catalog.pg_terminate_backend(a.pid) AS ok
       FROM victims v JOIN pg_catalog.pg_stat_activity a ON a.pid = v.pid
      WHERE a.pid <> pg_catalog.pg_backend_pid()`,
    [leaseMs],
  );
  return res.rows.map((r) => ({
    pid: Number(r.pid),
    applicationName: String(r.application_name ?? ''),
    state: (r.state as string | null) ?? null,
  }));
}

/** A session blocking another, as `pg_blocking_pids` and `pg_stat_activity` tell. */
export interface BlockingBackend {
  readonly pid: number;
  readonly applicationName: string;
  readonly state: string | null;
  readonly query: string | null;
}

/** The sessions `pid` waits for (empty when it waits for none). */
export async function blockingBackends(q: Queryable, pid: number): Promise<BlockingBackend[]> {
  const res = await q.query(
    `SELECT a.pid, a.application_name, a.state, left(a.query, 200) AS query
       FROM unnest(pg_catalog.pg_blocking_pids($1)) AS b(pid)
       JOIN pg_catalog.pg_stat_activity AS a ON a.pid = b.pid`,
    [pid],
  );
  return res.rows.map((r) => ({
    pid: Number(r.pid),
    applicationName: String(r.application_name ?? ''),
    state: (r.state as string | null) ?? null,
    query: (r.query as string | null) ?? null,
  }));
}

/** Terminates backends `pids` (not this session); returns how many were signalled. */
export async function terminateBackends(q: Queryable, pids: readonly number[]): Promise<number> {
  if (pids.length === 0) return 0;
  const res = await q.query(
    `SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(p)) AS n
       FROM unnest($1::int[]) AS p WHERE p <> pg_catalog.pg_backend_pid()`,
    [pids],
  );
  return Number(res.rows[0]?.n ?? 0);
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

/** Seconds since the lease was renewed (null: never), read without locking. */
export async function leaseAgeSeconds(q: Queryable): Promise<number | null> {
  const res = await q.query(
    `SELECT extract(epoch FROM clock_timestamp() - renewed_at)::float8 AS age FROM ${LEADER} WHERE id = 1`,
  );
  const age = res.rows[0]?.age;
  return age === null || age === undefined ? null : Number(age);
}
