/**
 * The common checks of a statistics snapshot read back by `fromJSON`: an object of the expected
 * `kind` at format version 1. Every problem is an `InvalidSnapshotError` naming the kind.
 */
import { InvalidSnapshotError } from './errors.js';

/** A snapshot's fields, and the function that rejects it with a problem. */
export interface SnapshotReader {
  /** The snapshot's fields (already checked: `kind` and `version`). */
  readonly fields: Record<string, unknown>;
  /** Throws `InvalidSnapshotError` for this kind with `problem`. */
  readonly fail: (problem: string) => never;
}

/** Checks that `snapshot` is an object of `kind`, version 1; throws `InvalidSnapshotError` otherwise. */
export function readSnapshot(snapshot: unknown, kind: string): SnapshotReader {
  const fail = (problem: string): never => {
    throw new InvalidSnapshotError(kind, problem);
  };
  if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
  const fields = snapshot as Record<string, unknown>;
  if (fields.kind !== kind) fail(`kind must be '${kind}', got ${JSON.stringify(fields.kind)}`);
  if (fields.version !== 1)
    fail(`unsupported version ${JSON.stringify(fields.version)} (this release reads 1)`);
  return { fields, fail };
}

/** Whether `value` is a valid sample count: a safe integer ≥ 0. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Whether `value` is a finite number. */
export function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
