/**
 * Trimming change buffers: the rows every consumer's committed frontier has passed (base buffers:
 * the row's xid is visible in every consumer's snapshot; stream-table buffers: its epoch is at
 * most every consumer's). A consumer without a frontier blocks trimming. Each trim is ONE
 * statement that first tries the buffer's cleanup lock (`lockKey`, an advisory lock held to the
 * end of the statement's transaction) and deletes nothing when another session holds it. A base
 * buffer has an index only while it is large (docs/capture.md): the trim deletes the rows below
 * the smallest consumer's snapshot xmax (a row at or above it is not visible to that consumer yet)
 * that every consumer's snapshot sees, and counts (up to a bound) the rows it keeps, so the caller
 * can tell whether the buffer should have its index.
 */
import { quoteLiteral } from '@pgtrickle/dvm';
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');
const DEP = cat('pgt_dependencies');

/** What trimming a base buffer did and left. */
export interface BaseTrim {
  /** Rows deleted. */
  readonly deleted: number;
  /** Rows left, counted up to the `countUpTo` asked for (null: another session holds the buffer's cleanup). */
  readonly kept: number | null;
  /** Whether the buffer has its window index (docs/capture.md, "What a captured row holds"). */
  readonly indexed: boolean;
}

/**
 * Deletes consumed rows of base table `oid`'s buffer (the quoted relation `buffer`, whose window
 * index would be `index`), and in the same statement counts the rows it keeps, up to `countUpTo`.
 */
export async function trimBaseBuffer(
  q: Queryable,
  oid: number,
  buffer: string,
  index: string,
  lockKey: string,
  countUpTo: number,
): Promise<BaseTrim> {
  const { ctes, columns } = inlineTrimSql([{ kind: 'table', oid, buffer, index, lockKey }], null, countUpTo);
  const res = await q.query(
    `WITH ${ctes.join(',\n')}\nSELECT (SELECT n FROM __pgt_trim_n0)::int8 AS deleted, ${columns.join(', ')}`,
  );
  const r = res.rows[0];
  return {
    deleted: Number(r?.deleted ?? 0),
    kept:
      r?.__pgt_trim_kept0 === null || r?.__pgt_trim_kept0 === undefined ? null : Number(r.__pgt_trim_kept0),
    indexed: r?.__pgt_trim_indexed0 === true,
  };
}

/** Deletes consumed rows of stream table `pgtId`'s epoch buffer (the quoted relation `buffer`); returns rows deleted. */
export async function trimStreamBuffer(
  q: Queryable,
  pgtId: number,
  buffer: string,
  lockKey: string,
): Promise<number> {
  const { ctes } = inlineTrimSql([{ kind: 'streamTable', pgtId, buffer, lockKey }], null, 0);
  const res = await q.query(
    `WITH ${ctes.join(',\n')}\nSELECT count(*)::int8 AS deleted FROM __pgt_trim_deleted0`,
  );
  return Number(res.rows[0]?.deleted ?? 0);
}

/** A buffer trimmed inside a refresh's own record statement ({@link inlineTrimSql}). */
export type InlineTrimTarget =
  | {
      readonly kind: 'table';
      readonly oid: number;
      /** The quoted buffer relation and the quoted name of its window index. */
      readonly buffer: string;
      readonly index: string;
      readonly lockKey: string;
    }
  | {
      readonly kind: 'streamTable';
      readonly pgtId: number;
      readonly buffer: string;
      readonly lockKey: string;
    };

/**
 * The trims of `targets` as parts of one statement: run alone ({@link trimBaseBuffer},
 * {@link trimStreamBuffer}; `own` null) or inside the statement that also records a refresh of
 * stream table `own.pgtId` (not yet visible to the statement's own reads): that consumer's
 * frontier is then taken from `own` (SQL expressions: its id, its new snapshot, its new epochs as
 * jsonb), every other consumer's from its committed row. Returns the CTEs (named
 * `__pgt_trim_*`) and the result columns: per target `i`, `__pgt_trim_ok<i>` (the cleanup lock was
 * taken) and for a base buffer `__pgt_trim_kept<i>` (counted up to `countUpTo`) and
 * `__pgt_trim_indexed<i>`.
 */
export function inlineTrimSql(
  targets: readonly InlineTrimTarget[],
  own: { readonly pgtId: string; readonly snapshot: string; readonly epochs: string } | null,
  countUpTo: number,
): { readonly ctes: readonly string[]; readonly columns: readonly string[] } {
  const ctes: string[] = [];
  const columns: string[] = [];
  targets.forEach((t, i) => {
    const lock = `__pgt_trim_lock${i}`;
    const bound = `__pgt_trim_bound${i}`;
    ctes.push(
      `${lock} AS MATERIALIZED (SELECT pg_catalog.pg_try_advisory_xact_lock(${quoteLiteral(t.lockKey)}::bigint) AS ok)`,
    );
    columns.push(`(SELECT ok FROM ${lock}) AS __pgt_trim_ok${i}`);
    if (t.kind === 'table') {
      const consumers = `__pgt_trim_consumers${i}`;
      ctes.push(
        `${consumers} AS MATERIALIZED (
           SELECT ${own === null ? 'st.frontier_snapshot' : `CASE WHEN st.pgt_id = ${own.pgtId} THEN ${own.snapshot} ELSE st.frontier_snapshot END`} AS snap
             FROM ${ST} AS st JOIN ${DEP} AS d ON d.pgt_id = st.pgt_id
            WHERE d.source_oid = ${Number(t.oid)} AND (${own === null ? '' : `st.pgt_id = ${own.pgtId} OR `}st.effective_mode <> 'IMMEDIATE'))`,
        `${bound} AS MATERIALIZED (
           SELECT CASE WHEN bool_or(snap IS NULL) THEN NULL ELSE min(pg_catalog.pg_snapshot_xmax(snap)) END AS xmax
             FROM ${consumers} WHERE (SELECT ok FROM ${lock}))`,
        `__pgt_trim_deleted${i} AS (
           DELETE FROM ${t.buffer} AS b USING ${bound}
            WHERE ${bound}.xmax IS NOT NULL AND b.xid < ${bound}.xmax
              AND NOT EXISTS (SELECT 1 FROM ${consumers} AS c WHERE NOT pg_catalog.pg_visible_in_snapshot(b.xid, c.snap))
           RETURNING 1)`,
        `__pgt_trim_n${i} AS MATERIALIZED (SELECT count(*) AS n FROM __pgt_trim_deleted${i})`,
      );
      // The rows kept: the buffer as the statement sees it (counted up to the bound) less those deleted.
      columns.push(
        `CASE WHEN (SELECT ok FROM ${lock}) THEN (SELECT count(*) FROM (
           SELECT 1 FROM ${t.buffer} LIMIT ${Number(countUpTo)} + (SELECT n FROM __pgt_trim_n${i})) AS x)
             - (SELECT n FROM __pgt_trim_n${i}) END AS __pgt_trim_kept${i}`,
        `pg_catalog.to_regclass(${quoteLiteral(t.index)}) IS NOT NULL AS __pgt_trim_indexed${i}`,
      );
    } else {
      ctes.push(
        `${bound} AS MATERIALIZED (
           SELECT min(COALESCE((${own === null ? 'st.frontier_epochs' : `CASE WHEN st.pgt_id = ${own.pgtId} THEN ${own.epochs} ELSE st.frontier_epochs END`}
                               ->> ${quoteLiteral(String(t.pgtId))})::bigint, -1)) AS epoch, count(*) AS n
             FROM ${ST} AS st JOIN ${DEP} AS d ON d.pgt_id = st.pgt_id
            WHERE d.source_pgt_id = ${Number(t.pgtId)} AND (SELECT ok FROM ${lock}))`,
        `__pgt_trim_deleted${i} AS (
           DELETE FROM ${t.buffer} AS b USING ${bound} WHERE ${bound}.n > 0 AND b.epoch <= ${bound}.epoch
           RETURNING 1)`,
      );
    }
  });
  return { ctes, columns };
}
