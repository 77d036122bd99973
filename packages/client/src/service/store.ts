/**
 * The scheduler's ports over PostgreSQL: the store (catalog snapshot, gate context loaders,
 * suspension) and the unit executor (refreshes in one transaction per unit, fenced by
 * leadership). Rules:
 * - pending changes are found for every table in one call per tick (`pgtrickle.pending_sources()`,
 *   one index probe per source); a table whose upstream stream table refreshed earlier in the same
 *   tick is re-checked on its own, so downstream tables refresh in the tick their upstream did;
 * - frontiers for the tick and diamond gates are the WAL positions recorded at each refresh;
 * - a unit's refreshes commit together (a group through its GroupExecutionStrategy), the
 *   leadership epoch is checked inside that transaction, and every failure is recorded (history,
 *   error counters; permanent ones put the table in ERROR) and classified (`failures.ts`: transient
 *   ones never count towards suspension) before it is reported to the scheduler.
 */
import { parseSchedule } from '@pgtrickle/dag';
import {
  ContextProvider,
  changedUpstreams,
  diamondFrontiers,
  frontierLsn,
  type GateEffect,
  hasPendingSourceChanges,
  pendingChangeCount,
  type StreamTableMeta,
  tickLsn,
  watermarkInputs,
} from '@pgtrickle/gates';
import type { ConsistencyGroup, RefreshUnit } from '@pgtrickle/groups';
import type {
  CatalogSnapshot,
  MemberResult,
  ScheduledTable,
  SchedulerStore,
  UnitExecutor,
  UnitOutcome,
} from '@pgtrickle/scheduler';
import { emitAlert } from '../catalog/alerts.js';
import { allStreamTables, streamTableById } from '../catalog/find-stream-table.js';
import { allDependencies } from '../catalog/read-dependencies.js';
import { pendingSourceCount, readFrontiers, readPending } from '../catalog/read-frontiers.js';
import type { DependencyRow, StreamTableRow } from '../catalog/rows.js';
import { suspendStreamTable } from '../catalog/set-status.js';
import { cleanupBuffers, cleanupTargets } from '../cdc.js';
import type { Conn, Db } from '../db.js';
import { classifyFailure, recordFailure } from '../failures.js';
import { SavepointGroupStrategy } from '../groups.js';
import { displayName } from '../names.js';
import { type Engine, type RefreshOutcome, refreshInTransaction } from '../refresh.js';

/** The scheduler's id of a stream table. */
export function tableId(pgtId: number): string {
  return String(pgtId);
}

function metaOf(row: StreamTableRow): StreamTableMeta {
  return {
    id: tableId(row.pgtId),
    name: displayName(row.schema, row.name),
    status: row.status,
    refreshMode: row.effectiveMode,
    schedule: { kind: 'calculated', periodMs: 1000 },
    lastRefreshAt: row.lastRefreshAt,
    dataTimestamp: row.dataTimestamp,
    needsReinit: row.needsReinit,
    consecutiveErrors: row.consecutiveErrors,
    lastError: row.lastError,
  };
}

/** The scheduler store over the catalog. */
export class PgSchedulerStore implements SchedulerStore {
  #deps = new Map<number, DependencyRow[]>();
  #pending: Promise<Map<number, boolean>> | null = null;
  #frontiers: Promise<Map<number, string | null>> | null = null;
  readonly #refreshedThisTick = new Set<number>();

  constructor(private readonly db: Db) {}

  /** Loads every stream table that is created (not a PENDING request) with what it reads. */
  async load(): Promise<CatalogSnapshot> {
    const [rows, deps] = await Promise.all([allStreamTables(this.db), allDependencies(this.db)]);
    this.#deps = new Map();
    for (const d of deps) {
      const list = this.#deps.get(d.pgtId) ?? [];
      list.push(d);
      this.#deps.set(d.pgtId, list);
    }
    this.#pending = null;
    this.#frontiers = null;
    this.#refreshedThisTick.clear();
    const tables: ScheduledTable[] = rows
      .filter((r) => r.effectiveMode !== 'IMMEDIATE')
      .map((r) => {
        let schedule = null;
        try {
          schedule = parseSchedule(r.schedule);
        } catch {
          schedule = null;
        }
        return {
          meta: metaOf(r),
          schedule,
          reads: (this.#deps.get(r.pgtId) ?? []).map((d) =>
            d.sourceKind === 'streamTable' ? tableId(d.sourcePgtId as number) : `table:${d.sourceOid}`,
          ),
        };
      });
    return { tables, declaredGroups: [] };
  }

  /** Notes a refresh that changed data, so its readers are re-checked this tick. */
  noteRefreshed(pgtId: number): void {
    this.#refreshedThisTick.add(pgtId);
  }

  private pendingAll(): Promise<Map<number, boolean>> {
    this.#pending ??= readPending(this.db);
    return this.#pending;
  }

  private async pendingOne(pgtId: number): Promise<boolean> {
    return (await pendingSourceCount(this.db, pgtId)) > 0;
  }

  contextProvider(_snapshot: CatalogSnapshot): ContextProvider {
    void _snapshot;
    return new ContextProvider()
      .provide(tickLsn, async () =>
        String((await this.db.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0]?.l),
      )
      .provide(frontierLsn, async (st) => {
        // Read once per tick for every table: a table's own frontier only moves when it refreshes,
        // after its gates ran.
        this.#frontiers ??= readFrontiers(this.db);
        return (await this.#frontiers).get(Number(st.id)) ?? null;
      })
      .provide(hasPendingSourceChanges, async (st) => {
        const pgtId = Number(st.id);
        const upstreamRefreshed = (this.#deps.get(pgtId) ?? []).some(
          (d) => d.sourcePgtId !== null && this.#refreshedThisTick.has(d.sourcePgtId),
        );
        if (upstreamRefreshed) return this.pendingOne(pgtId);
        return (await this.pendingAll()).get(pgtId) ?? false;
      })
      .provide(changedUpstreams, () => [])
      .provide(pendingChangeCount, async (st) => {
        return pendingSourceCount(this.db, Number(st.id));
      })
      .provide(diamondFrontiers, async (st) => {
        const inputs = (st.diamondInputs ?? []).map(Number);
        if (inputs.length === 0) return new Map();
        const frontiers = await readFrontiers(this.db, inputs);
        return new Map([...frontiers].map(([id, lsn]) => [tableId(id), lsn ?? undefined]));
      })
      .provide(watermarkInputs, () => null);
  }

  async suspend(id: string, reason: string): Promise<void> {
    await this.db.transaction(async (conn) => {
      if (!(await suspendStreamTable(conn, Number(id), reason))) return;
      const row = await streamTableById(conn, Number(id));
      if (row !== null)
        await emitAlert(conn, 'auto_suspended', { stream_table: displayName(row.schema, row.name), reason });
    });
  }

  async applyEffect(effect: GateEffect): Promise<void> {
    // Fuses have no catalog yet: a gate can only request an effect for a fuse it was given.
    void effect;
  }
}

/** Checks, inside a refresh transaction, that this process may still commit (leadership fencing). */
export type Fence = (conn: Conn) => Promise<void>;

/** The unit executor over the client's atomic refresh. */
export class PgUnitExecutor implements UnitExecutor {
  readonly #strategy: SavepointGroupStrategy;

  constructor(
    private readonly db: Db,
    private readonly engine: Engine,
    private readonly store: PgSchedulerStore | null = null,
    private readonly fence: Fence | null = null,
  ) {
    this.#strategy = new SavepointGroupStrategy(db);
  }

  async execute(
    unit: RefreshUnit,
    members: readonly string[],
    group: ConsistencyGroup | null,
  ): Promise<UnitOutcome> {
    const outcomes: RefreshOutcome[] = [];
    const refreshMember = async (conn: Conn, member: string) => {
      if (this.fence !== null) await this.fence(conn);
      const out = await refreshInTransaction(conn, this.engine, Number(member), {
        initiatedBy: 'SCHEDULER',
        lock: 'skip',
      });
      outcomes.push(out);
      return out;
    };
    let failure: { member: string | null; error: unknown } | null = null;
    if (group === null || members.length === 1) {
      const member = members[0] as string;
      try {
        await this.db.transaction((conn) => refreshMember(conn, member));
      } catch (error) {
        failure = { member, error };
      }
    } else {
      const r = await this.#strategy.execute(group, members, (m, tx) => refreshMember(tx.conn, m));
      if (!r.ok) failure = { member: r.failedMember, error: r.error.cause ?? r.error };
    }
    void unit;
    if (failure !== null) {
      const failed = failure.member === null ? [...members] : [failure.member];
      for (const m of failed) await recordFailure(this.db, Number(m), failure.error, 'SCHEDULER');
      const kind = classifyFailure(failure.error);
      return {
        ok: false,
        failedMember: failure.member,
        error: failure.error,
        permanent: kind === 'permanent',
        transient: kind === 'transient',
      };
    }
    const results: MemberResult[] = outcomes.map((o) => ({
      id: tableId(o.pgtId),
      action: o.action,
      rowsInserted: o.rowsInserted,
      rowsDeleted: o.rowsDeleted,
      reason: o.reason,
    }));
    for (const o of outcomes) {
      if (o.action !== 'NO_DATA' && o.action !== 'SKIPPED') this.store?.noteRefreshed(o.pgtId);
    }
    await cleanupBuffers(
      this.db,
      outcomes.flatMap((o) => cleanupTargets(o.sources)),
    ).catch(() => 0);
    return { ok: true, results };
  }
}
