/**
 * The scheduler's incremental view of the catalog and of pending changes (docs/scheduler.md,
 * "Idle ticks"). Rules:
 * - A tick first reads the current snapshot: when no transaction committed since the previous
 *   tick's (`nothingCommitted`), the catalog and every pending answer are reused as they are.
 * - Otherwise one statement reads the catalog's signature (an md5 over the `(ctid, xmin)` of every
 *   row of the tables a tick plans from: any committed insert, update or delete changes it), the
 *   statement's snapshot, and every change buffer's stamp: its change-id sequence and last value.
 *   Every row a capture trigger or a refresh appends to a buffer draws from that sequence
 *   (`nextval` is not transactional, so a write bumps the stamp before it commits).
 * - The catalog is loaded again only when the signature changed (and at least every
 *   `FULL_RELOAD_MS`, a safety net).
 * - A table's "nothing pending" answer is reused while (a) its frontier and status are unchanged,
 *   (b) the stamps of all its sources are those read before the probe that gave it, and (c) every
 *   transaction in progress at that probe's snapshot is still in progress (one of them may have
 *   drawn its change ids before the stamps were read; while it runs its rows stay invisible, once
 *   it ends they may be pending). Any other table is probed again: "pending" answers always are.
 *   A write that commits after the probe either drew its change id after the stamps were read
 *   (the stamp moved) or belongs to a transaction of (c).
 * - A probe of a few tables is one statement of `EXISTS` index probes; of many, or when it fails
 *   (a buffer dropped meanwhile), the catalog function `pgtrickle.pending_sources()`.
 */
import { baseBufferName, quoteIdent, quoteLiteral, streamBufferName } from '@pgtrickle/dvm';
import type { DependencyRow, StreamTableRow } from '../catalog/rows.js';
import { type CatalogObject, CHANGES_SCHEMA_NAME, cat, type Queryable } from '../catalog/schema.js';

/** The longest a loaded catalog is reused without being read again, ms. */
export const FULL_RELOAD_MS = 30_000;

/** Above this many dependencies to probe, the catalog function probes them all. */
const MAX_TARGETED_PROBES = 64;

const ST = cat('pgt_stream_tables');

/** A parsed `pg_snapshot`: the transactions in progress at it. */
export interface SnapshotXip {
  readonly xmax: bigint;
  readonly xip: readonly bigint[];
}

/** Parses `xmin:xmax:xip,…` (the text of a `pg_snapshot`). */
export function parseSnapshot(text: string): SnapshotXip {
  const [, xmax = '0', xip = ''] = text.split(':');
  return { xmax: BigInt(xmax), xip: xip === '' ? [] : xip.split(',').map((x) => BigInt(x)) };
}

/** Whether every transaction in progress at `then` is still in progress at `now`. */
export function stillInProgress(then: SnapshotXip, now: SnapshotXip): boolean {
  if (then.xip.length === 0) return true;
  const running = new Set(now.xip);
  return then.xip.every((x) => x >= now.xmax || running.has(x));
}

/** What one tick's first statement read. */
export interface TickProbe {
  /** The catalog's signature (changes with any committed write to the planned tables). */
  readonly signature: string;
  /** The statement's snapshot. */
  readonly snapshot: SnapshotXip;
  /** Each change buffer's stamp, by buffer name (`<sequence oid>:<last value>`). */
  readonly stamps: ReadonlyMap<string, string>;
}

/** The current snapshot (one cheap statement). */
export async function readSnapshot(q: Queryable): Promise<SnapshotXip> {
  const res = await q.query('SELECT pg_catalog.pg_current_snapshot()::text AS s');
  return parseSnapshot(String(res.rows[0]?.s));
}

/**
 * Whether no transaction committed between two snapshots: nothing was assigned an xid that has
 * completed since (`xmax` is the latest completed xid + 1) and every transaction in progress then
 * still is. Everything read at `then` is then still what a statement would read now.
 */
export function nothingCommitted(then: SnapshotXip, now: SnapshotXip): boolean {
  return then.xmax === now.xmax && then.xip.length === now.xip.length && stillInProgress(then, now);
}

/** The suffix PostgreSQL gives a buffer's `bigserial` change-id sequence. */
const SEQUENCE_SUFFIX = '_change_id_seq';

/** Reads the catalog signature, the snapshot and the buffers' stamps in one statement. */
export async function readTickProbe(q: Queryable): Promise<TickProbe> {
  const sig = (t: CatalogObject) =>
    `(SELECT count(*)::text || ':' || COALESCE(pg_catalog.md5(pg_catalog.string_agg(ctid::text || ';' || xmin::text, ',' ORDER BY ctid)), '') FROM ${cat(t)})`;
  const res = await q.query(
    `SELECT ${sig('pgt_stream_tables')} || '/' || ${sig('pgt_dependencies')} || '/' || ${sig('pgt_refresh_groups')} AS signature,
            pg_catalog.pg_current_snapshot()::text AS snapshot,
            (SELECT COALESCE(pg_catalog.json_object_agg(s.relname, s.oid::text || ':' || COALESCE(
                      CASE WHEN pg_catalog.has_sequence_privilege(s.oid, 'SELECT')
                           THEN pg_catalog.pg_sequence_last_value(s.oid)::text ELSE 'unreadable' END, 'none')), '{}')
               FROM pg_catalog.pg_class s
              WHERE s.relnamespace = ${quoteLiteral(quoteIdent(CHANGES_SCHEMA_NAME))}::pg_catalog.regnamespace
                AND s.relkind = 'S' AND s.relname LIKE ${quoteLiteral(`%${SEQUENCE_SUFFIX}`)}) AS stamps`,
  );
  const r = res.rows[0] as { signature: string; snapshot: string; stamps: Record<string, string> };
  const stamps = new Map<string, string>();
  for (const [seq, stamp] of Object.entries(r.stamps))
    stamps.set(seq.slice(0, -SEQUENCE_SUFFIX.length), stamp);
  return { signature: r.signature, snapshot: parseSnapshot(r.snapshot), stamps };
}

/** The buffer a dependency reads (null: a view or another kind without a buffer). */
function bufferOf(d: DependencyRow): string | null {
  if (d.sourceKind === 'table') return baseBufferName(d.sourceOid);
  if (d.sourceKind === 'streamTable' && d.sourcePgtId !== null) return streamBufferName(d.sourcePgtId);
  return null;
}

interface Answer {
  readonly key: string;
  readonly stamps: string;
  readonly at: SnapshotXip;
  readonly pending: boolean;
}

/** The pending answers of the previous ticks, reused under the rules above. */
export class PendingCache {
  readonly #answers = new Map<number, Answer>();

  /** Forgets every answer (e.g. after a connection was lost). */
  clear(): void {
    this.#answers.clear();
  }

  /**
   * Whether each table in `rows` has changes pending: reused answers, and one probe for the
   * others. `probe` was read before anything is probed; `quiet`: nothing committed since the
   * previous answers were given (every one of them is reused).
   */
  async pending(
    q: Queryable,
    rows: readonly StreamTableRow[],
    deps: ReadonlyMap<number, readonly DependencyRow[]>,
    probe: TickProbe,
    quiet = false,
  ): Promise<Map<number, boolean>> {
    const out = new Map<number, boolean>();
    const todo: { row: StreamTableRow; key: string; stamps: string }[] = [];
    const live = new Set<number>();
    for (const row of rows) {
      if (row.status !== 'ACTIVE' && row.status !== 'INITIALIZING') continue;
      live.add(row.pgtId);
      const known = this.#answers.get(row.pgtId);
      if (known !== undefined && quiet) {
        out.set(row.pgtId, known.pending);
        continue;
      }
      const c = this.#check(row, deps, probe);
      if (c.stillNothing) out.set(row.pgtId, false);
      else todo.push({ row, key: c.key, stamps: c.stamps });
    }
    for (const id of [...this.#answers.keys()]) if (!live.has(id)) this.#answers.delete(id);
    if (todo.length === 0) return out;
    const { answers, at } = await this.#probe(q, todo, deps, probe);
    for (const t of todo) {
      const pending = answers.get(t.row.pgtId) ?? false;
      out.set(t.row.pgtId, pending);
      this.#answers.set(t.row.pgtId, { key: t.key, stamps: t.stamps, at, pending });
    }
    return out;
  }

  /**
   * The tables of `rows` whose "nothing pending" answer is reused as it is under the rules above
   * (no probe): their answer is the one the previous tick got.
   */
  stillNothingPending(
    rows: readonly StreamTableRow[],
    deps: ReadonlyMap<number, readonly DependencyRow[]>,
    probe: TickProbe,
  ): Set<number> {
    const out = new Set<number>();
    for (const row of rows) {
      if (row.status !== 'ACTIVE' && row.status !== 'INITIALIZING') continue;
      if (this.#check(row, deps, probe).stillNothing) out.add(row.pgtId);
    }
    return out;
  }

  /** A table's answer key and stamps now, and whether its known "nothing pending" answer still holds. */
  #check(
    row: StreamTableRow,
    deps: ReadonlyMap<number, readonly DependencyRow[]>,
    probe: TickProbe,
  ): { key: string; stamps: string; stillNothing: boolean } {
    const key = `${row.status}|${row.frontier === null ? '' : `${row.frontier.snapshot}|${JSON.stringify(row.frontier.epochs)}`}`;
    const stamps = (deps.get(row.pgtId) ?? [])
      .map((d) => {
        const b = bufferOf(d);
        return b === null ? '' : `${b}=${probe.stamps.get(b) ?? 'absent'}`;
      })
      .join(',');
    const known = this.#answers.get(row.pgtId);
    // A stamp this role may not read never vouches for an unchanged buffer.
    const unreadable = stamps.includes(':unreadable');
    const stillNothing =
      known !== undefined &&
      !unreadable &&
      !known.pending &&
      known.key === key &&
      known.stamps === stamps &&
      stillInProgress(known.at, probe.snapshot);
    return { key, stamps, stillNothing };
  }

  async #probe(
    q: Queryable,
    todo: readonly { row: StreamTableRow }[],
    deps: ReadonlyMap<number, readonly DependencyRow[]>,
    probe: TickProbe,
  ): Promise<{ answers: Map<number, boolean>; at: SnapshotXip }> {
    const branches: string[] = [];
    for (const { row } of todo) {
      const id = Number(row.pgtId);
      if (row.frontier === null) {
        branches.push(`SELECT ${id}::bigint AS pgt_id, true AS pending`);
        continue;
      }
      for (const d of deps.get(id) ?? []) {
        const name = bufferOf(d);
        // No buffer (every buffer has its sequence): nothing captured, as `pending_sources()` answers.
        if (name === null || !probe.stamps.has(name)) continue;
        const buffer = `${quoteIdent(CHANGES_SCHEMA_NAME)}.${quoteIdent(name)}`;
        const window =
          d.sourceKind === 'table'
            ? `b.xid >= pg_catalog.pg_snapshot_xmin(s.frontier_snapshot) AND NOT pg_catalog.pg_visible_in_snapshot(b.xid, s.frontier_snapshot)`
            : `b.epoch > COALESCE((s.frontier_epochs ->> '${Number(d.sourcePgtId)}')::bigint, 0)`;
        branches.push(
          `SELECT s.pgt_id, s.frontier_snapshot IS NULL OR EXISTS (SELECT 1 FROM ${buffer} b WHERE ${window}) AS pending FROM ${ST} s WHERE s.pgt_id = ${id} AND s.status IN ('ACTIVE', 'INITIALIZING')`,
        );
      }
    }
    const targeted = branches.length <= MAX_TARGETED_PROBES;
    const all = `SELECT pgt_id, pending FROM ${cat('pending_sources')}()`;
    const text = (body: string) =>
      `SELECT p.pgt_id, bool_or(p.pending) AS pending, pg_catalog.pg_current_snapshot()::text AS at FROM (${body}) p GROUP BY p.pgt_id
       UNION ALL SELECT NULL, NULL, pg_catalog.pg_current_snapshot()::text`;
    let res: Awaited<ReturnType<Queryable['query']>>;
    if (!targeted) res = await q.query(text(all));
    else if (branches.length === 0)
      res = await q.query(text('SELECT NULL::bigint AS pgt_id, false AS pending WHERE false'));
    else {
      try {
        res = await q.query(text(branches.join('\nUNION ALL\n')));
      } catch {
        // A buffer dropped since the stamps were read: probe through the catalog function.
        res = await q.query(text(all));
      }
    }
    const answers = new Map<number, boolean>();
    let at = '';
    for (const r of res.rows) {
      at = String(r.at);
      if (r.pgt_id !== null) answers.set(Number(r.pgt_id), r.pending === true);
    }
    return { answers, at: parseSnapshot(at) };
  }
}
