/**
 * The `GroupExecutionStrategy` port of @pgtrickle/groups over PostgreSQL. Rule: every member of a
 * consistency group is refreshed on one connection inside one transaction, in the given order;
 * the group commits only if every member succeeded, otherwise everything is rolled back.
 * - `SavepointGroupStrategy` (read committed): diamonds — all paths of a diamond move together.
 *   Each member runs under its own SAVEPOINT too, so `tx.savepoint(work)` can retry inside it.
 * - `RepeatableReadGroupStrategy` (repeatable read): cross-source snapshot consistency — every
 *   member reads its sources as of the same snapshot.
 * The transaction runs at the stronger of the group's isolation and the strategy's; with a
 * `snapshot` option it runs at REPEATABLE READ reading as of that exported snapshot (the tick
 * bound), and `beforeCommit` runs last inside the transaction (the group's epoch).
 */
import {
  type ConsistencyGroup,
  checkExecutionMembers,
  type GroupExecutionResult,
  type GroupExecutionStrategy,
  type GroupTransaction,
  groupFailure,
  type IsolationLevel,
  type MemberOutcome,
  strongestIsolation,
} from '@pgtrickle/groups';
import type { Conn, Db } from './db.js';
import { beginInSnapshot } from './service/tick-bound.js';

/** A group transaction carrying its connection. */
export interface PgGroupTransaction extends GroupTransaction {
  /** The connection the group's transaction is open on. */
  readonly conn: Conn;
}

/** Options of one group execution. */
export interface PgGroupExecutionOptions {
  /** An exported snapshot to read as of (REPEATABLE READ, `SET TRANSACTION SNAPSHOT`). */
  readonly snapshot?: string | null;
  /** Runs inside the transaction after every member succeeded, before COMMIT. */
  readonly beforeCommit?: (conn: Conn) => Promise<void>;
}

let savepointCounter = 0;

class PgGroupStrategy implements GroupExecutionStrategy<PgGroupTransaction> {
  constructor(
    readonly name: string,
    private readonly db: Db,
    private readonly defaultIsolation: IsolationLevel,
  ) {}

  async execute<T>(
    group: ConsistencyGroup,
    members: readonly string[],
    refreshMember: (member: string, tx: PgGroupTransaction) => Promise<T>,
    options: PgGroupExecutionOptions = {},
  ): Promise<GroupExecutionResult<T>> {
    checkExecutionMembers(group, members);
    const snapshot = options.snapshot ?? null;
    const isolation = strongestIsolation([
      group.isolation,
      this.defaultIsolation,
      ...(snapshot === null ? [] : (['repeatable read'] as const)),
    ]);
    const done: string[] = [];
    let failed: string | null = null;
    try {
      const results = await this.db.withConnection(async (conn) => {
        if (snapshot !== null) {
          try {
            await beginInSnapshot(conn, snapshot);
          } catch (error) {
            await conn.query('ROLLBACK').catch(() => undefined);
            throw error;
          }
        } else
          await conn.query(
            `BEGIN ISOLATION LEVEL ${isolation === 'repeatable read' ? 'REPEATABLE READ' : 'READ COMMITTED'}`,
          );
        const tx: PgGroupTransaction = {
          group,
          isolation,
          conn,
          async savepoint<R>(work: () => Promise<R>): Promise<R> {
            const sp = `pgt_sp_${++savepointCounter}`;
            await conn.query(`SAVEPOINT ${sp}`);
            try {
              const r = await work();
              await conn.query(`RELEASE SAVEPOINT ${sp}`);
              return r;
            } catch (error) {
              await conn.query(`ROLLBACK TO SAVEPOINT ${sp}`);
              throw error;
            }
          },
        };
        const out: MemberOutcome<T>[] = [];
        try {
          for (const member of members) {
            failed = member;
            const value = await tx.savepoint(() => refreshMember(member, tx));
            out.push({ member, value });
            done.push(member);
          }
          failed = null;
          if (options.beforeCommit !== undefined) await options.beforeCommit(conn);
          await conn.query('COMMIT');
        } catch (error) {
          await conn.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        return out;
      });
      return { ok: true, group, results };
    } catch (error) {
      return groupFailure<T>(group, failed, done, error);
    }
  }
}

/** Atomic groups at READ COMMITTED (each member under a SAVEPOINT, the group in one transaction). */
export class SavepointGroupStrategy extends PgGroupStrategy {
  constructor(db: Db) {
    super('savepoint', db, 'read committed');
  }
}

/** Atomic groups at REPEATABLE READ: every member reads the same snapshot. */
export class RepeatableReadGroupStrategy extends PgGroupStrategy {
  constructor(db: Db) {
    super('repeatable-read', db, 'repeatable read');
  }
}
