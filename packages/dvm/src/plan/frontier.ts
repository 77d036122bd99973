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
import { CHANGES_SCHEMA, streamBufferName } from '../names.js';
import { sql } from '../sql/sql.js';

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
export function epochsSql(sources: readonly SourceRef[], params: readonly DeltaParam[] | null): string {
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

/**
 * The outer SELECT of a FULL refresh statement whose insert into the storage is an unreferenced
 * data-modifying CTE (`WITH __pgt_insert AS (INSERT …) <this>`): the statement's frontier
 * (`snapshot` text, `epochs` jsonb), taken by the same statement, so under the same snapshot as the
 * rows it inserts. PostgreSQL runs such a CTE to completion without keeping its rows (it has no
 * `RETURNING`), where `RETURNING 1` counted by the outer SELECT kept every inserted row in a
 * tuplestore (spilled to disk past `work_mem`); the rows inserted are counted afterwards.
 */
export function fullFrontierSelectSql(sources: readonly SourceRef[]): string {
  return sql`SELECT ${CONSUMED_SNAPSHOT_SQL}::text AS snapshot,
       ${epochsSql(sources, null)} AS epochs`;
}
