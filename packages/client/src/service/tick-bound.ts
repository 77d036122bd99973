/**
 * The tick bound (docs/refresh-control.md, "The tick bound"). Rule: at the start of a tick one
 * transaction on a dedicated connection exports its snapshot (`pg_export_snapshot()`) and stays
 * open until every unit of the tick has settled; a unit that reads a base table directly runs in a
 * REPEATABLE READ transaction that first imports that snapshot (`SET TRANSACTION SNAPSHOT`). A
 * refresh's change window ends at the snapshot of its own statement and it reads its sources in that
 * same snapshot, so both are exactly the tick's: a commit landing after the tick began is seen by
 * no refresh of the tick, and the next tick picks it up. A unit whose members read only stream
 * tables keeps READ COMMITTED, so it sees the upstream refreshes committed earlier in the tick.
 * Writes of the tick's own refreshes that committed after the export are not in the snapshot, so a
 * table reading both a base table and a stream table refreshed earlier in the same tick sees that
 * upstream's refresh in the next tick. A catalog row changed after the export (a manual refresh, an
 * ALTER) makes the refresh of that table fail with a serialization failure (40001), which is
 * transient: retried next tick, never counted towards suspension.
 */
import { quoteLiteral } from '@pgtrickle/dvm';
import { type Conn, type Db, isConnectionError } from '../db.js';
import { ClientError } from '../errors.js';

/** The open snapshot of one tick. */
export class TickSnapshot {
  #conn: Conn | null = null;
  #id: string | null = null;
  #snapshot: string | null = null;
  #broken: Error | undefined;
  /** The ROLLBACKs of closed snapshots still under way. */
  #closing: Promise<void> = Promise.resolve();
  readonly #onError = (error: Error) => {
    // The held connection died (e.g. a standby ended this process's sessions): the tick's units
    // fail to import the snapshot (transient), and the connection is destroyed at the end.
    this.#broken = error;
  };

  constructor(private readonly db: Db) {}

  /** The exported snapshot's id while the tick is open; null when none. */
  get id(): string | null {
    return this.#id;
  }

  /** The exported snapshot itself (`pg_snapshot` text) while the tick is open: what the tick's windows end at. */
  get snapshot(): string | null {
    return this.#snapshot;
  }

  /**
   * Ends the previous snapshot, if any, and exports a new one, in one round trip (an open one's
   * ROLLBACK goes in the same round trip, on the same connection). The exporting transaction
   * reads no table, so it holds no lock (a DROP or ALTER of the catalog never waits for a tick).
   */
  async begin(): Promise<void> {
    const open = this.#broken === undefined ? this.#conn : null;
    if (open === null) this.close();
    this.#conn = null;
    this.#id = null;
    this.#snapshot = null;
    const conn = open ?? (await this.db.pool.connect());
    if (open === null) {
      this.#broken = undefined;
      conn.on('error', this.#onError);
    }
    try {
      // Several statements in one simple query: one round trip, one result per statement.
      const text = [
        ...(open === null ? [] : ['ROLLBACK']),
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
        'SELECT pg_catalog.pg_export_snapshot() AS id, pg_catalog.pg_current_snapshot()::text AS snapshot',
      ].join(';\n');
      const results = (await conn.query(text)) as unknown as { rows: Record<string, unknown>[] }[];
      const first = open === null ? 1 : 2;
      const exported = results[first]?.rows[0];
      this.#id = String(exported?.id);
      this.#snapshot = String(exported?.snapshot);
      this.#conn = conn;
    } catch (error) {
      conn.off('error', this.#onError);
      conn.release(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  /**
   * Closes the exporting transaction without waiting for it: the snapshot is no longer the tick's
   * at once, and its ROLLBACK completes in the background (the next `begin` takes another
   * connection meanwhile; `end` waits for it).
   */
  close(): void {
    const conn = this.#conn;
    this.#conn = null;
    this.#id = null;
    this.#snapshot = null;
    if (conn === null) return;
    const broken = this.#broken;
    const onError = this.#onError;
    const closing = (async () => {
      let failure = broken;
      try {
        if (failure === undefined) await conn.query('ROLLBACK');
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
      }
      conn.off('error', onError);
      conn.release(failure);
    })();
    this.#closing = Promise.all([this.#closing, closing]).then(() => undefined);
  }

  /** Closes the exporting transaction and waits until its connection is back in the pool. */
  async end(): Promise<void> {
    this.close();
    await this.#closing;
  }
}

/**
 * Opens, on `conn`, a REPEATABLE READ transaction reading as of the exported snapshot `id`. A
 * snapshot that can no longer be imported (its exporting session ended) fails with `PGT_BUSY`,
 * a transient failure: the refresh runs again next tick, under that tick's snapshot.
 */
export async function beginInSnapshot(conn: Conn, id: string): Promise<void> {
  await conn.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    await conn.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(id)}`);
  } catch (error) {
    if (isConnectionError(error)) throw error;
    throw new ClientError(
      'PGT_BUSY',
      "The tick's snapshot could not be imported (its session ended); the refresh runs again next tick.",
      { cause: error },
    );
  }
}

/**
 * The rows of `statement` (no parameters) read as of the exported snapshot `id`, in one round trip
 * (its own READ ONLY transaction, committed at once). A snapshot that can no longer be imported
 * fails with `PGT_BUSY`, as `beginInSnapshot`.
 */
export function readInSnapshot(db: Db, id: string, statement: string): Promise<Record<string, unknown>[]> {
  return db.withConnection(async (conn) => {
    const text = [
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      `SET TRANSACTION SNAPSHOT ${quoteLiteral(id)}`,
      statement,
      'COMMIT',
    ].join(';\n');
    try {
      const results = (await conn.query(text)) as unknown as { rows: Record<string, unknown>[] }[];
      return results[2]?.rows ?? [];
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      if (isConnectionError(error)) throw error;
      throw new ClientError(
        'PGT_BUSY',
        "The watermarks could not be read as of the tick's snapshot; the tick runs again.",
        { cause: error },
      );
    }
  });
}

/** Runs `work` in a REPEATABLE READ transaction reading as of the exported snapshot `id`. */
export function inSnapshot<T>(db: Db, id: string, work: (conn: Conn) => Promise<T>): Promise<T> {
  return db.withConnection(async (conn) => {
    try {
      await beginInSnapshot(conn, id);
      const result = await work(conn);
      await conn.query('COMMIT');
      return result;
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}
