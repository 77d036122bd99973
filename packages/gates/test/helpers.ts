/** Test helpers: a stream-table meta builder and a fixed instant. */
import type { StreamTableMeta } from '../src/index.js';

/** 2024-01-01T12:00:00Z. */
export const T0 = new Date('2024-01-01T12:00:00.000Z');

/** `T0` plus `ms` milliseconds. */
export function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

/** An ACTIVE DIFFERENTIAL table refreshed at T0 with a 1 s interval, overridable. */
export function meta(overrides: Partial<StreamTableMeta> = {}): StreamTableMeta {
  const id = overrides.id ?? 'st1';
  return {
    id,
    name: overrides.name ?? `public.${id}`,
    status: 'ACTIVE',
    refreshMode: 'DIFFERENTIAL',
    schedule: { kind: 'interval', ms: 1000 },
    lastRefreshAt: T0,
    consecutiveErrors: 0,
    ...overrides,
  };
}
