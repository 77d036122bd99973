/**
 * The database-free description of a stream table that gates read. Rule: a plain readonly value
 * built by the caller (the scheduler from its catalog, tests by hand); gates never mutate it and
 * never fetch more than it holds — anything expensive or volatile (change counts, watermarks,
 * frontiers) comes from the `GateContext` instead, loaded only when a gate asks.
 */
import type { ScheduleSpec } from '@pgtrickle/dag';

/** Lifecycle status of a stream table (docs/scheduler.md, "Stream-table status"). */
export type StreamTableStatus = 'PENDING' | 'INITIALIZING' | 'ACTIVE' | 'SUSPENDED' | 'ERROR' | 'DROPPED';

/** How a stream table is maintained. */
export type RefreshMode = 'FULL' | 'DIFFERENTIAL' | 'IMMEDIATE';

/** A CALCULATED schedule already resolved by the DAG to a period (see `Dag.calculatedSchedules`). */
export interface CalculatedSchedule {
  readonly kind: 'calculated';
  /** The resolved period in milliseconds. */
  readonly periodMs: number;
}

/** The schedule the schedule gate applies: an explicit interval or cron, or a resolved CALCULATED period. */
export type ResolvedSchedule = ScheduleSpec | CalculatedSchedule;

/** Refresh tier: multiplies interval periods (hot ×1, warm ×2, cold ×10; frozen never refreshes on schedule). */
export type RefreshTier = 'hot' | 'warm' | 'cold' | 'frozen';

/** Fuse operating mode: off, a fixed ceiling only, or a z-score against a baseline (plus optional ceiling). */
export type FuseMode = 'off' | 'fixed' | 'statistical';

/** Fuse state: INTACT lets refreshes through; BLOWN blocks them until an explicit reset. */
export type FuseStateName = 'INTACT' | 'BLOWN';

/** A stream table's fuse configuration and current state. */
export interface FuseMeta {
  /** Operating mode. */
  readonly mode: FuseMode;
  /** Hard ceiling on pending changes (required in 'fixed' mode, optional in 'statistical'). */
  readonly ceiling?: number | null;
  /** z-score threshold in 'statistical' mode (default 3). */
  readonly sensitivity?: number;
  /** Baseline samples needed before the z-score applies (default 10). */
  readonly minSamples?: number;
  /**
   * Consecutive over-ceiling checks that blow the fuse (default 1): with n > 1, a batch above the
   * ceiling blows it only when the n − 1 batches applied just before it were above the ceiling too
   * (`overCeilingStreak`); a batch at or under the ceiling ends the streak.
   */
  readonly consecutive?: number;
  /** Current state. */
  readonly state: FuseStateName;
  /**
   * Set after a reset that accepts the pending changes (reset "apply"): the next check is skipped so
   * the accepted batch does not trip the fuse again; the caller clears it after that refresh.
   */
  readonly bypassNextCheck?: boolean;
  /** When it blew (BLOWN only). */
  readonly blownAt?: Date | null;
  /** Why it blew (BLOWN only). */
  readonly blownReason?: string | null;
}

/** The pure, database-free description of one stream table that gates evaluate. */
export interface StreamTableMeta {
  /** Stable id (e.g. the catalog's pgt_id as text); also the DAG node id. */
  readonly id: string;
  /** Qualified name for messages, e.g. "public.order_totals". */
  readonly name: string;
  /** Lifecycle status. */
  readonly status: StreamTableStatus;
  /** Refresh mode. */
  readonly refreshMode: RefreshMode;
  /** Schedule to apply (CALCULATED already resolved to a period). */
  readonly schedule: ResolvedSchedule;
  /** Refresh tier (default 'hot'). */
  readonly refreshTier?: RefreshTier;
  /** Last refresh of any kind (NO_DATA included); null = never refreshed. */
  readonly lastRefreshAt: Date | null;
  /** Last refresh that changed data; null = never. */
  readonly dataTimestamp?: Date | null;
  /** A reinitialization is pending (schema change, failed refresh): refresh regardless of schedule and changes. */
  readonly needsReinit?: boolean;
  /** Counted consecutive refresh errors. */
  readonly consecutiveErrors: number;
  /** Last error message, if any. */
  readonly lastError?: string | null;
  /** Fuse, if configured. */
  readonly fuse?: FuseMeta | null;
  /** Id of the consistency group (detected, declared or merged) this table refreshes with, if any. */
  readonly consistencyGroupId?: string | null;
  /** For a diamond apex: its direct inputs on diamond paths (from `Dag.diamonds()`); absent for other tables. */
  readonly diamondInputs?: readonly string[] | null;
  /** For a blue-green "green" table: the id of the blue table it will replace. */
  readonly greenOf?: string | null;
}
