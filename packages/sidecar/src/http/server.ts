/**
 * The HTTP endpoints of `pgtrickle run --http` on node:http. Rules:
 * - GET (and HEAD) only; every route is read-only;
 * - `/health` is liveness: 200 while the process answers and its event loop was not blocked for
 *   {@link EVENT_LOOP_BLOCKED_MS} or more since the previous call (then 503);
 * - `/ready` is readiness: 200 when the service runs, the catalog can be read and this process
 *   leads or stands by behind a live leader; else 503 with the reasons (JSON either way);
 * - `/metrics` is Prometheus text, `/api/status` the snapshot as JSON, `/` the status page.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SidecarError } from '../errors.js';
import { formatListenAddress, type ListenAddress } from './address.js';
import type { OperatorMetrics } from './metrics.js';
import { STATUS_PAGE } from './page.js';
import type { OperatorSnapshot } from './snapshot.js';

/** An event loop blocked this long (between two /health calls) fails liveness. */
export const EVENT_LOOP_BLOCKED_MS = 10_000;

/** What the server reads. */
export interface ServerDeps {
  readonly metrics: OperatorMetrics;
  /** A recent snapshot (cached). */
  snapshot(): Promise<OperatorSnapshot>;
  /** The leader lease, ms (a standby is ready while the leader renewed within it). */
  readonly leaseMs: number;
}

/** Readiness and its reasons. */
export interface Readiness {
  readonly ready: boolean;
  readonly role: 'leader' | 'standby' | 'stopped';
  readonly reasons: readonly string[];
}

/** Readiness of a snapshot (see the module rule). */
export function readiness(s: OperatorSnapshot, leaseMs: number): Readiness {
  const reasons: string[] = [];
  const role = !s.service.running ? 'stopped' : s.leader.leading ? 'leader' : 'standby';
  if (!s.service.running) reasons.push('the service is not running (starting, stopping or failed)');
  if (!s.catalog.ok) reasons.push(`the catalog cannot be read: ${s.catalog.error}`);
  else if (s.service.running && !s.leader.leading) {
    const age = s.leader.leaseAgeSeconds;
    if (s.leader.holder === null) reasons.push('standing by, and no sidecar has led this database yet');
    else if (age === null || age * 1000 > leaseMs)
      reasons.push(
        `standing by, and the leader ${s.leader.holder} has not renewed its lease for ${age === null ? 'ever' : `${age.toFixed(1)} s`} (lease ${leaseMs / 1000} s)`,
      );
  }
  return { ready: reasons.length === 0, role, reasons };
}

function send(res: http.ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}

function json(res: http.ServerResponse, status: number, value: unknown, head: boolean): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`, head);
}

/** A listening server. */
export interface OperatorServer {
  /** Where it listens (`host:port`, the real port when 0 was asked). */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts listening on `at`. @throws {SidecarError} `PGT_HTTP_LISTEN` */
export async function startServer(at: ListenAddress, deps: ServerDeps): Promise<OperatorServer> {
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const startedAt = Date.now();
  const server = http.createServer((req, res) => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, { error: 'only GET and HEAD' }, false);
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = async (): Promise<void> => {
      switch (path) {
        case '/health': {
          const blockedMs = loop.max / 1e6;
          loop.reset();
          const ok = blockedMs < EVENT_LOOP_BLOCKED_MS;
          json(
            res,
            ok ? 200 : 503,
            {
              status: ok ? 'ok' : 'blocked',
              uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
              eventLoopMaxDelayMs: Math.round(blockedMs),
            },
            head,
          );
          return;
        }
        case '/ready': {
          const r = readiness(await deps.snapshot(), deps.leaseMs);
          json(res, r.ready ? 200 : 503, r, head);
          return;
        }
        case '/metrics': {
          deps.metrics.applySnapshot(await deps.snapshot());
          send(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics(), head);
          return;
        }
        case '/api/status': {
          const s = await deps.snapshot();
          json(res, 200, { ...s, readiness: readiness(s, deps.leaseMs) }, head);
          return;
        }
        case '/':
        case '/index.html':
          send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE, head);
          return;
        default:
          json(res, 404, { error: `no route ${path}; try /, /metrics, /health, /ready, /api/status` }, head);
      }
    };
    route().catch((error: unknown) => {
      if (!res.headersSent)
        json(res, 500, { error: error instanceof Error ? error.message : String(error) }, head);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      loop.disable();
      reject(
        new SidecarError(
          'PGT_HTTP_LISTEN',
          `Cannot listen on ${formatListenAddress(at)} for --http: ${error.code ?? error.message}; choose another address (http.listen, --http).`,
          { cause: error },
        ),
      );
    };
    server.once('error', onError);
    server.listen(at.port, at.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: formatListenAddress({ host: bound.address, port: bound.port }),
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        loop.disable();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
