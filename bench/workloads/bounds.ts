/**
 * What bounds each missed target, one line per row of the issue table, as read from the plans
 * `pnpm bench --explain` logs (auto_explain ANALYZE; `bench/results/<date>-<machine>-explain.txt`
 * at 100,000 orders after one 0.1% batch, `…-explain-tpch.txt` at 100,000 TPC-H orders) and from
 * the statement counts of the zero-change section. Kept by hand: the bench measures, these lines
 * explain. Keys are the row ids of `report.ts`.
 */
export const BOUNDS: Readonly<Record<string, string>> = {
  'mv-diff-aggregate':
    'not the delta SQL: its statements over 5 ms add up to 6–18 ms (the MERGE seq-scans the whole storage table for 110 changed groups); a DIFFERENTIAL refresh sends ≈40 statements, 13 of them writing (temp tables, frontier, history), which is most of its time; the floor is one MERGE',
  'mv-diff-join':
    'the ≈40 statements per refresh, and a MERGE that seq-scans the whole storage table (hash right join) to apply 29 delta rows, growing with the table; the floor uses the primary key',
  'mv-diff-join_agg':
    'the ≈40 statements per refresh (the delta query itself, 7 ms at 0.1%, is not the bound); REFRESH MATERIALIZED VIEW of the 200 groups is a single statement',
  'diff-floor':
    'the fixed per-refresh work the floor does not do: ≈40 statements with temp tables, frontier and history writes, a consolidation sorted by record_send, a MERGE by full scan of the storage',
  crossover:
    'per change row, DIFFERENTIAL hashes the row text for its id, sorts twice (DISTINCT ON per action), consolidates through a temp table sorted by record_send and MERGEs by a full scan; FULL is one HashAggregate or hash join over the source (plans at 0.1%; not re-run at 10%)',
  auto: 'AUTO picks FULL only when a source’s pending changes exceed a fixed share of its rows (autoFullRatio, default 15%), so at 10% it runs DIFFERENTIAL although the measured crossover is lower',
  'full-mv':
    'FULL is count(*), TRUNCATE, then INSERT … SELECT with a hashed row id into the indexed storage: the INSERT node alone takes 58 ms (aggregate) and 90 ms (join), the size of the whole REFRESH MATERIALIZED VIEW query (113 / 64 ms)',
  capture:
    'the AFTER statement trigger copies every row image into the change buffer: a 10,000-row INSERT took 44 ms for the insert and 51 ms for the buffer INSERT … FROM the transition table; a 10,000-row DELETE 48 ms, of which the delete’s own plan 14 ms and its trigger the rest',
  commit1: 'each commit also runs the capture trigger and its buffer INSERT (not broken down further)',
  noop: '≈12 read-only statements, each a round trip (BEGIN, schema version, the catalog row twice, dependencies, source-OID check, role, freshness, COMMIT; listed below the table), each well under 1 ms in the server: the time is round trips and client work, inflated by the shared machine',
  latency:
    'the 1 s schedule meets its target; `0s`: a NOTIFY wake-up (25 ms debounce, at least 50 ms between ticks), the tick’s catalog load and pending check, then a DIFFERENTIAL refresh of ≈40 statements (see above); not broken down further',
  tick: 'not re-explained here: `pnpm bench tick` splits the tick into its parts (catalog load, planTick, the pending check, the frontier reads)',
  tpch: 'q18: a Hash Anti Join over the IN-subquery’s semi-join delta (405 ms) and a seq scan of lineitem; q13: a seq scan of all orders and a 133 ms sort inside the delta (the LEFT JOIN’s inner side read whole); q15: both revenue subqueries recomputed over the quarter’s line items plus an anti join (215 ms vs 85 ms FULL); q21: lineitem read through l_suppkey for every affected supplier; q12, q16, q19, q22 refused in DIFFERENTIAL by the SQL printer’s round-trip check, which flags an IN (…) list (its location field A_Expr.rexpr_list_start changes when printed again)',
};
