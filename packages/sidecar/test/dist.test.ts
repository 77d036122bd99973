/**
 * The built CLI, as users run it (`node dist/cli.js`, no source condition): the packages as
 * published must work — e.g. a bundler must not drop a module the CLI needs (every package is
 * `sideEffects: false`, so each module must be reached through imports). Needs `pnpm build`
 * first, as the README and CI do.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { useTestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { childEnv, packageDir } from './support/process.js';

const db = useTestDatabase();
const cli = path.join(packageDir, 'dist', 'cli.js');

describe('the built pgtrickle CLI', () => {
  it('runs the demo pipeline (joins, aggregates, chains, a diamond) from dist', () => {
    expect(
      existsSync(cli),
      `${cli} is missing: run \`pnpm build\` before \`pnpm test\` (the README and CI do)`,
    ).toBe(true);
    const res = spawnSync(process.execPath, [cli, 'demo', '--database-url', db.url, '--duration', '6'], {
      env: childEnv(),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(res.status, res.stderr).toBe(0);
    const rounds = res.stdout.split('\n').filter((l) => l.startsWith('round '));
    expect(rounds.length, res.stdout).toBeGreaterThanOrEqual(1);
    for (const r of rounds) expect(r).toMatch(/equal their queries ✓$/);
  }, 150_000);
});

describe('the built pgtrickle CLI on an empty database', () => {
  const fresh = useTestDatabase({ label: 'dist_plan' });
  it('reads the catalog migrations from the installed client package (sql/migrations) and prints them', () => {
    const res = spawnSync(process.execPath, [cli, 'plan', '--database-url', fresh.url], {
      env: childEnv(),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toContain('-- migration 1: core catalog');
    expect(res.stdout).toContain('-- migration 3: sql api, requests, leadership');
    // The checksums recorded by installs made before the migrations moved to .sql files.
    expect(res.stdout).toContain('a25ee9463557b7ad68457b8bda6a9766fbab4897bbafec3473e2c670f971c4be');
    expect(res.stdout).toContain('1aa5f212909a07fe6c3efffa143c04265c5b3e6aa6eea4d6416fa1fcb87e93be');
  }, 90_000);
});
