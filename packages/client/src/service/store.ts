/**
 * The scheduler's ports over PostgreSQL: the store (catalog snapshot, gate context loaders,
 * suspension) and the unit executor (refreshes in one transaction per unit, fenced by
 * leadership). Rules:
 * - `pendingUnchanged(id)` is true when the table's pending answer is the previous tick's (nothing
 *   committed since, or its "nothing pending" answer holds without a probe): the scheduler then
 *   reuses its "nothing pending" verdict (its verdict memo);
 * - the catalog is read again only when it changed, and pending changes are probed only for the
 *   tables whose sources' buffers were written (or whose frontier moved) since their last probe
 *   (`pending-probe.ts`); a table whose upstream stream table refreshed earlier in the same tick is
 *   re-checked on its own, so downstream tables refresh in the tick their upstream did;
 * - frontiers for the tick and diamond gates are the WAL positions recorded at each refresh;
 * - watermark groups are read once per tick (`watermarks.ts`); each table is gated on its
 *   transitive base sources (stream-table inputs expanded down to base tables);
 * - the tick bound (`tick-bound.ts`): one exported snapshot per tick (its transaction reads no
 *   table, so it holds no lock), and every unit with a member reading a base table directly runs
 *   as of it; `endTick` closes it (option `tickBound`). `load` exports it first thing (its
 *   snapshot tells whether anything committed since the previous tick); `beginTick` keeps it when
 *   nothing did and no groups were written, else exports it again after the probe and the write,
 *   then reads the watermark groups as of it (one round trip; skipped when nothing committed and
 *   stuck detection is off: they are the previous tick's);
 * - declared refresh groups are loaded with the tables; the groups of each plan are recorded for
 *   `pgtrickle.diamond_groups()` when they change, and an atomic group's commit advances its epoch
 *   in the same transaction;
 * - a fuse checks its table's unread change rows, read for every armed fuse in one call per tick
 *   (`catalog/fuse.ts`); its blow is recorded (and alerted) in one transaction; blown fuses are
 *   reminded of at most every 60 s;
 * - a unit's refreshes commit together (a group through its GroupExecutionStrategy), the
 *   leadership epoch is checked inside that transaction, and every failure is recorded (history,
 *   error counters; permanent ones put the table in ERROR) and classified (`failures.ts`: transient
 *   ones never count towards suspension) before it is reported to the scheduler.
 */
import { parseSchedule } from '@pgtrickle/dag';
import {
  ContextProvider,
  changeCountBaseline,
  changedUpstreams,
  type FuseMeta,
  type GateEffect,
  hasPendingSourceChanges,
  overCeilingStreak,
  pendingChangeCount,
  pendingTruncate,
  type StreamTableMeta,
  watermarkInputs,
} from '@pgtrickle/gates';
import type { ConsistencyGroup, RefreshUnit } from '@pgtrickle/groups';
import type {
  CatalogSnapshot,
  MemberResult,
  ScheduledTable,
  SchedulerLogger,
  SchedulerStore,
  TickPlan,
  UnitExecutor,
  UnitOutcome,
} from '@pgtrickle/scheduler';
import { emitAlert } from '../catalog/alerts.js';
import {
  advanceGroupEpochs,
  type ConsistencyGroupRow,
  readDeclaredGroups,
  writeConsistencyGroups,
} from '../catalog/consistency-groups.js';
import { allStreamTables, streamTableById } from '../catalog/find-stream-table.js';
import {
  baselineOf,
  blowFuse,
  DEFAULT_FUSE_WINDOW,
  type FuseCount,
  overCeilingStreakOf,
  readFuseCounts,
  readFuseSamples,
  remindBlownFuses,
} from '../catalog/fuse.js';
import { allDependencies } from '../catalog/read-dependencies.js';
import { pendingSourceCount, readPending } from '../catalog/read-frontiers.js';
import type { DependencyRow, StreamTableRow } from '../catalog/rows.js';
import { suspendStreamTable } from '../catalog/set-status.js';
import { watermarkStateOf, watermarkStateSql } from '../catalog/watermarks.js';
import { cleanupBuffers, cleanupTargets } from '../cdc.js';
import type { Conn, Db } from '../db.js';
import { classifyFailure, recordFailure } from '../failures.js';
import { SavepointGroupStrategy } from '../groups.js';
import { displayName } from '../names.js';
import { type Engine, type RefreshOutcome, refreshInTransaction } from '../refresh.js';
import {
  FULL_RELOAD_MS,
  nothingCommitted,
  PendingCache,
  parseSnapshot,
  readSnapshot,
  readTickProbe,
  type SnapshotXip,
  type TickProbe,
} from './pending-probe.js';
import { inSnapshot, readInSnapshot, TickSnapshot } from './tick-bound.js';
import { WatermarkWatch } from './watermarks.js';

/** The scheduler's id of a stream table. */
export function tableId(pgtId: number): string {
  return String(pgtId);
}

/** The gates' view of a table's fuse: 'on' is the ceiling rule, 'auto' adds the statistical rule. */
export function fuseMetaOf(row: StreamTableRow, defaultCeiling: number): FuseMeta {
  const f = row.fuse;
  const ceiling = f.ceiling ?? (defaultCeiling > 0 ? defaultCeiling : null);
  return {
    mode: f.mode === 'off' ? 'off' : f.mode === 'on' ? 'fixed' : 'statistical',
    ceiling,
    ...(f.sigma === null ? {} : { sensitivity: f.sigma }),
    ...(f.minSamples === null ? {} : { minSamples: f.minSamples }),
    consecutive: f.sensitivity ?? 1,
    state: f.state === 'blown' ? 'BLOWN' : 'INTACT',
    blownAt: f.blownAt,
    blownReason: f.blowReason,
  };
}

function metaOf(row: StreamTableRow, defaultCeiling: number): StreamTableMeta {
  return {
    fuse: fuseMetaOf(row, defaultCeiling),
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

/** Options of the scheduler store. */
export interface SchedulerStoreOptions {
  /** Bound every refresh window of a tick by one snapshot taken at its start (default true). */
  readonly tickBound?: boolean;
  /** The ceiling of fuses that have none of their own (0 = none). */
  readonly fuseDefaultCeiling?: number;
  /** A watermarked source not advanced for longer than this is stuck, ms (default 0: never). */
  readonly watermarkHoldbackTimeoutMs?: number;
  /** Where alerts that could not be sent are logged. */
  readonly logger?: Pick<SchedulerLogger, 'warn'>;
}

/** The scheduler store over the catalog. */
export class PgSchedulerStore implements SchedulerStore {
  #deps = new Map<number, DependencyRow[]>();
  readonly #baseSources = new Map<number, readonly string[]>();
  readonly #watermarks: WatermarkWatch;
  #pending: Promise<Map<number, boolean>> | null = null;
  readonly #refreshedThisTick = new Set<number>();
  readonly #tickSnapshot: TickSnapshot | null;
  #recordedGroups: string | null = null;
  #fused: number[] = [];
  readonly #fuseWindow = new Map<number, number>();
  #fuseCounts: Promise<Map<number, FuseCount>> | null = null;
  #fuseSamples: Promise<Map<number, number[]>> | null = null;
  readonly #fuseDefaultCeiling: number;
  readonly #pendingCache = new PendingCache();
  #probe: TickProbe | null = null;
  #current: SnapshotXip | null = null;
  #quiet = false;
  /** Whether the previous tick read the watermark groups as of its snapshot. */
  #watermarksRead = false;
  /** This tick's tables whose "nothing pending" answer holds without a probe (worked out on first use). */
  #stillNothing: Set<number> | null = null;
  #loaded: { signature: string; at: number; rows: StreamTableRow[]; snapshot: CatalogSnapshot } | null = null;

  constructor(
    private readonly db: Db,
    options: SchedulerStoreOptions = {},
  ) {
    this.#tickSnapshot = (options.tickBound ?? true) ? new TickSnapshot(db) : null;
    this.#fuseDefaultCeiling = options.fuseDefaultCeiling ?? 0;
    this.#watermarks = new WatermarkWatch(
      db,
      options.watermarkHoldbackTimeoutMs ?? 0,
      options.logger ?? null,
    );
  }

  /** The tick's exported snapshot, while a tick is open and the tick bound is on. */
  get tickSnapshotId(): string | null {
    return this.#tickSnapshot?.id ?? null;
  }

  /** Whether stream table `pgtId` reads a base table directly (its unit then runs as of the tick's snapshot). */
  readsBaseTable(pgtId: number): boolean {
    return (this.#deps.get(pgtId) ?? []).some((d) => d.sourceKind !== 'streamTable');
  }

  /** Records the plan's groups when they changed, then settles the tick bound (see the module rule). */
  async beginTick(plan: TickPlan): Promise<void> {
    const rows: ConsistencyGroupRow[] = plan.groups.map((p) => ({
      key: p.group.id,
      origin: p.group.origin,
      memberIds: p.group.members.map(Number),
      convergenceIds: p.convergence.map(Number),
      consistency: p.atomic ? 'atomic' : 'none',
      schedulePolicy: p.schedulePolicy,
      isolation: p.group.isolation === 'repeatable read' ? 'repeatable_read' : 'read_committed',
      reason: p.nonAtomicReason ?? p.group.reason ?? null,
    }));
    const signature = JSON.stringify(rows);
    let written = false;
    if (signature !== this.#recordedGroups) {
      await this.db.transaction((conn) => writeConsistencyGroups(conn, rows));
      this.#recordedGroups = signature;
      written = true;
    }
    const bound = this.#tickSnapshot;
    if (bound === null) return;
    // The snapshot exported by load() is the tick's when nothing committed since the previous
    // tick (nothing was probed after it, nothing written since); otherwise it is taken again now,
    // after the probe and the groups' write, so the tick's refreshes see everything they did.
    const kept = this.#quiet && !written;
    if (!kept) await bound.begin();
    // The watermarks as of the tick's snapshot (those of the data its refreshes read), in one
    // round trip; when nothing committed since the previous tick they are the ones it read (unless
    // stuck detection is on: a stuck source's age grows with time).
    if (kept && this.#watermarksRead && !this.#watermarks.detectsStuck) return;
    this.#watermarksRead = false;
    const state = await readInSnapshot(this.db, bound.id as string, watermarkStateSql());
    await this.#watermarks.apply(watermarkStateOf(state));
    this.#watermarksRead = true;
  }

  /** Exports the tick's snapshot (see `beginTick`); returns it. */
  async #openTickBound(): Promise<SnapshotXip> {
    const bound = this.#tickSnapshot as TickSnapshot;
    await bound.begin();
    return parseSnapshot(bound.snapshot as string);
  }

  /** Closes the tick bound (its ROLLBACK completes in the background). */
  async endTick(): Promise<void> {
    this.#tickSnapshot?.close();
  }

  /**
   * Loads every stream table that is created (not a PENDING request) with what it reads, and the
   * declared groups; the same snapshot object as the previous tick's when the catalog is unchanged.
   */
  async load(): Promise<CatalogSnapshot> {
    // With the tick bound, the tick's first round trip exports its snapshot (kept for the tick
    // when nothing committed since the previous one, see beginTick) with the watermarks as of it.
    const [current] =
      this.#tickSnapshot === null
        ? await Promise.all([readSnapshot(this.db), this.#watermarks.refresh()])
        : [await this.#openTickBound()];
    this.#pending = null;
    this.#stillNothing = null;
    this.#fuseCounts = null;
    this.#fuseSamples = null;
    this.#refreshedThisTick.clear();
    const now = performance.now();
    const cached = this.#loaded;
    const fresh = cached !== null && now - cached.at < FULL_RELOAD_MS;
    const previous = this.#current;
    this.#current = current;
    this.#quiet = fresh && this.#probe !== null && previous !== null && nothingCommitted(previous, current);
    if (!this.#quiet) {
      this.#probe = await readTickProbe(this.db).catch((error: unknown) => {
        this.#pendingCache.clear();
        this.#current = null;
        throw error;
      });
    }
    if (fresh && (this.#quiet || cached.signature === this.#probe?.signature)) {
      if (cached.rows.some((r) => r.fuse.state === 'blown')) {
        await this.db.transaction((conn) => remindBlownFuses(conn)).catch(() => 0);
      }
      return cached.snapshot;
    }
    const [rows, deps, declared] = await Promise.all([
      allStreamTables(this.db),
      allDependencies(this.db),
      readDeclaredGroups(this.db),
    ]);
    this.#deps = new Map();
    this.#baseSources.clear();
    for (const d of deps) {
      const list = this.#deps.get(d.pgtId) ?? [];
      list.push(d);
      this.#deps.set(d.pgtId, list);
    }
    this.#fused = rows.filter((r) => r.fuse.mode !== 'off' && r.fuse.state === 'armed').map((r) => r.pgtId);
    this.#fuseWindow.clear();
    for (const r of rows) this.#fuseWindow.set(r.pgtId, r.fuse.window ?? DEFAULT_FUSE_WINDOW);
    if (rows.some((r) => r.fuse.state === 'blown')) {
      await this.db.transaction((conn) => remindBlownFuses(conn)).catch(() => 0);
    }
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
          meta: metaOf(r, this.#fuseDefaultCeiling),
          schedule,
          reads: (this.#deps.get(r.pgtId) ?? []).map((d) =>
            d.sourceKind === 'streamTable' ? tableId(d.sourcePgtId as number) : `table:${d.sourceOid}`,
          ),
          diamondConsistency: r.diamondConsistency,
          diamondSchedulePolicy: r.diamondSchedulePolicy,
        };
      });
    const scheduled = new Set(tables.map((t) => t.meta.id));
    const snapshot: CatalogSnapshot = {
      tables,
      declaredGroups: declared.filter((g) => g.members.every((m) => scheduled.has(m))),
    };
    this.#loaded = { signature: this.#probe?.signature ?? '', at: now, rows, snapshot };
    return snapshot;
  }

  /**
   * Whether table `id`'s pending answer is the previous tick's: nothing committed since the
   * previous tick's load (every answer is reused as it is), or its "nothing pending" answer holds
   * under the rules of `pending-probe.ts` (no probe), which is what `pendingAll` answers in this
   * tick. The scheduler asks it to reuse the table's "nothing pending" verdict.
   */
  pendingUnchanged(id: string): boolean {
    if (this.#quiet) return true;
    const loaded = this.#loaded;
    const probe = this.#probe;
    if (loaded === null || probe === null) return false;
    this.#stillNothing ??= this.#pendingCache.stillNothingPending(loaded.rows, this.#deps, probe);
    return this.#stillNothing.has(Number(id));
  }

  /** Notes a refresh that changed data, so its readers are re-checked this tick. */
  noteRefreshed(pgtId: number): void {
    this.#refreshedThisTick.add(pgtId);
  }

  /** The base tables a stream table reads, through other stream tables (OIDs as text). */
  private baseSources(pgtId: number, visiting: Set<number> = new Set()): readonly string[] {
    const known = this.#baseSources.get(pgtId);
    if (known !== undefined) return known;
    // A cycle cannot be created; a corrupted catalog's one is cut here rather than followed.
    if (visiting.has(pgtId)) return [];
    visiting.add(pgtId);
    const out = new Set<string>();
    for (const d of this.#deps.get(pgtId) ?? []) {
      if (d.sourceKind === 'table') out.add(String(d.sourceOid));
      else if (d.sourceKind === 'streamTable' && d.sourcePgtId !== null)
        for (const s of this.baseSources(d.sourcePgtId, visiting)) out.add(s);
    }
    visiting.delete(pgtId);
    const list = [...out];
    this.#baseSources.set(pgtId, list);
    return list;
  }

  private pendingAll(): Promise<Map<number, boolean>> {
    const loaded = this.#loaded;
    const probe = this.#probe;
    this.#pending ??=
      loaded === null || probe === null
        ? readPending(this.db)
        : this.#pendingCache
            .pending(this.db, loaded.rows, this.#deps, probe, this.#quiet)
            .catch((error: unknown) => {
              this.#pendingCache.clear();
              throw error;
            });
    return this.#pending;
  }

  private async pendingOne(pgtId: number): Promise<boolean> {
    return (await pendingSourceCount(this.db, pgtId)) > 0;
  }

  /** What this table's fuse checks now (re-read alone when an upstream refreshed earlier this tick). */
  private async fuseCount(pgtId: number): Promise<FuseCount> {
    const none = { pending: 0, checked: 0, truncated: false };
    // Counted up to the tick's snapshot when the tick is bound: exactly the window its refresh applies.
    const upto = this.#tickSnapshot?.snapshot ?? null;
    if (this.upstreamRefreshed(pgtId))
      return (await readFuseCounts(this.db, [pgtId], upto)).get(pgtId) ?? none;
    this.#fuseCounts ??= readFuseCounts(this.db, this.#fused, upto);
    const all = await this.#fuseCounts;
    if (all.has(pgtId) || this.#fused.includes(pgtId)) return all.get(pgtId) ?? none;
    return (await readFuseCounts(this.db, [pgtId], upto)).get(pgtId) ?? none;
  }

  private async fuseSamples(pgtId: number): Promise<number[]> {
    this.#fuseSamples ??= readFuseSamples(this.db, this.#fused);
    const all = await this.#fuseSamples;
    if (all.has(pgtId) || this.#fused.includes(pgtId)) return all.get(pgtId) ?? [];
    return (await readFuseSamples(this.db, [pgtId])).get(pgtId) ?? [];
  }

  private upstreamRefreshed(pgtId: number): boolean {
    return (this.#deps.get(pgtId) ?? []).some(
      (d) => d.sourcePgtId !== null && this.#refreshedThisTick.has(d.sourcePgtId),
    );
  }

  contextProvider(_snapshot: CatalogSnapshot): ContextProvider {
    void _snapshot;
    return new ContextProvider()
      .provide(hasPendingSourceChanges, async (st) => {
        const pgtId = Number(st.id);
        const upstreamRefreshed = (this.#deps.get(pgtId) ?? []).some(
          (d) => d.sourcePgtId !== null && this.#refreshedThisTick.has(d.sourcePgtId),
        );
        if (upstreamRefreshed) return this.pendingOne(pgtId);
        return (await this.pendingAll()).get(pgtId) ?? false;
      })
      .provide(changedUpstreams, () => [])
      .provide(pendingChangeCount, async (st) => (await this.fuseCount(Number(st.id))).checked)
      .provide(pendingTruncate, async (st) => (await this.fuseCount(Number(st.id))).truncated)
      .provide(changeCountBaseline, async (st) => {
        const id = Number(st.id);
        const samples = await this.fuseSamples(id);
        return baselineOf(samples.slice(0, this.#fuseWindow.get(id) ?? DEFAULT_FUSE_WINDOW));
      })
      .provide(overCeilingStreak, async (st) =>
        st.fuse?.ceiling === null || st.fuse?.ceiling === undefined
          ? 0
          : overCeilingStreakOf(await this.fuseSamples(Number(st.id)), st.fuse.ceiling),
      )
      .provide(watermarkInputs, (st) => this.#watermarks.inputsFor(this.baseSources(Number(st.id))));
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
    if (effect.kind !== 'blow-fuse') return;
    await this.db.transaction((conn) =>
      blowFuse(conn, {
        pgtId: Number(effect.streamTable),
        reason: effect.reason,
        pending: effect.changeCount,
        ceiling: effect.ceiling ?? null,
        trigger: effect.trigger,
        ...(effect.baseline === undefined ? {} : { baseline: effect.baseline }),
      }),
    );
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
    // The tick bound applies to a unit with a member reading a base table directly.
    const snapshot =
      this.store !== null && members.some((m) => this.store?.readsBaseTable(Number(m)))
        ? this.store.tickSnapshotId
        : null;
    if (group === null || members.length === 1) {
      const member = members[0] as string;
      try {
        const work = (conn: Conn) => refreshMember(conn, member);
        await (snapshot === null ? this.db.transaction(work) : inSnapshot(this.db, snapshot, work));
      } catch (error) {
        failure = { member, error };
      }
    } else {
      const ids = members.map(Number);
      const r = await this.#strategy.execute(group, members, (m, tx) => refreshMember(tx.conn, m), {
        snapshot,
        beforeCommit: (conn) => advanceGroupEpochs(conn, ids),
      });
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
