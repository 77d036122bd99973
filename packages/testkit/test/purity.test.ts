/**
 * The rule of the house, checked: the pure packages never import `pg` (or any driver), never
 * open sockets or servers, never spawn processes, and never read the real clock (`Date.now()`,
 * argument-less `new Date()`, `performance.now()`); a `Clock` is passed in instead.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PURE = ['stats', 'watermark', 'lifecycle', 'dag', 'groups', 'gates', 'dvm', 'scheduler'];

const FORBIDDEN: { rule: string; pattern: RegExp }[] = [
  { rule: 'imports pg', pattern: /from\s+['"](pg|pg-pool|postgres|pg-native)['"]/ },
  {
    rule: 'imports a network or process module',
    pattern: /from\s+['"]node:(net|http|https|dgram|tls|child_process|cluster)['"]/,
  },
  { rule: 'reads the clock (Date.now)', pattern: /\bDate\.now\(\)/ },
  { rule: 'reads the clock (new Date())', pattern: /\bnew Date\(\s*\)/ },
  { rule: 'reads the clock (performance.now)', pattern: /\bperformance\.now\(\)/ },
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (entry.endsWith('.ts')) out.push(full);
  }
  return out;
}

describe('pure packages', () => {
  for (const pkg of PURE) {
    const src = path.join(root, 'packages', pkg, 'src');
    let files: string[] = [];
    try {
      files = sources(src);
    } catch {
      continue; // package not created yet
    }
    it(`${pkg} imports no driver, opens no socket, reads no clock`, () => {
      const violations: string[] = [];
      for (const file of files) {
        const text = readFileSync(file, 'utf8');
        for (const { rule, pattern } of FORBIDDEN) {
          if (pattern.test(text)) violations.push(`${path.relative(root, file)}: ${rule}`);
        }
      }
      expect(violations).toEqual([]);
    });
  }

  it('the check itself catches a violation', () => {
    const sample = "import pg from 'pg';\nconst t = Date.now();";
    expect(FORBIDDEN.filter((f) => f.pattern.test(sample)).map((f) => f.rule)).toEqual([
      'imports pg',
      'reads the clock (Date.now)',
    ]);
  });
});
