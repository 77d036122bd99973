/**
 * The operator's snapshot: what /api/status, /ready and the gauges of /metrics show, read from the
 * catalog (the stats view, dependencies, the lease, `health()`, pending sources) plus what this
 * process saw (leadership, the current gate hold of each table, recent refreshes). Rule: one
 * snapshot serves every request for {@link SNAPSHOT_TTL_MS} (scrapes and the page's polling cost
 * the database one read per second at most); a catalog that cannot be read is a snapshot with
 * `catalog.ok = false` and the reason, never an exception.
 */
import {
  allDependencies,
  type Db,
  displayName,
  type HealthRow,
  LEADER_LOCK_KEY,
  readHealth,
  readLease,
  readPending,
  readStreamTableStats,
  type StreamTableStats,
} from '@pgtrickle/client';
import type { LiveState, RecentRefresh, TableHold } from './live.js';

/** How long a snapshot is reused. */
export const SNAPSHOT_TTL_MS = 1_000;

/** A stream table as the operator sees it. */
export interface TableView extends StreamTableStats {
  /** Whether a source has changes it has not applied (exact, from the frontier). */
  readonly pending: boolean;
  /** The gate that held it at the last tick of this process, if any. */
  readonly hold: TableHold | null;
}

/** A base table read by stream tables. */
export interface SourceView {
  readonly id: string;
  readonly name: string;
}

/** An edge of the DAG: `from` (a source id or a table's name) is read by `to` (a table's name). */
export interface EdgeView {
  readonly from: string;
  readonly to: string;
}

/** This process and the database's leader. */
export interface LeaderView {
  /** Whether this process leads. */
  readonly leading: boolean;
  /** The lease row: current holder and epoch, seconds since renewal. */
  readonly holder: string | null;
  readonly epoch: number | null;
  readonly leaseAgeSeconds: number | null;
  /** This process's name in the lease. */
  readonly self: string;
}

/** Everything the endpoints show, at one instant. */
export interface OperatorSnapshot {
  readonly at: string;
  readonly catalog: { readonly ok: boolean; readonly error: string | null };
  readonly service: { readonly running: boolean; readonly ticks: number; readonly lastTickAt: string | null };
  readonly leader: LeaderView;
  readonly tables: readonly TableView[];
  readonly sources: readonly SourceView[];
  readonly edges: readonly EdgeView[];
  readonly health: readonly HealthRow[];
  readonly recent: readonly RecentRefresh[];
}

/** What a snapshot is read from. */
export interface SnapshotSource {
  /** The operator view's own small pool (short timeouts). */
  readonly db: Db;
  readonly live: LiveState;
  /** The lease (`leader.lease_ms`), for health(). */
  readonly leaseMs: number;
  readonly holder: string;
}

function message(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return message(error.errors[0]);
  return error instanceof Error ? error.message || error.name : String(error);
}

/** Reads a snapshot now. */
export async function readSnapshot(src: SnapshotSource): Promise<OperatorSnapshot> {
  const live = src.live;
  // What this process saw is taken after the catalog reads, so it is at least as new as they are.
  const base = () => ({
    at: new Date().toISOString(),
    service: { running: live.running, ticks: live.ticks, lastTickAt: live.lastTickAt },
    recent: live.recentRefreshes(),
  });
  try {
    const [stats, deps, lease, health, pending] = await Promise.all([
      readStreamTableStats(src.db),
      allDependencies(src.db),
      readLease(src.db, LEADER_LOCK_KEY),
      readHealth(src.db, { leaseMs: src.leaseMs }),
      readPending(src.db),
    ]);
    const names = new Map(stats.map((s) => [s.pgtId, s.name]));
    live.learnNames(names);
    const sources = new Map<string, SourceView>();
    const edges: EdgeView[] = [];
    for (const d of deps) {
      const to = names.get(d.pgtId);
      if (to === undefined) continue;
      if (d.sourceKind === 'streamTable') {
        const from = names.get(d.sourcePgtId as number);
        if (from !== undefined) edges.push({ from, to });
      } else {
        const id = `table:${d.sourceOid}`;
        sources.set(id, { id, name: displayName(d.sourceSchema, d.sourceName) });
        edges.push({ from: id, to });
      }
    }
    return {
      ...base(),
      catalog: { ok: true, error: null },
      leader: {
        leading: live.leading,
        holder: lease?.holder ?? null,
        epoch: lease === null ? null : lease.epoch,
        leaseAgeSeconds: lease?.ageSeconds ?? null,
        self: src.holder,
      },
      tables: stats.map((s) => ({
        ...s,
        pending: pending.get(s.pgtId) ?? false,
        hold: live.holdOf(String(s.pgtId)),
      })),
      sources: [...sources.values()],
      edges,
      health,
    };
  } catch (error) {
    return {
      ...base(),
      catalog: { ok: false, error: message(error) },
      leader: { leading: live.leading, holder: null, epoch: null, leaseAgeSeconds: null, self: src.holder },
      tables: [],
      sources: [],
      edges: [],
      health: [],
    };
  }
}

/** Reuses a snapshot for {@link SNAPSHOT_TTL_MS}; concurrent callers share one read. */
export class SnapshotCache {
  #value: { at: number; snapshot: Promise<OperatorSnapshot> } | null = null;

  constructor(private readonly read: () => Promise<OperatorSnapshot>) {}

  /** A snapshot at most {@link SNAPSHOT_TTL_MS} old. */
  get(): Promise<OperatorSnapshot> {
    const now = Date.now();
    if (this.#value === null || now - this.#value.at >= SNAPSHOT_TTL_MS) {
      this.#value = { at: now, snapshot: this.read() };
    }
    return this.#value.snapshot;
  }

  /** Forgets the cached snapshot (the next request reads again). */
  invalidate(): void {
    this.#value = null;
  }
}
