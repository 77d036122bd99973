/**
 * `pgtrickle run`: the service (leadership, the SQL API's requests, the scheduler and its
 * wake-ups) until SIGINT/SIGTERM. Rules:
 * - the catalog is installed or upgraded at start (with progress on a terminal);
 * - on the first signal, `stop()` lets the tick in flight finish — each refresh commits or rolls
 *   back as a whole — then releases the lead and closes every connection; exit 0;
 * - a second signal, or a stop that takes longer than the shutdown timeout, exits 1 at once: the
 *   database rolls back whatever was in flight when the connections close;
 * - a database that cannot be reached at start is retried with backoff (1 s doubling to 30 s, each
 *   attempt logged as `database-unreachable`), as a running service retries a database that went
 *   away — for ever by default, or until `connection.start_retry_s` seconds, then `PGT_CONNECTION`;
 *   a refused login (wrong password, no such role) is not retried;
 * - a service whose catalog disappears (uninstalled, dropped) stops with `PGT_CATALOG_MISSING`
 *   (exit 1) instead of failing every poll.
 */
import os from 'node:os';
import {
  allStreamTables,
  CATALOG_VERSION,
  Db,
  displayName,
  installedVersion,
  KEEPALIVE,
  LEADER_LOCK_KEY,
  readLease,
  TrickleService,
} from '@pgtrickle/client';
import type { TickReport } from '@pgtrickle/scheduler';
import { redactUrl } from '../config.js';
import {
  asConnectionError,
  type CommandContext,
  isUnreachable,
  processStopSignal,
  untilAborted,
} from '../context.js';
import { SidecarError } from '../errors.js';
import { parseListenAddress } from '../http/address.js';
import { type OperatorView, startOperatorView } from '../http/view.js';
import type { SidecarLogger } from '../logger.js';
import { startProgress } from '../progress.js';

/** Options of `pgtrickle run`. */
export interface RunOptions {
  /** How long a clean stop may take before the process gives up (default 30 s). */
  readonly shutdownTimeoutMs?: number;
}

/** Resolves stream table ids to names for log lines (cached, refreshed on a miss). */
class TableNames {
  readonly #names = new Map<string, string>();
  #loading: Promise<void> | null = null;

  constructor(private readonly db: Db) {}

  async name(id: string): Promise<string> {
    if (!this.#names.has(id)) {
      this.#loading ??= allStreamTables(this.db)
        .then((rows) => {
          for (const r of rows) this.#names.set(String(r.pgtId), displayName(r.schema, r.name));
        })
        .catch(() => undefined)
        .finally(() => {
          this.#loading = null;
        });
      await this.#loading;
    }
    return this.#names.get(id) ?? `#${id}`;
  }
}

/**
 * Logs what a tick did, with table names: each refresh that changed something at info
 * (`refreshed`; NO_DATA at debug), and one `tick` line at debug. Failures and suspensions are
 * logged by the scheduler itself (`unit-failed`, `unit-suspended`, `unit-failed-permanently`).
 */
export function tickLogger(
  logger: SidecarLogger,
  names: (id: string) => Promise<string>,
): (r: TickReport) => void {
  let chain: Promise<void> = Promise.resolve();
  return (report) => {
    const tickMs = Date.now() - report.at.getTime();
    chain = chain.then(async () => {
      let refreshed = 0;
      for (const unit of report.units) {
        if (unit.outcome !== 'refreshed') continue;
        for (const r of unit.results ?? []) {
          const fields = {
            table: await names(r.id),
            action: r.action,
            inserted: r.rowsInserted ?? 0,
            deleted: r.rowsDeleted ?? 0,
            ...(r.reason ? { reason: r.reason } : {}),
          };
          if (r.action === 'NO_DATA' || r.action === 'SKIPPED') logger.debug('refreshed', fields);
          else {
            refreshed++;
            logger.info('refreshed', fields);
          }
        }
      }
      logger.debug('tick', { tick: report.tick, units: report.units.length, refreshed, ms: tickMs });
    });
  };
}

/** The scheduler's `unit-refreshed` (ids only) at debug: `refreshed` lines with names replace it. */
function serviceLogger(logger: SidecarLogger): SidecarLogger {
  return {
    ...logger,
    info: (event, fields) =>
      event === 'unit-refreshed' ? logger.debug(event, fields) : logger.info(event, fields),
  };
}

/** A refused login or an unknown role: retrying cannot help. */
function loginRefused(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '28P01' || code === '28000';
}

/**
 * The catalog version, once the database answers: unreachable is retried with backoff (each
 * attempt logged) for ever, or for `retryForS` seconds; null when stopped while waiting.
 */
async function firstContact(
  probe: Db,
  url: string,
  retryForS: number,
  logger: SidecarLogger,
  stop: AbortSignal,
): Promise<number | null> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await installedVersion(probe);
    } catch (error) {
      if (!isUnreachable(error) || loginRefused(error)) throw error;
      const elapsedS = (Date.now() - started) / 1000;
      if (retryForS > 0 && elapsedS >= retryForS) throw error;
      const waitMs = Math.min(30_000, 1000 * 2 ** Math.min(attempt - 1, 5));
      logger.warn('database-unreachable', {
        database: redactUrl(url),
        attempt,
        retryInMs: waitMs,
        error: error instanceof Error ? error.message : String(error),
        ...(retryForS > 0 ? { givingUpAfterS: retryForS } : {}),
      });
      const wait = new AbortController();
      const timer = setTimeout(() => wait.abort(), waitMs);
      const onStop = () => wait.abort();
      stop.addEventListener('abort', onStop, { once: true });
      await untilAborted(wait.signal);
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
      if (stop.aborted) {
        logger.info('stopped', { note: 'stopped before the database could be reached' });
        return null;
      }
    }
  }
}

/**
 * The operator's view (`--http`, `http.listen`) when configured: started before the service (so
 * /health answers and /ready says "not running" meanwhile); `serviceOptions` adds its observer and
 * error counting; `attach` tells it the service runs; `close` stops it.
 */
async function operatorView(ctx: CommandContext, url: string, holder: string) {
  const { config } = ctx.loaded;
  const listen = config.http.listen === null ? null : parseListenAddress(config.http.listen);
  const view: OperatorView | null =
    listen === null
      ? null
      : await startOperatorView({
          listen,
          connectionString: url,
          holder,
          leaseMs: config.leader.leaseMs,
          logger: ctx.logger,
        });
  return {
    serviceOptions: (logger: SidecarLogger) =>
      view === null ? { logger } : { logger: view.counting(logger), observer: view.observer },
    attach: (service: TrickleService | null) => {
      if (view === null) return;
      view.live.isLeading = () => service?.leading ?? false;
      view.live.running = service !== null;
    },
    close: async () => {
      await view?.close();
    },
  };
}

/** Runs the service until stopped; resolves with the exit code. */
export async function runCommand(ctx: CommandContext, options: RunOptions = {}): Promise<number> {
  const url = ctx.connection();
  const { config } = ctx.loaded;
  const logger = ctx.logger;
  const holder = config.leader.holder ?? `${os.hostname()}:${process.pid}`;
  let forced = false;
  const stop =
    ctx.io.stop ??
    processStopSignal((signal) => {
      forced = true;
      logger.warn('forced-exit', {
        signal,
        note: 'second signal: exiting now; the refresh in flight rolls back',
      });
      process.exit(1);
    });

  const probe = new Db({
    connectionString: url,
    application_name: 'pgtrickle',
    connectionTimeoutMillis: 15_000,
    max: 1,
    ...KEEPALIVE,
  });
  let before: number;
  try {
    const found = await firstContact(probe, url, config.connection.startRetryS, logger, stop);
    if (found === null) {
      await probe.close().catch(() => undefined);
      return 0;
    }
    before = found;
  } catch (error) {
    await probe.close().catch(() => undefined);
    throw asConnectionError(error, url);
  }
  logger.info('starting', {
    database: redactUrl(url),
    holder,
    pollIntervalMs: config.scheduler.pollIntervalMs,
    concurrency: config.scheduler.concurrency,
    catalogVersion: before,
  });

  const progress =
    before < CATALOG_VERSION
      ? startProgress(`installing the pgtrickle catalog (version ${before} → ${CATALOG_VERSION})`, {
          sink: ctx.io.stderr,
        })
      : null;
  const names = new TableNames(probe);
  let view: Awaited<ReturnType<typeof operatorView>>;
  try {
    view = await operatorView(ctx, url, holder);
  } catch (error) {
    progress?.fail();
    await probe.close().catch(() => undefined);
    throw error;
  }
  let service: TrickleService;
  try {
    service = await TrickleService.start({
      connectionString: url,
      holder,
      pollIntervalMs: config.scheduler.pollIntervalMs,
      concurrency: config.scheduler.concurrency,
      tickBound: config.scheduler.tickBound,
      debounceMs: config.scheduler.debounceMs,
      minWakeIntervalMs: config.scheduler.minWakeIntervalMs,
      leaseMs: config.leader.leaseMs,
      retry: { suspendAfter: config.refresh.maxConsecutiveErrors },
      autoFullRatio: config.refresh.autoFullRatio,
      maintenanceIntervalMs: config.scheduler.maintenanceIntervalMs,
      watermarkHoldbackTimeoutMs: config.scheduler.watermarkHoldbackTimeoutMs,
      maxPinnedRows: config.refresh.maxPinnedRows,
      fuseDefaultCeiling: config.refresh.fuseDefaultCeiling,
      retention: {
        historyMaxAgeMs: config.retention.historyMaxAgeHours * 3600_000,
        historyMaxRowsPerTable: config.retention.historyMaxRows,
        requestsMaxAgeMs: config.retention.requestsMaxAgeHours * 3600_000,
      },
      ...view.serviceOptions(serviceLogger(logger)),
      onTick: tickLogger(logger, (id) => names.name(id)),
    });
  } catch (error) {
    progress?.fail();
    await view.close();
    await probe.close().catch(() => undefined);
    throw asConnectionError(error, url);
  }
  if (before < CATALOG_VERSION) {
    progress?.succeed(`pgtrickle catalog at version ${CATALOG_VERSION}`);
    logger.info('catalog-migrated', { from: before, to: CATALOG_VERSION });
  }
  view.attach(service);
  logger.info('started', { holder });
  // A standby says so once (the leader logs leadership-acquired from its first tick).
  const standbyCheck = setTimeout(
    () => {
      if (service.leading) return;
      readLease(probe, LEADER_LOCK_KEY)
        .then((lease) => {
          if (!service.leading) logger.info('standby', { holder, leader: lease?.holder ?? null });
        })
        .catch(() => undefined);
    },
    config.scheduler.pollIntervalMs * 2 + 500,
  );

  const ended = await Promise.race([
    untilAborted(stop).then((reason) => ({ reason, failure: null })),
    service.failure.then((failure) => ({ reason: 'failure', failure })),
  ]);
  clearTimeout(standbyCheck);
  if (ended.failure !== null) {
    view.attach(null);
    await service.stop().catch(() => undefined);
    await view.close();
    await probe.close().catch(() => undefined);
    throw ended.failure;
  }
  const reason = ended.reason;
  logger.info('stopping', { signal: typeof reason === 'string' ? reason : 'stop', holder });
  const timeoutMs = options.shutdownTimeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  view.attach(null);
  const result = await Promise.race([service.stop().then(() => 'stopped' as const), timedOut]);
  clearTimeout(timer);
  await view.close();
  await probe.close().catch(() => undefined);
  if (result === 'timeout' && !forced) {
    throw new SidecarError(
      'PGT_SHUTDOWN_TIMEOUT',
      `The service did not stop within ${timeoutMs} ms; exiting: the refresh in flight is rolled back by the database.`,
    );
  }
  logger.info('stopped', { holder });
  return 0;
}
