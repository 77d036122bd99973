/**
 * The running service behind `pgtrickle run`: leadership, the SQL API's requests, the scheduler
 * loop and its wake-ups, on one database. Rules:
 * - any number of services may run against a database; only the leader processes requests and
 *   refreshes (see `leader.ts`); the others retry every poll interval and take over when it dies;
 * - wake-ups come from LISTEN (`pgtrickle_wake`: a source changed; `pgtrickle_requests`: a
 *   request was made), debounced by the scheduler, with polling as the fallback (the listening
 *   connection is re-opened when it drops);
 * - `stop()` lets the tick in flight finish (its refreshes commit or roll back), then gives up
 *   the lead and closes every connection;
 * - every connection carries this process's tag in its `application_name` (so a standby can end
 *   them all if this process stops answering) and TCP keepalives;
 * - the leader does its housekeeping before ticks (`maintenance.ts`: buffers pinned by stuck
 *   tables, history and request retention);
 * - when the catalog disappears (uninstalled, dropped), the service stops by itself with one
 *   `CatalogMissingError` (`failure` resolves with it) instead of failing every poll.
 */
import type { Clock } from '@pgtrickle/gates';
import {
  type RetryPolicy,
  Scheduler,
  type SchedulerLogger,
  silentLogger,
  type TickReport,
} from '@pgtrickle/scheduler';
import pg from 'pg';
import { nothingPendingIds, recordChecked } from '../catalog/freshness.js';
import { writeServiceSettings } from '../catalog/fuse.js';
import { HoldRecorder } from '../catalog/holds.js';
import { taggedApplicationName } from '../catalog/leader-lease.js';
import type { RetentionPolicy } from '../catalog/retention.js';
import { installedVersion } from '../catalog/schema-version.js';
import { sqlState } from '../db.js';
import { CatalogMissingError, type ClientError, InvalidArgumentError } from '../errors.js';
import { connect, type Trickle } from '../trickle.js';
import { KEEPALIVE, Leadership, newTag } from './leader.js';
import { Maintenance } from './maintenance.js';
import { notify, observedExecutor, type ServiceObserver } from './observer.js';
import { processRequests } from './requests.js';
import { PgSchedulerStore, PgUnitExecutor } from './store.js';

/** Options of {@link TrickleService.start}. */
export interface ServiceOptions {
  readonly connectionString: string;
  /** Who this process is (lease row, logs); default `<hostname>:<pid>`. */
  readonly holder?: string;
  /** Longest wait between ticks, ms (default 1000). */
  readonly pollIntervalMs?: number;
  /** Units refreshed in parallel (default 4). */
  readonly concurrency?: number;
  /** Bound every refresh of a tick by one snapshot taken at the tick's start (default true; docs/refresh-control.md, "The tick bound"). */
  readonly tickBound?: boolean;
  /** Wake-up debounce, ms (default 25). */
  readonly debounceMs?: number;
  /** A tick started by a wake-up begins at least this long after the previous one, ms (default 50). */
  readonly minWakeIntervalMs?: number;
  /** A silent leader is replaced after this long, ms (default 10000). */
  readonly leaseMs?: number;
  /** The longest wait for the lease row when taking over, ms (default min(leaseMs, 5000)). */
  readonly leaseLockTimeoutMs?: number;
  /** Least time between two housekeeping passes of the leader, ms (default 10000). */
  readonly maintenanceIntervalMs?: number;
  /** Unconsumed rows a SUSPENDED/ERROR/failing table may hold in one buffer before it is released for a FULL rebuild (default 100000). */
  readonly maxPinnedRows?: number;
  /** Retention of the refresh history and finished requests (default 7 days / 10000 rows per table, 1 day). */
  readonly retention?: Partial<RetentionPolicy>;
  readonly retry?: Partial<RetryPolicy>;
  readonly autoFullRatio?: number;
  /** Ceiling of fuses that set none of their own (0, the default: none; an 'on' fuse without a ceiling is inert). */
  readonly fuseDefaultCeiling?: number;
  readonly logger?: SchedulerLogger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Called after every tick. */
  readonly onTick?: (report: TickReport) => void;
  /** Watches refreshes and ticks (metrics, a status page). */
  readonly observer?: ServiceObserver;
  /**
   * A watermarked source in a watermark group that has not advanced for longer than this is stuck:
   * tables sharing a source with its groups are held and a `watermark_stuck` alert goes out, ms
   * (default 0: never stuck).
   */
  readonly watermarkHoldbackTimeoutMs?: number;
}

/** The system clock (the service is where real time enters). */
export const systemClock: Clock = { now: () => new Date() };

/** A running service. */
export class TrickleService {
  readonly #stop = new AbortController();
  #running: Promise<void> | null = null;
  #listener: pg.Client | null = null;
  #closed = false;
  #failure: ClientError | null = null;
  #onFailure: ((error: ClientError) => void) | null = null;
  /** Resolves with the error that made the service stop by itself (never resolves otherwise). */
  readonly failure: Promise<ClientError>;
  readonly #maintenance: Maintenance;
  #checks: Promise<void> = Promise.resolve();
  readonly #holds: HoldRecorder;

  private constructor(
    readonly trickle: Trickle,
    readonly leadership: Leadership,
    readonly scheduler: Scheduler,
    private readonly options: ServiceOptions,
    private readonly logger: SchedulerLogger,
  ) {
    this.failure = new Promise((resolve) => {
      this.#onFailure = resolve;
    });
    this.#holds = new HoldRecorder(trickle.db);
    this.#maintenance = new Maintenance(
      trickle.db,
      {
        ...(options.maintenanceIntervalMs === undefined ? {} : { intervalMs: options.maintenanceIntervalMs }),
        ...(options.maxPinnedRows === undefined ? {} : { maxPinnedRows: options.maxPinnedRows }),
        ...(options.retention === undefined ? {} : { retention: options.retention }),
      },
      logger,
    );
  }

  /** Connects, installs or upgrades the catalog, and starts working (as leader or standby). */
  static async start(options: ServiceOptions): Promise<TrickleService> {
    const logger = options.logger ?? silentLogger;
    const ceiling = options.fuseDefaultCeiling;
    if (ceiling !== undefined && !(Number.isSafeInteger(ceiling) && ceiling >= 0)) {
      throw new InvalidArgumentError(
        `fuseDefaultCeiling must be a whole number ≥ 0 (0: no default ceiling), got ${ceiling}.`,
      );
    }
    const tag = newTag();
    const trickle = await connect({
      poolConfig: {
        connectionString: options.connectionString,
        application_name: taggedApplicationName('sidecar', tag),
        ...KEEPALIVE,
      },
      ...(options.autoFullRatio === undefined ? {} : { autoFullRatio: options.autoFullRatio }),
    });
    try {
      await trickle.install();
    } catch (error) {
      await trickle.close().catch(() => undefined);
      throw error;
    }
    const holder = options.holder ?? `${(await import('node:os')).hostname()}:${process.pid}`;
    const leadership = new Leadership({
      connectionString: options.connectionString,
      holder,
      tag,
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.leaseLockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.leaseLockTimeoutMs }),
      log: (level, event, fields) => logger[level](event, { holder, ...fields }),
    });
    const store = new PgSchedulerStore(trickle.db, {
      tickBound: options.tickBound ?? true,
      fuseDefaultCeiling: options.fuseDefaultCeiling ?? 0,
      ...(options.watermarkHoldbackTimeoutMs === undefined
        ? {}
        : { watermarkHoldbackTimeoutMs: options.watermarkHoldbackTimeoutMs }),
      logger,
    });
    const executor = observedExecutor(
      new PgUnitExecutor(trickle.db, trickle.engineState, store, (conn) => leadership.fence(conn)),
      options.observer,
    );
    let service: TrickleService | null = null;
    const scheduler = new Scheduler({
      store,
      executor,
      clock: options.clock ?? systemClock,
      logger,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
      ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
      ...(options.minWakeIntervalMs === undefined ? {} : { minWakeIntervalMs: options.minWakeIntervalMs }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      onTick: (report) => (service as TrickleService).afterTick(report),
      beforeTick: () => (service as TrickleService).beforeTick(),
    });
    service = new TrickleService(trickle, leadership, scheduler, options, logger);
    leadership.onLost = () => logger.warn('leadership-lost', { holder });
    await service.listen();
    service.#running = scheduler.run(service.#stop.signal);
    return service;
  }

  /** Whether this process leads now. */
  get leading(): boolean {
    return this.leadership.leading;
  }

  /** The tag in the application_name of this process's connections. */
  get tag(): string {
    return this.leadership.tag;
  }

  private async beforeTick(): Promise<boolean> {
    try {
      return await this.leadAndPrepare();
    } catch (error) {
      if (await this.catalogGone(error)) {
        this.fail(new CatalogMissingError({ cause: error }));
        return false;
      }
      throw error;
    }
  }

  /** Whether `error` comes from the catalog having disappeared. */
  private async catalogGone(error: unknown): Promise<boolean> {
    const state = sqlState(error);
    if (state !== '42P01' && state !== '3F000' && state !== '42883') return false;
    return (await installedVersion(this.trickle.db).catch(() => -1)) === 0;
  }

  /** Stops by itself with `error` (the lead is released, connections closed). */
  private fail(error: ClientError): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    this.logger.error('service-failed', { code: error.code, error: error.message });
    this.#stop.abort();
    this.#onFailure?.(error);
  }

  private async leadAndPrepare(): Promise<boolean> {
    // The previous tick's records (freshness, holds) commit before this tick takes its snapshot:
    // a write on a stream table's row after the tick bound would fail that table's refresh (40001).
    await this.#checks;
    if (!this.leadership.leading) {
      const got = await this.leadership.tryAcquire();
      if (!got) return false;
      this.logger.info('leadership-acquired', { epoch: this.leadership.epoch });
      // what pgtrickle.fuse_status() shows as the default ceiling is this leader's
      await writeServiceSettings(this.trickle.db, {
        fuseDefaultCeiling: this.options.fuseDefaultCeiling ?? 0,
      });
    } else if (!(await this.leadership.renew())) {
      return false;
    }
    const r = await processRequests(this.trickle);
    if (r.done + r.failed > 0) this.logger.info('requests-processed', { ...r });
    await this.#maintenance.maybeRun(Date.now());
    if (this.#listener === null) await this.listen().catch(() => undefined);
    return this.leadership.leading;
  }

  /**
   * Records the tables found with nothing to apply as fresh, and the gates' holds and decisions
   * (`catalog/holds.ts`), then tells the hooks.
   */
  private afterTick(report: TickReport): void {
    const ids = nothingPendingIds(report);
    const logged = (event: string) => (error: unknown) =>
      this.logger.warn(event, { error: error instanceof Error ? error.message : String(error) });
    if (ids.length > 0) {
      this.#checks = this.#checks
        .then(() => recordChecked(this.trickle.db, ids, report.at))
        .then(() => undefined, logged('freshness-not-recorded'));
    }
    this.#checks = this.#checks
      .then(() => this.#holds.record(report))
      .then(() => undefined, logged('holds-not-recorded'));
    this.options.onTick?.(report);
    notify(this.options.observer, 'tickCompleted', report, Date.now() - report.at.getTime());
  }

  private async listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: taggedApplicationName('listener', this.leadership.tag),
      ...KEEPALIVE,
    });
    client.on('notification', () => this.scheduler.wake());
    client.on('error', () => {
      if (this.#listener === client) this.#listener = null;
    });
    client.on('end', () => {
      if (this.#listener === client) this.#listener = null;
    });
    await client.connect();
    await client.query('LISTEN pgtrickle_wake');
    await client.query('LISTEN pgtrickle_requests');
    this.#listener = client;
  }

  /** Stops: the tick in flight completes, then the lead is released and connections closed. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    await this.#running?.catch(() => undefined);
    await this.#checks;
    const listener = this.#listener;
    this.#listener = null;
    await listener?.end().catch(() => undefined);
    await this.leadership.release();
    await this.trickle.close();
  }
}
