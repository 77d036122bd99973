/**
 * What bounds each missed target, one line per row of the issue table, as read from the plans
 * `pnpm bench --explain` logs (auto_explain ANALYZE; `bench/results/<date>-<machine>-explain.txt`
 * at 1,000,000 orders after one 0.1% batch, `…-explain-tpch.txt` at 100,000 TPC-H orders) and from
 * the statement counts of the zero-change section. Kept by hand: the bench measures, these lines
 * explain. Keys are the row ids of `report.ts`.
 */
export const BOUNDS: Readonly<Record<string, string>> = {
  'mv-diff-aggregate':
    'a DIFFERENTIAL refresh is one statement (delta, apply, frontier) plus ≈19 round trips (5 in refresh() before its transaction, 13 in it, 1 cleanup), ≈1 ms each on the loaded machine; in the statement (EXPLAIN ANALYZE, 1,000,000 orders, 999 changed groups) the new state of each group ≈9 ms (17 hidden columns, 10 of them maintained now: AVG reads SUM’s state, numeric(12,2) needs no scale histogram) and the UPDATE of the changed storage rows ≈8 ms dominate, against one MERGE of three columns for the floor',
  'mv-diff-join':
    'the ≈19 round trips of a refresh (see above) around its one statement (join delta ≈10 ms at 1,000,000 orders, consolidated by record_send before the apply)',
  'mv-diff-join_agg':
    'the ≈19 round trips of a refresh around its one statement (the join delta of the changed orders against customers, aggregated per region, ≈10 ms at 1,000,000 orders); REFRESH MATERIALIZED VIEW is a single (parallel) statement and the floor one MERGE of 200 groups',
  'diff-floor':
    'the floor is one statement over a side table of (id, old, new); a DIFFERENTIAL refresh also nets the change buffer per key (two sorts), reads the stored state, recomputes the hidden state per group and makes ≈19 round trips (catalog row and dependencies, the quiet probe, the lock, the owner’s sandbox, the preflight, the window count, the record, the cleanup)',
  crossover:
    'per change row, DIFFERENTIAL hashes the row text for its id and sorts per key; the change buffer is never analyzed, so the planner expects a few rows from the window and keeps index nested loops into the storage and the sources at 10% where FULL is one HashAggregate or hash join over the source',
  auto: 'AUTO picks FULL only when a source’s pending changes exceed a fixed share of its rows (autoFullRatio, default 15%), so at 10% it runs DIFFERENTIAL although the measured crossover is lower',
  'full-mv':
    'FULL is count(*), TRUNCATE, then INSERT … SELECT with a hashed row id into the indexed storage: at 1,000,000 orders the join’s INSERT node alone took 1,101 ms (REFRESH MATERIALIZED VIEW: 520 ms in all); REFRESH MATERIALIZED VIEW also plans the join + aggregate in parallel, the INSERT with its data-modifying CTE cannot',
  capture:
    'the AFTER statement trigger copies every row image into the change buffer: for a 10,000-row DELETE (28 ms) the delete’s own plan took 6.5 ms and the buffer INSERT … FROM __pgt_old 19.7 ms; for the INSERT (49 ms) the buffer INSERT took 20 ms',
  commit1: 'each commit also runs the capture trigger and its buffer INSERT (not broken down further)',
  noop: '≈12 read-only statements, each a round trip (BEGIN, schema version, the catalog row twice, dependencies, source-OID check, role, freshness, COMMIT; listed below the table), each well under 1 ms in the server: the time is round trips and client work, inflated by the shared machine',
  latency:
    'the 1 s schedule meets its target; `0s`: a NOTIFY wake-up (25 ms debounce, at least 50 ms between ticks), the tick’s catalog load and pending check, then a DIFFERENTIAL refresh (one statement plus ≈14 round trips); not broken down further',
  tick: 'not re-explained here: `pnpm bench tick` splits the tick into its parts (catalog load, planTick, the pending check, the frontier reads)',
  tpch: 'at 100,000 orders (`…-vm-2core-tpch-explain-tpch.txt`, one 0.1% step) the delta statement is no longer the bound of most queries: DIFFERENTIAL delta statement vs FULL statement q05 7.9 vs 38 ms, q17 5.4 vs 57 ms, q22 7.2 vs 12.4 ms, q08 and q19 under 5 ms (FULL 32 and 5 ms), q21 77 vs 79 ms; the rest of their DIFFERENTIAL refresh is its ≈45 other statements (temp tables, frontier, history, cleanup: see the refresh rows), which outweighs a small FULL refresh (q19, q22: one statement of 5–12 ms). For the many-source joins the delta statement’s planning is the larger part of it: q08 (8 sources) parse 10–20 ms and bind (planning) 50–85 ms against 15–25 ms execution, q05 bind 36–48 ms against 16–26 ms (server log, log_min_duration_statement); its SQL is ≈100 KB with 42 CTEs and 85 row-id hashes, and join_collapse_limit does not change the planning time, so a plan kept across refreshes (a prepared statement) is what would remove it. q15: 43 vs 27 ms, as its max(total_revenue) needs every supplier’s quarter revenue (the whole aggregate, which FULL also computes) and the delta adds the changed suppliers recomputed for each of the two revenue subqueries, each through a BitmapAnd with the l_shipdate range per supplier. q21: its rest is the per-row R₀ probes of l2 / l3 (the scan’s old snapshot, an anti join against the delta CTE per probed row). Measured on the shared machine at load average ≈12, where ratios of 1.0–1.7x move between runs',
};
