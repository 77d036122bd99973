/**
 * What the demo shows. On a terminal: a table redrawn in place every second (each stream table's
 * mode, rows, last refresh, staleness and the latest verification mark). Elsewhere: plain lines,
 * one status line per second and one line per verification round, so logs and CI output read well.
 */
import { formatAge, textTable } from '../commands/tables.js';
import type { LineSink } from '../logger.js';
import type { DemoTable } from './shop.js';
import type { TableCheck } from './verify.js';

/** One table's live state. */
export interface LiveTable {
  readonly name: string;
  readonly kind: string;
  readonly status: string;
  readonly mode: string;
  readonly rows: number;
  /** Seconds since its last refresh (null: never). */
  readonly sinceRefresh: number | null;
  /** Whether source changes are waiting for it. */
  readonly pending: boolean;
}

/** One verification round. */
export interface Round {
  readonly n: number;
  /** How long catching up took (ms), or null when it timed out. */
  readonly caughtUpMs: number | null;
  readonly checks: readonly TableCheck[];
}

/** Everything one frame shows. */
export interface Frame {
  readonly header: string;
  readonly elapsedS: number;
  /** 0 = until Ctrl-C. */
  readonly durationS: number;
  readonly writes: number;
  readonly tables: readonly LiveTable[];
  readonly lastRound: Round | null;
  readonly rounds: number;
  readonly failedRounds: number;
  /** Recent warnings and errors of the service. */
  readonly events: readonly string[];
  readonly note: string;
}

const GREEN = (s: string, color: boolean) => (color ? `\u001b[32m${s}\u001b[0m` : s);
const RED = (s: string, color: boolean) => (color ? `\u001b[31m${s}\u001b[0m` : s);
const DIM = (s: string, color: boolean) => (color ? `\u001b[90m${s}\u001b[0m` : s);

function staleness(t: LiveTable): string {
  if (!t.pending) return 'fresh';
  return t.sinceRefresh === null ? 'pending' : `≤${formatAge(t.sinceRefresh)}`;
}

function mark(check: TableCheck | undefined, color: boolean): string {
  if (check === undefined) return '';
  return check.equal ? GREEN('✓', color) : RED(`✗ -${check.missing} +${check.extra}`, color);
}

/** The lines of one frame. */
export function frameLines(frame: Frame, color: boolean): string[] {
  const checks = new Map((frame.lastRound?.checks ?? []).map((c) => [c.name, c]));
  const time =
    frame.durationS > 0
      ? `${Math.floor(frame.elapsedS)}s / ${frame.durationS}s`
      : `${Math.floor(frame.elapsedS)}s (Ctrl-C stops)`;
  const lines = [
    frame.header,
    DIM(`${time} · ${frame.writes} writer transactions · ${frame.rounds} verification round(s)`, color),
    '',
    ...textTable(
      ['STREAM TABLE', 'WHAT', 'MODE', 'ROWS', 'LAST REFRESH', 'STALENESS', '= QUERY'],
      frame.tables.map((t) => [
        t.name,
        t.kind,
        t.status === 'ACTIVE' ? t.mode : `${t.mode} ${t.status}`,
        String(t.rows).padStart(5),
        t.sinceRefresh === null ? 'never' : `${formatAge(t.sinceRefresh)} ago`,
        staleness(t),
        mark(checks.get(t.name), color),
      ]),
    ),
    '',
  ];
  const r = frame.lastRound;
  if (r === null) lines.push(DIM('first verification round in a few seconds …', color));
  else lines.push(roundLine(r, color));
  if (frame.failedRounds > 0)
    lines.push(RED(`${frame.failedRounds} round(s) found a table that differs from its query`, color));
  for (const e of frame.events.slice(-3)) lines.push(RED(e, color));
  lines.push(DIM(frame.note, color));
  return lines;
}

/** One verification round as a line. */
export function roundLine(r: Round, color: boolean): string {
  const ok = r.caughtUpMs !== null && r.checks.every((c) => c.equal);
  if (r.caughtUpMs === null)
    return RED(`round ${r.n}: the stream tables did not catch up with the writes in time ✗`, color);
  const head = `round ${r.n}: writer paused, caught up in ${formatAge(r.caughtUpMs / 1000)}, `;
  if (ok) return GREEN(`${head}all ${r.checks.length} stream tables equal their queries ✓`, color);
  const bad = r.checks.filter((c) => !c.equal).map((c) => `${c.name} (-${c.missing} +${c.extra})`);
  return RED(`${head}${bad.length} differ ✗: ${bad.join(', ')}`, color);
}

/**
 * Redraws frames on a terminal: each frame is written from the top of the screen (cleared the
 * first time), every line cleared to its end and the rest of the screen below it, so lines that
 * wrap or log lines written in between cannot leave stale rows.
 */
export class TerminalScreen {
  #first = true;

  constructor(
    private readonly sink: LineSink,
    /** Lines shown above every frame. */
    private readonly intro: readonly string[] = [],
  ) {}

  /** Replaces the previous frame. */
  draw(lines: readonly string[]): void {
    const clear = this.#first ? '\u001b[2J' : '';
    this.#first = false;
    const body = [...this.intro, ...lines].map((l) => `${l}\u001b[K`).join('\n');
    this.sink.write(`${clear}\u001b[H${body}\n\u001b[J`);
  }
}

/** The plain status line of one second (non-terminal mode). */
export function plainStatusLine(frame: Frame): string {
  const stale = frame.tables.filter((t) => t.pending).length;
  const rows = frame.tables.map((t) => `${t.name}=${t.rows}`).join(' ');
  return `[${frame.elapsedS.toFixed(0).padStart(3)}s] writes=${frame.writes} fresh=${frame.tables.length - stale}/${frame.tables.length} ${rows}`;
}

/** The pipeline as a few lines, for the start of the demo. */
export function pipelineLines(tables: readonly DemoTable[]): string[] {
  return tables.map(
    (t) =>
      `  ${t.name.padEnd(20)} ${t.kind.padEnd(34)} ${t.schedule === null ? 'calculated' : `every ${t.schedule}`}`,
  );
}
