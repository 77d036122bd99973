/**
 * The leader's housekeeping, at most once per `intervalMs`, before a tick. Rules:
 * - a table that is not being refreshed (SUSPENDED, ERROR, failing) and holds more than
 *   `maxPinnedRows` unconsumed rows in a shared buffer is released (`pinned-buffers.ts`: FULL
 *   reinitialisation later, frontier moved to now), then every buffer is trimmed, so a stuck table
 *   never makes the buffers grow without bound;
 * - the refresh history and finished requests are trimmed by the retention policy, in small
 *   batches (`retention.ts`);
 * - housekeeping never fails a tick: an error is logged and tried again next time.
 */
import type { SchedulerLogger } from '@pgtrickle/scheduler';
import { pinnedBuffers, releaseFrontier } from '../catalog/pinned-buffers.js';
import { allDependencies } from '../catalog/read-dependencies.js';
import { applyRetention, DEFAULT_RETENTION, type RetentionPolicy } from '../catalog/retention.js';
import { type CleanupTarget, cleanupBuffers, cleanupTargets } from '../cdc.js';
import type { Db } from '../db.js';
import { displayName } from '../names.js';

/** Options of the housekeeping. */
export interface MaintenanceOptions {
  /** Least time between two passes, ms (default 10000). */
  readonly intervalMs?: number;
  /** Unconsumed rows a non-refreshing table may hold in one buffer before it is released (default 100000). */
  readonly maxPinnedRows?: number;
  /** Retention of history and requests (partial: the rest from the default). */
  readonly retention?: Partial<RetentionPolicy>;
}

/** The default bound of rows a stuck table may pin in one buffer. */
export const DEFAULT_MAX_PINNED_ROWS = 100_000;

/** What one pass did. */
export interface MaintenanceReport {
  readonly released: readonly string[];
  readonly bufferRowsDeleted: number;
  readonly historyRowsDeleted: number;
  readonly requestsDeleted: number;
}

/** Every buffer that may be trimmed (each source once). */
export async function allCleanupTargets(db: Db): Promise<CleanupTarget[]> {
  const seen = new Set<string>();
  const out: CleanupTarget[] = [];
  for (const t of cleanupTargets(await allDependencies(db))) {
    const key = t.kind === 'table' ? `t${t.oid}` : `s${t.pgtId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(t);
  }
  return out;
}

/** One housekeeping pass: release tables pinning buffers past the bound, trim buffers, apply retention. */
export async function maintain(
  db: Db,
  options: Omit<MaintenanceOptions, 'intervalMs'> = {},
): Promise<MaintenanceReport> {
  const bound = options.maxPinnedRows ?? DEFAULT_MAX_PINNED_ROWS;
  const pinned = await pinnedBuffers(db, bound, bound);
  const released: string[] = [];
  for (const id of new Set(pinned.map((p) => p.pgtId))) {
    const p = pinned.find((x) => x.pgtId === id);
    if (p === undefined) continue;
    if (await db.transaction((conn) => releaseFrontier(conn, id)))
      released.push(displayName(p.schema, p.name));
  }
  const bufferRowsDeleted = await cleanupBuffers(db, await allCleanupTargets(db));
  const r = await applyRetention(db, { ...DEFAULT_RETENTION, ...options.retention });
  return { released, bufferRowsDeleted, historyRowsDeleted: r.historyRows, requestsDeleted: r.requests };
}

/** Runs `maintain` at most once per interval; never throws. */
export class Maintenance {
  #last = Number.NEGATIVE_INFINITY;
  #running: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly options: MaintenanceOptions,
    private readonly logger: SchedulerLogger,
  ) {}

  /** A pass, if the interval has passed since the last one (and none is running). */
  async maybeRun(nowMs: number): Promise<void> {
    if (this.#running !== null || nowMs - this.#last < (this.options.intervalMs ?? 10_000)) return;
    this.#last = nowMs;
    this.#running = (async () => {
      try {
        const r = await maintain(this.db, this.options);
        for (const name of r.released)
          this.logger.warn('buffer-released', {
            table: name,
            note: `it held more than ${this.options.maxPinnedRows ?? DEFAULT_MAX_PINNED_ROWS} unconsumed rows while not refreshed; it will be rebuilt by a FULL refresh`,
          });
        if (r.historyRowsDeleted + r.requestsDeleted > 0)
          this.logger.debug('retention', { history: r.historyRowsDeleted, requests: r.requestsDeleted });
      } catch (error) {
        this.logger.warn('maintenance-failed', {
          error: error instanceof Error ? error.message : String(error),
        });
      } finally {
        this.#running = null;
      }
    })();
    await this.#running;
  }
}
