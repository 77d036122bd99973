/**
 * The README's example, run as written: its ```ts block is extracted, run as a program against
 * the test database (DATABASE_URL), and the comment after each `console.log(...);` is checked
 * against the line it printed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { useTestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';

const db = useTestDatabase();
const here = path.dirname(fileURLToPath(import.meta.url));

describe('README example', () => {
  it('runs as written and prints what its comments say', () => {
    const readme = readFileSync(path.join(here, '..', 'README.md'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'README has a ts example').toBeDefined();
    const expected = [...(block as string).matchAll(/console\.log\(.*\);\s*\/\/ (.*)$/gm)].map((m) =>
      m[1]?.trim(),
    );
    expect(expected.length).toBeGreaterThan(2);
    const dir = mkdtempSync(path.join(here, 'tmp-readme-'));
    try {
      const file = path.join(dir, 'example.ts');
      writeFileSync(file, block as string);
      const res = spawnSync(process.execPath, ['--conditions=@pgtrickle/source', '--import', 'tsx', file], {
        env: { ...process.env, DATABASE_URL: db.url },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
      const printed = res.stdout.trim().split('\n');
      expect(printed).toHaveLength(expected.length);
      printed.forEach((line, i) => expect(line.trim()).toBe(expected[i]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
