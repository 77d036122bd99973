/**
 * The tick bound (docs/features.md, "The tick bound"). Rule: at the start of a tick one
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
import type { Conn, Db } from '../db.js';

/** The open snapshot of one tick. */
export class TickSnapshot {
  #conn: Conn | null = null;
  #id: string | null = null;

  constructor(private readonly db: Db) {}

  /** The exported snapshot's id while the tick is open; null when none. */
  get id(): string | null {
    return this.#id;
  }

  /** Ends the previous tick's snapshot, if any, and exports a new one. */
  async begin(): Promise<void> {
    await this.end();
    const conn = await this.db.pool.connect();
    try {
      await conn.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const res = await conn.query('SELECT pg_catalog.pg_export_snapshot() AS id');
      this.#id = String(res.rows[0]?.id);
      this.#conn = conn;
    } catch (error) {
      conn.release(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  /** Closes the exporting transaction (the snapshot can no longer be imported). */
  async end(): Promise<void> {
    const conn = this.#conn;
    this.#conn = null;
    this.#id = null;
    if (conn === null) return;
    try {
      await conn.query('ROLLBACK');
      conn.release();
    } catch (error) {
      conn.release(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** The statements that open a transaction reading as of snapshot `id`. */
export function importSnapshotSql(id: string): string[] {
  return ['BEGIN ISOLATION LEVEL REPEATABLE READ', `SET TRANSACTION SNAPSHOT ${quoteLiteral(id)}`];
}

/** Runs `work` in a REPEATABLE READ transaction reading as of the exported snapshot `id`. */
export function inSnapshot<T>(db: Db, id: string, work: (conn: Conn) => Promise<T>): Promise<T> {
  return db.withConnection(async (conn) => {
    for (const s of importSnapshotSql(id)) await conn.query(s);
    try {
      const result = await work(conn);
      await conn.query('COMMIT');
      return result;
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}
