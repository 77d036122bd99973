/**
 * Every reference a reader meets must be followable inside this repository. Rule: no source file,
 * README or design document cites a document that is not here (sections of an "engine" or a
 * "report", a sibling `shared` folder, its reference or feature notes). A rule is stated where it
 * is used, or the comment names a file of `docs/` — and then that file, and the section heading it
 * quotes (`docs/<file>.md, "<heading>"`), must exist; relative Markdown links must resolve too.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** References to documents outside the repository. */
const OUTSIDE: { rule: string; pattern: RegExp }[] = [
  { rule: 'cites a section of "the engine"', pattern: /\bengine(?:'s)?\s*\(?\s*§/i },
  { rule: 'cites a section of "the report"', pattern: /\breport(?:'s)?\s*\(?\s*§/i },
  { rule: "cites the report's order or sections", pattern: /\bthe report's\b/i },
  { rule: 'points into ../shared', pattern: /\.\.\/shared\b/ },
  { rule: 'points into shared/design', pattern: /\bshared\/design\b/ },
  { rule: 'cites engine-reference', pattern: /engine-reference/i },
  { rule: 'cites features.md', pattern: /\bfeatures\.md\b/i },
  { rule: 'cites anchors.md', pattern: /\banchors\.md\b/i },
];

const SKIP_DIRS = new Set(['node_modules', 'dist', 'coverage', '.git']);

function walk(dir: string, keep: (file: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (SKIP_DIRS.has(entry)) continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...walk(full, keep));
    else if (keep(full)) out.push(full);
  }
  return out;
}

const isTs = (f: string) => f.endsWith('.ts') && !f.endsWith('.d.ts');
const isMd = (f: string) => f.endsWith('.md');

/** The files checked: package sources and READMEs, docs, examples, bench and the root README. */
function checkedFiles(): string[] {
  const packages = path.join(root, 'packages');
  const files: string[] = [];
  for (const pkg of readdirSync(packages)) {
    const dir = path.join(packages, pkg);
    if (!statSync(dir).isDirectory()) continue;
    files.push(...walk(path.join(dir, 'src'), isTs));
    const readme = path.join(dir, 'README.md');
    if (existsSync(readme)) files.push(readme);
  }
  files.push(...walk(path.join(root, 'docs'), isMd));
  files.push(...walk(path.join(root, 'examples'), isTs));
  files.push(...walk(path.join(root, 'bench'), isTs));
  files.push(path.join(root, 'README.md'));
  return files;
}

/** Violations of the outside-reference rule in `text` (one per line and rule). */
function outsideReferences(name: string, text: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const { rule, pattern } of OUTSIDE) {
      if (pattern.test(line)) out.push(`${name}:${i + 1}: ${rule}: ${line.trim()}`);
    }
  });
  return out;
}

/** Headings of a Markdown file, without the leading #s and section numbers ("## 1. Foo" → "Foo"). */
function headings(file: string): Set<string> {
  const set = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*$/.exec(line);
    if (m?.[1] !== undefined) {
      set.add(m[1]);
      set.add(m[1].replace(/^\d+(\.\d+)*\.?\s+/, ''));
    }
  }
  return set;
}

/** `docs/<file>.md` mentions, with the quoted heading when one follows (`docs/x.md, "Heading"`). */
function docMentions(text: string): { file: string; heading: string | null; line: number }[] {
  const out: { file: string; heading: string | null; line: number }[] = [];
  const joined = text.replace(/\n\s*(\*|\/\/)?\s*/g, ' ');
  const lineOf = (name: string) => text.split('\n').findIndex((l) => l.includes(name)) + 1;
  for (const m of joined.matchAll(/\bdocs\/([\w-]+\.md)(?:,\s*"([^"]+)")?/g)) {
    const file = m[1] as string;
    out.push({ file, heading: m[2] ?? null, line: lineOf(`docs/${file}`) });
  }
  return out;
}

describe('references stay inside the repository', () => {
  const files = checkedFiles();

  it('finds the files it checks', () => {
    const names = files.map((f) => path.relative(root, f));
    expect(names).toContain('README.md');
    expect(names).toContain(path.join('docs', 'README.md'));
    expect(names.some((n) => n.startsWith(path.join('packages', 'gates', 'src')))).toBe(true);
  });

  it('no source, README or doc cites a document outside the repository', () => {
    const violations = files.flatMap((f) =>
      outsideReferences(path.relative(root, f), readFileSync(f, 'utf8')),
    );
    expect(violations).toEqual([]);
  });

  it('every docs/<file>.md named exists, with the section heading it quotes', () => {
    const problems: string[] = [];
    for (const f of files) {
      for (const m of docMentions(readFileSync(f, 'utf8'))) {
        const target = path.join(root, 'docs', m.file);
        const where = `${path.relative(root, f)}:${m.line}`;
        if (!existsSync(target)) problems.push(`${where}: docs/${m.file} does not exist`);
        else if (m.heading !== null && !headings(target).has(m.heading)) {
          problems.push(`${where}: docs/${m.file} has no section "${m.heading}"`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('relative links of the docs and READMEs resolve', () => {
    const problems: string[] = [];
    for (const f of files.filter(isMd)) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const href = m[1] as string;
        if (/^[a-z][a-z+.-]*:/i.test(href) || href.startsWith('#')) continue;
        const target = path.resolve(path.dirname(f), decodeURI(href.split('#')[0] as string));
        if (!existsSync(target)) problems.push(`${path.relative(root, f)}: link ${href} does not resolve`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the check itself catches each kind of outside reference', () => {
    const sample = [
      'rule (engine §1.6)',
      'see report §1.2',
      "in the report's order",
      'see ../shared/design',
      'engine-reference.md',
      'features.md',
      'anchors.md',
    ].join('\n');
    expect(outsideReferences('sample', sample)).toHaveLength(8);
    expect(outsideReferences('sample', 'see docs/scheduler.md, "Fuses" and docs/dvm-design.md §1')).toEqual(
      [],
    );
  });
});
