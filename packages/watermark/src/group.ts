/**
 * Watermark groups. Rule: a group names the sources whose watermarks must be aligned before the
 * stream tables gated by it refresh, and the tolerance: the largest allowed spread
 * max(W) − min(W) between their watermarks. A valid group has a non-empty name, at least one
 * source, no source twice, no empty source id, and a tolerance of zero or more that the ordering
 * accepts. `watermarkGroup` validates and freezes a definition; plain objects are accepted
 * everywhere too and are validated on use.
 */
import { InvalidWatermarkGroupError } from './errors.js';
import type { Ordering } from './ordering.js';
import { type TimeTolerance, timeOrdering, toMilliseconds } from './time.js';

/** A set of sources whose watermarks must lie within `tolerance` of each other. */
export interface WatermarkGroup<D> {
  /** Group name (unique in a deployment). */
  readonly name: string;
  /** Source ids (e.g. table names or OIDs as text), in declared order. */
  readonly sources: readonly string[];
  /** The largest allowed spread between the group's watermarks (ms for time watermarks). */
  readonly tolerance: D;
}

/** Groups already validated by `watermarkGroup`, with the ordering they were validated against. */
const validated = new WeakMap<object, object>();

function groupName(group: unknown): string {
  const name = (group as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : String(name);
}

/** Every problem of a group definition under an ordering (empty when it is valid). */
export function watermarkGroupProblems<T, D>(group: WatermarkGroup<D>, ordering: Ordering<T, D>): string[] {
  const problems: string[] = [];
  if (group === null || typeof group !== 'object')
    return ['a group must be an object { name, sources, tolerance }'];
  if (typeof group.name !== 'string' || group.name.trim() === '')
    problems.push('the name must be non-empty text');
  if (!Array.isArray(group.sources)) {
    problems.push('sources must be an array of source ids');
  } else {
    if (group.sources.length === 0) problems.push('it has no sources');
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    group.sources.forEach((source: unknown, i) => {
      if (typeof source !== 'string' || source === '') {
        problems.push(`source #${i + 1} is ${JSON.stringify(source) ?? String(source)}, not a non-empty id`);
        return;
      }
      if (seen.has(source)) duplicates.add(source);
      seen.add(source);
    });
    if (duplicates.size > 0) {
      const list = [...duplicates].map((s) => `"${s}"`).join(', ');
      problems.push(`${duplicates.size === 1 ? 'source' : 'sources'} ${list} listed more than once`);
    }
  }
  if (!ordering.isDistance(group.tolerance)) {
    problems.push(`the tolerance ${String(group.tolerance)} is not a valid "${ordering.name}" distance`);
  } else if (ordering.compareDistance(group.tolerance, ordering.zero) < 0) {
    problems.push(`the tolerance ${ordering.formatDistance(group.tolerance)} is negative`);
  }
  return problems;
}

/** Throws `InvalidWatermarkGroupError` listing every problem unless the group is valid. */
export function validateWatermarkGroup<T, D>(group: WatermarkGroup<D>, ordering: Ordering<T, D>): void {
  if (validated.get(group) === ordering) return;
  const problems = watermarkGroupProblems(group, ordering);
  if (problems.length > 0) throw new InvalidWatermarkGroupError(groupName(group), problems);
}

/** A validated, frozen copy of a group definition (validation is then skipped on use). */
export function watermarkGroup<T, D>(group: WatermarkGroup<D>, ordering: Ordering<T, D>): WatermarkGroup<D> {
  validateWatermarkGroup(group, ordering);
  const frozen: WatermarkGroup<D> = Object.freeze({
    name: group.name,
    sources: Object.freeze([...group.sources]),
    tolerance: group.tolerance,
  });
  validated.set(frozen, ordering);
  return frozen;
}

/** A group of time watermarks; the tolerance in ms or as a Duration (`{ minutes: 5 }`). */
export interface TimeWatermarkGroupSpec {
  /** Group name. */
  readonly name: string;
  /** Source ids. */
  readonly sources: readonly string[];
  /** Largest allowed spread: milliseconds or a Duration. */
  readonly tolerance: TimeTolerance;
}

/** A validated group of `Date` watermarks, its tolerance converted to milliseconds. */
export function timeWatermarkGroup(spec: TimeWatermarkGroupSpec): WatermarkGroup<number> {
  return watermarkGroup({ ...spec, tolerance: toMilliseconds(spec.tolerance) }, timeOrdering);
}
