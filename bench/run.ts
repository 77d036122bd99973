/**
 * `pnpm bench`: with no argument, `--quick`, or section names (refreshes, write-amp, noop,
 * latency, idle-tick, tpch, immediate), runs the issue workloads (`bench/workloads/main.ts`: the performance table, written
 * to `bench/results/`). `pnpm bench --micro [filter]`, or any other filter, runs the micro-suites
 * `packages/<name>/bench/*.bench.ts` (only files whose path contains the filter) and prints one
 * table. `pnpm bench --report <results.json>...` writes a results file's markdown again
 * (several: merged into `--out <file.json>`). Speed is
 * measured here, never asserted in tests. `pnpm bench --explain [tpch]` logs the plans of the
 * slow paths (`bench/workloads/explain.ts`).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BenchResultRow, type BenchSuite, printTable, runSuite } from './harness.js';
import { runExplain } from './workloads/explain.js';
import { rerender, runWorkloads, SECTIONS } from './workloads/main.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const micro = args.includes('--micro');
const report = args.indexOf('--report');
const out = args.indexOf('--out');
const outFile = out >= 0 ? args[out + 1] : undefined;
const positional = args.filter((a, i) => !a.startsWith('--') && report < 0 && (out < 0 || i !== out + 1));
const sections = new Set<string>(SECTIONS);

function findBenchFiles(filter: string | undefined): string[] {
  const files: string[] = [];
  for (const pkg of readdirSync(path.join(root, 'packages'))) {
    const dir = path.join(root, 'packages', pkg, 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.bench.ts')) files.push(path.join(dir, f));
  }
  return files.sort().filter((f) => !filter || f.includes(filter));
}

async function runMicro(filter: string | undefined): Promise<void> {
  const rows: BenchResultRow[] = [];
  for (const file of findBenchFiles(filter)) {
    const mod = (await import(pathToFileURL(file).href)) as { default: BenchSuite };
    process.stderr.write(`running ${path.relative(root, file)} …\n`);
    rows.push(...(await runSuite(mod.default)));
  }
  if (rows.length === 0) {
    console.error(filter ? `no benchmark file matches "${filter}"` : 'no benchmark files found');
    process.exit(1);
  }
  printTable(rows);
}

if (args.includes('--explain')) {
  await runExplain(positional.includes('tpch'));
} else if (report >= 0) {
  const files = args.filter((a, i) => i > report && !a.startsWith('--') && (out < 0 || i !== out + 1));
  rerender(
    files.map((f) => path.resolve(f)),
    outFile === undefined ? undefined : path.resolve(outFile),
  );
} else if (micro || (positional.length > 0 && !positional.every((p) => sections.has(p)))) {
  await runMicro(positional[0]);
} else {
  await runWorkloads(quick, positional);
}
