/**
 * The frontier: what a refresh has consumed, captured inside the statement that reads the
 * changes (docs/dvm-design.md §1). For base tables it is the statement's `pg_snapshot` with the
 * refreshing transaction's own xid added as visible: the statement sees that transaction's own
 * source writes (MVCC), but `pg_current_snapshot()` does not count it as visible, so without the
 * correction a refresh run in the same transaction as a source write would consume those rows
 * again next time. For stream-table sources it is the highest upstream epoch the statement saw.
 */

import type { DeltaParam } from '../diff/context.js';
import type { SourceRef } from '../ir/types.js';
import { CHANGES_SCHEMA, frontierTempName, streamBufferName } from '../names.js';
import { sql } from '../sql/sql.js';

/** The temp table (`pg_temp`) a refresh writes its new frontier into, quoted. */
export function frontierTable(tag: string): string {
  return sql`pg_temp.${sql.id(frontierTempName(tag))}`;
}

/**
 * The statement's snapshot with the current transaction's xid (if it has one) made visible:
 * xmax raised past it, the xids between the old xmax and it (all still running: they were
 * assigned after the snapshot's xmax) added as in progress, and the xid itself removed from the
 * in-progress list.
 */
export const CONSUMED_SNAPSHOT_SQL = `(SELECT CASE
    WHEN x.own IS NULL OR pg_catalog.pg_visible_in_snapshot(x.own, x.snap) THEN x.snap
    ELSE (pg_catalog.pg_snapshot_xmin(x.snap)::text || ':' ||
          (GREATEST(pg_catalog.pg_snapshot_xmax(x.snap)::text::numeric, x.own::text::numeric + 1))::text || ':' ||
          COALESCE((SELECT pg_catalog.string_agg(v::text, ',' ORDER BY v)
                    FROM (SELECT i::text::numeric AS v FROM pg_catalog.pg_snapshot_xip(x.snap) AS i
                          WHERE i <> x.own
                          UNION
                          SELECT pg_catalog.generate_series(pg_catalog.pg_snapshot_xmax(x.snap)::text::numeric, x.own::text::numeric - 1))
  AS xs), ''))::pg_catalog.pg_snapshot
  END
  FROM (SELECT pg_catalog.pg_current_snapshot() AS snap, pg_catalog.pg_current_xact_id_if_assigned() AS own) AS x)`;

/** The jsonb of the highest epoch seen per stream-table source (`{"<pgt id>": n}`), with each previous value as floor. */
export function epochsSql(
  sources: readonly Pick<SourceRef, 'key' | 'kind' | 'pgtId'>[],
  params: readonly DeltaParam[] | null,
): string {
  const st = sources.filter((s) => s.kind === 'streamTable');
  if (st.length === 0) return `'{}'::jsonb`;
  const parts = st.map((s) => {
    const p = params?.find((x) => x.kind === 'prevEpoch' && x.source === s.key);
    const floor = p === undefined ? '0' : sql`$${p.index}::bigint`;
    const buffer = sql.id(CHANGES_SCHEMA, streamBufferName(s.pgtId as number));
    return sql`${sql.lit(String(s.pgtId))}, GREATEST(${floor}, COALESCE((SELECT pg_catalog.max(b.epoch) FROM ${buffer} AS b), 0))`;
  });
  return sql`pg_catalog.jsonb_build_object(${sql.join(parts)})`;
}

/** The data-modifying CTE body that records the frontier of the statement it is part of. */
export function frontierCaptureSql(
  tag: string,
  sources: readonly SourceRef[],
  params: readonly DeltaParam[] | null,
): string {
  return sql`INSERT INTO ${frontierTable(tag)} (snapshot, epochs) SELECT ${CONSUMED_SNAPSHOT_SQL}, ${epochsSql(sources, params)}`;
}

/** The transaction-local setting a FULL refresh statement leaves its frontier in (see {@link fullFrontierGateSql}). */
export const FULL_FRONTIER_SETTING = 'pgtrickle.full_frontier';

/**
 * The condition a FULL refresh's `INSERT … SELECT` carries (`WHERE <this>`): an uncorrelated
 * subquery, so PostgreSQL evaluates it once (an InitPlan gating the scan, before the first row),
 * under the statement's own snapshot. It records that statement's frontier — the snapshot text
 * and the epochs jsonb, as `{"snapshot": …, "epochs": …}` — in {@link FULL_FRONTIER_SETTING} and
 * is always true. So the INSERT is a plain one (its row count is the command's; no `RETURNING`
 * of every row into a CTE, which spilled to disk beyond `work_mem`), and the frontier is still the
 * one of the statement that read the rows.
 */
export function fullFrontierGateSql(sources: readonly Pick<SourceRef, 'key' | 'kind' | 'pgtId'>[]): string {
  return sql`(SELECT pg_catalog.set_config(${sql.lit(FULL_FRONTIER_SETTING)}, pg_catalog.jsonb_build_object('snapshot', ${CONSUMED_SNAPSHOT_SQL}::text, 'epochs', ${epochsSql(sources, null)})::text, true)) IS NOT NULL`;
}

/**
 * The frontier (`snapshot` text, `epochs` jsonb) taken by a statement of its own: for a FULL
 * refresh whose gate ({@link fullFrontierGateSql}) PostgreSQL never evaluated because it proved
 * from the query text alone (e.g. `WHERE false`) that the result is empty — empty under every
 * snapshot, so a later one consumes nothing the refresh missed.
 */
export function fullFrontierSql(sources: readonly Pick<SourceRef, 'key' | 'kind' | 'pgtId'>[]): string {
  return sql`SELECT ${CONSUMED_SNAPSHOT_SQL}::text AS snapshot, ${epochsSql(sources, null)} AS epochs`;
}
