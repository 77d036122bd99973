/**
 * The trim a DIFFERENTIAL refresh does in its own transaction. Rule: the buffers its delta
 * statement read (they exist: the statement's lock on them holds until commit) are trimmed by the
 * refresh's record statement, with the refresh's new frontier counted as its consumer's (so the
 * deletion commits or rolls back with that frontier), instead of one statement per buffer after
 * commit. A buffer whose cleanup lock another session holds, or whose window index should now be
 * created or dropped (`BUFFER_INDEX_ROWS`), is left to the ordinary cleanup after commit
 * (`cleanupBuffers`), which retries it and runs the index DDL in a transaction of its own.
 */
import { baseBuffer, baseBufferIndex, type CompiledPlan, streamBuffer } from '@pgtrickle/dvm';
import type { InlineTrim } from './catalog/record-refresh.js';
import type { DependencyRow } from './catalog/rows.js';
import type { InlineTrimTarget } from './catalog/trim-buffers.js';
import { bufferIndexChange, cleanupLockKey } from './cdc.js';

/** A buffer to trim in the record statement and the dependency it belongs to. */
export interface RefreshTrim {
  readonly target: InlineTrimTarget;
  readonly dep: DependencyRow;
}

/** The buffers of `deps` that `plan`'s DIFFERENTIAL statement read, to trim in the record statement. */
export function refreshTrims(plan: CompiledPlan, deps: readonly DependencyRow[]): RefreshTrim[] {
  const trims: RefreshTrim[] = [];
  for (const d of deps) {
    if (d.sourceKind === 'table') {
      if (!plan.sources.some((s) => s.kind === 'table' && s.oid === d.sourceOid)) continue;
      trims.push({
        dep: d,
        target: {
          kind: 'table',
          oid: d.sourceOid,
          buffer: baseBuffer(d.sourceOid),
          index: baseBufferIndex(d.sourceOid),
          lockKey: cleanupLockKey('base', d.sourceOid),
        },
      });
    } else if (d.sourceKind === 'streamTable' && d.sourcePgtId !== null) {
      const pgtId = d.sourcePgtId;
      if (!plan.sources.some((s) => s.kind === 'streamTable' && s.pgtId === pgtId)) continue;
      trims.push({
        dep: d,
        target: {
          kind: 'streamTable',
          pgtId,
          buffer: streamBuffer(pgtId),
          lockKey: cleanupLockKey('st', pgtId),
        },
      });
    }
  }
  return trims;
}

/** The dependencies whose buffers still need the cleanup after commit, given what the record statement's trims found. */
export function leftToClean(
  deps: readonly DependencyRow[],
  trims: readonly RefreshTrim[],
  found: readonly InlineTrim[],
): DependencyRow[] {
  const done = new Set<DependencyRow>();
  trims.forEach((t, i) => {
    const f = found[i];
    if (f === undefined || !f.locked) return;
    if (t.target.kind === 'table' && bufferIndexChange(f.kept, f.indexed) !== null) return;
    done.add(t.dep);
  });
  return deps.filter((d) => !done.has(d));
}
