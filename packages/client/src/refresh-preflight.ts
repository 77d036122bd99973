/**
 * What a refresh checks before it reads anything, in ONE read-only statement: whether its storage
 * table still exists, the state of the storage's write guard, whether other stream tables read it
 * (it then captures what it applies), and the current fingerprints of its sources.
 */
import { readersExistSql } from './catalog/read-dependencies.js';
import type { DependencyRow, StreamTableRow } from './catalog/rows.js';
import type { Conn } from './db.js';
import { fingerprintsSql } from './port.js';
import { type GuardState, guardStateSql, storageExistsSql } from './storage.js';

/** The state a refresh starts from. */
export interface Preflight {
  /** The recorded storage table is gone (dropped behind pgtrickle's back). */
  readonly storageMissing: boolean;
  /** Its guard trigger (null: no storage). */
  readonly guard: GuardState | null;
  /** Some stream table reads this one. */
  readonly hasReaders: boolean;
  /** The current fingerprint of every source (null: dropped). */
  readonly fingerprints: ReadonlyMap<number, string | null>;
}

/** Reads the {@link Preflight} of `row` with sources `deps`. */
export async function preflight(
  conn: Conn,
  row: Pick<StreamTableRow, 'pgtId' | 'storageOid'>,
  deps: readonly DependencyRow[],
): Promise<Preflight> {
  const res = await conn.query(
    `SELECT $1::oid IS NOT NULL AND NOT ${storageExistsSql('$1::oid')} AS missing,
            ${guardStateSql('$1::oid')} AS guard,
            ${readersExistSql('$2::bigint')} AS readers,
            (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('oid', f.oid, 'fp', f.fp))
               FROM (${fingerprintsSql('$3')}) AS f) AS fps`,
    [row.storageOid, row.pgtId, deps.map((d) => d.sourceOid)],
  );
  const r = res.rows[0] ?? {};
  const fps = (r.fps ?? []) as { oid: number | string; fp: string | null }[];
  return {
    storageMissing: r.missing === true,
    guard: (r.guard ?? null) as GuardState | null,
    hasReaders: r.readers === true,
    fingerprints: new Map(fps.map((f) => [Number(f.oid), f.fp === null ? null : String(f.fp)])),
  };
}
