/**
 * Leadership among any number of sidecars on one database. Rule: exactly one works at a time.
 * - The leader holds a session advisory lock on a dedicated connection (not from the pool) and
 *   the lease row `pgtrickle.pgt_leader`; taking the lead increments the row's `epoch`, the
 *   fencing token.
 * - Every refresh transaction of the leader first locks the lease row `FOR SHARE` and checks the
 *   epoch is still its own (`fence`): a leader that lost the lead (its connection died and a
 *   standby took over, which bumps the epoch) can no longer commit anything; and a standby cannot
 *   bump the epoch while a refresh of the old leader is still running.
 * - Standbys retry every `retryMs`. When the leader's process dies, its connection closes and the
 *   lock is released: a standby takes over within one retry. When the lease was not renewed for
 *   `leaseMs` (a hung leader whose connection is still open), a standby terminates the holder's
 *   backend and takes over.
 */
import pg from 'pg';
import { endStaleHolder, leaseEpochForShare, renewLease, takeLease } from '../catalog/leader-lease.js';
import type { Conn } from '../db.js';
import { ClientError } from '../errors.js';

/** Advisory lock key of leadership ("pgtrlead"). */
export const LEADER_LOCK_KEY = '8098715542962809956';

/** The leader lost the lead before it could commit (`PGT_NOT_LEADER`). */
export class NotLeaderError extends ClientError {
  constructor(epoch: number) {
    super(
      'PGT_BUSY',
      `This sidecar is no longer the leader (its epoch ${epoch} was superseded); its work was rolled back.`,
    );
  }
}

/** Options of a Leadership. */
export interface LeadershipOptions {
  /** Connection string (a dedicated connection is opened). */
  readonly connectionString: string;
  /** Who we are, for the lease row and logs (e.g. host:pid). */
  readonly holder: string;
  /** A lease older than this is taken over even if its holder's connection is alive (default 10 s). */
  readonly leaseMs?: number;
}

/** One sidecar's claim to leadership. */
export class Leadership {
  #conn: pg.Client | null = null;
  #epoch: number | null = null;
  readonly #options: LeadershipOptions;
  /** Called when the lead is lost (the dedicated connection died). */
  onLost: (() => void) | null = null;

  constructor(options: LeadershipOptions) {
    this.#options = options;
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
    const got = await conn.query(`SELECT pg_try_advisory_lock(${LEADER_LOCK_KEY}) AS ok`);
    if (got.rows[0]?.ok !== true) {
      await this.takeOverStaleLease(conn);
      return false;
    }
    this.#epoch = await takeLease(conn, this.#options.holder);
    return true;
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

  /** Checks, inside a refresh transaction on `conn`, that we still lead (throws NotLeaderError). */
  async fence(conn: Conn): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === null) throw new NotLeaderError(-1);
    if ((await leaseEpochForShare(conn)) !== epoch) {
      this.lost();
      throw new NotLeaderError(epoch);
    }
  }

  /** Gives up the lead (clean shutdown). */
  async release(): Promise<void> {
    const conn = this.#conn;
    this.#conn = null;
    this.#epoch = null;
    if (conn !== null) {
      await conn.query(`SELECT pg_advisory_unlock_all()`).catch(() => undefined);
      await conn.end().catch(() => undefined);
    }
  }

  private lost(): void {
    if (this.#epoch === null) return;
    this.#epoch = null;
    const conn = this.#conn;
    this.#conn = null;
    conn?.end().catch(() => undefined);
    this.onLost?.();
  }

  private async connection(): Promise<pg.Client> {
    if (this.#conn !== null) return this.#conn;
    const conn = new pg.Client({
      connectionString: this.#options.connectionString,
      application_name: `pgtrickle leader ${this.#options.holder}`,
    });
    conn.on('error', () => this.lost());
    conn.on('end', () => this.lost());
    await conn.connect();
    this.#conn = conn;
    return conn;
  }

  /** A lease not renewed for `leaseMs`: terminate the backend holding the lock so it is released. */
  private async takeOverStaleLease(conn: pg.Client): Promise<void> {
    const leaseMs = this.#options.leaseMs ?? 10_000;
    await endStaleHolder(conn, LEADER_LOCK_KEY, leaseMs);
  }
}
