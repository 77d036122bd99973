/**
 * The binaries copy: a tree whose library symlinks were never created (postinstall blocked) is
 * copied to the per-user cache with the symlinks restored, and the cache is re-used; as root, a
 * tree the PostgreSQL OS user cannot reach (a checkout under a 0700 directory) is copied too, and
 * the copy runs as that user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// The launcher's helpers, from @pgtrickle/embedded's source (as the kit imports it).
import {
  ensureBinariesUsable,
  firstUntraversable,
  isRoot,
  locatePostgresBinaries,
  type PostgresBinaries,
  resolveOsUser,
} from '../../embedded/src/index.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgt-binaries-test-'));
chmodSync(scratch, 0o755);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function fakeTree(root: string, withSymlink: boolean): PostgresBinaries {
  const native = path.join(root, 'native');
  for (const dir of ['bin', 'lib', 'share/postgresql'])
    mkdirSync(path.join(native, dir), { recursive: true });
  for (const name of ['initdb', 'postgres', 'pg_ctl']) {
    writeFileSync(path.join(native, 'bin', name), '#!/bin/sh\necho fake-$0\n', { mode: 0o755 });
  }
  writeFileSync(path.join(native, 'lib', 'libfake.so.1.2'), 'lib');
  writeFileSync(path.join(native, 'share', 'postgresql', 'postgres.bki'), 'bki');
  writeFileSync(
    path.join(native, 'pg-symlinks.json'),
    JSON.stringify([{ source: 'native/lib/libfake.so.1.2', target: 'native/lib/libfake.so.1' }]),
  );
  if (withSymlink) execFileSync('ln', ['-s', 'libfake.so.1.2', path.join(native, 'lib', 'libfake.so.1')]);
  const bin = path.join(native, 'bin');
  return {
    binDir: bin,
    initdb: path.join(bin, 'initdb'),
    postgres: path.join(bin, 'postgres'),
    pgCtl: path.join(bin, 'pg_ctl'),
    version: `test-${path.basename(root)}`,
    origin: 'package',
  };
}

describe('ensureBinariesUsable', () => {
  it('uses a complete, reachable tree in place', async () => {
    const bins = fakeTree(mkdtempSync(path.join(scratch, 'ok-')), true);
    const result = await ensureBinariesUsable(bins, undefined, { cacheBase: scratch });
    expect(result).toBe(bins);
  });

  it('copies a tree with missing library symlinks to the cache, restores them, and re-uses the copy', async () => {
    const bins = fakeTree(mkdtempSync(path.join(scratch, 'nolinks-')), false);
    const notes: string[] = [];
    const first = await ensureBinariesUsable(bins, undefined, {
      cacheBase: scratch,
      onNote: (n) => notes.push(n),
    });
    expect(first.origin).toBe('cache');
    expect(first.binDir.startsWith(scratch)).toBe(true);
    const lib = path.join(path.dirname(first.binDir), 'lib');
    expect(readlinkSync(path.join(lib, 'libfake.so.1'))).toBe('libfake.so.1.2');
    expect(lstatSync(first.initdb).mode & 0o777).toBe(0o755);
    expect(lstatSync(path.join(lib, 'libfake.so.1.2')).mode & 0o777).toBe(0o644);
    expect(execFileSync(first.initdb, { encoding: 'utf8' })).toContain('fake-');
    expect(notes[0]).toMatch(/copied the PostgreSQL binaries .*library symlink/);

    const second = await ensureBinariesUsable(bins, undefined, {
      cacheBase: scratch,
      onNote: (n) => notes.push(n),
    });
    expect(second.binDir).toBe(first.binDir);
    expect(notes[1]).toMatch(/using the copy/);
  });

  it('replaces a cache directory it cannot trust', async () => {
    const bins = fakeTree(mkdtempSync(path.join(scratch, 'planted-')), false);
    const first = await ensureBinariesUsable(bins, undefined, { cacheBase: scratch });
    const cacheDir = path.dirname(first.binDir);
    chmodSync(cacheDir, 0o777); // group/other-writable: not trusted any more
    const second = await ensureBinariesUsable(bins, undefined, { cacheBase: scratch });
    expect(second.origin).toBe('cache');
    expect(lstatSync(cacheDir).mode & 0o022).toBe(0);
  });

  it.runIf(isRoot())(
    'as root, copies the real binaries out of a 0700 directory and the copy runs as the PostgreSQL OS user',
    async () => {
      const runAs = await resolveOsUser('postgres', true);
      const located = await locatePostgresBinaries();
      const privateDir = mkdtempSync(path.join(scratch, 'private-'));
      chmodSync(privateDir, 0o700);
      const tree = path.join(privateDir, 'native');
      cpSync(path.dirname(located.binDir), tree, { recursive: true, verbatimSymlinks: true });
      const hidden: PostgresBinaries = {
        ...located,
        binDir: path.join(tree, 'bin'),
        initdb: path.join(tree, 'bin', 'initdb'),
        postgres: path.join(tree, 'bin', 'postgres'),
        version: `${located.version}-hidden-test`,
      };
      // In place, the OS user cannot even start the binary.
      const denied = spawnSync(hidden.postgres, ['--version'], { uid: runAs.uid, gid: runAs.gid });
      expect((denied.error as NodeJS.ErrnoException | undefined)?.code).toBe('EACCES');

      const usable = await ensureBinariesUsable(hidden, runAs, { cacheBase: scratch });
      expect(usable.origin).toBe('cache');
      expect(await firstUntraversable(usable.binDir, runAs)).toBeUndefined();
      const ran = spawnSync(usable.postgres, ['--version'], {
        uid: runAs.uid,
        gid: runAs.gid,
        encoding: 'utf8',
      });
      expect(ran.stdout).toContain('PostgreSQL) 18');
    },
    60_000,
  );
});
