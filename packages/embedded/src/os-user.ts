/**
 * The OS user PostgreSQL runs as, and file-permission checks on that user's behalf.
 *
 * PostgreSQL refuses to run as root. When this package runs as root (CI containers), it runs
 * `initdb` and `postgres` as an unprivileged OS user (default `postgres`, created if missing), so
 * every directory on the way to the binaries and to the data directory must be traversable by
 * that user. These helpers answer "can uid/gid X reach this path?" from the mode bits, which is
 * what decides whether the binaries have to be copied somewhere world-readable.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describeError, EmbeddedPostgresError } from './errors.js';

const execFileAsync = promisify(execFile);

/** A numeric OS identity that child processes can be spawned as. */
export interface OsIdentity {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Whether this process runs as root (uid 0). Always `false` on Windows. */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function lookupUser(name: string): Promise<OsIdentity | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', name]).then((r) => Number.parseInt(r.stdout.trim(), 10)),
      execFileAsync('id', ['-g', name]).then((r) => Number.parseInt(r.stdout.trim(), 10)),
    ]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    return { name, uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * Looks up the OS user `name`; if it is missing and `create` is true, creates it (and a group of
 * the same name) as a system account without a home directory, using `groupadd`/`useradd`, or
 * BusyBox `addgroup`/`adduser` where those are absent. Only meaningful when running as root.
 */
export async function resolveOsUser(name: string, create: boolean): Promise<OsIdentity> {
  const existing = await lookupUser(name);
  if (existing) return existing;
  if (!create) {
    throw new EmbeddedPostgresError(
      'PGT_EMBEDDED_OS_USER',
      `Running as root, PostgreSQL must run as the OS user "${name}", which does not exist. ` +
        `Create it (e.g. \`useradd --system ${name}\`), or allow it to be created (createOsUser: true), ` +
        'or run as a non-root user.',
    );
  }
  const attempts: string[][][] = [
    [
      ['groupadd', '--system', name],
      ['useradd', '--system', '--gid', name, '--no-create-home', '--shell', '/usr/sbin/nologin', name],
    ],
    [
      ['addgroup', '-S', name],
      ['adduser', '-S', '-D', '-H', '-G', name, name],
    ],
  ];
  const failures: string[] = [];
  for (const commands of attempts) {
    for (const [command, ...args] of commands) {
      if (command === undefined) continue;
      try {
        await execFileAsync(command, args);
      } catch (error) {
        // "already exists" (a concurrent run created it) is fine; anything else is recorded.
        failures.push(`${command} ${args.join(' ')}: ${describeError(error).trim()}`);
      }
    }
    const created = await lookupUser(name);
    if (created) return created;
  }
  throw new EmbeddedPostgresError(
    'PGT_EMBEDDED_OS_USER',
    `Running as root, PostgreSQL must run as an unprivileged OS user, and creating the user "${name}" failed. ` +
      `Create it yourself (e.g. \`groupadd --system ${name} && useradd --system -g ${name} ${name}\`) or run ` +
      `as a non-root user. Attempts:\n  ${failures.join('\n  ')}`,
  );
}

type Access = 'x' | 'r' | 'rx';

function permits(mode: number, fileUid: number, fileGid: number, who: OsIdentity, access: Access): boolean {
  if (who.uid === 0) return true;
  const shift = fileUid === who.uid ? 6 : fileGid === who.gid ? 3 : 0;
  const bits = (mode >> shift) & 0o7;
  const need = access === 'x' ? 0o1 : access === 'r' ? 0o4 : 0o5;
  return (bits & need) === need;
}

/**
 * The first path (the given one or one of its ancestors) that `who` cannot traverse, judged from
 * mode bits (ACLs are not consulted), or `undefined` if every directory from `/` down to `dir`
 * is searchable.
 */
export async function firstUntraversable(dir: string, who: OsIdentity): Promise<string | undefined> {
  const absolute = path.resolve(dir);
  const chain: string[] = [];
  let current = absolute;
  for (;;) {
    chain.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const p of chain) {
    const s = await stat(p);
    if (!permits(s.mode, s.uid, s.gid, who, 'x')) return p;
  }
  return undefined;
}

/** Whether `who` may open the file with the given access (mode bits of the file itself only). */
export async function fileAccessibleBy(file: string, who: OsIdentity, access: Access): Promise<boolean> {
  try {
    const s = await stat(file);
    return permits(s.mode, s.uid, s.gid, who, access);
  } catch {
    return false;
  }
}
