/**
 * The operator's view of `pgtrickle run --http`: wires the live state (the service observer), the
 * metrics, the snapshot cache and the HTTP server. Rule: it has its own small pool with short
 * timeouts, so a slow or unreachable database makes /ready answer 503 quickly instead of hanging,
 * and it never slows the service: observing is synchronous bookkeeping, reading happens on request.
 */
import { Db, readStreamTableStats, type ServiceObserver } from '@pgtrickle/client';
import type { SidecarLogger } from '../logger.js';
import type { ListenAddress } from './address.js';
import { LiveState } from './live.js';
import { OperatorMetrics } from './metrics.js';
import { type OperatorServer, startServer } from './server.js';
import { readSnapshot, SnapshotCache } from './snapshot.js';

/** Options of {@link startOperatorView}. */
export interface OperatorViewOptions {
  readonly listen: ListenAddress;
  readonly connectionString: string;
  /** This process in the lease row. */
  readonly holder: string;
  readonly leaseMs: number;
  readonly logger: SidecarLogger;
}

/** A running operator view. */
export interface OperatorView {
  /** Pass to the service (`ServiceOptions.observer`). */
  readonly observer: ServiceObserver;
  readonly live: LiveState;
  readonly metrics: OperatorMetrics;
  readonly server: OperatorServer;
  /** A logger that also counts warn/error events in `pgtrickle_errors_total`. */
  counting(logger: SidecarLogger): SidecarLogger;
  close(): Promise<void>;
}

/** Starts the endpoints (before the service: /health answers and /ready says "starting"). */
export async function startOperatorView(options: OperatorViewOptions): Promise<OperatorView> {
  const db = new Db({
    connectionString: options.connectionString,
    application_name: 'pgtrickle-http',
    max: 2,
    connectionTimeoutMillis: 3_000,
    query_timeout: 5_000,
    idleTimeoutMillis: 30_000,
  });
  const metrics = new OperatorMetrics();
  const live = new LiveState(metrics, async () => {
    const stats = await readStreamTableStats(db);
    return new Map(stats.map((s) => [s.pgtId, s.name]));
  });
  const cache = new SnapshotCache(() =>
    readSnapshot({ db, live, leaseMs: options.leaseMs, holder: options.holder }),
  );
  let server: OperatorServer;
  try {
    server = await startServer(options.listen, {
      metrics,
      snapshot: () => cache.get(),
      leaseMs: options.leaseMs,
    });
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  options.logger.info('http-listening', {
    address: server.address,
    endpoints: ['/', '/metrics', '/health', '/ready', '/api/status'],
  });
  const counting = (logger: SidecarLogger): SidecarLogger => ({
    ...logger,
    warn: (event, fields) => {
      metrics.problem(event);
      logger.warn(event, fields);
    },
    error: (event, fields) => {
      metrics.problem(event);
      logger.error(event, fields);
    },
  });
  return {
    observer: live,
    live,
    metrics,
    server,
    counting,
    close: async () => {
      live.running = false;
      await live.settled();
      await server.close();
      await db.close().catch(() => undefined);
    },
  };
}
