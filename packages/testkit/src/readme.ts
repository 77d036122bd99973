/**
 * README examples as tests: the first ```ts block of a README is run as a program (through tsx,
 * with the workspace's source condition, from a temporary file next to the README so package
 * imports resolve as they would for a user), and the comment after each `console.log(...);` is
 * what that line must print. An example that no longer runs, or prints something else, fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestkitError } from './errors.js';

/** What running a README example gave. */
export interface ReadmeRun {
  /** The lines the example printed. */
  readonly printed: readonly string[];
  /** The lines its comments say it prints (`console.log(…); // <line>`), in order. */
  readonly expected: readonly string[];
  readonly status: number | null;
  readonly stderr: string;
}

/** Runs the first ```ts block of `readmePath` with `env` added to the environment. */
export function runReadmeExample(readmePath: string, env: Record<string, string> = {}): ReadmeRun {
  const readme = readFileSync(readmePath, 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) {
    throw new TestkitError('PGT_TESTKIT_SHAPE', `${readmePath} has no \`\`\`ts example block to run.`);
  }
  const expected = [...block.matchAll(/console\.log\(.*\);\s*\/\/ (.*)$/gm)].map((m) => (m[1] ?? '').trim());
  const dir = mkdtempSync(path.join(path.dirname(readmePath), '.readme-run-'));
  try {
    const file = path.join(dir, 'example.ts');
    writeFileSync(file, block);
    const res = spawnSync(process.execPath, ['--conditions=@pgtrickle/source', '--import', 'tsx', file], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const printed =
      res.stdout.trim() === ''
        ? []
        : res.stdout
            .trim()
            .split('\n')
            .map((l) => l.trim());
    return { printed, expected, status: res.status, stderr: res.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
