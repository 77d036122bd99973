/**
 * `pnpm bench [filter]`: runs every `packages/<name>/bench/*.bench.ts` suite (or only files whose
 * path contains the filter) and prints one table. Speed is measured here, never asserted in tests.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BenchResultRow, type BenchSuite, printTable, runSuite } from './harness.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.argv[2];

function findBenchFiles(): string[] {
  const files: string[] = [];
  for (const pkg of readdirSync(path.join(root, 'packages'))) {
    const dir = path.join(root, 'packages', pkg, 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.bench.ts')) files.push(path.join(dir, f));
  }
  return files.sort().filter((f) => !filter || f.includes(filter));
}

const rows: BenchResultRow[] = [];
for (const file of findBenchFiles()) {
  const mod = (await import(pathToFileURL(file).href)) as { default: BenchSuite };
  process.stderr.write(`running ${path.relative(root, file)} …\n`);
  rows.push(...(await runSuite(mod.default)));
}
if (rows.length === 0) {
  console.error(filter ? `no benchmark file matches "${filter}"` : 'no benchmark files found');
  process.exit(1);
}
printTable(rows);
