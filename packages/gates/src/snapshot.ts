/**
 * PostgreSQL snapshots (pg_snapshot text "xmin:xmax:xip,…") as frontiers. Rule: a transaction x
 * is visible in snapshot S when x < S.xmin, or x < S.xmax and x is not in S.xip; snapshot G
 * covers snapshot B when every transaction visible in B is visible in G. Transaction ids compare
 * as 64-bit numbers (xid8), never as strings.
 */
import { GateConfigError } from './errors.js';

/** A parsed pg_snapshot. */
export interface Snapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
  /** Transactions in progress when the snapshot was taken (each in [xmin, xmax)). */
  readonly xip: readonly bigint[];
}

const SNAPSHOT = /^(\d+):(\d+):((?:\d+(?:,\d+)*)?)$/;

/** Parses pg_snapshot text; throws GateConfigError for malformed text. */
export function parseSnapshot(text: string): Snapshot {
  const m = SNAPSHOT.exec(text.trim());
  if (!m) {
    throw new GateConfigError(
      [`${JSON.stringify(text)} is not a pg_snapshot`],
      'Pass snapshots as PostgreSQL prints them, e.g. "100:104:100,102".',
    );
  }
  const xmin = BigInt(m[1] as string);
  const xmax = BigInt(m[2] as string);
  const xip = (m[3] ?? '') === '' ? [] : (m[3] as string).split(',').map((x) => BigInt(x));
  return { xmin, xmax, xip };
}

/** Whether transaction `xid` is visible in snapshot `s` (committed before it was taken). */
export function visibleInSnapshot(xid: bigint, s: Snapshot): boolean {
  if (xid < s.xmin) return true;
  if (xid >= s.xmax) return false;
  return !s.xip.includes(xid);
}

/** Whether snapshot `green` covers snapshot `blue`: every transaction visible in blue is visible in green. */
export function snapshotCovers(green: Snapshot | string, blue: Snapshot | string): boolean {
  const g = typeof green === 'string' ? parseSnapshot(green) : green;
  const b = typeof blue === 'string' ? parseSnapshot(blue) : blue;
  // A transaction green still saw in progress must be invisible to blue too.
  if (g.xip.some((x) => visibleInSnapshot(x, b))) return false;
  // Every transaction at or after green's xmax is invisible to green: blue must see none of them.
  if (g.xmax < b.xmin) return false;
  if (b.xmax <= g.xmax) return true;
  const unseenByBlue = new Set(b.xip.filter((x) => x >= g.xmax)).size;
  return BigInt(unseenByBlue) === b.xmax - g.xmax;
}
