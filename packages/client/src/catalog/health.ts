/**
 * Reading health and freshness from the catalog: `pgtrickle.health()` (OK / WARNING / CRITICAL with
 * reasons) and the view `pgt_stream_table_stats` (freshness, the stale flag, refresh counts and
 * durations). Rule: the definitions live in SQL (one place, the same for SQL users, the CLI and the
 * sidecar's endpoints); these functions only read them, as the connected role sees them.
 */
import { cat, catalogObjectExists, type Queryable } from './schema.js';

/** The severities of `pgtrickle.health()`, best first. */
export const HEALTH_SEVERITIES = ['OK', 'WARNING', 'CRITICAL'] as const;
/** A severity of `pgtrickle.health()`. */
export type HealthSeverity = (typeof HEALTH_SEVERITIES)[number];

/** One row of `pgtrickle.health()`. */
export interface HealthRow {
  readonly severity: HealthSeverity;
  /** `leader`, a stream table's name, or `pgtrickle` for the OK row. */
  readonly component: string;
  readonly reason: string;
}

/** Options of {@link readHealth}. */
export interface HealthOptions {
  /** The leader lease (`leader.lease_ms`): no heartbeat for longer is CRITICAL (default 10 s). */
  readonly leaseMs?: number;
  /** Rows waiting in a table's source buffers above which it is a WARNING (default 100 000). */
  readonly bufferRowsWarn?: number;
}

/** Whether the health function and stats view exist (the migration "health and freshness" or later). */
export function hasHealth(q: Queryable): Promise<boolean> {
  return catalogObjectExists(q, 'pgt_stream_table_stats');
}

/** The rows of `pgtrickle.health()`: problems, CRITICAL first, or one OK row. */
export async function readHealth(q: Queryable, options: HealthOptions = {}): Promise<HealthRow[]> {
  const res = await q.query(
    `SELECT severity, component, reason
       FROM ${cat('health')}(make_interval(secs => $1::float8 / 1000), $2::bigint)`,
    [options.leaseMs ?? 10_000, options.bufferRowsWarn ?? 100_000],
  );
  return res.rows.map((r) => ({
    severity: String(r.severity) as HealthSeverity,
    component: String(r.component),
    reason: String(r.reason),
  }));
}

/** The worst severity of some health rows (OK when there are none). */
export function worstSeverity(rows: readonly HealthRow[]): HealthSeverity {
  let worst = 0;
  for (const r of rows) worst = Math.max(worst, HEALTH_SEVERITIES.indexOf(r.severity));
  return HEALTH_SEVERITIES[worst] ?? 'OK';
}

/** One line of `pgt_stream_table_stats`. */
export interface StreamTableStats {
  readonly pgtId: number;
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  readonly owner: string | null;
  readonly status: string;
  readonly effectiveMode: string;
  readonly schedule: string;
  /** The period its schedule gives it (CALCULATED resolved), s; null for a cron expression. */
  readonly schedulePeriodSeconds: number | null;
  readonly lastRefreshAt: string | null;
  /** The last tick that found nothing to apply to it. */
  readonly lastCheckedAt: string | null;
  /** The last time it was known to equal its query (refresh or check). */
  readonly freshAt: string | null;
  /** Seconds since `freshAt`; null when never known fresh. */
  readonly stalenessSeconds: number | null;
  /** Behind schedule: known fresh longer ago than its period plus a grace; null for cron schedules. */
  readonly stale: boolean | null;
  /** Seconds since its data last changed. */
  readonly dataAgeSeconds: number | null;
  readonly refreshes: number;
  readonly failedRefreshes: number;
  readonly noDataRefreshes: number;
  readonly avgDurationSeconds: number | null;
  readonly maxDurationSeconds: number | null;
  readonly rowsInserted: number;
  readonly rowsDeleted: number;
  /** Rows waiting in its sources' change buffers (the statistics collector's estimate). */
  readonly changeBufferRows: number;
  readonly consecutiveErrors: number;
  readonly lastError: string | null;
}

/** Every line of `pgt_stream_table_stats` the connected role may see, by schema and name. */
export async function readStreamTableStats(q: Queryable): Promise<StreamTableStats[]> {
  const res = await q.query(
    `SELECT pgt_id, name, schema_name, table_name, owner, status, effective_mode, schedule,
            extract(epoch FROM schedule_period)::float8 AS period_s, last_refresh_at, last_checked_at, fresh_at,
            extract(epoch FROM staleness)::float8 AS staleness_s, stale,
            extract(epoch FROM data_age)::float8 AS data_age_s, refreshes, failed_refreshes, no_data_refreshes,
            extract(epoch FROM avg_duration)::float8 AS avg_s, extract(epoch FROM max_duration)::float8 AS max_s,
            rows_inserted, rows_deleted, change_buffer_rows, consecutive_errors, last_error
       FROM ${cat('pgt_stream_table_stats')} ORDER BY schema_name, table_name`,
  );
  const iso = (v: unknown) =>
    v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v);
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return res.rows.map((r) => ({
    pgtId: Number(r.pgt_id),
    name: String(r.name),
    schema: String(r.schema_name),
    table: String(r.table_name),
    owner: (r.owner as string | null) ?? null,
    status: String(r.status),
    effectiveMode: String(r.effective_mode),
    schedule: String(r.schedule),
    schedulePeriodSeconds: num(r.period_s),
    lastRefreshAt: iso(r.last_refresh_at),
    lastCheckedAt: iso(r.last_checked_at),
    freshAt: iso(r.fresh_at),
    stalenessSeconds: num(r.staleness_s),
    stale: r.stale === null || r.stale === undefined ? null : r.stale === true,
    dataAgeSeconds: num(r.data_age_s),
    refreshes: Number(r.refreshes ?? 0),
    failedRefreshes: Number(r.failed_refreshes ?? 0),
    noDataRefreshes: Number(r.no_data_refreshes ?? 0),
    avgDurationSeconds: num(r.avg_s),
    maxDurationSeconds: num(r.max_s),
    rowsInserted: Number(r.rows_inserted ?? 0),
    rowsDeleted: Number(r.rows_deleted ?? 0),
    changeBufferRows: Number(r.change_buffer_rows ?? 0),
    consecutiveErrors: Number(r.consecutive_errors ?? 0),
    lastError: (r.last_error as string | null) ?? null,
  }));
}
