/**
 * A one-line progress indicator for long operations (a migration, the initial population of a
 * stream table, starting the embedded server). Rule: it draws only on a terminal that is not
 * `TERM=dumb` — a spinner with the elapsed time, redrawn in place — and prints nothing otherwise
 * (logs and command output carry the result), so piped output stays clean; it uses no colours when
 * `NO_COLOR` is set (to anything but the empty string).
 */
import type { LineSink } from './logger.js';

/** A running progress line. */
export interface Progress {
  /** Replaces the text shown next to the spinner. */
  update(text: string): void;
  /** Ends with a ✓ line. */
  succeed(text?: string): void;
  /** Ends with a ✗ line. */
  fail(text?: string): void;
  /** Ends without a final line. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** Options of {@link startProgress}. */
export interface ProgressOptions {
  /** Where to draw (default process.stderr). */
  readonly sink?: LineSink;
  /** Draw even when the sink is not a terminal (default: only on a terminal). */
  readonly force?: boolean;
  /** The environment read for `NO_COLOR` and `TERM` (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Whether output to `sink` may use colours: a terminal, and `NO_COLOR` unset or empty. */
export function colorEnabled(
  sink: { readonly isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  return sink.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** Starts a progress line; on a non-terminal sink every method is a no-op. */
export function startProgress(text: string, options: ProgressOptions = {}): Progress {
  const sink = options.sink ?? process.stderr;
  const env = options.env ?? process.env;
  if ((sink.isTTY !== true || env.TERM === 'dumb') && options.force !== true) {
    return {
      update: () => undefined,
      succeed: () => undefined,
      fail: () => undefined,
      stop: () => undefined,
    };
  }
  const color = env.NO_COLOR === undefined || env.NO_COLOR === '';
  const paint = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const started = performance.now();
  let current = text;
  let frame = 0;
  let done = false;
  const draw = () => {
    const glyph = FRAMES[frame++ % FRAMES.length] as string;
    sink.write(`\r\u001b[2K${glyph} ${current} ${paint('90', seconds(performance.now() - started))}`);
  };
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  const end = (mark: string | null, final: string | undefined) => {
    if (done) return;
    done = true;
    clearInterval(timer);
    sink.write('\r\u001b[2K');
    if (mark !== null)
      sink.write(`${mark} ${final ?? current} ${paint('90', seconds(performance.now() - started))}\n`);
  };
  return {
    update: (t) => {
      current = t;
    },
    succeed: (t) => end(paint('32', '✓'), t),
    fail: (t) => end(paint('31', '✗'), t),
    stop: () => end(null, undefined),
  };
}
