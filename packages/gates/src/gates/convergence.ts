/**
 * ConvergenceGate (blue-green) — rule: a green table may be promoted when ALL of its composable
 * `ConvergenceCheck`s pass (frontier caught up, lag below a threshold, data timestamp reached,
 * content hash equal). Proceed = "converged: promote"; Skip lists every unmet check (or,
 * with `stopAtFirstUnmet`, the first one, so expensive checks such as a content hash run only once
 * the cheap ones pass). A table that is not green (`greenOf` unset) → Proceed: nothing to converge.
 * An unknown blue table → Skip. The gate only decides; promoting (the blue-green lifecycle
 * transition and the swap) is the caller's job. It is not in the default pipeline: the scheduler
 * asks it about green tables after their refresh.
 */
import type { ContextKey, GateContext } from '../context.js';
import { type GateDecision, proceed, skip } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import {
  blueGreenFrontiers,
  blueGreenSnapshotFrontiers,
  blueMeta,
  contentHashes,
  hasPendingSourceChanges,
  type SnapshotFrontier,
} from '../keys.js';
import { compareLsn } from '../lsn.js';
import type { StreamTableMeta } from '../meta.js';
import { snapshotCovers } from '../snapshot.js';

/** Name of the convergence gate. */
export const CONVERGENCE_GATE = 'convergence';

/** The outcome of one convergence check. */
export interface ConvergenceResult {
  /** Whether this check is satisfied. */
  readonly converged: boolean;
  /** One phrase explaining the outcome, e.g. "green frontier 0/10 behind blue 0/20". */
  readonly detail: string;
}

/** A composable predicate: has the green table caught up with the blue one in this respect? */
export interface ConvergenceCheck {
  /** Name for messages, e.g. 'frontier'. */
  readonly name: string;
  /** Checks `green` against `blue` (context of the green table). */
  check(
    green: StreamTableMeta,
    blue: StreamTableMeta,
    ctx: GateContext,
  ): ConvergenceResult | Promise<ConvergenceResult>;
}

/** Options of `frontierCaughtUp`. */
export interface FrontierCheckOptions<T> {
  /** Context value with both frontiers (default: `blueGreenFrontiers`, pg_lsn text). */
  readonly key: ContextKey<{ readonly blue: T | null; readonly green: T | null }>;
  /** Order of frontier values (default: pg_lsn order). */
  readonly compare: (a: T, b: T) => number;
  /** How to print a frontier (default String). */
  readonly format?: (value: T) => string;
}

/** Green's frontier ≥ blue's (a blue without a frontier counts as caught up; a green without one never). */
export function frontierCaughtUp(): ConvergenceCheck;
/** Green's frontier ≥ blue's, with custom frontier values. */
export function frontierCaughtUp<T>(options: FrontierCheckOptions<T>): ConvergenceCheck;
export function frontierCaughtUp<T>(options?: FrontierCheckOptions<T>): ConvergenceCheck {
  const key = (options?.key ?? blueGreenFrontiers) as ContextKey<{
    readonly blue: T | null;
    readonly green: T | null;
  }>;
  const compare = (options?.compare ?? compareLsn) as (a: T, b: T) => number;
  const format = options?.format ?? String;
  return {
    name: 'frontier',
    async check(_green, _blue, ctx) {
      const f = await ctx.get(key);
      if (f.blue === null) return { converged: true, detail: 'blue has no frontier yet' };
      if (f.green === null)
        return { converged: false, detail: `green has no frontier yet (blue at ${format(f.blue)})` };
      return compare(f.green, f.blue) >= 0
        ? { converged: true, detail: `green frontier ${format(f.green)} ≥ blue ${format(f.blue)}` }
        : { converged: false, detail: `green frontier ${format(f.green)} behind blue ${format(f.blue)}` };
    },
  };
}

function dataLagMs(green: StreamTableMeta, blue: StreamTableMeta): number | null {
  const b = blue.dataTimestamp ?? null;
  const g = green.dataTimestamp ?? null;
  if (b === null) return 0;
  if (g === null) return null;
  return b.getTime() - g.getTime();
}

/** Green's data timestamp ≥ blue's (both from the metas; a blue without data counts as reached). */
export function dataTimestampCaughtUp(): ConvergenceCheck {
  return {
    name: 'data-timestamp',
    check(green, blue) {
      const lag = dataLagMs(green, blue);
      if (lag === null) return { converged: false, detail: 'green has no data yet' };
      return lag <= 0
        ? { converged: true, detail: 'green data timestamp reached blue' }
        : { converged: false, detail: `green data is ${lag} ms older than blue` };
    },
  };
}

/** Blue's data timestamp − green's ≤ `maxLagMs` (from the metas). */
export function lagBelow(maxLagMs: number): ConvergenceCheck {
  if (!Number.isFinite(maxLagMs) || maxLagMs < 0) {
    throw new RangeError(`lagBelow needs a finite maxLagMs ≥ 0, got ${maxLagMs}`);
  }
  return {
    name: 'lag',
    check(green, blue) {
      const lag = dataLagMs(green, blue);
      if (lag === null) return { converged: false, detail: 'green has no data yet' };
      return lag <= maxLagMs
        ? { converged: true, detail: `lag ${Math.max(lag, 0)} ms ≤ ${maxLagMs} ms` }
        : { converged: false, detail: `lag ${lag} ms > ${maxLagMs} ms` };
    },
  };
}

/** The blue and green content hashes (context value `contentHashes`) are equal and present. */
export function contentHashEqual(): ConvergenceCheck {
  return {
    name: 'content-hash',
    async check(_green, _blue, ctx) {
      const h = await ctx.get(contentHashes);
      if (h.blue === null || h.green === null)
        return { converged: false, detail: 'content hashes not computed' };
      return h.blue === h.green
        ? { converged: true, detail: 'content hashes equal' }
        : { converged: false, detail: `content hash ${h.green} ≠ blue ${h.blue}` };
    },
  };
}

/**
 * Green's snapshot frontier covers blue's: every transaction visible to blue's frontier snapshot
 * is visible to green's, and for every stream-table source both read, green read at least blue's
 * epoch (a blue without a frontier counts as covered; a green without one never is).
 */
export function snapshotFrontierCovers(
  key: ContextKey<{
    readonly blue: SnapshotFrontier | null;
    readonly green: SnapshotFrontier | null;
  }> = blueGreenSnapshotFrontiers,
): ConvergenceCheck {
  return {
    name: 'frontier',
    async check(_green, _blue, ctx) {
      const f = await ctx.get(key);
      if (f.blue === null) return { converged: true, detail: 'blue has no frontier yet' };
      if (f.green === null)
        return { converged: false, detail: `green has no frontier yet (blue at ${f.blue.snapshot})` };
      if (!snapshotCovers(f.green.snapshot, f.blue.snapshot))
        return {
          converged: false,
          detail: `green frontier ${f.green.snapshot} does not cover blue's ${f.blue.snapshot}`,
        };
      for (const [source, epoch] of Object.entries(f.blue.epochs)) {
        const mine = f.green.epochs[source];
        if (mine !== undefined && BigInt(mine) < BigInt(epoch))
          return {
            converged: false,
            detail: `green read epoch ${mine} of stream table ${source}, blue ${epoch}`,
          };
      }
      return {
        converged: true,
        detail: `green frontier ${f.green.snapshot} covers blue's ${f.blue.snapshot}`,
      };
    },
  };
}

/** Green has no source changes pending (it is as current as a refresh now would make it). */
export function noPendingChanges(): ConvergenceCheck {
  return {
    name: 'pending',
    async check(_green, _blue, ctx) {
      return (await ctx.get(hasPendingSourceChanges))
        ? { converged: false, detail: 'green has source changes pending' }
        : { converged: true, detail: 'green has no source changes pending' };
    },
  };
}

/** At least one check must pass; run in order until one does; every unmet one is reported otherwise. */
export function anyOf(checks: readonly ConvergenceCheck[], name = 'any'): ConvergenceCheck {
  return {
    name,
    async check(green, blue, ctx) {
      const unmet: string[] = [];
      for (const c of checks) {
        const r = await c.check(green, blue, ctx);
        if (r.converged) return { converged: true, detail: `${c.name}: ${r.detail}` };
        unmet.push(`${c.name}: ${r.detail}`);
      }
      return { converged: false, detail: unmet.join(' and ') };
    },
  };
}

/** Every check must pass; all are run, in order, and every unmet one is reported. */
export function allOf(checks: readonly ConvergenceCheck[], name = 'all'): ConvergenceCheck {
  return {
    name,
    async check(green, blue, ctx) {
      const unmet: string[] = [];
      for (const c of checks) {
        const r = await c.check(green, blue, ctx);
        if (!r.converged) unmet.push(`${c.name}: ${r.detail}`);
      }
      return unmet.length === 0
        ? { converged: true, detail: `${checks.length} checks passed` }
        : { converged: false, detail: unmet.join('; ') };
    },
  };
}

/** Options of the convergence gate. */
export interface ConvergenceGateOptions {
  /** The checks; all must pass (default: frontier caught up). */
  readonly checks?: readonly ConvergenceCheck[];
  /** Stop at the first unmet check (saves expensive later checks); default false (report all). */
  readonly stopAtFirstUnmet?: boolean;
}

/** Proceeds (promote) when a green table has converged with its blue table. */
export class ConvergenceGate implements RefreshGate {
  /** Gate name. */
  readonly name = CONVERGENCE_GATE;
  /** The checks, in evaluation order. */
  readonly checks: readonly ConvergenceCheck[];
  readonly #stopAtFirstUnmet: boolean;

  /** A gate over `options.checks` (default: frontier caught up). */
  constructor(options: ConvergenceGateOptions = {}) {
    this.checks = Object.freeze([...(options.checks ?? [frontierCaughtUp()])]);
    this.#stopAtFirstUnmet = options.stopAtFirstUnmet ?? false;
  }

  /** Decides from `st.greenOf`, the `blueMeta` context value and the checks. */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    const blueId = st.greenOf;
    if (blueId === null || blueId === undefined) return proceed();
    const blue = await ctx.get(blueMeta);
    if (blue === null) return skip(`green "${st.name}": its blue table "${blueId}" is unknown`);
    const unmet: string[] = [];
    for (const c of this.checks) {
      const r = await c.check(st, blue, ctx);
      if (!r.converged) {
        unmet.push(`${c.name}: ${r.detail}`);
        if (this.#stopAtFirstUnmet) break;
      }
    }
    if (unmet.length === 0) return proceed();
    return skip(`green "${st.name}" has not converged with "${blue.name}": ${unmet.join('; ')}`);
  }
}

/** A new ConvergenceGate. */
export function convergenceGate(options: ConvergenceGateOptions = {}): ConvergenceGate {
  return new ConvergenceGate(options);
}
