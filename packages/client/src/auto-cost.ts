/**
 * AUTO's choice between FULL and DIFFERENTIAL (docs/refresh-windows.md, "FULL, DIFFERENTIAL and
 * AUTO"). Rule: refresh
 * FULL when a DIFFERENTIAL refresh of the pending change records is expected to take longer than
 * a FULL one, both learned from the table's own recent history:
 * - FULL's cost: the median duration of its last FULL refreshes, leaving out the first population
 *   (it loads an empty storage table row by row into its indexes, where a later FULL of a filled
 *   one rebuilds them in bulk, and runs on cold caches: on the refresh workload it took 1.6–2.4
 *   times a later FULL); while the first population is the only FULL of the history, half its
 *   duration (`FIRST_POPULATION_SHARE`), so the first large window can go FULL and measure it
 *   — and while FULL's cost is only that guess, the fixed ratio below also decides (it may send a
 *   large window FULL where the guess would not);
 * - DIFFERENTIAL's cost for n change records: the larger of a least-squares line `a + b·n` (a, b ≥ 0)
 *   through its last DIFFERENTIAL refreshes, and the median of those of them with between n/2 and
 *   n records when there are at least two (a DIFFERENTIAL refresh whose cost grows faster than its
 *   change count is seen there first);
 * - without at least `MIN_DIFFERENTIAL_SAMPLES` DIFFERENTIAL refreshes of change counts at least a
 *   factor 2 apart and one FULL refresh in the history, and beyond 4 times the largest
 *   DIFFERENTIAL refresh of the history (where the model is not trusted to extrapolate), the
 *   fixed ratio: FULL when a source's pending change records exceed `ratio` × max(its rows,
 *   1000) (`pgtrickle.pgt_stream_tables.auto_threshold`, else the engine's `autoFullRatio`).
 * The choice only grows with the change count: if n records go FULL, so do more.
 */
import { type CompiledPlan, PREPARED_WINDOW_MAX_CHANGES, type WindowInspection } from '@pgtrickle/dvm';
import { cat, type Queryable } from './catalog/schema.js';

/** One completed refresh of the history, as the cost model reads it. */
export interface RefreshCostSample {
  readonly action: 'FULL' | 'DIFFERENTIAL';
  /** Change records it applied (an update is two). */
  readonly changes: number;
  /** How long it took, ms. */
  readonly ms: number;
  /** A FULL that was the table's first population (`initiated_by = 'INITIAL'`). */
  readonly population?: boolean;
}

/** The share of the first population's duration taken as FULL's cost while it is the only FULL. */
export const FIRST_POPULATION_SHARE = 0.5;

/** DIFFERENTIAL refreshes needed before their durations are trusted. */
export const MIN_DIFFERENTIAL_SAMPLES = 3;

/** How many recent refreshes of each action the model reads. */
const DIFFERENTIAL_WINDOW = 30;
const FULL_WINDOW = 5;

/**
 * The SELECT of the recent completed FULL and DIFFERENTIAL refreshes of the stream table whose id
 * is the SQL expression `pgtId`, newest first (read on its own by {@link readCostSamples}, or as a
 * column of the refresh's preflight).
 */
export function costSamplesSql(pgtId: string): string {
  return `(SELECT action, COALESCE(pending_changes, 0)::float8 AS changes,
             extract(epoch FROM finished_at - started_at)::float8 * 1000 AS ms, false AS population
        FROM ${cat('pgt_refresh_history')}
       WHERE pgt_id = ${pgtId} AND status = 'COMPLETED' AND action = 'DIFFERENTIAL'
       ORDER BY refresh_id DESC LIMIT ${DIFFERENTIAL_WINDOW})
     UNION ALL
     (SELECT action, COALESCE(pending_changes, 0)::float8, extract(epoch FROM finished_at - started_at)::float8 * 1000,
             initiated_by = 'INITIAL'
        FROM ${cat('pgt_refresh_history')}
       WHERE pgt_id = ${pgtId} AND status = 'COMPLETED' AND action = 'FULL'
       ORDER BY refresh_id DESC LIMIT ${FULL_WINDOW})`;
}

/** The samples of {@link costSamplesSql}'s rows. */
export function costSamplesFromRows(rows: readonly Record<string, unknown>[]): RefreshCostSample[] {
  return rows.map((r) => ({
    action: r.action === 'FULL' ? 'FULL' : 'DIFFERENTIAL',
    changes: Number(r.changes),
    ms: Math.max(0, Number(r.ms)),
    ...(r.population === true ? { population: true } : {}),
  }));
}

/** The recent completed FULL and DIFFERENTIAL refreshes of stream table `pgtId`, newest first. */
export async function readCostSamples(q: Queryable, pgtId: number): Promise<RefreshCostSample[]> {
  const res = await q.query(costSamplesSql('$1'), [pgtId]);
  return costSamplesFromRows(res.rows);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The learned costs, or null when the history is too short. */
export interface CostModel {
  /** FULL's expected duration, ms. */
  readonly fullMs: number;
  /** Whether `fullMs` comes from the first population alone (`FIRST_POPULATION_SHARE` of it). */
  readonly fullFromPopulation: boolean;
  /** DIFFERENTIAL's expected duration for `changes` records, ms (non-decreasing in `changes`). */
  differentialMs(changes: number): number;
  /** DIFFERENTIAL samples it was learned from. */
  readonly samples: number;
  /** The largest change count the model is trusted at (beyond it, the fixed ratio also decides). */
  readonly trustedUpTo: number;
}

/** How far beyond the largest DIFFERENTIAL refresh of the history the model extrapolates. */
const EXTRAPOLATION = 4;

/**
 * The cost model of `samples`, or null without enough history: fewer than
 * `MIN_DIFFERENTIAL_SAMPLES` DIFFERENTIAL refreshes, no FULL one, or DIFFERENTIAL change counts
 * too alike to tell a per-record cost from a fixed one (the largest under twice the smallest).
 */
export function costModel(samples: readonly RefreshCostSample[]): CostModel | null {
  const fulls = samples.filter((s) => s.action === 'FULL');
  const later = fulls.filter((s) => s.population !== true).map((s) => s.ms);
  const fullFromPopulation = later.length === 0;
  const full = fullFromPopulation ? fulls.map((s) => s.ms * FIRST_POPULATION_SHARE) : later;
  const diff = samples.filter((s) => s.action === 'DIFFERENTIAL');
  if (full.length === 0 || diff.length < MIN_DIFFERENTIAL_SAMPLES) return null;
  const counts = diff.map((s) => s.changes);
  const lo = Math.min(...counts);
  const hi = Math.max(...counts);
  if (hi < 2 * Math.max(lo, 1)) return null;
  const fullMs = median(full);
  const n = diff.length;
  const mx = diff.reduce((a, s) => a + s.changes, 0) / n;
  const my = diff.reduce((a, s) => a + s.ms, 0) / n;
  const sxx = diff.reduce((a, s) => a + (s.changes - mx) ** 2, 0);
  const sxy = diff.reduce((a, s) => a + (s.changes - mx) * (s.ms - my), 0);
  let slope = Math.max(0, sxy / sxx);
  let intercept = my - slope * mx;
  if (intercept < 0) {
    // Through the origin instead (a refresh never takes negative time).
    intercept = 0;
    const sx2 = diff.reduce((a, s) => a + s.changes ** 2, 0);
    slope = Math.max(0, diff.reduce((a, s) => a + s.changes * s.ms, 0) / sx2);
  }
  const sorted = [...diff].sort((a, b) => a.changes - b.changes);
  const differentialMs = (changes: number): number => {
    let estimate = intercept + slope * changes;
    // The largest local median at or below `changes`, so the estimate never decreases.
    for (let i = 0; i < sorted.length; i++) {
      const top = (sorted[i] as RefreshCostSample).changes;
      if (top > changes) break;
      const near = sorted.filter((s) => s.changes <= top && s.changes >= top / 2).map((s) => s.ms);
      if (near.length >= 2) estimate = Math.max(estimate, median(near));
    }
    return estimate;
  };
  return { fullMs, fullFromPopulation, differentialMs, samples: n, trustedUpTo: EXTRAPOLATION * hi };
}

/**
 * Where a window is sure to go FULL under the cost model of `samples`, per source: `count`, the
 * fewest change records from which the model alone says FULL (null when it never does), and
 * `floor`, the records beyond which the model is not trusted (none without a model), past which
 * the fixed ratio decides. A source holding at least `LEAST(count, GREATEST(ceil(max(reltuples, 1000) ×
 * ratio) + 1, floor))` records sends the window FULL whatever the others hold, so a refresh may
 * count each source's window up to that many records only (dvm `inspectSql` with `capped`).
 */
export interface AutoFullCap {
  readonly count: number | null;
  readonly floor: number;
}

/**
 * The fewest records a window is counted to when capped: a window of at most
 * `PREPARED_WINDOW_MAX_CHANGES` records is always counted exactly (the preflight keeps the generic
 * plan for such a window's delta statement), and counting that many costs little.
 */
const MIN_CAP = PREPARED_WINDOW_MAX_CHANGES + 1;

/** The {@link AutoFullCap} of `samples` (neither bound under `PREPARED_WINDOW_MAX_CHANGES` + 1). */
export function autoFullCap(samples: readonly RefreshCostSample[]): AutoFullCap {
  const model = costModel(samples);
  if (model === null) return { count: null, floor: MIN_CAP };
  const top = Math.max(1, Math.floor(model.trustedUpTo));
  const floor = Math.max(top + 1, MIN_CAP);
  if (!(model.differentialMs(top) > model.fullMs)) return { count: null, floor };
  // The estimate never decreases with the count: the smallest count above FULL's cost.
  let below = 0;
  let above = top;
  while (above - below > 1) {
    const mid = Math.floor((below + above) / 2);
    if (model.differentialMs(mid) > model.fullMs) above = mid;
    else below = mid;
  }
  return { count: Math.max(above, MIN_CAP), floor };
}

/**
 * AUTO's `preferFull` for one refresh: the reason to refresh FULL, or null for DIFFERENTIAL.
 * `ratio` is the fixed-ratio fallback; `samples` the table's recent history (`readCostSamples`).
 */
export function autoPreferFull(
  ratio: number,
  samples: readonly RefreshCostSample[] = [],
): (window: WindowInspection, plan: CompiledPlan) => string | null {
  const model = costModel(samples);
  return (window, plan) => {
    // Whether only sources of known size may send the window FULL by the ratio (below).
    let knownSizeOnly = false;
    if (model !== null) {
      const changes = Object.values(window.changes).reduce((a, b) => a + b, 0);
      // Beyond the trusted range the estimate at its end still counts (so FULL stays FULL).
      const diff = model.differentialMs(Math.min(changes, model.trustedUpTo));
      const atLeast = (window.capped?.length ?? 0) > 0 ? 'at least ' : '';
      if (diff > model.fullMs)
        return `AUTO: ${atLeast}${changes} pending change records (an update is two); from the last ${model.samples} DIFFERENTIAL refreshes one would take ≈${Math.round(model.differentialMs(changes))} ms against ≈${Math.round(model.fullMs)} ms for FULL${model.fullFromPopulation ? ` (${FIRST_POPULATION_SHARE} × its first population, its only FULL refresh so far)` : ''}; FULL is cheaper`;
      if (changes <= model.trustedUpTo) {
        if (!model.fullFromPopulation) return null;
        // FULL's cost known only as a share of the first population (a guess taken on an empty
        // table, under whatever load the creation met) does not overrule the fixed ratio: a
        // window the ratio sends FULL goes FULL, which measures FULL's real cost. Only over
        // sources of known size: a never analysed or partitioned one (reltuples −1) counts as
        // 1,000 rows, which would send a small window of a large table FULL.
        knownSizeOnly = true;
      }
    }
    for (const [key, changes] of Object.entries(window.changes)) {
      const size = window.reltuples[key];
      if (knownSizeOnly && !(size !== undefined && size >= 0)) continue;
      const rows = Math.max(size ?? 0, 1000);
      if (changes > Math.ceil(rows * ratio)) {
        const name = plan.sources.find((s) => s.key === key)?.name ?? key;
        const from = window.capped?.includes(key) === true ? 'at least ' : '';
        return `AUTO: ${from}${changes} pending change records (an update is two) on ${name} exceed ${ratio} × ${Math.round(rows)} rows; FULL is cheaper`;
      }
    }
    return null;
  };
}
