/**
 * The service observer port: an observed executor reports every execution with its outcome and a
 * wall time, returns the inner outcome unchanged, and an observer that throws changes nothing.
 */
import type { RefreshUnit } from '@pgtrickle/groups';
import type { UnitExecutor, UnitOutcome } from '@pgtrickle/scheduler';
import { describe, expect, it } from 'vitest';
import { notify, observedExecutor, type UnitExecution } from '../src/index.js';

const unit = {
  id: 'u1',
  kind: 'single',
  members: ['7'],
  group: null,
  dependsOn: [],
} as unknown as RefreshUnit;
const outcome: UnitOutcome = { ok: true, results: [{ id: '7', action: 'DIFFERENTIAL', rowsInserted: 2 }] };
const inner: UnitExecutor = { execute: async () => outcome };

describe('the service observer', () => {
  it('reports each execution with its outcome and wall time, and returns the outcome unchanged', async () => {
    const seen: UnitExecution[] = [];
    const ex = observedExecutor(inner, { unitExecuted: (e) => seen.push(e) });
    expect(await ex.execute(unit, ['7'], null)).toBe(outcome);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ unit, members: ['7'], outcome });
    expect(seen[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('ignores an observer that throws', async () => {
    const ex = observedExecutor(inner, {
      unitExecuted: () => {
        throw new Error('observer bug');
      },
    });
    expect(await ex.execute(unit, ['7'], null)).toBe(outcome);
    expect(() =>
      notify(
        {
          tickCompleted: () => {
            throw new Error('observer bug');
          },
        },
        'tickCompleted',
        { tick: 1, at: new Date(0), units: [], excluded: [], gates: [], nextDueAt: null },
        5,
      ),
    ).not.toThrow();
  });

  it('is the inner executor itself when nobody watches executions', () => {
    expect(observedExecutor(inner, undefined)).toBe(inner);
    expect(observedExecutor(inner, { tickCompleted: () => undefined })).toBe(inner);
  });
});
