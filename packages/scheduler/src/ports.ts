/**
 * What the scheduler needs from the world, as ports. Rule: the scheduler itself is pure — it never
 * touches a database, a socket or the real clock; the client implements these ports over
 * PostgreSQL, tests over in-memory fakes.
 */
import type { ScheduleSpec } from '@pgtrickle/dag';
import type { ContextProvider, GateEffect, StreamTableMeta } from '@pgtrickle/gates';
import type { ConsistencyGroup, DeclaredGroup, RefreshUnit } from '@pgtrickle/groups';
import type { TickPlan } from './plan.js';

/** One stream table as the scheduler sees it. */
export interface ScheduledTable {
  /** What the gates read (its `schedule` is replaced by the resolved one each tick). */
  readonly meta: StreamTableMeta;
  /** Its own schedule; null = CALCULATED (as often as its most frequent consumer). */
  readonly schedule: ScheduleSpec | null;
  /** Ids of what it reads: other stream tables' ids, or base-table source ids. */
  readonly reads: readonly string[];
  /** Diamond consistency: 'atomic' (default) or 'none' (its diamond group refreshes member by member). */
  readonly diamondConsistency?: 'none' | 'atomic';
  /** Diamond schedule policy (read from convergence points): 'fastest' (default) or 'slowest'. */
  readonly diamondSchedulePolicy?: 'fastest' | 'slowest';
}

/** The catalog as loaded at the start of a tick. */
export interface CatalogSnapshot {
  readonly tables: readonly ScheduledTable[];
  /** User-declared co-refresh groups. */
  readonly declaredGroups: readonly DeclaredGroup[];
}

/** The scheduler's view of the catalog. */
export interface SchedulerStore {
  /** Loads the stream tables, what they read and the declared groups. */
  load(): Promise<CatalogSnapshot>;
  /** The loaders of gate context values for one tick over `snapshot` (they may batch per tick). */
  contextProvider(snapshot: CatalogSnapshot): ContextProvider;
  /** Suspends a table after repeated failures, recording the reason. */
  suspend(id: string, reason: string): Promise<void>;
  /** Applies a gate's effect (e.g. blow a fuse). */
  applyEffect(effect: GateEffect): Promise<void>;
  /** Told the tick's plan before any unit is evaluated (e.g. to record its groups, to open the tick bound). */
  beginTick?(plan: TickPlan): Promise<void>;
  /** Told when the tick is over (every unit settled), success or not. */
  endTick?(): Promise<void>;
  /**
   * Asked during a tick, after `load()`: true when table `id`'s pending answers
   * (`hasPendingSourceChanges`, `changedUpstreams`) are, unless an upstream unit acts in this
   * tick, those of the previous tick — nothing they rest on changed since (e.g. no transaction
   * committed, or none wrote to its sources). The scheduler then reuses the table's previous
   * "nothing pending" verdict when no unit upstream of it acted this tick. Absent or false: the
   * table is evaluated in full.
   */
  pendingUnchanged?(id: string): boolean;
}

/** What one member's refresh did. */
export interface MemberResult {
  readonly id: string;
  /** FULL, DIFFERENTIAL, NO_DATA, REINITIALIZE, or SKIPPED (another session held it). */
  readonly action: string;
  readonly rowsInserted?: number;
  readonly rowsDeleted?: number;
  readonly reason?: string | null;
}

/** The outcome of executing one unit. */
export type UnitOutcome =
  | { readonly ok: true; readonly results: readonly MemberResult[] }
  | {
      readonly ok: false;
      /** The member that failed (null: the group's transaction itself failed). */
      readonly failedMember: string | null;
      readonly error: unknown;
      /** True when retrying cannot help (the executor has already put the table in ERROR). */
      readonly permanent: boolean;
      /**
       * True when the same refresh can succeed when tried again (a cancel, a deadlock, a lost
       * connection…): retried with backoff, never counted towards suspension.
       */
      readonly transient?: boolean;
    };

/** Runs refreshes. */
export interface UnitExecutor {
  /**
   * Refreshes `members` of `unit` (in order): one alone, several atomically in one transaction at
   * the group's isolation (a GroupExecutionStrategy). Must not throw: failures are outcomes.
   */
  execute(
    unit: RefreshUnit,
    members: readonly string[],
    group: ConsistencyGroup | null,
  ): Promise<UnitOutcome>;
}

/** Waits (the loop's only use of time besides the clock); resolves early when `signal` aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** A structured log sink (the sidecar passes its logger). */
export interface SchedulerLogger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const silentLogger: SchedulerLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
