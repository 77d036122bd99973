/** The public shapes of the stream-table API (`Trickle`'s arguments and results). */
import type { CompiledPlan, RequestedMode } from '@pgtrickle/dvm';
import type { LastDecision } from '../catalog/holds.js';
import type { FuseSettingsRow, StreamTableRow } from '../catalog/rows.js';
import type { DiamondSettings, FuseSettings } from '../catalog/settings.js';
import type { RefreshOutcome } from '../refresh.js';

/** What `createStreamTable` takes. */
export interface CreateStreamTableOptions {
  /** `[schema.]name`, SQL identifier rules (quote mixed case: `analytics."Order Totals"`). */
  readonly name: string;
  /** The defining SELECT. */
  readonly query: string;
  /** 'AUTO' (default), 'FULL', 'DIFFERENTIAL' or 'IMMEDIATE'. */
  readonly refreshMode?: RequestedMode;
  /** '30s', '5m', '1h30m', a cron expression, or 'calculated' / omitted (as often as its consumers). */
  readonly schedule?: string | null;
  /**
   * The role that owns it (default: the connection's role, which must be a member of the owner).
   * Its query runs with the owner's rights; see docs/security.md.
   */
  readonly owner?: string;
  /** The search_path the query's names resolve by (default: the connection's). */
  readonly searchPath?: string;
  /** Diamond consistency (default atomic, fastest). */
  readonly diamond?: DiamondSettings;
}

/** What `alterStreamTable` can change (omitted = unchanged). */
export interface AlterStreamTableOptions {
  readonly schedule?: string | null;
  readonly refreshMode?: RequestedMode;
  readonly query?: string;
  /** 'ACTIVE' resumes a SUSPENDED or ERROR table (it is rebuilt on its next refresh). */
  readonly status?: 'ACTIVE';
  /** Fuse settings (omitted fields unchanged). */
  readonly fuse?: FuseSettings;
  /** Diamond-consistency settings (omitted fields unchanged). */
  readonly diamond?: DiamondSettings;
}

/** One stream table as `status()` reports it. */
export interface StreamTableStatus {
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  readonly status: StreamTableRow['status'];
  readonly refreshMode: RequestedMode;
  /** What the table is maintained by now (AUTO resolves to DIFFERENTIAL or FULL). */
  readonly effectiveMode: StreamTableRow['effectiveMode'];
  /** Why AUTO chose FULL, if it did. */
  readonly modeReason: string | null;
  readonly schedule: string;
  readonly lastRefreshAt: Date | null;
  readonly dataTimestamp: Date | null;
  readonly consecutiveErrors: number;
  readonly lastError: string | null;
  readonly needsReinit: boolean;
  /** Names of the relations it reads. */
  readonly sources: readonly string[];
  /** The gate holding it back now (null: none; see docs/refresh-control.md, "Holds, skips and alerts"). */
  readonly hold: StreamTableRow['hold'];
  /** Its fuse's mode and state. */
  readonly fuse: {
    readonly mode: StreamTableRow['fuse']['mode'];
    readonly state: StreamTableRow['fuse']['state'];
  };
  /**
   * Its storage table no longer exists (dropped behind pgtrickle's back): the next refresh puts
   * it in ERROR (`PGT_STORAGE_MISSING`); drop the stream table to clean up.
   */
  readonly storageMissing: boolean;
  /**
   * Its storage table (`schema.name__pgt_storage`, quoted where needed): the table behind the
   * view of its name, with the hidden `__pgt_` columns; indexes for readers go on it.
   */
  readonly storage: string;
  /**
   * What it is in a blue-green deployment (docs/blue-green.md): 'table' (a stream table), 'green'
   * (the green copy of another, catching up), 'retired' (an old version kept for a rollback).
   */
  readonly role: 'table' | 'green' | 'retired';
}

/** What `explain()` returns. */
export interface StreamTableExplanation {
  readonly name: string;
  /** Its storage table (see {@link StreamTableStatus.storage}): where indexes for readers go. */
  readonly storage: string;
  readonly query: string;
  readonly requestedMode: RequestedMode;
  readonly mode: CompiledPlan['mode'];
  readonly fallbackReason: string | null;
  readonly uniqueRowIds: boolean;
  readonly columns: CompiledPlan['columns'];
  readonly hiddenColumns: readonly string[];
  readonly sources: readonly { readonly name: string; readonly kind: 'table' | 'streamTable' }[];
  readonly warnings: readonly string[];
  /** What the scheduler does with it: its hold, its last decision, its feature settings. */
  readonly scheduler: {
    /** The gate holding it back now (null: none). */
    readonly hold: StreamTableRow['hold'];
    /** The scheduler's last decision about it (null: never scheduled yet). */
    readonly lastDecision: LastDecision | null;
    readonly fuse: FuseSettingsRow;
    readonly diamond: {
      readonly consistency: StreamTableRow['diamondConsistency'];
      readonly schedulePolicy: StreamTableRow['diamondSchedulePolicy'];
    };
  };
  /**
   * The SQL that maintains it: storage DDL, population, and the one statement of a DIFFERENTIAL
   * refresh (`delta`: parameters are the previous frontier; null for FULL).
   */
  readonly sql: {
    readonly storage: readonly string[];
    readonly population: string;
    readonly delta: string | null;
  };
}

/** What one `refresh()` did. */
export type RefreshSummary = Omit<RefreshOutcome, 'sources' | 'pgtId' | 'row'>;
