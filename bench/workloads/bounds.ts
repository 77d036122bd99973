/**
 * What bounds each missed target, one line per row of the issue table, as read from the plans
 * `pnpm bench --explain` logs (auto_explain ANALYZE; `bench/results/<date>-<machine>-explain.txt`
 * at 1,000,000 orders after one 0.1% batch, `…-explain-tpch.txt` at 100,000 TPC-H orders) and from
 * the statement counts of the zero-change section. Kept by hand: the bench measures, these lines
 * explain. Keys are the row ids of `report.ts`.
 */
export const BOUNDS: Readonly<Record<string, string>> = {
  'mv-diff-aggregate':
    'at 1,000,000 orders the delta SQL is 62 ms of the statements over 5 ms (the delta query 32 ms, the MERGE 16 ms, the consolidation temp table 14 ms) against one ≈30 ms MERGE for the floor; the rest of a DIFFERENTIAL refresh is its ≈40 statements, 13 of them writing (temp tables, frontier, history)',
  'mv-diff-join':
    'the ≈40 statements per refresh: the delta query (10 ms) and the MERGE (5 ms, by index) are the only statements over 5 ms at 1,000,000 orders',
  'mv-diff-join_agg':
    'the ≈40 statements per refresh: the delta query (20 ms) is the only statement over 5 ms at 1,000,000 orders; REFRESH MATERIALIZED VIEW is a single (parallel) statement',
  'diff-floor':
    'the fixed per-refresh work the floor does not do: ≈40 statements with temp tables, frontier and history writes, a consolidation sorted by record_send; for the aggregate also the delta query over 17 hidden state columns (32 ms)',
  crossover:
    'per change row, DIFFERENTIAL hashes the row text for its id, sorts twice (DISTINCT ON per action), consolidates through a temp table sorted by record_send and MERGEs row by row; FULL is one HashAggregate or hash join over the source (plans at 0.1%; not re-run at 10%)',
  auto: 'AUTO picks FULL only when a source’s pending changes exceed a fixed share of its rows (autoFullRatio, default 15%), so at 10% it runs DIFFERENTIAL although the measured crossover is lower',
  'full-mv':
    'FULL is count(*), TRUNCATE, then INSERT … SELECT with a hashed row id into the indexed storage: at 1,000,000 orders the join’s INSERT node alone took 1,101 ms (REFRESH MATERIALIZED VIEW: 520 ms in all); REFRESH MATERIALIZED VIEW also plans the join + aggregate in parallel, the INSERT with its data-modifying CTE cannot',
  capture:
    'the AFTER statement trigger copies every row image into the change buffer: for a 10,000-row DELETE (28 ms) the delete’s own plan took 6.5 ms and the buffer INSERT … FROM __pgt_old 19.7 ms; for the INSERT (49 ms) the buffer INSERT took 20 ms',
  commit1: 'each commit also runs the capture trigger and its buffer INSERT (not broken down further)',
  noop: '≈12 read-only statements, each a round trip (BEGIN, schema version, the catalog row twice, dependencies, source-OID check, role, freshness, COMMIT; listed below the table), each well under 1 ms in the server: the time is round trips and client work, inflated by the shared machine',
  latency:
    'the 1 s schedule meets its target; `0s`: a NOTIFY wake-up (25 ms debounce, at least 50 ms between ticks), the tick’s catalog load and pending check, then a DIFFERENTIAL refresh of ≈40 statements (see above); not broken down further',
  tick: 'not re-explained here: `pnpm bench tick` splits the tick into its parts (catalog load, planTick, the pending check, the frontier reads)',
  tpch: 'at 100,000 orders (`…-vm-2core-tpch-explain-tpch.txt`, one 0.1% step) the delta statement is no longer the bound of most queries: DIFFERENTIAL delta statement vs FULL statement q05 7.9 vs 38 ms, q17 5.4 vs 57 ms, q22 7.2 vs 12.4 ms, q08 and q19 under 5 ms (FULL 32 and 5 ms), q21 77 vs 79 ms; the rest of their DIFFERENTIAL refresh is its ≈45 other statements (temp tables, frontier, history, cleanup: see the refresh rows), which outweighs a small FULL refresh (q19, q22: one statement of 5–12 ms). For the many-source joins the delta statement’s planning is the larger part of it: q08 (8 sources) parse 10–20 ms and bind (planning) 50–85 ms against 15–25 ms execution, q05 bind 36–48 ms against 16–26 ms (server log, log_min_duration_statement); its SQL is ≈100 KB with 42 CTEs and 85 row-id hashes, and join_collapse_limit does not change the planning time, so a plan kept across refreshes (a prepared statement) is what would remove it. q15: 43 vs 27 ms, as its max(total_revenue) needs every supplier’s quarter revenue (the whole aggregate, which FULL also computes) and the delta adds the changed suppliers recomputed for each of the two revenue subqueries, each through a BitmapAnd with the l_shipdate range per supplier. q21: its rest is the per-row R₀ probes of l2 / l3 (the scan’s old snapshot, an anti join against the delta CTE per probed row). Measured on the shared machine at load average ≈12, where ratios of 1.0–1.7x move between runs',
};
