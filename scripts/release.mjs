#!/usr/bin/env node
/**
 * `pnpm release`: the one command a maintainer runs to publish. Rule: nothing is published from a
 * dirty tree or from anything but what was built and checked here. Steps:
 * 1. refuse uncommitted changes;
 * 2. apply the pending changesets (`changeset version`: versions and CHANGELOG.md files), refresh the
 *    lockfile, commit "release: version packages";
 * 3. lint, typecheck, build, and the packed-install check (`scripts/pack-smoke.mjs`); the full
 *    `pnpm test` too unless `--no-test` (CI ran it on main already);
 * 4. `changeset publish`: every public package whose version is not on the registry yet, with
 *    `pnpm publish` (workspace versions written out), and a git tag per package;
 * 5. print the `git push --follow-tags` that shares the commit and the tags.
 * `--dry-run` does steps 1 and 3 and shows what `changeset status` would release, changing nothing.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const dryRun = args.has('--dry-run');
const withTests = !args.has('--no-test');

function step(title, cmd, argv) {
  console.log(`\n== ${title}: ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`release stopped: "${cmd} ${argv.join(' ')}" failed (exit ${r.status ?? r.signal}).`);
    process.exit(1);
  }
}

function output(cmd, argv) {
  return spawnSync(cmd, argv, { cwd: root, encoding: 'utf8' }).stdout ?? '';
}

if (output('git', ['status', '--porcelain']).trim() !== '') {
  console.error('release refused: the working tree has uncommitted changes; commit or stash them first.');
  process.exit(1);
}

const pending = readdirSync(path.join(root, '.changeset')).filter(
  (f) => f.endsWith('.md') && f !== 'README.md',
);
step('what would be released', 'pnpm', ['exec', 'changeset', 'status', '--verbose']);

if (!dryRun && pending.length > 0) {
  step('versions and changelogs', 'pnpm', ['exec', 'changeset', 'version']);
  step('lockfile', 'pnpm', ['install', '--lockfile-only']);
  step('commit', 'git', ['commit', '-am', 'release: version packages']);
}

step('lint', 'pnpm', ['lint']);
step('typecheck', 'pnpm', ['typecheck']);
step('build', 'pnpm', ['build']);
step('packed install', process.execPath, [path.join('scripts', 'pack-smoke.mjs')]);
if (withTests) step('tests', 'pnpm', ['test']);

if (dryRun) {
  console.log('\ndry run: nothing was versioned, committed or published.');
  process.exit(0);
}
step('publish', 'pnpm', ['exec', 'changeset', 'publish']);
console.log('\nPublished. Share the release commit and its tags: git push --follow-tags');
