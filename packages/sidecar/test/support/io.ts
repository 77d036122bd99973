/** An in-memory `CliIo` for running `main()` in-process and reading what it printed. */
import type { CliIo } from '../../src/index.js';

/** A `CliIo` that collects stdout and stderr. */
export interface CapturedIo extends CliIo {
  stdoutText(): string;
  stderrText(): string;
}

/** Builds a captured I/O (not a terminal) with the given environment. */
export function captureIo(
  options: { env?: Record<string, string | undefined>; cwd?: string; stop?: AbortSignal } = {},
): CapturedIo {
  let out = '';
  let err = '';
  return {
    stdout: {
      isTTY: false,
      write: (s: string) => {
        out += s;
        return true;
      },
    },
    stderr: {
      isTTY: false,
      write: (s: string) => {
        err += s;
        return true;
      },
    },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    ...(options.stop === undefined ? {} : { stop: options.stop }),
    stdoutText: () => out,
    stderrText: () => err,
  };
}
