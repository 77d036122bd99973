/**
 * A one-line progress indicator for long operations (a migration, the initial population of a
 * stream table, starting the embedded server). Rule: it draws only on a terminal — a spinner with
 * the elapsed time, redrawn in place — and prints nothing otherwise (logs and command output
 * carry the result), so piped output stays clean.
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
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** Starts a progress line; on a non-terminal sink every method is a no-op. */
export function startProgress(text: string, options: ProgressOptions = {}): Progress {
  const sink = options.sink ?? process.stderr;
  if (sink.isTTY !== true && options.force !== true) {
    return {
      update: () => undefined,
      succeed: () => undefined,
      fail: () => undefined,
      stop: () => undefined,
    };
  }
  const started = performance.now();
  let current = text;
  let frame = 0;
  let done = false;
  const draw = () => {
    const glyph = FRAMES[frame++ % FRAMES.length] as string;
    sink.write(`\r\u001b[2K${glyph} ${current} \u001b[90m${seconds(performance.now() - started)}\u001b[0m`);
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
      sink.write(`${mark} ${final ?? current} \u001b[90m${seconds(performance.now() - started)}\u001b[0m\n`);
  };
  return {
    update: (t) => {
      current = t;
    },
    succeed: (t) => end('\u001b[32m✓\u001b[0m', t),
    fail: (t) => end('\u001b[31m✗\u001b[0m', t),
    stop: () => end(null, undefined),
  };
}
