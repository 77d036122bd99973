/**
 * The running service behind `pgtrickle run`: leadership, the SQL API's requests, the scheduler
 * loop and its wake-ups, on one database. Rules:
 * - any number of services may run against a database; only the leader processes requests and
 *   refreshes (see `leader.ts`); the others retry every poll interval and take over when it dies;
 * - wake-ups come from LISTEN (`pgtrickle_wake`: a source changed; `pgtrickle_requests`: a
 *   request was made), debounced by the scheduler, with polling as the fallback (the listening
 *   connection is re-opened when it drops);
 * - `stop()` lets the tick in flight finish (its refreshes commit or roll back), then gives up
 *   the lead and closes every connection.
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
import { connect, type Trickle } from '../trickle.js';
import { Leadership } from './leader.js';
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
  /** Wake-up debounce, ms (default 25). */
  readonly debounceMs?: number;
  /** A tick started by a wake-up begins at least this long after the previous one, ms (default 50). */
  readonly minWakeIntervalMs?: number;
  /** A silent leader is replaced after this long, ms (default 10000). */
  readonly leaseMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly autoFullRatio?: number;
  readonly logger?: SchedulerLogger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Called after every tick. */
  readonly onTick?: (report: TickReport) => void;
  /** Watches refreshes and ticks (metrics, a status page). */
  readonly observer?: ServiceObserver;
}

/** The system clock (the service is where real time enters). */
export const systemClock: Clock = { now: () => new Date() };

/** A running service. */
export class TrickleService {
  readonly #stop = new AbortController();
  #running: Promise<void> | null = null;
  #listener: pg.Client | null = null;
  #closed = false;
  #checks: Promise<void> = Promise.resolve();

  private constructor(
    readonly trickle: Trickle,
    readonly leadership: Leadership,
    readonly scheduler: Scheduler,
    private readonly options: ServiceOptions,
    private readonly logger: SchedulerLogger,
  ) {}

  /** Connects, installs or upgrades the catalog, and starts working (as leader or standby). */
  static async start(options: ServiceOptions): Promise<TrickleService> {
    const logger = options.logger ?? silentLogger;
    const trickle = await connect({
      poolConfig: { connectionString: options.connectionString, application_name: 'pgtrickle' },
      ...(options.autoFullRatio === undefined ? {} : { autoFullRatio: options.autoFullRatio }),
    });
    await trickle.install();
    const holder = options.holder ?? `${(await import('node:os')).hostname()}:${process.pid}`;
    const leadership = new Leadership({
      connectionString: options.connectionString,
      holder,
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    });
    const store = new PgSchedulerStore(trickle.db);
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

  private async beforeTick(): Promise<boolean> {
    if (!this.leadership.leading) {
      const got = await this.leadership.tryAcquire();
      if (!got) return false;
      this.logger.info('leadership-acquired', { epoch: this.leadership.epoch });
    } else if (!(await this.leadership.renew())) {
      return false;
    }
    const r = await processRequests(this.trickle);
    if (r.done + r.failed > 0) this.logger.info('requests-processed', { ...r });
    if (this.#listener === null) await this.listen().catch(() => undefined);
    return this.leadership.leading;
  }

  /** Records the tables found with nothing to apply as fresh, then tells the hooks. */
  private afterTick(report: TickReport): void {
    const ids = nothingPendingIds(report);
    if (ids.length > 0) {
      this.#checks = this.#checks
        .then(() => recordChecked(this.trickle.db, ids, report.at))
        .then(
          () => undefined,
          (error: unknown) =>
            this.logger.debug('freshness-not-recorded', {
              error: error instanceof Error ? error.message : String(error),
            }),
        );
    }
    this.options.onTick?.(report);
    notify(this.options.observer, 'tickCompleted', report, Date.now() - report.at.getTime());
  }

  private async listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: 'pgtrickle listener',
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
