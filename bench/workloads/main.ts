/**
 * The issue workloads behind `pnpm bench [--quick] [section...]`: runs the sections asked for
 * (all by default) on one embedded PostgreSQL 18, prints the issue table, and writes
 * `bench/results/<date>-<machine>[-quick].json` (options, machine, every raw sample) and the
 * markdown next to it. Sections: refreshes, write-amp, noop, latency, idle-tick, tpch, immediate (names no
 * micro-suite path contains, so `pnpm bench tick` still runs the sidecar's tick micro-suite).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BOUNDS } from './bounds.js';
import { runCaptureWorkload } from './capture.js';
import { type BenchOptions, BenchServer, progress } from './common.js';
import { runImmediateWorkload } from './immediate.js';
import { runLatencyWorkload } from './latency.js';
import { runNoopWorkload } from './noop.js';
import { runRefreshWorkload } from './refresh.js';
import { markdown, type RunData } from './report.js';
import { runTickWorkload } from './tick.js';
import { runTpchWorkload } from './tpch/run.js';

/** The section names, in run order. */
export const SECTIONS = [
  'refreshes',
  'write-amp',
  'noop',
  'latency',
  'idle-tick',
  'tpch',
  'immediate',
] as const;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function load(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
}

/** Runs the workloads and writes the results. */
export async function runWorkloads(quick: boolean, only: readonly string[]): Promise<void> {
  const reps = Number(process.env.PGTRICKLE_BENCH_REPS ?? 0);
  const o: BenchOptions = { quick, only, reps: reps > 0 ? Math.floor(reps) : quick ? 3 : 5 };
  const want = (s: string) => only.length === 0 || only.includes(s);
  const started = new Date();
  const loadBefore = load();
  const server = await BenchServer.start();
  const data: RunData = {};
  let pgVersion = '';
  try {
    const { trickle } = await server.database('bench_meta');
    pgVersion = String((await trickle.db.query('SHOW server_version')).rows[0]?.server_version);
    await trickle.close();
    if (want('refreshes')) data.refresh = await runRefreshWorkload(server, o);
    if (want('write-amp')) data.capture = await runCaptureWorkload(server, o);
    if (want('noop')) data.noop = await runNoopWorkload(server, o);
    if (want('latency')) data.latency = await runLatencyWorkload(server, o);
    if (want('idle-tick')) data.tick = await runTickWorkload(server, o);
    if (want('tpch')) data.tpch = await runTpchWorkload(server, o);
    if (want('immediate')) data.immediate = await runImmediateWorkload(server, o);
  } finally {
    await server.stop();
  }
  const machine = process.env.PGTRICKLE_BENCH_MACHINE ?? os.hostname();
  const date = started.toISOString().slice(0, 10);
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string };
  const meta: Record<string, string> = {
    date,
    mode: quick ? `--quick (10x smaller data, ${o.reps} repetitions)` : `full (${o.reps} repetitions)`,
    sections: only.length === 0 ? SECTIONS.join(', ') : only.join(', '),
    machine: `${machine}: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`,
    load: `load average (1/5/15 min) ${loadBefore} at start, ${load()} at end`,
    caveat:
      'taken under load: the machine (2 cores) was shared with several other processes running builds and test suites, so absolute times are noisy and ratios are the meaningful figures',
    server: `embedded PostgreSQL ${pgVersion}, fsync off, shared_buffers 256MB, max_wal_size 4GB, jit off`,
    node: process.version,
    duration: `${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min`,
    ...(pkg.version ? { version: pkg.version } : {}),
  };
  const md = markdown(data, meta, BOUNDS);
  const dir = path.join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const base = path.join(
    dir,
    `${date}-${machine}${quick ? '-quick' : ''}${only.length ? `-${only.join('-')}` : ''}`,
  );
  writeFileSync(`${base}.json`, `${JSON.stringify({ meta, options: o, ...data }, null, 1)}\n`);
  writeFileSync(`${base}.md`, md);
  console.log(md);
  progress(`wrote ${path.relative(root, base)}.json and .md`);
}

/**
 * Writes the markdown of a results file again (e.g. after the bounds notes changed); given several
 * files (sections run as separate processes), merges them into `<out>` (.json and .md).
 */
export function rerender(jsonPaths: readonly string[], out?: string): void {
  type Run = RunData & { meta: Record<string, string>; options?: unknown };
  const runs = jsonPaths.map((p) => JSON.parse(readFileSync(p, 'utf8')) as Run);
  const first = runs[0];
  if (first === undefined) throw new Error('--report needs at least one results .json file');
  let run: Run = first;
  let target = jsonPaths[0] as string;
  if (runs.length > 1) {
    if (out === undefined) throw new Error('merging several results files needs --out <file.json>');
    const meta: Record<string, string> = { ...first.meta };
    meta.sections = runs.map((r) => r.meta.sections).join(', ');
    meta.load = runs.map((r) => `${r.meta.sections}: ${r.meta.load}`).join('; ');
    meta.duration = runs.map((r) => `${r.meta.sections}: ${r.meta.duration}`).join('; ');
    meta.merged = `from ${jsonPaths.map((p) => path.basename(p)).join(', ')}, run as separate processes at the same time`;
    run = Object.assign({}, ...runs, { meta, options: runs.map((r) => r.options) }) as Run;
    target = out;
    writeFileSync(target, `${JSON.stringify(run, null, 1)}\n`);
  }
  const md = markdown(run, run.meta, BOUNDS);
  writeFileSync(target.replace(/\.json$/u, '.md'), md);
  console.log(md);
}
