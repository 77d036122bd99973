/**
 * `pgtrickle demo`: a live pipeline of stream tables over a small shop, kept fresh while a writer
 * changes the shop. Rules:
 * - with no database configured by pgtrickle's own flags, `PGTRICKLE_*` variables or config file
 *   (the conventional `DATABASE_URL`/`PG*` variables are not enough) it starts an embedded PostgreSQL 18 on a persistent data
 *   directory (`./.pgtrickle/demo`, re-used next time; a server a killed demo left running there
 *   is stopped first), and stops it at the end; with one configured it uses that database;
 * - it owns only the schema `pgtrickle_demo` (marked by a comment): it drops it, with its stream
 *   tables, at the start of every run, and refuses a schema of that name it did not create;
 * - the service runs in-process exactly as `pgtrickle run` does; every few seconds the writer
 *   pauses, the demo waits until every stream table has applied every change, and compares each
 *   with its defining query (✓/✗) — it exits 1 if any round found a difference;
 * - it runs for `--duration` seconds (0: until Ctrl-C) and always ends with a final round;
 * - with `--json` it prints JSON lines instead of text: `start`, a `status` per second, a `round`
 *   per verification and a closing `summary` (each an object with that `type`).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {
  allStreamTables,
  connect,
  deleteRequestsIn,
  progressOf,
  type Trickle,
  TrickleService,
} from '@pgtrickle/client';
import { quoteQualified } from '@pgtrickle/dvm';
import type { EmbeddedPostgres } from '@pgtrickle/embedded';
import { hasOwnDatabase, redactUrl } from '../config.js';
import { asConnectionError, type CommandContext, processStopSignal } from '../context.js';
import {
  type Frame,
  frameLines,
  type LiveTable,
  pipelineLines,
  plainStatusLine,
  type Round,
  roundLine,
  TerminalScreen,
} from '../demo/screen.js';
import { DEMO_MARKER, DEMO_SCHEMA, demoPipeline, ShopWriter, shopSql } from '../demo/shop.js';
import { compareTables, waitCaughtUp } from '../demo/verify.js';
import { loadEmbedded } from '../embedded.js';
import { SidecarError } from '../errors.js';
import type { SidecarLogger } from '../logger.js';
import { colorEnabled, startProgress } from '../progress.js';

/** Options of `pgtrickle demo`. */
export interface DemoOptions {
  /** Seconds to run; 0 = until Ctrl-C (default 20). */
  readonly durationS?: number;
  /** The embedded server's data directory (default `./.pgtrickle/demo`). */
  readonly dataDir?: string;
  /** Writer transactions per second (default 5). */
  readonly rate?: number;
  /** Seconds between verification rounds (default 4). */
  readonly verifyEveryS?: number;
  /** Force the plain line output even on a terminal. */
  readonly plain?: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Drops the demo schema (and its stream tables) if it is the demo's, refuses it otherwise. */
async function resetSchema(trickle: Trickle): Promise<void> {
  const res = await trickle.db.query(
    `SELECT obj_description(n.oid, 'pg_namespace') AS comment FROM pg_catalog.pg_namespace n WHERE n.nspname = $1`,
    [DEMO_SCHEMA],
  );
  if (res.rows.length === 0) return;
  if (res.rows[0]?.comment !== DEMO_MARKER) {
    throw new SidecarError(
      'PGT_DEMO_SCHEMA_TAKEN',
      `The schema ${DEMO_SCHEMA} exists and was not created by pgtrickle demo; the demo will not touch it. Use another database.`,
    );
  }
  // Drop the stream tables through pgtrickle (catalog rows, capture), then the schema.
  for (;;) {
    const left = (await allStreamTables(trickle.db)).find((t) => t.schema === DEMO_SCHEMA);
    if (left === undefined) break;
    await trickle.dropStreamTable(quoteQualified(left.schema, left.name), { cascade: true });
  }
  await deleteRequestsIn(trickle.db, DEMO_SCHEMA);
  await trickle.db.query(`DROP SCHEMA ${DEMO_SCHEMA} CASCADE`);
}

async function liveTables(trickle: Trickle, kinds: ReadonlyMap<string, string>): Promise<LiveTable[]> {
  const status = await progressOf(trickle.db, DEMO_SCHEMA);
  const names = status.map((r) => r.name);
  const counts = names.length
    ? await trickle.db.query(
        names
          .map((n, i) => `SELECT ${i} AS i, count(*)::int AS n FROM ${quoteQualified(DEMO_SCHEMA, n)}`)
          .join(' UNION ALL '),
      )
    : { rows: [] };
  const rowsOf = new Map(counts.rows.map((r) => [Number(r.i), Number(r.n)]));
  return status.map((r, i) => ({
    name: r.name,
    kind: kinds.get(r.name) ?? '',
    status: r.status,
    mode: r.mode,
    rows: rowsOf.get(i) ?? 0,
    sinceRefresh: r.sinceRefreshSeconds,
    pending: r.pending,
  }));
}

/**
 * The service's logger in the demo: warnings and errors are kept for the screen (on a terminal)
 * or logged (otherwise); the per-refresh info lines are left out (the demo's own output shows the
 * tables), unless the log level is debug.
 */
function demoServiceLogger(logger: SidecarLogger, events: string[], toScreen: boolean): SidecarLogger {
  const keep = (level: 'warn' | 'error') => (event: string, fields?: Record<string, unknown>) => {
    const detail = fields
      ? Object.entries(fields)
          .map(
            ([k, v]) =>
              `${k}=${v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v)}`,
          )
          .join(' ')
      : '';
    events.push(`${level} ${event} ${detail}`.trim().slice(0, 200));
    if (events.length > 20) events.splice(0, events.length - 20);
    if (!toScreen) logger[level](event, fields);
  };
  const verbose = !toScreen && logger.enabled('debug');
  return {
    debug: verbose ? logger.debug : () => undefined,
    info: verbose ? logger.info : () => undefined,
    warn: keep('warn'),
    error: keep('error'),
    child: () => demoServiceLogger(logger, events, toScreen),
    enabled: (level) =>
      level === 'warn' || level === 'error' || (verbose && (level === 'info' || level === 'debug')),
  };
}

/** A directory for messages: relative to the working directory when below it. */
function shown(dir: string, cwd: string): string {
  const rel = path.relative(cwd, dir);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? dir : rel;
}

/** Runs the demo; resolves with the exit code. */
export async function demoCommand(ctx: CommandContext, options: DemoOptions = {}): Promise<number> {
  const durationS = options.durationS ?? 20;
  const rate = options.rate ?? 5;
  const verifyEveryMs = (options.verifyEveryS ?? 4) * 1000;
  const tty = ctx.io.stdout.isTTY === true && options.plain !== true;
  const color = tty && colorEnabled(ctx.io.stdout, ctx.io.env);
  // On a terminal the screen is the output: the demo's own info lines would only scroll it.
  const logger: SidecarLogger =
    tty && !ctx.logger.enabled('debug')
      ? { ...ctx.logger, info: () => undefined, debug: () => undefined }
      : ctx.logger;
  const stop = ctx.io.stop ?? processStopSignal(() => process.exit(130));

  let server: EmbeddedPostgres | null = null;
  let url: string;
  let where: string;
  if (hasOwnDatabase(ctx.loaded)) {
    url = ctx.connection();
    where = redactUrl(url);
  } else {
    // Loaded only here: the package is an optional peer dependency (PGT_EMBEDDED_NOT_INSTALLED).
    const { startEmbeddedPostgres } = await loadEmbedded();
    let dataDir = path.resolve(ctx.io.cwd, options.dataDir ?? path.join('.pgtrickle', 'demo'));
    const progress = startProgress(`starting an embedded PostgreSQL 18 in ${shown(dataDir, ctx.io.cwd)}`, {
      sink: ctx.io.stderr,
      env: ctx.io.env,
    });
    const start = (dir: string) =>
      startEmbeddedPostgres({ dataDir: dir, onLog: (line) => logger.debug('postgres', { line }) });
    try {
      server = await start(dataDir).catch(async (error: unknown) => {
        // Run as root from a directory PostgreSQL's OS user cannot reach (e.g. a clone under
        // /root): the default data directory moves to the temp dir, and the demo says where.
        if (
          options.dataDir !== undefined ||
          (error as { code?: unknown }).code !== 'PGT_EMBEDDED_DATA_DIR_INACCESSIBLE'
        )
          throw error;
        const fallback = path.join(
          os.tmpdir(),
          `pgtrickle-demo-${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`,
        );
        ctx.io.stderr.write(
          `${shown(dataDir, ctx.io.cwd)} is not reachable by PostgreSQL's OS user; the demo database goes to ${fallback}\n`,
        );
        logger.info('embedded-data-dir-moved', { from: dataDir, to: fallback });
        dataDir = fallback;
        return start(dataDir);
      });
    } catch (error) {
      progress.fail('starting the embedded PostgreSQL failed');
      throw error;
    }
    const t = server.timings;
    progress.succeed(
      `PostgreSQL 18 ready on port ${server.port} (${t.initdbMs === undefined ? 're-used' : 'initialised'} ${shown(
        dataDir,
        ctx.io.cwd,
      )}, ${Math.round(t.totalMs)} ms)`,
    );
    logger.info('embedded-started', {
      dataDir,
      port: server.port,
      initdb: t.initdbMs !== undefined,
      ms: Math.round(t.totalMs),
    });
    url = server.url;
    where = `embedded, ${shown(dataDir, ctx.io.cwd)}`;
  }

  const events: string[] = [];
  let trickle: Trickle | null = null;
  let writerPool: Trickle | null = null;
  let service: TrickleService | null = null;
  let writer: ShopWriter | null = null;
  const rounds: Round[] = [];
  try {
    try {
      trickle = await connect({
        poolConfig: { connectionString: url, application_name: 'pgtrickle demo', max: 4 },
      });
    } catch (error) {
      throw asConnectionError(error, url);
    }
    const version = String(
      (await trickle.db.query(`SELECT current_setting('server_version') AS v`)).rows[0]?.v,
    );
    await trickle.install();

    // The shop and its pipeline.
    const setup = startProgress('creating the shop schema and its stream tables', {
      sink: ctx.io.stderr,
      env: ctx.io.env,
    });
    await resetSchema(trickle);
    await trickle.db.transaction(async (conn) => {
      for (const sql of shopSql()) await conn.query(sql);
    });
    const pipeline = demoPipeline();
    for (const t of pipeline) {
      setup.update(`creating ${DEMO_SCHEMA}.${t.name} (${t.kind})`);
      await trickle.createStreamTable({
        name: `${DEMO_SCHEMA}.${t.name}`,
        query: t.query,
        schedule: t.schedule,
      });
    }
    setup.succeed(`shop schema ${DEMO_SCHEMA} and ${pipeline.length} stream tables created`);
    const intro = [
      `pgtrickle demo on PostgreSQL ${version} (${where})`,
      `stream tables in ${DEMO_SCHEMA}:`,
      ...pipelineLines(pipeline),
      `a writer changes the shop ${rate}×/s; every ${verifyEveryMs / 1000}s it pauses and each table is compared with its query`,
      '',
    ];
    if (ctx.json)
      ctx.outLine({
        type: 'start',
        postgres: version,
        where,
        schema: DEMO_SCHEMA,
        tables: pipeline.map((t) => ({ name: t.name, kind: t.kind })),
        rate,
        verifyEveryS: verifyEveryMs / 1000,
      });
    else if (!tty) for (const line of intro) ctx.out(line);

    // The service, in-process, as `pgtrickle run` would run it.
    const serviceLogger = demoServiceLogger(logger, events, tty);
    service = await TrickleService.start({
      connectionString: url,
      holder: `${os.hostname()}:${process.pid} (demo)`,
      pollIntervalMs: Math.min(ctx.loaded.config.scheduler.pollIntervalMs, 250),
      concurrency: ctx.loaded.config.scheduler.concurrency,
      tickBound: ctx.loaded.config.scheduler.tickBound,
      debounceMs: ctx.loaded.config.scheduler.debounceMs,
      minWakeIntervalMs: ctx.loaded.config.scheduler.minWakeIntervalMs,
      leaseMs: ctx.loaded.config.leader.leaseMs,
      retry: { suspendAfter: ctx.loaded.config.refresh.maxConsecutiveErrors },
      autoFullRatio: ctx.loaded.config.refresh.autoFullRatio,
      logger: serviceLogger,
    });

    writerPool = await connect({
      poolConfig: { connectionString: url, application_name: 'pgtrickle demo writer', max: 2 },
    });
    writer = new ShopWriter(writerPool.db.pool, rate, 7, (error) => {
      events.push(`writer: ${error instanceof Error ? error.message : String(error)}`);
      if (!tty) logger.warn('writer-failed', { error });
    });
    writer.start();

    const kinds = new Map(pipeline.map((t) => [t.name, t.kind]));
    const screen = tty ? new TerminalScreen(ctx.io.stdout, intro) : null;
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    let nextRound = verifyEveryMs;
    let lastPlain = -1;

    const verify = async (): Promise<Round> => {
      await writer?.pause();
      const caughtUpMs = await waitCaughtUp((trickle as Trickle).db.pool, 20_000);
      const checks = caughtUpMs === null ? [] : await compareTables((trickle as Trickle).db.pool, pipeline);
      const round: Round = { n: rounds.length + 1, caughtUpMs, checks };
      rounds.push(round);
      logger.debug('verified', {
        round: round.n,
        caughtUpMs,
        equal: checks.filter((c) => c.equal).length,
        of: checks.length,
      });
      return round;
    };
    const show = async () => {
      const frame: Frame = {
        header: `live · the service in this process ${service?.leading ? 'leads' : 'stands by (another sidecar leads)'}`,
        elapsedS: durationS > 0 ? Math.min(elapsed(), durationS) : elapsed(),
        durationS,
        writes: writer?.stats.transactions ?? 0,
        tables: await liveTables(trickle as Trickle, kinds),
        lastRound: rounds.at(-1) ?? null,
        rounds: rounds.length,
        failedRounds: rounds.filter((r) => r.caughtUpMs === null || r.checks.some((c) => !c.equal)).length,
        events,
        note: durationS > 0 ? `stops after ${durationS}s (--duration 0 runs until Ctrl-C)` : 'Ctrl-C stops',
      };
      if (screen !== null) screen.draw(frameLines(frame, color));
      else if (Math.floor(frame.elapsedS) !== lastPlain) {
        lastPlain = Math.floor(frame.elapsedS);
        if (ctx.json)
          ctx.outLine({
            type: 'status',
            elapsedS: Math.round(frame.elapsedS * 10) / 10,
            leading: service?.leading === true,
            writes: frame.writes,
            tables: frame.tables,
          });
        else ctx.out(plainStatusLine(frame));
      }
    };

    while (!stop.aborted && (durationS === 0 || elapsed() < durationS)) {
      await show();
      if (elapsed() * 1000 >= nextRound) {
        const round = await verify();
        if (ctx.json) ctx.outLine({ type: 'round', ...round });
        else if (screen === null) ctx.out(roundLine(round, false));
        writer.resume();
        nextRound = elapsed() * 1000 + verifyEveryMs;
        continue;
      }
      await sleep(1000, stop);
    }

    // The final round, with the writer stopped for good.
    await writer.stop();
    const final = await verify();
    await show();
    const failed = rounds.filter((r) => r.caughtUpMs === null || r.checks.some((c) => !c.equal));
    const stats = writer.stats;
    if (ctx.json) {
      ctx.outLine({ type: 'round', ...final });
      ctx.outLine({
        type: 'summary',
        writer: stats,
        rounds: rounds.length,
        failedRounds: failed.length,
        tables: pipeline.length,
        dataDir: server === null ? null : where.replace(/^embedded, /, ''),
      });
    } else {
      if (screen === null) ctx.out(roundLine(final, false));
      printSummary();
    }
    function printSummary() {
      ctx.out('');
      if (stats.errors > 0)
        ctx.out(
          `${stats.errors} writer transaction(s) failed: ${events.filter((e) => e.startsWith('writer:')).at(-1) ?? ''}`,
        );
      ctx.out(
        `${stats.transactions} writer transactions (${stats.inserts} rows inserted, ${stats.updates} updated, ${stats.deletes} deleted), ${rounds.length} verification round(s) over ${pipeline.length} stream tables:`,
      );
      ctx.out(
        failed.length === 0
          ? 'every table equalled its query every time ✓'
          : `${failed.length} round(s) found differences ✗`,
      );
      if (server !== null)
        ctx.out(`the demo database stays in ${where.replace(/^embedded, /, '')}; \`pnpm demo\` re-uses it`);
    }
    if (failed.length > 0) {
      throw new SidecarError(
        'PGT_DEMO_FAILED',
        `${failed.length} verification round(s) found a stream table that differs from its query.`,
      );
    }
    return 0;
  } finally {
    await writer?.stop().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await writerPool?.close().catch(() => undefined);
    await trickle?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
  }
}
