-- pgtrickle catalog migration 17: promote options
-- name: promote options
-- Released: never edit (its checksum is recorded in pgtrickle.pgt_schema_version); change the catalog in a new migration.
-- Statements are separated by a line "--> statement-breakpoint" (dollar-quoted bodies may contain ";").
-- promote_green takes two more options (docs/blue-green.md): max_lag, a data lag under which a
-- green counts as converged ("close enough": the promote's last refresh of the green brings it
-- up to date), and verify, a content check for a green of the same query (both refreshed with
-- their sources locked against writes, then compared row for row).

DROP FUNCTION pgtrickle.promote_green(text, boolean, boolean)
--> statement-breakpoint
CREATE FUNCTION pgtrickle.promote_green(name text, force boolean DEFAULT false, "cascade" boolean DEFAULT false,
                                        max_lag interval DEFAULT NULL, verify boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql AS $fn$
BEGIN
  -- Swaps the green of `name` in, in one transaction (refused unless it has converged, or forced).
  IF max_lag IS NOT NULL AND max_lag < interval '0' THEN
    RAISE EXCEPTION 'max_lag must not be negative, got %', max_lag USING ERRCODE = '22023';
  END IF;
  RETURN pgtrickle.green_request('promote_green', name, NULL, NULL, NULL,
    pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'force', COALESCE(force, false), 'cascade', COALESCE("cascade", false), 'verify', COALESCE(verify, false),
      'max_lag_ms', EXTRACT(epoch FROM max_lag)::float8 * 1000)));
END
$fn$
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION pgtrickle.promote_green(text, boolean, boolean, interval, boolean) TO pgtrickle_user
