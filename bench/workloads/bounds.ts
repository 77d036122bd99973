/**
 * What bounds each missed target, one line per row of the issue table, as read from EXPLAIN
 * ANALYZE and statement traces of the refreshes (kept by hand: the bench measures, these lines
 * explain). Keys are the row ids of `report.ts`.
 */
export const BOUNDS: Readonly<Record<string, string>> = {};
