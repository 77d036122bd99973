/**
 * Isolation levels of a group refresh. Rule: 'repeatable read' is stronger than 'read committed';
 * when groups combine, the strongest level wins (a stronger level never breaks a weaker guarantee).
 */

/** Transaction isolation a group refresh runs under. */
export type IsolationLevel = 'read committed' | 'repeatable read';

/** Every isolation level, weakest first. */
export const ISOLATION_LEVELS: readonly IsolationLevel[] = ['read committed', 'repeatable read'];

/** Whether `value` is an IsolationLevel. */
export function isIsolationLevel(value: unknown): value is IsolationLevel {
  return value === 'read committed' || value === 'repeatable read';
}

/** Strength of a level: 0 for 'read committed', 1 for 'repeatable read'. */
export function isolationRank(level: IsolationLevel): number {
  return level === 'repeatable read' ? 1 : 0;
}

/** The strongest of `levels`; 'read committed' when there are none. */
export function strongestIsolation(levels: Iterable<IsolationLevel>): IsolationLevel {
  for (const l of levels) if (l === 'repeatable read') return l;
  return 'read committed';
}
