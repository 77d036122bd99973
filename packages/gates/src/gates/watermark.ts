/**
 * WatermarkGate (gate mode) — rule: a table in a watermark group refreshes only when the group's
 * source watermarks are aligned (docs/scheduler.md, "Watermarks"): every source has a watermark and
 * max − min ≤ tolerance. Misaligned → Skip "watermark lag … exceeds tolerance …, laggard source X";
 * a source without a watermark → Skip naming it; the group unknown → Skip. A table in no group →
 * Proceed without loading anything. The alignment test is `checkAlignment` from
 * @pgtrickle/watermark; the group and the watermarks come from the context value given as `inputs`
 * (default `watermarkInputs`: Date watermarks, tolerance in ms). Hold-back mode (capping the change
 * window at the effective watermark) is a different mechanism and not part of this gate.
 */
import { checkAlignment, type Ordering, timeOrdering } from '@pgtrickle/watermark';
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
  /** The table's group definition and its sources' watermarks (null = group unknown). */
  readonly inputs: StreamTableKey<WatermarkInputs<T, D> | null>;
  /** How to print a watermark (default: ISO text for Dates, else String). */
  readonly formatValue?: (value: T) => string;
  /** How to print a distance (default String). */
  readonly formatDistance?: (distance: D) => string;
}

function defaultFormat(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** Skips tables whose watermark group is not aligned. */
export class WatermarkGate<T, D> implements RefreshGate {
  /** Gate name. */
  readonly name = WATERMARK_GATE;
  readonly #options: WatermarkGateOptions<T, D>;

  /** A gate over custom watermark values (see `watermarkGate()` for Date watermarks). */
  constructor(options: WatermarkGateOptions<T, D>) {
    this.#options = options;
  }

  /** Decides from `st.watermarkGroup` and the group's watermarks. */
  async evaluate(st: StreamTableMeta, ctx: GateContext): Promise<GateDecision> {
    const groupName = st.watermarkGroup;
    if (groupName === null || groupName === undefined) return proceed();
    const { ordering, inputs } = this.#options;
    const fv = this.#options.formatValue ?? defaultFormat;
    const fd = this.#options.formatDistance ?? String;
    const input = await ctx.get(inputs);
    if (input === null)
      return skip(`watermark group "${groupName}" is not defined; create it or remove it from "${st.name}"`);
    const result = checkAlignment(input.group, input.watermarks, ordering);
    if (result.aligned) return proceed();
    if (result.reason === 'missing') {
      const list = result.missing.map((s) => `"${s}"`).join(', ');
      return skip(`watermark group "${groupName}": no watermark yet for source ${list}`);
    }
    const lag = input.watermarks.get(result.laggard);
    const lead = input.watermarks.get(result.leader);
    return skip(
      `watermark lag ${fd(result.spread)} exceeds tolerance ${fd(result.tolerance)} in group "${groupName}", ` +
        `laggard source "${result.laggard}"${lag === undefined ? '' : ` at ${fv(lag)}`} ` +
        `(leader "${result.leader}"${lead === undefined ? '' : ` at ${fv(lead)}`})`,
    );
  }
}

/** A WatermarkGate over Date watermarks (tolerance in ms) from `watermarkInputs`. */
export function watermarkGate(): WatermarkGate<Date, number> {
  return new WatermarkGate<Date, number>({
    ordering: timeOrdering,
    inputs: watermarkInputs,
    formatDistance: (ms) => `${ms} ms`,
  });
}
