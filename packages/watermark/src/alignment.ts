/**
 * Group alignment. Rule: a group is aligned when every source has a watermark and
 * max(W) − min(W) ≤ tolerance; its effective watermark is min(W), the point up to which all of its
 * sources are complete. A source without a watermark makes the group 'missing' (listed in group
 * order); a spread above the tolerance makes it 'misaligned'. The laggard holds the minimum and the
 * leader the maximum; ties go to the smallest source id, so the result does not depend on the order
 * of the group's sources or of the map. Map entries for sources outside the group are ignored.
 */
import { describeValue, InvalidWatermarkValueError } from './errors.js';
import { validateWatermarkGroup, type WatermarkGroup } from './group.js';
import type { Ordering } from './ordering.js';

/** Every source has a watermark and the spread is within the tolerance. */
export interface Aligned<T, D> {
  /** Discriminant. */
  readonly aligned: true;
  /** Discriminant, for `switch (result.reason)`. */
  readonly reason: 'aligned';
  /** The group's name. */
  readonly group: string;
  /** min(W): every source is complete up to here. */
  readonly effective: T;
  /** max(W). */
  readonly latest: T;
  /** max(W) − min(W). */
  readonly spread: D;
  /** The group's tolerance. */
  readonly tolerance: D;
  /** The source holding max(W) (smallest id among ties). */
  readonly leader: string;
  /** The source holding min(W) (smallest id among ties). */
  readonly laggard: string;
}

/** Some sources have no watermark yet. */
export interface MissingWatermarks {
  /** Discriminant. */
  readonly aligned: false;
  /** Discriminant. */
  readonly reason: 'missing';
  /** The group's name. */
  readonly group: string;
  /** The sources without a watermark, in group order. */
  readonly missing: readonly string[];
}

/** Every source has a watermark but the spread exceeds the tolerance. */
export interface Misaligned<T, D> {
  /** Discriminant. */
  readonly aligned: false;
  /** Discriminant. */
  readonly reason: 'misaligned';
  /** The group's name. */
  readonly group: string;
  /** max(W) − min(W), greater than the tolerance. */
  readonly spread: D;
  /** The group's tolerance. */
  readonly tolerance: D;
  /** The source holding min(W) (smallest id among ties): the one to wait for. */
  readonly laggard: string;
  /** The source holding max(W) (smallest id among ties). */
  readonly leader: string;
  /** min(W), the laggard's watermark. */
  readonly effective: T;
  /** max(W), the leader's watermark. */
  readonly latest: T;
}

/** Outcome of `checkAlignment`. */
export type AlignmentResult<T, D> = Aligned<T, D> | MissingWatermarks | Misaligned<T, D>;

interface Extremes<T> {
  readonly missing: string[];
  readonly min?: { readonly source: string; readonly value: T };
  readonly max?: { readonly source: string; readonly value: T };
}

/** One pass over the group's sources: the missing ones, min and max with their sources. */
function extremes<T, D>(
  group: WatermarkGroup<D>,
  watermarks: ReadonlyMap<string, T | undefined>,
  ordering: Ordering<T, D>,
): Extremes<T> {
  validateWatermarkGroup(group, ordering);
  const missing: string[] = [];
  let minSource = '';
  let maxSource = '';
  let min: T | undefined;
  let max: T | undefined;
  for (const source of group.sources) {
    const value = watermarks.get(source);
    if (value === undefined || value === null) {
      missing.push(source);
      continue;
    }
    if (!ordering.isValue(value)) {
      throw new InvalidWatermarkValueError(
        `watermark of source "${source}" in group "${group.name}"`,
        value,
        `a "${ordering.name}" value (${describeValue(value)} cannot be compared)`,
      );
    }
    if (min === undefined || max === undefined) {
      min = max = value;
      minSource = maxSource = source;
      continue;
    }
    const lo = ordering.compare(value, min);
    if (lo < 0 || (lo === 0 && source < minSource)) {
      min = value;
      minSource = source;
    }
    const hi = ordering.compare(value, max);
    if (hi > 0 || (hi === 0 && source < maxSource)) {
      max = value;
      maxSource = source;
    }
  }
  if (min === undefined || max === undefined) return { missing };
  return { missing, min: { source: minSource, value: min }, max: { source: maxSource, value: max } };
}

/**
 * Whether the group's watermarks are aligned: every source has one and max − min ≤ tolerance.
 * Throws `InvalidWatermarkGroupError` for a malformed group and `InvalidWatermarkValueError` for a
 * value the ordering rejects.
 */
export function checkAlignment<T, D>(
  group: WatermarkGroup<D>,
  watermarks: ReadonlyMap<string, T | undefined>,
  ordering: Ordering<T, D>,
): AlignmentResult<T, D> {
  const { missing, min, max } = extremes(group, watermarks, ordering);
  if (missing.length > 0 || min === undefined || max === undefined) {
    return { aligned: false, reason: 'missing', group: group.name, missing };
  }
  const spread = ordering.distance(min.value, max.value);
  const common = {
    group: group.name,
    effective: min.value,
    latest: max.value,
    spread,
    tolerance: group.tolerance,
    leader: max.source,
    laggard: min.source,
  };
  return ordering.compareDistance(spread, group.tolerance) <= 0
    ? { aligned: true, reason: 'aligned', ...common }
    : { aligned: false, reason: 'misaligned', ...common };
}

/** min(W) of the group, or undefined while any source has no watermark (alignment is not checked). */
export function effectiveWatermark<T, D>(
  group: WatermarkGroup<D>,
  watermarks: ReadonlyMap<string, T | undefined>,
  ordering: Ordering<T, D>,
): T | undefined {
  const { missing, min } = extremes(group, watermarks, ordering);
  return missing.length > 0 ? undefined : min?.value;
}

/** One sentence describing an alignment result, for logs and status views. */
export function describeAlignment<T, D>(result: AlignmentResult<T, D>, ordering: Ordering<T, D>): string {
  const g = `watermark group "${result.group}"`;
  if (result.reason === 'missing') {
    const list = result.missing.map((s) => `"${s}"`).join(', ');
    return `${g}: no watermark yet for ${result.missing.length === 1 ? 'source' : 'sources'} ${list}`;
  }
  const spread = ordering.formatDistance(result.spread);
  const tolerance = ordering.formatDistance(result.tolerance);
  const ends =
    `laggard "${result.laggard}" at ${ordering.formatValue(result.effective)}, ` +
    `leader "${result.leader}" at ${ordering.formatValue(result.latest)}`;
  return result.aligned
    ? `${g} aligned: spread ${spread} within tolerance ${tolerance}; effective watermark ` +
        `${ordering.formatValue(result.effective)} (${ends})`
    : `${g} misaligned: spread ${spread} exceeds tolerance ${tolerance} (${ends}); waiting for "${result.laggard}"`;
}
