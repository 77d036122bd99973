/**
 * The context values the built-in gates ask for. Rule: each is a typed key; the caller's
 * `ContextProvider` loads it (the scheduler over the catalog and change buffers, tests over fakes).
 * Keys with a `fallback` derive their value from other keys when the provider has no loader.
 * Generic gates (LSN tick, watermark, diamond, convergence frontiers) take their keys as options;
 * the keys here are the defaults those gates use.
 */
import type { ConsistencyGroup, RefreshUnit } from '@pgtrickle/groups';
import type { SummaryStatistics } from '@pgtrickle/stats';
import type { WatermarkGroup } from '@pgtrickle/watermark';
import { defineContextKey, defineTickKey } from './context.js';
import type { StreamTableMeta } from './meta.js';

/** Rows waiting in the change buffers of this stream table's base sources, in its refresh window (fuse input). */
export const pendingChangeCount = defineContextKey<number>('pendingChangeCount', {
  description: 'change rows pending for this stream table across its base sources',
});

/** Whether a TRUNCATE of a base source is among this table's pending changes (fuse input; default false). */
export const pendingTruncate = defineContextKey<boolean>('pendingTruncate', {
  description: 'whether a source was truncated in the pending changes',
  fallback: () => false,
});

/**
 * How many of this table's most recently applied batches, newest first and consecutive, were above
 * its fuse's ceiling (fuse input when it needs several consecutive over-ceiling checks; default 0).
 */
export const overCeilingStreak = defineContextKey<number>('overCeilingStreak', {
  description: 'consecutive most recent applied batches above the fuse ceiling',
  fallback: () => 0,
});

/**
 * Whether any base source of this stream table has pending changes (one EXISTS per source over its
 * change buffer, in the table's refresh window). Falls back to `pendingChangeCount > 0` when the provider has no cheaper loader.
 */
export const hasPendingSourceChanges = defineContextKey<boolean>('hasPendingSourceChanges', {
  description: 'whether any base source has pending changes',
  fallback: async (_st, ctx) => (await ctx.get(pendingChangeCount)) > 0,
});

/** Ids of upstream stream tables with new data since this table's last refresh (stream-table sources). */
export const changedUpstreams = defineContextKey<readonly string[]>('changedUpstreams', {
  description: 'upstream stream tables that produced changes since this table last refreshed',
});

/** The refresh unit the scheduler is running this table in (null: evaluated on its own). */
export const currentRefreshUnit = defineContextKey<RefreshUnit | null>('currentRefreshUnit', {
  description: 'the refresh unit (group or single) this table is being evaluated in',
});

/** The metas of every member of this table's consistency group (it may be included; it is ignored). */
export const groupMembers = defineContextKey<readonly StreamTableMeta[]>('groupMembers', {
  description: "metas of the members of this table's consistency group",
});

/** For a green table: the meta of the blue table it will replace (null if unknown). */
export const blueMeta = defineContextKey<StreamTableMeta | null>('blueMeta', {
  description: 'meta of the blue table a green table will replace',
});

/** For a green table: content hashes of the blue and green tables' rows (null = not computed). */
export const contentHashes = defineContextKey<{
  readonly blue: string | null;
  readonly green: string | null;
}>('contentHashes', { description: 'content hashes of the blue and green tables' });

/** For a green table: the blue and green frontiers as pg_lsn text (null = none yet). */
export const blueGreenFrontiers = defineContextKey<{
  readonly blue: string | null;
  readonly green: string | null;
}>('blueGreenFrontiers', { description: 'frontier upper bounds (pg_lsn) of the blue and green tables' });

/** The tick's upper bound as pg_lsn text (captured once per tick after holdback); null = not captured. */
export const tickLsn = defineTickKey<string | null>('tickLsn', {
  description: "the tick's WAL upper bound every refresh is capped to",
});

/** This table's current frontier upper bound as pg_lsn text (max over its sources); null = never refreshed. */
export const frontierLsn = defineContextKey<string | null>('frontierLsn', {
  description: "this table's frontier upper bound",
});

/** This table's own consistency group definition (members, isolation); null when in none. */
export const ownConsistencyGroup = defineContextKey<ConsistencyGroup | null>('ownConsistencyGroup', {
  description: 'the consistency group this table belongs to',
});

/** For a diamond apex: the frontier (pg_lsn upper bound) of each of its `diamondInputs` (undefined = never refreshed). */
export const diamondFrontiers = defineContextKey<ReadonlyMap<string, string | undefined>>(
  'diamondFrontiers',
  {
    description: "frontier of each of a diamond apex's inputs",
  },
);

/** Baseline statistics of this table's recent per-refresh change counts (statistical fuse input). */
export const changeCountBaseline = defineContextKey<SummaryStatistics>('changeCountBaseline', {
  description: 'summary statistics of recent per-refresh change counts',
});

/**
 * What the watermark gate decides from, for one table: its transitive base sources, the watermark
 * groups that may concern it, each source's watermark and the sources found stuck.
 */
export interface WatermarkInputs<T, D> {
  /** The table's transitive base sources (ids as the groups name them). */
  readonly sources: readonly string[];
  /** The watermark groups (those sharing no source with `sources` are ignored). */
  readonly groups: readonly WatermarkGroup<D>[];
  /** Current watermark per source id (undefined = none yet). */
  readonly watermarks: ReadonlyMap<string, T | undefined>;
  /** Sources whose watermark has not advanced for longer than the timeout, with for how long (absent: detection off). */
  readonly stuck?: ReadonlyMap<string, D>;
  /** The stuck-detection timeout, for reasons. */
  readonly stuckTimeout?: D;
  /** How to name a source in a reason (default: its id). */
  readonly sourceNames?: ReadonlyMap<string, string>;
}

/**
 * The table's sources, the groups and the watermarks as epoch microseconds, distances in
 * microseconds (null = no watermark group concerns the table; a provider without a loader has
 * no groups).
 */
export const watermarkInputs = defineContextKey<WatermarkInputs<number, number> | null>('watermarkInputs', {
  description: "the table's base sources, the watermark groups and their sources' watermarks",
  fallback: () => null,
});

/** A snapshot frontier: the pg_snapshot a refresh read as of, and the epochs of its stream-table sources. */
export interface SnapshotFrontier {
  /** pg_snapshot text. */
  readonly snapshot: string;
  /** Epoch read of each stream-table source, by the source's id. */
  readonly epochs: Readonly<Record<string, string>>;
}

/** For a green table: the blue and green snapshot frontiers (null = none yet). */
export const blueGreenSnapshotFrontiers = defineContextKey<{
  readonly blue: SnapshotFrontier | null;
  readonly green: SnapshotFrontier | null;
}>('blueGreenSnapshotFrontiers', { description: 'snapshot frontiers of the blue and green tables' });
