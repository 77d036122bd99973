/**
 * CALCULATED schedule resolution (internal algorithm on the CSR snapshot).
 *
 * Rule (docs/scheduler.md, "Schedules"): a stream table with an explicit interval keeps it; a cron
 * stream table has no period (`null`) and contributes nothing to others' resolution; a CALCULATED
 * stream table (`schedule: null`) refreshes as often as its most frequent consumer: its period is
 * the minimum of the periods of its direct downstream stream tables that have one (explicit
 * intervals or resolved CALCULATED periods, so the rule applies through chains). With no such
 * consumer (a leaf, or only cron consumers) it gets `defaultPeriodMs`. Resolved in one pass in
 * reverse topological order — the fixpoint of the rule on a DAG — so a CALCULATED period is ≤ every
 * consumer's period. Sources are not scheduled and do not appear in the result.
 */
import type { Compiled } from './compiled.js';
import { InvalidArgumentError } from './errors.js';
import type { ScheduleSpec } from './schedule.js';

/** Options of calculated schedule resolution. */
export interface ScheduleOptions {
  /** Period given to a CALCULATED stream table without scheduled consumers (default 1000 ms). */
  readonly defaultPeriodMs?: number;
}

/** Where a resolved period came from. */
export type ScheduleSource = 'interval' | 'cron' | 'consumer' | 'default';

/** The resolved period of one stream table and why. */
export interface ScheduleExplanation {
  /** The stream table. */
  readonly id: string;
  /** Effective period in ms; null for cron schedules. */
  readonly periodMs: number | null;
  /** The declared schedule (null = CALCULATED). */
  readonly declared: ScheduleSpec | null;
  /** 'interval'/'cron': own schedule; 'consumer': inherited; 'default': CALCULATED without consumers. */
  readonly source: ScheduleSource;
  /** For 'consumer': the direct consumer whose period was taken (smallest; ties by insertion order). */
  readonly via: string | null;
  /** The stream table whose own schedule (or default) fixed the value; itself unless 'consumer'. */
  readonly origin: string;
  /** One human-readable sentence. */
  readonly reason: string;
}

/** Default period of CALCULATED stream tables without scheduled consumers. */
export const DEFAULT_PERIOD_MS = 1000;

/** Resolved periods as arrays by node index (internal). */
export interface Resolution {
  /** Period per node; NaN for sources and cron stream tables. */
  readonly period: Float64Array;
  /** Consumer the period was inherited from, -1 if none. */
  readonly via: Int32Array;
  /** Node whose own schedule or default fixed the period. */
  readonly origin: Int32Array;
  /** The default period used. */
  readonly defaultPeriodMs: number;
}

/** Applies the rule in one reverse-topological pass. */
export function resolvePeriods(
  c: Compiled,
  order: Int32Array,
  schedules: ReadonlyArray<ScheduleSpec | null>,
  options: ScheduleOptions,
): Resolution {
  const def = options.defaultPeriodMs ?? DEFAULT_PERIOD_MS;
  if (typeof def !== 'number' || !Number.isFinite(def) || def <= 0) {
    throw new InvalidArgumentError(
      `defaultPeriodMs must be a finite number of milliseconds > 0, got ${String(def)}.`,
    );
  }
  const n = c.ids.length;
  const period = new Float64Array(n).fill(Number.NaN);
  const via = new Int32Array(n).fill(-1);
  const origin = new Int32Array(n);
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i]!;
    origin[v] = v;
    if (c.isStream[v] === 0) continue;
    const declared = schedules[v] ?? null;
    if (declared !== null) {
      if (declared.kind === 'interval') period[v] = declared.ms;
      continue;
    }
    let best = -1;
    for (let j = c.succStart[v]!; j < c.succStart[v + 1]!; j++) {
      const s = c.succ[j]!;
      const p = period[s]!;
      if (!Number.isNaN(p) && (best < 0 || p < period[best]!)) best = s;
    }
    if (best >= 0) {
      period[v] = period[best]!;
      via[v] = best;
      origin[v] = origin[best]!;
    } else {
      period[v] = def;
    }
  }
  return { period, via, origin, defaultPeriodMs: def };
}

/** Effective period per stream table (null for cron), in topological order. */
export function periodsMap(c: Compiled, order: Int32Array, r: Resolution): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (let i = 0; i < order.length; i++) {
    const v = order[i]!;
    if (c.isStream[v] === 0) continue;
    const p = r.period[v]!;
    out.set(c.ids[v]!, Number.isNaN(p) ? null : p);
  }
  return out;
}

/** Explanations per stream table, in topological order. */
export function explanations(
  c: Compiled,
  order: Int32Array,
  schedules: ReadonlyArray<ScheduleSpec | null>,
  r: Resolution,
): Map<string, ScheduleExplanation> {
  const out = new Map<string, ScheduleExplanation>();
  for (let i = 0; i < order.length; i++) {
    const v = order[i]!;
    if (c.isStream[v] === 0) continue;
    const id = c.ids[v]!;
    const declared = schedules[v] ?? null;
    const p = r.period[v]!;
    const periodMs = Number.isNaN(p) ? null : p;
    const origin = c.ids[r.origin[v]!]!;
    let source: ScheduleSource;
    let via: string | null = null;
    let reason: string;
    if (declared?.kind === 'interval') {
      source = 'interval';
      reason = `"${id}" has an explicit interval of ${declared.ms} ms`;
    } else if (declared?.kind === 'cron') {
      source = 'cron';
      reason = `"${id}" runs on cron "${declared.expression}" (no period; not used by CALCULATED upstreams)`;
    } else if (r.via[v]! >= 0) {
      source = 'consumer';
      via = c.ids[r.via[v]!]!;
      reason =
        `"${id}" is CALCULATED: ${p} ms from its most frequent consumer "${via}"` +
        (origin !== via ? ` (set by "${origin}")` : '');
    } else {
      source = 'default';
      reason = `"${id}" is CALCULATED with no scheduled consumer: default ${r.defaultPeriodMs} ms`;
    }
    out.set(id, { id, periodMs, declared, source, via, origin, reason });
  }
  return out;
}
