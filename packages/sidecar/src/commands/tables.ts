/**
 * The stream-table commands: `create`, `drop`, `refresh`, `resume`, `status`, `explain`. They call
 * the client directly (synchronously: `create` returns once the table is populated), so they work
 * whether or not a `pgtrickle run` is leading; catalog changes are serialised by the client's
 * catalog lock either way. With `--json` each prints one JSON document; `status --watch N` prints
 * the status again every N seconds (on a terminal in place of the previous one; with `--json` one
 * JSON line per update) until Ctrl-C or `--count` updates.
 */
import {
  gateLines,
  hasHealth,
  hasStatusView,
  NotInstalledError,
  type Queryable,
  readStatusView,
  readStreamTableStats,
  type StatusViewRow,
  type StreamTableExplanation,
  type StreamTableStats,
} from '@pgtrickle/client';
import type { RequestedMode } from '@pgtrickle/dvm';
import type pg from 'pg';
import { type CommandContext, processStopSignal, withTrickle } from '../context.js';
import { SidecarError } from '../errors.js';
import { startProgress } from '../progress.js';
import { groupLines, groupsOf } from './groups.js';

const MODES: readonly RequestedMode[] = ['AUTO', 'FULL', 'DIFFERENTIAL', 'IMMEDIATE'];

/** Parses `--mode` (any case). */
export function parseMode(text: string | undefined): RequestedMode | undefined {
  if (text === undefined) return undefined;
  const mode = text.trim().toUpperCase() as RequestedMode;
  if (!MODES.includes(mode)) {
    throw new SidecarError('PGT_USAGE', `--mode must be one of ${MODES.join(', ')}, got "${text}".`);
  }
  return mode;
}

/** Renders a duration in seconds as `850ms`, `12s`, `3m04s`, `2h05m`. */
export function formatAge(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  if (seconds < 1) return `${Math.max(0, Math.round(seconds * 1000))}ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** Lays out rows as an aligned text table with a header. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** `pgtrickle create <name> --query … [--schedule] [--mode]`. */
export async function createCommand(
  ctx: CommandContext,
  name: string,
  options: { query: string; schedule?: string; mode?: string },
): Promise<number> {
  const refreshMode = parseMode(options.mode);
  return withTrickle(ctx, async (trickle) => {
    const progress = startProgress(`creating ${name} (compiling, capturing changes, populating)`, {
      sink: ctx.io.stderr,
      env: ctx.io.env,
    });
    try {
      const st = await trickle.createStreamTable({
        name,
        query: options.query,
        ...(refreshMode === undefined ? {} : { refreshMode }),
        ...(options.schedule === undefined ? {} : { schedule: options.schedule }),
      });
      progress.succeed(`created ${st.name}`);
      ctx.logger.info('created', { table: st.name, mode: st.effectiveMode, schedule: st.schedule });
      if (ctx.json) {
        ctx.outJson({
          name: st.name,
          refreshMode: st.refreshMode,
          effectiveMode: st.effectiveMode,
          modeReason: st.modeReason ?? null,
          schedule: st.schedule,
          sources: st.sources,
          status: st.status,
        });
        return 0;
      }
      ctx.out(
        `created ${st.name}: ${st.effectiveMode}${st.refreshMode !== st.effectiveMode ? ` (requested ${st.refreshMode})` : ''}, schedule ${st.schedule}, reads ${st.sources.join(', ') || '-'}`,
      );
      if (st.modeReason) ctx.out(`  why FULL: ${st.modeReason}`);
      return 0;
    } catch (error) {
      progress.fail(`creating ${name} failed`);
      throw error;
    }
  });
}

/** `pgtrickle drop <name> [--cascade]`. */
export async function dropCommand(
  ctx: CommandContext,
  name: string,
  options: { cascade?: boolean },
): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    const { dropped } = await trickle.dropStreamTable(name, { cascade: options.cascade === true });
    ctx.logger.info('dropped', { tables: dropped });
    if (ctx.json) ctx.outJson({ dropped });
    else ctx.out(`dropped ${dropped.join(', ')}`);
    return 0;
  });
}

/** `pgtrickle refresh <name> [--full]`. */
export async function refreshCommand(
  ctx: CommandContext,
  name: string,
  options: { full?: boolean },
): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    const progress = startProgress(`refreshing ${name}`, { sink: ctx.io.stderr, env: ctx.io.env });
    const started = performance.now();
    try {
      const r = await trickle.refresh(name, options.full === true ? { action: 'FULL' } : {});
      const ms = Math.round(performance.now() - started);
      progress.stop();
      ctx.logger.info('refreshed', {
        table: r.name,
        action: r.action,
        inserted: r.rowsInserted,
        deleted: r.rowsDeleted,
        ms,
      });
      if (ctx.json) {
        ctx.outJson({ ...r, ms });
        return 0;
      }
      ctx.out(
        `refreshed ${r.name}: ${r.action}, +${r.rowsInserted} -${r.rowsDeleted} rows, ${r.pendingChanges} pending changes, ${ms} ms${r.reason ? ` (${r.reason})` : ''}`,
      );
      return 0;
    } catch (error) {
      progress.fail(`refreshing ${name} failed`);
      throw error;
    }
  });
}

/**
 * One row of `pgtrickle status`: the client's status view row, with the staleness of
 * `pgt_stream_table_stats` — seconds since the table was last known to equal its query (its last
 * refresh, or the leader's last check finding nothing to apply), not since its data last changed —
 * and its `stale` flag (behind schedule; null for a cron schedule, a request, or a catalog without
 * the stats view, where the staleness stays the time since the data changed).
 */
export interface StatusRow extends StatusViewRow {
  readonly stale: boolean | null;
}

/** Reads the status view (stream tables and pending create requests) through `q` or a query function. */
export async function readStatus(
  q: Queryable | ((sql: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>),
): Promise<StatusRow[]> {
  const queryable: Queryable =
    typeof q !== 'function'
      ? q
      : {
          query: async (sql: string, params?: unknown[]): Promise<pg.QueryResult> => ({
            command: 'SELECT',
            rowCount: null,
            oid: 0,
            fields: [],
            ...(await q(sql, params)),
          }),
        };
  const rows = await readStatusView(queryable);
  const stats = (await hasHealth(queryable))
    ? new Map((await readStreamTableStats(queryable)).map((s) => [s.name, s]))
    : new Map<string, StreamTableStats>();
  return rows.map((r) => {
    const s = r.requestId === null ? stats.get(r.name) : undefined;
    return s === undefined
      ? { ...r, stale: null }
      : { ...r, stalenessSeconds: s.stalenessSeconds, stale: s.stale };
  });
}

/** Options of `pgtrickle status`. */
export interface StatusOptions {
  /** Print JSON. */
  readonly json?: boolean;
  /** Print the status again every this many seconds, until stopped. */
  readonly watchS?: number;
  /** With `watchS`: stop after this many updates. */
  readonly count?: number;
}

/** The status as text lines (the table, or how to create a first stream table). */
export function statusLines(rows: readonly StatusRow[]): string[] {
  if (rows.length === 0) return ['no stream tables (create one: pgtrickle create <name> --query "SELECT …")'];
  const mode = (r: StatusRow) =>
    r.effectiveMode === null
      ? (r.refreshMode ?? '-')
      : r.refreshMode !== null && r.refreshMode !== r.effectiveMode
        ? `${r.refreshMode}→${r.effectiveMode}`
        : r.effectiveMode;
  const oneLine = (s: string | null) => (s === null ? '' : s.replace(/\s+/g, ' ').slice(0, 80));
  return textTable(
    ['NAME', 'STATUS', 'MODE', 'SCHEDULE', 'LAST REFRESH', 'STALENESS', 'HELD BY', 'ERRORS'],
    rows.map((r) => [
      r.role === 'table' ? r.name : `${r.name} (${r.role})`,
      r.status,
      mode(r),
      r.schedule,
      r.sinceRefreshSeconds === null ? 'never' : `${formatAge(r.sinceRefreshSeconds)} ago`,
      `${formatAge(r.stalenessSeconds)}${r.stale === true ? ' (behind schedule)' : ''}`,
      r.hold === null ? '-' : `${r.hold.gate}: ${oneLine(r.hold.reason)}`,
      r.consecutiveErrors > 0 || r.lastError !== null
        ? `${r.consecutiveErrors} ${oneLine(r.lastError)}`.trim()
        : '0',
    ]),
  );
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** `pgtrickle status [--json] [--watch N [--count K]]`. */
export async function statusCommand(ctx: CommandContext, options: StatusOptions = {}): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    if (!(await hasStatusView(trickle.db))) throw new NotInstalledError();
    if (options.watchS === undefined) {
      const rows = await readStatus(trickle.db);
      if (options.json === true) ctx.out(JSON.stringify(rows, null, 2));
      else for (const line of statusLines(rows)) ctx.out(line);
      return 0;
    }
    const stop = ctx.io.stop ?? processStopSignal();
    // On a terminal each update replaces the previous one; elsewhere updates follow each other.
    const inPlace = ctx.io.stdout.isTTY === true && options.json !== true && ctx.io.env.TERM !== 'dumb';
    for (let n = 1; ; n++) {
      const rows = await readStatus(trickle.db);
      const at = new Date().toISOString();
      if (options.json === true) ctx.outLine({ at, update: n, tables: rows });
      else {
        if (inPlace) ctx.io.stdout.write('\u001b[H\u001b[2J');
        else if (n > 1) ctx.out();
        ctx.out(`${at}  every ${options.watchS}s (Ctrl-C to stop)`);
        for (const line of statusLines(rows)) ctx.out(line);
      }
      if ((options.count !== undefined && n >= options.count) || stop.aborted) return 0;
      await sleep(options.watchS * 1000, stop);
      if (stop.aborted) return 0;
    }
  });
}

/** Prints an explanation as text. */
export function printExplanation(out: (line?: string) => void, e: StreamTableExplanation): void {
  out(e.name);
  out(`  mode          ${e.mode}${e.requestedMode !== e.mode ? ` (requested ${e.requestedMode})` : ''}`);
  if (e.fallbackReason) out(`  why FULL      ${e.fallbackReason}`);
  out(
    `  sources       ${e.sources.map((s) => `${s.name} (${s.kind === 'table' ? 'table' : 'stream table'})`).join(', ') || '-'}`,
  );
  out(
    `  row identity  __pgt_row_id, ${e.uniqueRowIds ? 'unique (one row per id)' : 'not unique (multiplicities counted)'}; hidden columns ${e.hiddenColumns.join(', ') || '-'}`,
  );
  out(`  columns       ${e.columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);
  out(`  storage       ${e.storage} (the table behind the view ${e.name}: put indexes for readers on it)`);
  for (const w of e.warnings) out(`  warning       ${w}`);
  const sch = e.scheduler;
  const f = sch.fuse;
  out(
    `  fuse          ${f.mode}${f.mode === 'off' ? '' : `, ${f.state}${f.ceiling === null ? '' : `, ceiling ${f.ceiling}`}`}${f.blowReason === null ? '' : ` (${f.blowReason})`}`,
  );
  out(`  diamond       ${sch.diamond.consistency}, ${sch.diamond.schedulePolicy}`);
  out(
    `  held by       ${sch.hold === null ? '-' : `${sch.hold.gate}: ${sch.hold.reason} (since ${sch.hold.since.toISOString()})`}`,
  );
  const d = sch.lastDecision;
  out(
    `  last tick     ${d === null ? 'never scheduled' : `${d.at} ${d.outcome}${d.gate === null ? '' : ` by ${d.gate}`}${d.reason === null ? '' : `: ${d.reason}`}`}`,
  );
  if (d !== null)
    for (const g of gateLines(d))
      out(`    ${g.gate.padEnd(20)}${g.decision}${g.reason === null ? '' : `: ${g.reason}`}`);
  out();
  out('-- storage');
  for (const s of e.sql.storage) out(`${s};`);
  out();
  out('-- population (FULL refresh)');
  out(`${e.sql.population};`);
  out();
  if (e.sql.delta === null) out('-- no differential delta: every refresh recomputes the query');
  else {
    out(
      '-- differential delta: the one statement of a DIFFERENTIAL refresh (parameters: the previous frontier)',
    );
    out(`${e.sql.delta};`);
  }
}

/** `pgtrickle explain <name> [--json]`. */
export async function explainCommand(
  ctx: CommandContext,
  name: string,
  options: { json?: boolean },
): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    const e = await trickle.explain(name);
    const groups = await groupsOf(trickle, e.name);
    if (options.json === true) ctx.out(JSON.stringify({ ...e, groups }, null, 2));
    else {
      printExplanation((l) => ctx.out(l), e);
      ctx.out();
      ctx.out('-- consistency groups (as the scheduler last planned them)');
      for (const line of groupLines(groups)) ctx.out(line);
    }
    return 0;
  });
}

/** `pgtrickle resume NAME`: puts a SUSPENDED or ERROR stream table back to ACTIVE, rebuilding it. */
export async function resumeCommand(ctx: CommandContext, name: string): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    const st = await trickle.alterStreamTable(name, { status: 'ACTIVE' });
    ctx.logger.info('resumed', { table: st.name, status: st.status });
    if (ctx.json) ctx.outJson({ name: st.name, status: st.status });
    else ctx.out(`resumed ${st.name}: ${st.status}`);
    return 0;
  });
}
