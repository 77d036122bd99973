/**
 * The fuse's catalog side (docs/refresh-control.md, "Fuse"). Rules:
 * - the count a fuse checks is the table's unread change rows in its window, per direct source,
 *   summed (`pgtrickle.unread_changes`), read for many tables in one call; rows a reset 'apply'
 *   accepted are not checked again;
 * - the baseline is the change counts of the table's last applied scheduler refreshes
 *   (`pgtrickle.fuse_samples`), summarised with @pgtrickle/stats (population σ, as fuse_status);
 * - a blow is one transaction: the state, when and why on the table's row, and one `fuse_blown`
 *   alert — only if the fuse was armed (a second blow of the same fuse does nothing); the table's
 *   status is not changed;
 * - while blown, a `fuse_blown_reminder` goes out at most every 60 s;
 * - resets go through `pgtrickle.reset_fuse` (owner-checked, in the caller's transaction).
 */
import { type SummaryStatistics, Welford } from '@pgtrickle/stats';
import { emitAlert } from './alerts.js';
import { cat, type Queryable } from './schema.js';

const ST = cat('pgt_stream_tables');

/** Applied refreshes a fuse's baseline is computed over when its `fuse_window` is NULL. */
export const DEFAULT_FUSE_WINDOW = 20;

/** Seconds between two reminders of a blown fuse. */
export const FUSE_REMINDER_SECONDS = 60;

/** What is pending for one table's fuse. */
export interface FuseCount {
  /** Unread change rows in its window. */
  readonly pending: number;
  /** Those its fuse checks (not accepted by a reset 'apply'). */
  readonly checked: number;
  /** Whether a checked TRUNCATE is among them. */
  readonly truncated: boolean;
}

/**
 * The unread change counts of tables `ids` (one call); tables with no window are absent. `upto` (a
 * pg_snapshot text, e.g. a tick's bound) counts base-table changes visible in it only.
 */
export async function readFuseCounts(
  q: Queryable,
  ids: readonly number[],
  upto: string | null = null,
): Promise<Map<number, FuseCount>> {
  if (ids.length === 0) return new Map();
  const res = await q.query(
    `SELECT pgt_id, pending, checked, truncated FROM ${cat('unread_changes')}($1::bigint[], $2::pg_snapshot)`,
    [ids, upto],
  );
  return new Map(
    res.rows.map((r) => [
      Number(r.pgt_id),
      { pending: Number(r.pending), checked: Number(r.checked), truncated: r.truncated === true },
    ]),
  );
}

/** The samples of tables `ids`, newest first (one call): the baseline is the first `fuse_window` of them. */
export async function readFuseSamples(q: Queryable, ids: readonly number[]): Promise<Map<number, number[]>> {
  if (ids.length === 0) return new Map();
  const res = await q.query(`SELECT pgt_id, samples FROM ${cat('fuse_samples')}($1::bigint[])`, [ids]);
  return new Map(res.rows.map((r) => [Number(r.pgt_id), (r.samples as string[]).map(Number)]));
}

/** The summary statistics of baseline samples. */
export function baselineOf(samples: readonly number[]): SummaryStatistics {
  const w = new Welford();
  for (const x of samples) w.push(x);
  return { count: w.count, mean: w.mean, variance: w.variance, stddev: w.stddev };
}

/** How many of the newest samples, consecutively, are above `ceiling`. */
export function overCeilingStreakOf(samples: readonly number[], ceiling: number): number {
  let n = 0;
  for (const x of samples) {
    if (x <= ceiling) break;
    n++;
  }
  return n;
}

/** A blow to record. */
export interface FuseBlow {
  readonly pgtId: number;
  readonly reason: string;
  readonly pending: number;
  readonly ceiling: number | null;
  readonly trigger: string;
  readonly baseline?: {
    readonly mean: number;
    readonly stddev: number;
    readonly k: number;
    readonly samples: number;
  };
}

/** Blows an armed fuse in `conn`'s transaction and sends one `fuse_blown` alert; false if it was not armed. */
export async function blowFuse(conn: Queryable, blow: FuseBlow): Promise<boolean> {
  const res = await conn.query(
    `UPDATE ${ST} SET fuse_state = 'blown', blown_at = clock_timestamp(), blow_reason = $2, fuse_reminded_at = NULL,
            updated_at = clock_timestamp()
      WHERE pgt_id = $1 AND fuse_state = 'armed' AND fuse_mode <> 'off'
      RETURNING quote_ident(schema_name) || '.' || quote_ident(table_name) AS name`,
    [blow.pgtId, blow.reason],
  );
  const row = res.rows[0];
  if (row === undefined) return false;
  await emitAlert(conn, 'fuse_blown', {
    stream_table: String(row.name),
    pending: blow.pending,
    ceiling: blow.ceiling,
    trigger: blow.trigger,
    blow_reason: blow.reason,
    ...(blow.baseline === undefined
      ? {}
      : {
          baseline_mean: blow.baseline.mean,
          baseline_stddev: blow.baseline.stddev,
          sigma: blow.baseline.k,
          samples: blow.baseline.samples,
          computed_threshold: blow.baseline.mean + blow.baseline.k * blow.baseline.stddev,
        }),
  });
  return true;
}

/** Sends a `fuse_blown_reminder` for every fuse blown (or last reminded) at least 60 s ago; returns how many. */
export async function remindBlownFuses(conn: Queryable): Promise<number> {
  const res = await conn.query(
    `UPDATE ${ST} SET fuse_reminded_at = clock_timestamp()
      WHERE fuse_state = 'blown'
        AND COALESCE(fuse_reminded_at, blown_at, '-infinity') <= clock_timestamp() - make_interval(secs => $1)
      RETURNING quote_ident(schema_name) || '.' || quote_ident(table_name) AS name, blow_reason,
                extract(epoch FROM clock_timestamp() - blown_at)::float8 AS blown_seconds`,
    [FUSE_REMINDER_SECONDS],
  );
  for (const r of res.rows) {
    await emitAlert(conn, 'fuse_blown_reminder', {
      stream_table: String(r.name),
      reason: r.blow_reason ?? null,
      blown_seconds: r.blown_seconds === null ? null : Math.round(Number(r.blown_seconds)),
    });
  }
  return res.rows.length;
}

/** Records the sidecar's settings the SQL API shows (the default fuse ceiling; 0 = none). */
export async function writeServiceSettings(
  q: Queryable,
  settings: { fuseDefaultCeiling: number },
): Promise<void> {
  await q.query(
    `INSERT INTO ${cat('pgt_service_settings')} (id, fuse_default_ceiling, updated_at) VALUES (1, $1, now())
     ON CONFLICT (id) DO UPDATE SET fuse_default_ceiling = EXCLUDED.fuse_default_ceiling, updated_at = now()
     WHERE ${cat('pgt_service_settings')}.fuse_default_ceiling IS DISTINCT FROM EXCLUDED.fuse_default_ceiling`,
    [settings.fuseDefaultCeiling],
  );
}

/** How a blown fuse is reset (docs/refresh-control.md, "Fuse"). */
export type FuseResetAction = 'apply' | 'reinitialize' | 'skip_changes';

/** One row of `pgtrickle.fuse_status()`. */
export interface FuseStatusRow {
  /** Qualified name. */
  readonly streamTable: string;
  readonly mode: 'off' | 'on' | 'auto';
  readonly state: 'armed' | 'blown';
  /** The table's own ceiling (null: the sidecar's default applies). */
  readonly ceiling: number | null;
  /** The ceiling in force: its own, else the sidecar's default; null = none. */
  readonly effectiveCeiling: number | null;
  readonly sensitivity: number;
  readonly sigma: number;
  readonly window: number;
  readonly blownAt: Date | null;
  readonly blowReason: string | null;
  /** Unread change rows in its window now. */
  readonly pending: number;
  /** Mean and population σ of its baseline samples (null: none yet). */
  readonly baselineMean: number | null;
  readonly baselineStddev: number | null;
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** `pgtrickle.fuse_status()`: every stream table the connected role owns. */
export async function fuseStatus(q: Queryable): Promise<FuseStatusRow[]> {
  const res = await q.query(`SELECT * FROM ${cat('fuse_status')}()`);
  return res.rows.map((r) => ({
    streamTable: String(r.stream_table),
    mode: r.fuse_mode as FuseStatusRow['mode'],
    state: r.fuse_state as FuseStatusRow['state'],
    ceiling: numOrNull(r.fuse_ceiling),
    effectiveCeiling: numOrNull(r.effective_ceiling),
    sensitivity: Number(r.fuse_sensitivity),
    sigma: Number(r.fuse_sigma),
    window: Number(r.fuse_window),
    blownAt: (r.blown_at as Date | null) ?? null,
    blowReason: (r.blow_reason as string | null) ?? null,
    pending: Number(r.pending),
    baselineMean: numOrNull(r.baseline_mean),
    baselineStddev: numOrNull(r.baseline_stddev),
  }));
}
