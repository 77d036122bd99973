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
  auto: 'AUTO learns each table’s FULL and DIFFERENTIAL costs from its own history (`auto-cost.ts`) and picks close to the cheaper of its own two actions; what remains is that an AUTO (or DIFFERENTIAL) aggregate’s FULL costs about twice a FULL-mode table’s (it computes the hidden aggregate state columns too: 464 ms against 299 ms at 20%), so at 10% even its best action is ≈2x the FULL-mode table’s FULL; and the model needs a DIFFERENTIAL refresh near a window’s size before it trusts itself there (it extrapolates at most 4x), so a first 10% window after 1% ones can still go DIFFERENTIAL once',
  'full-mv':
    'a storage of at least 10,000 rows is now loaded in bulk (its re-creatable indexes dropped after the TRUNCATE and built after the INSERT, as REFRESH MATERIALIZED VIEW builds its indexes): in isolation, 800,000 rows with hashed row ids took 10.8 s inserted into the indexed table, 3.1 s in bulk, 2.5 s for REFRESH MATERIALIZED VIEW (1.25x); what remains is the fixed per-refresh work (count(*), the sandbox and catalog statements, ≈100 ms under load: the 200-row join + aggregate is 2–5x for that alone), the hashed row id per row, and the INSERT with its data-modifying CTE cannot run in parallel',
  capture:
    'the AFTER statement trigger copies every row image into the change buffer: for a 10,000-row DELETE (28 ms) the delete’s own plan took 6.5 ms and the buffer INSERT … FROM __pgt_old 19.7 ms; for the INSERT (49 ms) the buffer INSERT took 20 ms',
  commit1: 'each commit also runs the capture trigger and its buffer INSERT (not broken down further)',
  noop: '≈12 read-only statements, each a round trip (BEGIN, schema version, the catalog row twice, dependencies, source-OID check, role, freshness, COMMIT; listed below the table), each well under 1 ms in the server: the time is round trips and client work, inflated by the shared machine',
  latency:
    'the 1 s schedule meets its target; `0s`: a wake-up after a quiet spell now starts the tick at once (no 25 ms debounce), and the tick reads only its snapshot, the catalog signature and the buffer stamps before the refresh (≈10–20 ms under load with the lease renewal and the tick bound); the rest is the DIFFERENTIAL refresh itself (one statement plus ≈14 round trips)',
  tick: 'the database part of an idle tick is one statement (its snapshot: nothing committed since the previous tick, so the catalog and every pending answer are reused) plus the tick bound’s few round trips; the rest is the gate pipeline in JavaScript for 1,000 tables: the same tick over in-memory ports takes 10–60 ms on this machine depending on its load (before: 200–270 ms, of which the pending check ≈100 ms and the catalog load ≈20 ms)',
  tpch: 'q18: a Hash Anti Join over the IN-subquery’s semi-join delta (405 ms) and a seq scan of lineitem; q13: a seq scan of all orders and a 133 ms sort inside the delta (the LEFT JOIN’s inner side read whole); q15: both revenue subqueries recomputed over the quarter’s line items plus an anti join (215 ms vs 85 ms FULL); q21: lineitem read through l_suppkey for every affected supplier; q12, q16, q19, q22 refused in DIFFERENTIAL by the SQL printer’s round-trip check, which flags an IN (…) list (its location field A_Expr.rexpr_list_start changes when printed again)',
};
