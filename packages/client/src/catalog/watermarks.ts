/**
 * Watermarks in the catalog (docs/watermarks.md). Rule: every change goes through the SQL
 * functions of migration 13 (`advance_watermark`, `create_watermark_group`, `drop_watermark_group`),
 * so the TypeScript API, the CLI and a user's ETL job keep the same checks, rights and
 * transactionality; reads go through `watermarks()`, `watermark_groups()` and
 * `watermark_status()`. The scheduler reads the gating state of every group in one query per tick
 * (`readWatermarkState`): each group's sources that still exist, their watermarks as exact epoch
 * microseconds and how long ago each last advanced, by the database's clock. Errors of the SQL
 * functions come back as client errors with stable codes.
 */
import { sqlState } from '../db.js';
import { ClientError, InvalidArgumentError, PermissionDeniedError } from '../errors.js';
import { cat, type Queryable } from './schema.js';

/** One source's current watermark (`pgtrickle.watermarks()`). */
export interface WatermarkRow {
  readonly sourceTable: string;
  readonly schemaName: string;
  readonly watermark: Date;
  /** When it last moved forward. */
  readonly updatedAt: Date;
  /** The role that advanced it last. */
  readonly advancedBy: string | null;
  /** The WAL insert position when it was advanced (pg_lsn text). */
  readonly walLsn: string | null;
}

/** One watermark group (`pgtrickle.watermark_groups()`). */
export interface WatermarkGroupRow {
  readonly groupName: string;
  /** Its sources that still exist. */
  readonly sourceCount: number;
  readonly toleranceSecs: number;
  readonly createdAt: Date;
}

/** One group's alignment (`pgtrickle.watermark_status()`), over all of its sources. */
export interface WatermarkStatusRow {
  readonly groupName: string;
  /** null while no source has a watermark. */
  readonly minWatermark: Date | null;
  readonly maxWatermark: Date | null;
  /** max − min in seconds; 0 with fewer than two watermarked sources. */
  readonly lagSecs: number;
  /** lag ≤ tolerance (true with fewer than two watermarked sources). */
  readonly aligned: boolean;
  readonly sourcesWithWatermark: number;
  readonly sourcesTotal: number;
}

/** A client error for a failed watermark function (stable codes; the PostgreSQL error as `cause`). */
export function watermarkError(error: unknown, subject: string): unknown {
  const message = error instanceof Error ? error.message : String(error);
  switch (sqlState(error)) {
    case '22000':
      return new ClientError(
        'PGT_WATERMARK_REGRESSION',
        `${message}. Watermarks only move forward; watermarks() shows the current ones.`,
        { cause: error },
      );
    case '22023':
    case '42P01':
      return new InvalidArgumentError(`${subject}: ${message}.`, { cause: error });
    case '42501':
      return new PermissionDeniedError(`${message}.`, { cause: error });
    case '42710':
      return new ClientError(
        'PGT_ALREADY_EXISTS',
        `${message}. Choose another name, or drop it first with dropWatermarkGroup().`,
        { cause: error },
      );
    case '42704':
      return new ClientError('PGT_NOT_FOUND', `${message}. watermarkGroups() lists the groups.`, {
        cause: error,
      });
    default:
      return error;
  }
}

async function call<T>(subject: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw watermarkError(error, subject);
  }
}

/**
 * Declares `source` complete through `watermark` (monotonic; the same value again is a no-op),
 * inside `q`'s transaction if it has one.
 */
export async function advanceWatermark(
  q: Queryable,
  source: string,
  watermark: Date | string,
): Promise<void> {
  await call(`advancing the watermark of ${source}`, () =>
    q.query(`SELECT ${cat('advance_watermark')}($1, $2::timestamptz)`, [source, watermark]),
  );
}

/** Creates a watermark group; returns its id. */
export async function createWatermarkGroup(
  q: Queryable,
  name: string,
  sources: readonly string[],
  toleranceSecs = 0,
): Promise<number> {
  const r = await call(`creating watermark group ${name}`, () =>
    q.query(`SELECT ${cat('create_watermark_group')}($1, $2::text[], $3::float8) AS id`, [
      name,
      [...sources],
      toleranceSecs,
    ]),
  );
  return Number(r.rows[0]?.id);
}

/** Drops a watermark group. */
export async function dropWatermarkGroup(q: Queryable, name: string): Promise<void> {
  await call(`dropping watermark group ${name}`, () =>
    q.query(`SELECT ${cat('drop_watermark_group')}($1)`, [name]),
  );
}

/** Every source's current watermark. */
export async function readWatermarks(q: Queryable): Promise<WatermarkRow[]> {
  const r = await q.query(`SELECT *, wal_lsn::text AS lsn FROM ${cat('watermarks')}()`);
  return r.rows.map((row) => ({
    sourceTable: row.source_table as string,
    schemaName: row.schema_name as string,
    watermark: row.watermark as Date,
    updatedAt: row.updated_at as Date,
    advancedBy: (row.advanced_by as string | null) ?? null,
    walLsn: (row.lsn as string | null) ?? null,
  }));
}

/** Every watermark group. */
export async function readWatermarkGroups(q: Queryable): Promise<WatermarkGroupRow[]> {
  const r = await q.query(`SELECT * FROM ${cat('watermark_groups')}()`);
  return r.rows.map((row) => ({
    groupName: row.group_name as string,
    sourceCount: Number(row.source_count),
    toleranceSecs: Number(row.tolerance_secs),
    createdAt: row.created_at as Date,
  }));
}

/** Every group's alignment. */
export async function readWatermarkStatus(q: Queryable): Promise<WatermarkStatusRow[]> {
  const r = await q.query(`SELECT * FROM ${cat('watermark_status')}()`);
  return r.rows.map((row) => ({
    groupName: row.group_name as string,
    minWatermark: (row.min_watermark as Date | null) ?? null,
    maxWatermark: (row.max_watermark as Date | null) ?? null,
    lagSecs: Number(row.lag_secs),
    aligned: row.aligned === true,
    sourcesWithWatermark: Number(row.sources_with_watermark),
    sourcesTotal: Number(row.sources_total),
  }));
}

/** One source of one group, as the scheduler gates on it. */
export interface WatermarkSourceState {
  /** The source's OID as text. */
  readonly source: string;
  /** Its qualified, quoted name. */
  readonly name: string;
  /** Its watermark as microseconds since the Unix epoch (null: none yet). */
  readonly watermarkUs: number | null;
  /** Seconds since it last advanced, by the database's clock (null: no watermark). */
  readonly ageSecs: number | null;
}

/** One watermark group as the scheduler gates on it. */
export interface WatermarkGroupState {
  readonly name: string;
  readonly toleranceSecs: number;
  /** Its sources that exist, in declared order. */
  readonly sources: readonly WatermarkSourceState[];
}

/** The statement behind `readWatermarkState`: one row per group source, in group and declared order. */
export function watermarkStateSql(): string {
  return `SELECT g.group_name, g.tolerance_secs, u.s::text AS source,
            pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name,
            (EXTRACT(EPOCH FROM w.watermark) * 1000000)::bigint::text AS watermark_us,
            EXTRACT(EPOCH FROM pg_catalog.clock_timestamp() - w.updated_at)::float8 AS age_secs
       FROM ${cat('pgt_watermark_groups')} g
      CROSS JOIN LATERAL pg_catalog.unnest(g.source_relids) WITH ORDINALITY AS u(s, ord)
       JOIN pg_catalog.pg_class c ON c.oid = u.s
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN ${cat('pgt_watermarks')} w ON w.source_relid = u.s
      ORDER BY g.group_name, u.ord`;
}

/** The groups in the rows of `watermarkStateSql()`. */
export function watermarkStateOf(rows: readonly Record<string, unknown>[]): WatermarkGroupState[] {
  const groups = new Map<string, { name: string; toleranceSecs: number; sources: WatermarkSourceState[] }>();
  for (const row of rows) {
    const name = row.group_name as string;
    let g = groups.get(name);
    if (g === undefined) {
      g = { name, toleranceSecs: Number(row.tolerance_secs), sources: [] };
      groups.set(name, g);
    }
    g.sources.push({
      source: row.source as string,
      name: row.name as string,
      watermarkUs: row.watermark_us === null ? null : Number(row.watermark_us),
      ageSecs: row.age_secs === null ? null : Number(row.age_secs),
    });
  }
  return [...groups.values()];
}

/** Every group with its sources' watermarks and ages, in one query. */
export async function readWatermarkState(q: Queryable): Promise<WatermarkGroupState[]> {
  return watermarkStateOf((await q.query(watermarkStateSql())).rows);
}
