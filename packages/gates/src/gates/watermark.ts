/**
 * WatermarkGate — rule (docs/scheduler.md, "Watermarks"): a table is held while the watermarks of
 * the sources it reads disagree. S is the table's transitive base-source set (its inputs' inputs,
 * down to base tables), given by the loader. For each watermark group G, O = G.sources ∩ S:
 * - a group sharing no source with S does not concern the table;
 * - stuck detection (when the loader reports stuck sources): a group sharing at least one source
 *   with S that has a stuck source (its watermark not advanced for longer than the timeout) holds
 *   the table — Skip, the reason says "stuck";
 * - alignment: a group with |O| < 2 does not gate (a single-source intermediate refreshes freely);
 *   a group where some source of O has no watermark yet does not gate (gating starts once every
 *   involved source has reported); otherwise lag = max − min over O only, and lag > tolerance →
 *   Skip "watermark group '<g>' misaligned: lag <x> exceeds tolerance <y>" (lag = tolerance is
 *   aligned). Every relevant group must pass; groups are checked in the order given and the first
 *   stuck group, else the first misaligned one, is the reason.
 * No inputs (null: no group concerns the table) → Proceed. The alignment test over O is
 * `checkAlignment` from @pgtrickle/watermark. Hold-back (capping the change window instead of
 * skipping) is a different mechanism and not part of this gate.
 */
import {
  type Aligned,
  checkAlignment,
  defineOrdering,
  type Misaligned,
  type Ordering,
} from '@pgtrickle/watermark';
import type { GateContext, StreamTableKey } from '../context.js';
import { type GateDecision, proceed, skip } from '../decision.js';
import type { RefreshGate } from '../gate.js';
import { type WatermarkInputs, watermarkInputs } from '../keys.js';
import type { StreamTableMeta } from '../meta.js';

/** Name of the watermark gate. */
export const WATERMARK_GATE = 'watermark';

/** Options of a WatermarkGate over watermarks of type T with distances/tolerances of type D. */
export interface WatermarkGateOptions<T, D> {
  /** Order and distance of watermark values. */
  readonly ordering: Ordering<T, D>;
  /** The table's sources, the groups and their watermarks (null = no group concerns the table). */
  readonly inputs: StreamTableKey<WatermarkInputs<T, D> | null>;
  /** How to print a watermark (default: the ordering's `formatValue`). */
  readonly formatValue?: (value: T) => string;
  /** How to print a distance (default: the ordering's `formatDistance`). */
  readonly formatDistance?: (distance: D) => string;
}

/** What one watermark group says about one table. */
export type WatermarkGroupCheck<T, D> =
  | {
      /** The group shares no source with the table. */
      readonly kind: 'unrelated';
      readonly group: string;
    }
  | {
      /** A source of the group is stuck, and the group shares at least one source with the table. */
      readonly kind: 'stuck';
      readonly group: string;
      /** The stuck source (the first of the group's order). */
      readonly source: string;
      /** How long its watermark has not advanced. */
      readonly age: D;
    }
  | {
      /** The group shares fewer than two sources with the table: it does not gate it. */
      readonly kind: 'single';
      readonly group: string;
      readonly shared: readonly string[];
    }
  | {
      /** Some shared source has no watermark yet: the group does not gate (yet). */
      readonly kind: 'ungated';
      readonly group: string;
      readonly missing: readonly string[];
    }
  | {
      /** The shared sources' watermarks are within the tolerance. */
      readonly kind: 'aligned';
      readonly group: string;
      readonly result: Aligned<T, D>;
    }
  | {
      /** The shared sources' watermarks are further apart than the tolerance: the group holds the table. */
      readonly kind: 'misaligned';
      readonly group: string;
      readonly result: Misaligned<T, D>;
    };

/** Each group's verdict for a table (see the module rule), in the order of `inputs.groups`. */
export function watermarkChecks<T, D>(
  inputs: WatermarkInputs<T, D>,
  ordering: Ordering<T, D>,
): WatermarkGroupCheck<T, D>[] {
  const own = new Set(inputs.sources);
  const stuck = inputs.stuck ?? new Map<string, D>();
  return inputs.groups.map((group): WatermarkGroupCheck<T, D> => {
    const shared = group.sources.filter((s) => own.has(s));
    if (shared.length === 0) return { kind: 'unrelated', group: group.name };
    const stuckSource = group.sources.find((s) => stuck.has(s));
    if (stuckSource !== undefined)
      return { kind: 'stuck', group: group.name, source: stuckSource, age: stuck.get(stuckSource) as D };
    if (shared.length < 2) return { kind: 'single', group: group.name, shared };
    const result = checkAlignment({ ...group, sources: shared }, inputs.watermarks, ordering);
    if (result.reason === 'missing') return { kind: 'ungated', group: group.name, missing: result.missing };
    return result.aligned
      ? { kind: 'aligned', group: group.name, result }
      : { kind: 'misaligned', group: group.name, result };
  });
}

/** Skips tables whose sources' watermark groups are misaligned or stuck. */
export class WatermarkGate<T, D> implements RefreshGate {
  /** Gate name. */
  readonly name = WATERMARK_GATE;
  readonly #options: WatermarkGateOptions<T, D>;

  /** A gate over custom watermark values (see `watermarkGate()` for timestamps). */
  constructor(options: WatermarkGateOptions<T, D>) {
    this.#options = options;
  }

  /** Decides from the table's sources, the groups and the watermarks loaded by `inputs`. */
  async evaluate(_st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    const { ordering, inputs } = this.#options;
    const input = await ctx.get(inputs);
    if (input === null || input.groups.length === 0) return proceed();
    const fv = this.#options.formatValue ?? ((v: T) => ordering.formatValue(v));
    const fd = this.#options.formatDistance ?? ((d: D) => ordering.formatDistance(d));
    const name = (s: string) => input.sourceNames?.get(s) ?? s;
    const checks = watermarkChecks(input, ordering);
    const stuck = checks.find((c) => c.kind === 'stuck');
    if (stuck !== undefined) {
      const timeout = input.stuckTimeout === undefined ? '' : `, timeout ${fd(input.stuckTimeout)}`;
      return skip(
        `watermark group '${stuck.group}' holds: the watermark of ${name(stuck.source)} is stuck ` +
          `(not advanced for ${fd(stuck.age)}${timeout}); advance it to resume`,
      );
    }
    const misaligned = checks.find((c) => c.kind === 'misaligned');
    if (misaligned === undefined) return proceed();
    const r = misaligned.result;
    return skip(
      `watermark group '${r.group}' misaligned: lag ${fd(r.spread)} exceeds tolerance ${fd(r.tolerance)}; ` +
        `waiting for ${name(r.laggard)} at ${fv(r.effective)} (${name(r.leader)} is at ${fv(r.latest)})`,
    );
  }
}

function isMicros(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Seconds as short text: 600 → "600s", 0.25 → "0.25s". */
function seconds(micros: number): string {
  return `${Number((micros / 1e6).toFixed(6))}s`;
}

/**
 * PostgreSQL timestamps as microseconds since the Unix epoch (exact, unlike a `Date`); distances
 * and tolerances in microseconds, printed in seconds.
 */
export const epochMicrosOrdering: Ordering<number, number> = defineOrdering<number, number>({
  name: 'epoch-microseconds',
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  distance: (from, to) => to - from,
  compareDistance: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  zero: 0,
  isValue: isMicros,
  isDistance: (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v),
  formatValue: (us) => {
    const ms = Math.floor(us / 1000);
    const rest = us - ms * 1000;
    const iso = new Date(ms).toISOString();
    return rest === 0 ? iso : `${iso.slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
  },
  formatDistance: seconds,
});

/** A WatermarkGate over timestamps as epoch microseconds (`epochMicrosOrdering`) from `watermarkInputs`. */
export function watermarkGate(): WatermarkGate<number, number> {
  return new WatermarkGate<number, number>({ ordering: epochMicrosOrdering, inputs: watermarkInputs });
}
