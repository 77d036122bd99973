/**
 * The built CLI, as users run it (`node dist/cli.js`, no source condition): the packages as
 * published must work — e.g. a bundler must not drop modules imported for their side effects
 * (dvm's operators register themselves). Needs `pnpm build` first, as the README and CI do.
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
