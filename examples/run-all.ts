/**
 * `pnpm examples`: runs every runnable example program in `examples/*` one after another,
 * each in its own process with the workspace's source condition, and fails if any of them fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const examplesDir = path.dirname(fileURLToPath(import.meta.url));
const programs = readdirSync(examplesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(examplesDir, d.name, 'src', 'main.ts')))
  .map((d) => d.name)
  .sort();

let failed = 0;
for (const name of programs) {
  console.log(`\n━━ example: ${name} ━━`);
  const result = spawnSync(
    process.execPath,
    ['--conditions=@pgtrickle/source', '--import', 'tsx', path.join(examplesDir, name, 'src', 'main.ts')],
    { stdio: 'inherit', cwd: path.join(examplesDir, name) },
  );
  if (result.status !== 0) {
    failed++;
    console.error(`example ${name} exited with ${result.status ?? result.signal}`);
  }
}
if (programs.length === 0) {
  console.error('no runnable examples found (examples/*/src/main.ts)');
  process.exit(1);
}
process.exit(failed === 0 ? 0 : 1);
