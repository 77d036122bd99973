/**
 * Leadership among any number of sidecars on one database. Rule: exactly one works at a time, and
 * a leader that stops answering is replaced within its lease plus a few seconds, whatever its
 * sessions hold.
 * - The leader holds a session advisory lock on a dedicated connection (not from the pool) and
 *   the lease row `pgtrickle.pgt_leader`; taking the lead increments the row's `epoch`, the
 *   fencing token, and records the leader's tag (in the `application_name` of all its
 *   connections). The lease is renewed before every tick and by a timer every `leaseMs / 3`, so a
 *   long refresh does not lose it; a process that stops (SIGSTOP, a hung host) stops renewing.
 * - Every refresh transaction of the leader first locks the lease row `FOR KEY SHARE` and checks
 *   the epoch is still its own and its leader session still holds the leadership lock (`fence`;
 *   the lock check is current even under the tick bound's older snapshot): a leader that lost the
 *   lead can no longer commit
 *   anything; and a standby cannot bump the epoch while a refresh of the old leader is running.
 * - Standbys retry every poll. When the leader's process dies, its connections close and the lock
 *   is released: a standby takes over at its next try. When the lease is older than `leaseMs`, a
 *   standby terminates every backend of the stale leader (the lock holder and every connection
 *   with its tag: its in-flight refreshes, its listener) and takes over. Taking the lease waits at
 *   most `lockTimeoutMs`; while it waits, the standby logs the sessions it waits for and, when the
 *   lease is stale, terminates them too. Nothing waits unbounded.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  blockingBackends,
  endStaleHolder,
  holdsAdvisoryLock,
  leaseAgeSeconds,
  leaseEpochForShare,
  renewLease,
  taggedApplicationName,
  takeLease,
  terminateBackends,
} from '../catalog/leader-lease.js';
import { type Conn, sqlState } from '../db.js';
import { ClientError } from '../errors.js';

/** Advisory lock key of leadership ("pgtrlead"). */
export const LEADER_LOCK_KEY = '8098715542962809956';

/** TCP keepalive settings of every connection the service opens (a dead peer is noticed). */
export const KEEPALIVE = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as const;

/** The leader lost the lead before it could commit (`PGT_BUSY`). */
export class NotLeaderError extends ClientError {
  constructor(epoch: number) {
    super(
      'PGT_BUSY',
      `This sidecar is no longer the leader (its epoch ${epoch} was superseded); its work was rolled back.`,
    );
  }
}

/** A log sink for leadership events (level, event, fields). */
export type LeadershipLog = (
  level: 'debug' | 'info' | 'warn',
  event: string,
  fields: Record<string, unknown>,
) => void;

/** Options of a Leadership. */
export interface LeadershipOptions {
  /** Connection string (a dedicated connection is opened). */
  readonly connectionString: string;
  /** Who we are, for the lease row and logs (e.g. host:pid). */
  readonly holder: string;
  /** This process's tag (in the application_name of all its connections); default: random. */
  readonly tag?: string;
  /** A lease older than this is taken over even if its holder's connections are alive (default 10 s). */
  readonly leaseMs?: number;
  /** The longest wait for the lease row when taking over, ms (default min(leaseMs, 5000)). */
  readonly lockTimeoutMs?: number;
  /** Leadership events (stale leader ended, waiting for sessions). */
  readonly log?: LeadershipLog;
}

/** A new random tag for a sidecar process. */
export function newTag(): string {
  return randomBytes(4).toString('hex');
}

/** One sidecar's claim to leadership. */
export class Leadership {
  #conn: pg.Client | null = null;
  #pid: number | null = null;
  #locked = false;
  #epoch: number | null = null;
  #heartbeat: ReturnType<typeof setInterval> | null = null;
  readonly #options: LeadershipOptions;
  /** This process's tag. */
  readonly tag: string;
  /** Called when the lead is lost (the dedicated connection died). */
  onLost: (() => void) | null = null;

  constructor(options: LeadershipOptions) {
    this.#options = options;
    this.tag = options.tag ?? newTag();
  }

  private get leaseMs(): number {
    return this.#options.leaseMs ?? 10_000;
  }

  private log(level: 'debug' | 'info' | 'warn', event: string, fields: Record<string, unknown>): void {
    this.#options.log?.(level, event, fields);
  }

  /** The fencing epoch while leading, else null. */
  get epoch(): number | null {
    return this.#epoch;
  }

  /** Whether this sidecar currently leads. */
  get leading(): boolean {
    return this.#epoch !== null;
  }

  /** Tries to become the leader; true when it leads (already or now). */
  async tryAcquire(): Promise<boolean> {
    if (this.#epoch !== null) return true;
    const conn = await this.connection();
    if (!this.#locked) {
      this.#locked = await this.tryLock(conn);
      if (!this.#locked) {
        await this.endStaleLeader(conn);
        this.#locked = await this.tryLock(conn);
        if (!this.#locked) return false;
      }
    }
    try {
      this.#epoch = await this.takeLeaseWatched(conn);
    } catch (error) {
      if (sqlState(error) !== '55P03') throw error;
      this.log('warn', 'leader-takeover-timeout', {
        waitedMs: this.lockTimeoutMs,
        note: 'the lease row is still locked; trying again at the next poll',
      });
      return false;
    }
    this.startHeartbeat();
    return true;
  }

  private get lockTimeoutMs(): number {
    return this.#options.lockTimeoutMs ?? Math.min(this.leaseMs, 5000);
  }

  private async tryLock(conn: pg.Client): Promise<boolean> {
    const got = await conn.query(`SELECT pg_try_advisory_lock(${LEADER_LOCK_KEY}) AS ok`);
    return got.rows[0]?.ok === true;
  }

  /** A lease older than `leaseMs`: end every backend of its holder, so the lock and the row are free. */
  private async endStaleLeader(conn: pg.Client): Promise<void> {
    const ended = await endStaleHolder(conn, LEADER_LOCK_KEY, this.leaseMs);
    if (ended.length === 0) return;
    this.log('warn', 'leader-stale', {
      leaseMs: this.leaseMs,
      terminated: ended.map((b) => ({ pid: b.pid, application: b.applicationName, state: b.state })),
    });
    // The lock is released when the terminated backend has exited: wait for it, briefly.
    for (let i = 0; i < 20; i++) {
      const res = await conn.query(
        `SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity WHERE pid = ANY($1::int[])`,
        [ended.map((b) => b.pid)],
      );
      if (Number(res.rows[0]?.n) === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Takes the lease (bounded by the lock timeout). While it waits, a side connection logs what it
   * waits for and, once the lease is stale, terminates those sessions.
   */
  private async takeLeaseWatched(conn: pg.Client): Promise<number> {
    const take = takeLease(conn, this.#options.holder, this.tag, this.lockTimeoutMs);
    let settled = false;
    const done = take.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    const watch = async () => {
      await Promise.race([done, new Promise((r) => setTimeout(r, 500))]);
      if (settled || this.#pid === null) return;
      const side = new pg.Client({
        connectionString: this.#options.connectionString,
        application_name: taggedApplicationName('watch', this.tag),
        ...KEEPALIVE,
      });
      side.on('error', () => undefined);
      try {
        await side.connect();
        while (!settled) {
          const blockers = await blockingBackends(side, this.#pid);
          if (blockers.length > 0) {
            const age = await leaseAgeSeconds(side);
            const stale = age === null || age * 1000 > this.leaseMs;
            this.log('warn', 'leader-takeover-waiting', {
              for: 'the lease row pgtrickle.pgt_leader',
              blockers: blockers.map((b) => ({ pid: b.pid, application: b.applicationName, state: b.state })),
              leaseAgeS: age,
              action: stale ? 'terminating them (the lease is stale)' : 'waiting',
            });
            if (stale)
              await terminateBackends(
                side,
                blockers.map((b) => b.pid),
              );
          }
          await Promise.race([done, new Promise((r) => setTimeout(r, 500))]);
        }
      } catch {
        // The watcher only reports and helps; the bounded take decides.
      } finally {
        await side.end().catch(() => undefined);
      }
    };
    const watcher = watch();
    try {
      return await take;
    } finally {
      await watcher;
    }
  }

  /** Renews the lease (the leader calls it every tick); false when the lead was lost. */
  async renew(): Promise<boolean> {
    if (this.#epoch === null || this.#conn === null) return false;
    try {
      if (await renewLease(this.#conn, this.#epoch)) return true;
    } catch {
      // connection lost
    }
    this.lost();
    return false;
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.#heartbeat = setInterval(
      () => {
        void this.renew();
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    this.#heartbeat.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  /** Checks, inside a refresh transaction on `conn`, that we still lead (throws NotLeaderError). */
  async fence(conn: Conn): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === null) throw new NotLeaderError(-1);
    if ((await leaseEpochForShare(conn)) !== epoch) {
      this.lost();
      throw new NotLeaderError(epoch);
    }
    // A refresh under the tick bound reads the lease row as of the tick's snapshot, which may
    // predate a takeover; the leadership lock is not versioned: it must still be this session's.
    const pid = this.#pid;
    if (pid === null || !(await holdsAdvisoryLock(conn, pid, LEADER_LOCK_KEY))) {
      this.lost();
      throw new NotLeaderError(epoch);
    }
  }

  /** Gives up the lead (clean shutdown). */
  async release(): Promise<void> {
    this.stopHeartbeat();
    const conn = this.#conn;
    this.#conn = null;
    this.#epoch = null;
    this.#locked = false;
    this.#pid = null;
    if (conn !== null) {
      await conn.query(`SELECT pg_advisory_unlock_all()`).catch(() => undefined);
      await conn.end().catch(() => undefined);
    }
  }

  private lost(): void {
    this.stopHeartbeat();
    const wasLeading = this.#epoch !== null;
    this.#epoch = null;
    this.#locked = false;
    this.#pid = null;
    const conn = this.#conn;
    this.#conn = null;
    conn?.end().catch(() => undefined);
    if (wasLeading) this.onLost?.();
  }

  private async connection(): Promise<pg.Client> {
    if (this.#conn !== null) return this.#conn;
    const conn = new pg.Client({
      connectionString: this.#options.connectionString,
      application_name: taggedApplicationName('leader', this.tag),
      ...KEEPALIVE,
    });
    conn.on('error', () => {
      if (this.#conn === conn) this.lost();
    });
    conn.on('end', () => {
      if (this.#conn === conn) this.lost();
    });
    await conn.connect();
    this.#conn = conn;
    this.#pid = Number((await conn.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
    return conn;
  }
}
