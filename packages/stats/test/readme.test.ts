/**
 * Runs the README's example block as written (its import pointed at this package's source) and
 * checks every `// →` comment against what the preceding `console.log` printed, so the README
 * cannot rot.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(path.join(here, '..', 'README.md'), 'utf8');
const block = /## Example\n+```ts\n([\s\S]*?)```/.exec(readme)?.[1];

/** The expected output of each console.log, in order: its `// →` comment (same or next line). */
function expectations(code: string): string[] {
  const lines = code.split('\n');
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (!line.includes('console.log(')) return;
    const inline = /\/\/ → (.*)$/.exec(line);
    const next = /^\s*\/\/ → (.*)$/.exec(lines[i + 1] ?? '');
    const expected = inline?.[1] ?? next?.[1];
    if (expected === undefined) throw new Error(`README line without a "// →" result: ${line}`);
    out.push(expected);
  });
  return out;
}

const dir = mkdtempSync(path.join(tmpdir(), 'pgtrickle-stats-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README example', () => {
  it('has an example block that imports this package', () => {
    expect(block).toBeDefined();
    expect(block).toContain("from '@pgtrickle/stats'");
  });

  it('runs as written and prints what its comments say', async () => {
    const source = path.join(here, '..', 'src', 'index.ts');
    const file = path.join(dir, 'example.ts');
    writeFileSync(file, block!.replace("from '@pgtrickle/stats'", `from ${JSON.stringify(source)}`));
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      printed.push(format(...args));
    });
    try {
      await import(pathToFileURL(file).href);
    } finally {
      spy.mockRestore();
    }
    expect(printed).toEqual(expectations(block!));
  });
});
