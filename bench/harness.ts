/**
 * The benchmark harness behind `pnpm bench`: each `*.bench.ts` file default-exports a suite made
 * with `defineSuite`; `bench/run.ts` finds the files, runs every case with tinybench and prints
 * one table. Cases report throughput in their own unit (e.g. "updates/s"): a case that does N
 * operations per call says so with `opsPerCall`.
 */
import { Bench } from 'tinybench';

/** One measured case of a suite. */
export interface BenchCase {
  /** What is measured, e.g. "Welford push". */
  name: string;
  /** The unit of one operation, e.g. "updates"; the table shows `<unit>/s`. */
  unit: string;
  /** How many operations one call of `fn` performs (default 1). */
  opsPerCall?: number;
  /** The measured work (may return `{ overriddenDuration: ms }` to time only part of the call). */
  fn: () => unknown | Promise<unknown>;
}

/** A named group of benchmark cases with optional set-up and tear-down. */
export interface BenchSuite {
  name: string;
  setup?: () => Promise<void> | void;
  teardown?: () => Promise<void> | void;
  cases: BenchCase[] | (() => BenchCase[] | Promise<BenchCase[]>);
  /** Minimum measuring time per case in ms (default 500). */
  timeMs?: number;
  /** Minimum iterations per case (default 10). */
  iterations?: number;
  /** Warm-up iterations before measuring (default true); turn off for cases that take seconds. */
  warmup?: boolean;
}

/** Declares a benchmark suite (identity, for typing). */
export function defineSuite(suite: BenchSuite): BenchSuite {
  return suite;
}

/** One row of the printed result table. */
export interface BenchResultRow {
  suite: string;
  case: string;
  throughput: string;
  meanPerCall: string;
  samples: number;
}

function formatNumber(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(1);
}

function formatDuration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}

/** Runs one suite and returns its table rows. */
export async function runSuite(suite: BenchSuite): Promise<BenchResultRow[]> {
  await suite.setup?.();
  try {
    const cases = typeof suite.cases === 'function' ? await suite.cases() : suite.cases;
    const bench = new Bench({
      time: suite.timeMs ?? 500,
      iterations: suite.iterations ?? 10,
      warmup: suite.warmup ?? true,
    });
    for (const c of cases) bench.add(c.name, c.fn);
    await bench.run();
    const rows: BenchResultRow[] = [];
    for (const c of cases) {
      const task = bench.getTask(c.name);
      const result = task?.result;
      if (!result || result.error) {
        throw new Error(`benchmark "${suite.name} / ${c.name}" failed`, { cause: result?.error });
      }
      const meanMs = result.latency.mean;
      const opsPerSec = (1000 / meanMs) * (c.opsPerCall ?? 1);
      rows.push({
        suite: suite.name,
        case: c.name,
        throughput: `${formatNumber(opsPerSec)} ${c.unit}/s`,
        meanPerCall: formatDuration(meanMs),
        samples: result.latency.samples.length,
      });
    }
    return rows;
  } finally {
    await suite.teardown?.();
  }
}

/** Prints rows as an aligned text table. */
export function printTable(rows: BenchResultRow[]): void {
  const header = ['suite', 'case', 'throughput', 'mean per call', 'samples'];
  const body = rows.map((r) => [r.suite, r.case, r.throughput, r.meanPerCall, String(r.samples)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of body) console.log(line(row));
}
