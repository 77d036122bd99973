/**
 * The blue-green deployments of the catalog (`pgt_green_deployments`, one row per public name):
 * reading one, recording its state (always a state of `@pgtrickle/lifecycle`'s blue-green machine,
 * reached by a transition from the stored one), marking a stream table row green, and
 * `green_status(name)`. The work itself is `stream-tables/blue-green.ts`.
 */
import { type BlueGreenEvent, type BlueGreenState, blueGreenMachine } from '@pgtrickle/lifecycle';
import { cat, type Queryable } from './schema.js';

const D = cat('pgt_green_deployments');
const ST = cat('pgt_stream_tables');

/** One deployment as the catalog records it. */
export interface DeploymentRow {
  readonly schema: string;
  /** The public name. */
  readonly name: string;
  /** The stream table replaced (after a promote: the retired copy). */
  readonly blueId: number;
  /** The green copy (after a promote: the public stream table). */
  readonly greenId: number;
  readonly state: BlueGreenState;
  readonly greenName: string;
  readonly retiredName: string;
  readonly forced: boolean;
  /** User indexes of the retired copy renamed at the promote: renamed → original name. */
  readonly renamedIndexes: Readonly<Record<string, string>>;
}

function toDeployment(r: Record<string, unknown>): DeploymentRow {
  return {
    schema: String(r.schema_name),
    name: String(r.table_name),
    blueId: Number(r.blue_id),
    greenId: Number(r.green_id),
    state: blueGreenMachine.parseState(String(r.state)),
    greenName: String(r.green_name),
    retiredName: String(r.retired_name),
    forced: r.forced === true,
    renamedIndexes: (r.renamed_indexes ?? {}) as Record<string, string>,
  };
}

/** The deployment of public name schema.name (null: none ever), optionally locked. */
export async function findDeployment(
  q: Queryable,
  schema: string,
  name: string,
  lock: '' | 'FOR UPDATE' = '',
): Promise<DeploymentRow | null> {
  const res = await q.query(`SELECT * FROM ${D} WHERE schema_name = $1 AND table_name = $2 ${lock}`, [
    schema,
    name,
  ]);
  const r = res.rows[0];
  return r === undefined ? null : toDeployment(r);
}

/** The open deployment (not terminal) in which stream table `pgtId` is the blue, the green or the retired copy. */
export async function deploymentOf(q: Queryable, pgtId: number): Promise<DeploymentRow | null> {
  const res = await q.query(
    `SELECT * FROM ${D} WHERE (blue_id = $1 OR green_id = $1) AND state NOT IN ('ROLLED_BACK', 'RETIRED')`,
    [pgtId],
  );
  const r = res.rows[0];
  return r === undefined ? null : toDeployment(r);
}

/** Whether a deployment in `state` is open (not finished). */
export function isOpen(state: BlueGreenState): boolean {
  return !blueGreenMachine.isTerminal(state);
}

/**
 * Records a new deployment in CATCHING_UP (CREATING → `created`: the green is populated in the
 * same transaction), replacing a finished one of the same public name.
 */
export async function startDeployment(
  q: Queryable,
  d: Omit<DeploymentRow, 'state' | 'forced' | 'renamedIndexes'>,
): Promise<void> {
  const state = blueGreenMachine.transition(blueGreenMachine.initial, 'created');
  await q.query(`DELETE FROM ${D} WHERE schema_name = $1 AND table_name = $2`, [d.schema, d.name]);
  await q.query(
    `INSERT INTO ${D} (schema_name, table_name, blue_id, green_id, state, green_name, retired_name)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [d.schema, d.name, d.blueId, d.greenId, state, d.greenName, d.retiredName],
  );
}

/**
 * Moves a deployment through the machine by `events` in order (each from the state the previous
 * one reached; InvalidTransitionError, `PGT_INVALID_TRANSITION`, if one is not allowed) and stores
 * the state reached, with `fields`. Returns it.
 */
export async function advanceDeployment(
  q: Queryable,
  d: DeploymentRow,
  events: readonly BlueGreenEvent[],
  fields: { forced?: boolean; renamedIndexes?: Record<string, string> } = {},
): Promise<BlueGreenState> {
  let state = d.state;
  for (const e of events) state = blueGreenMachine.transition(state, e);
  await q.query(
    `UPDATE ${D} SET state = $3, updated_at = clock_timestamp(),
       forced = COALESCE($4, forced), renamed_indexes = COALESCE($5::jsonb, renamed_indexes),
       promoted_at = CASE WHEN $3 = 'PROMOTED' THEN clock_timestamp() ELSE promoted_at END,
       finished_at = CASE WHEN $3 IN ('ROLLED_BACK', 'RETIRED') THEN clock_timestamp() ELSE finished_at END
     WHERE schema_name = $1 AND table_name = $2`,
    [
      d.schema,
      d.name,
      state,
      fields.forced ?? null,
      fields.renamedIndexes === undefined ? null : JSON.stringify(fields.renamedIndexes),
    ],
  );
  return state;
}

/**
 * Makes stream table `greenId` the green copy of `blueId`: `green_of` set, and blue's feature
 * settings (fuse, diamond consistency, AUTO threshold) copied.
 */
export async function markGreen(q: Queryable, greenId: number, blueId: number): Promise<void> {
  await q.query(
    `UPDATE ${ST} AS g SET green_of = b.pgt_id, fuse_mode = b.fuse_mode, fuse_ceiling = b.fuse_ceiling,
       fuse_sensitivity = b.fuse_sensitivity, fuse_sigma = b.fuse_sigma, fuse_window = b.fuse_window,
       fuse_min_samples = b.fuse_min_samples, diamond_consistency = b.diamond_consistency,
       diamond_schedule_policy = b.diamond_schedule_policy, auto_threshold = b.auto_threshold
     FROM ${ST} AS b WHERE g.pgt_id = $1 AND b.pgt_id = $2`,
    [greenId, blueId],
  );
}

/** Renames stream table `pgtId` in the catalog (its storage is renamed by the caller) and sets its `green_of`. */
export async function renameStreamTable(
  q: Queryable,
  pgtId: number,
  name: string,
  greenOf: number | null,
): Promise<void> {
  await q.query(
    `UPDATE ${ST} SET table_name = $2, green_of = $3, updated_at = clock_timestamp() WHERE pgt_id = $1`,
    [pgtId, name, greenOf],
  );
}

/** Replaces stream table `from` by `to` in the declared refresh groups. */
export async function repointRefreshGroups(q: Queryable, from: number, to: number): Promise<void> {
  await q.query(
    `UPDATE ${cat('pgt_refresh_groups')} SET member_ids = pg_catalog.array_replace(member_ids, $1::bigint, $2::bigint)
      WHERE $1::bigint = ANY (member_ids)`,
    [from, to],
  );
}

/** Whether green `greenId` has converged with its blue by the catalog's rule (`pgtrickle.green_converged`). */
export async function greenConverged(q: Queryable, greenId: number): Promise<boolean> {
  const res = await q.query(`SELECT ${cat('green_converged')}($1) AS c`, [greenId]);
  return res.rows[0]?.c === true;
}

/** What `green_status(name)` reports about a deployment. */
export interface GreenStatus {
  /** The public name. */
  readonly streamTable: string;
  /** The green's name now: its own while it catches up, the public name once promoted, null once rolled back. */
  readonly greenName: string | null;
  /** The blue-green state (CATCHING_UP or CONVERGED as the convergence rule says now). */
  readonly state: BlueGreenState;
  /** Whether the green has converged (true once promoted). */
  readonly converged: boolean;
  /** Transaction ids the blue's frontier is ahead of the green's (0: covered; null: no frontier yet). */
  readonly frontierLagXids: number | null;
  /** How much older the green's data is than the blue's, in ms. */
  readonly dataTimestampLagMs: number;
  /** Row estimates of the blue and the green (the planner's; counted when small and never analyzed; null: unknown). */
  readonly blueRows: number | null;
  readonly greenRows: number | null;
  /** Time since the green was created, in ms. */
  readonly ageMs: number;
  /** Estimated time to convergence from the lag's trend, in ms (0: converged; null: unknown or not shrinking). */
  readonly etaMs: number | null;
  /** After a promote: the retired copy's name. */
  readonly retiredName: string | null;
  /** The green's last error, if any. */
  readonly greenError: string | null;
}

function intervalMs(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const p = v as { days?: number; hours?: number; minutes?: number; seconds?: number; milliseconds?: number };
  return (
    ((((p.days ?? 0) * 24 + (p.hours ?? 0)) * 60 + (p.minutes ?? 0)) * 60 + (p.seconds ?? 0)) * 1000 +
    (p.milliseconds ?? 0)
  );
}

/** `pgtrickle.green_status(name)` as the connection's role sees it (null: no deployment of that name). */
export async function readGreenStatus(q: Queryable, name: string): Promise<GreenStatus | null> {
  const res = await q.query(`SELECT * FROM ${cat('green_status')}($1)`, [name]);
  const r = res.rows[0];
  if (r === undefined) return null;
  return {
    streamTable: String(r.stream_table),
    greenName: r.green_name === null ? null : String(r.green_name),
    state: blueGreenMachine.parseState(String(r.state)),
    converged: r.converged === true,
    frontierLagXids: r.frontier_lag_xids === null ? null : Number(r.frontier_lag_xids),
    dataTimestampLagMs: intervalMs(r.data_timestamp_lag) ?? 0,
    blueRows: r.blue_rows === null ? null : Number(r.blue_rows),
    greenRows: r.green_rows === null ? null : Number(r.green_rows),
    ageMs: intervalMs(r.age) ?? 0,
    etaMs: intervalMs(r.eta),
    retiredName: (r.retired_name as string | null) ?? null,
    greenError: (r.green_error as string | null) ?? null,
  };
}
