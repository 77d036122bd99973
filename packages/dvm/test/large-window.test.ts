/**
 * The planner settings of a large change window (plan/large-window.ts): a DIFFERENTIAL statement
 * whose window is a large share of its sources runs with nested loops off and a larger
 * `work_mem`, set for that statement only; the transaction's own settings are back afterwards;
 * a small window, or one on a small source joined to a large one, runs with the settings as they
 * were. The results equal the query either way.
 */
import {
  isLargeWindow,
  LARGE_WINDOW_MIN_CHANGES,
  LARGE_WINDOW_SHARE,
  runRefresh,
  type SqlExecutor,
} from '@pgtrickle/dvm';
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Maintained, maintain, withTransaction } from './support/maintained.js';

const db = useTestDatabase();
let agg: Maintained;
let join: Maintained;

beforeAll(async () => {
  await db.query('CREATE TABLE lw_big (id int PRIMARY KEY, g int NOT NULL, v numeric(12,2) NOT NULL)');
  await db.query('INSERT INTO lw_big SELECT i, i % 500, i FROM generate_series(1, 40000) AS i');
  await db.query('CREATE TABLE lw_dim (id int PRIMARY KEY, name text NOT NULL)');
  await db.query("INSERT INTO lw_dim SELECT i, 'd' || i FROM generate_series(1, 500) AS i");
  await db.query('ANALYZE lw_big; ANALYZE lw_dim');
  agg = await maintain(db, 'lw_agg', 'SELECT g, count(*) AS n, sum(v) AS s FROM lw_big GROUP BY g');
  join = await maintain(
    db,
    'lw_join',
    'SELECT b.id, b.v, d.name FROM lw_big AS b JOIN lw_dim AS d ON d.id = b.g',
  );
});

/**
 * A DIFFERENTIAL refresh of `st` in a transaction that set work_mem to 1MB itself: the settings
 * its refresh statement ran with, and those of the transaction after it.
 */
async function refreshSeeing(st: Maintained): Promise<{ during: string[]; after: string[] }> {
  let during: string[] = [];
  const show = async (client: { query: SqlExecutor['query'] }): Promise<string[]> => {
    const r = await client.query(
      "SELECT current_setting('enable_nestloop') AS nl, current_setting('work_mem') AS wm",
    );
    const row = r.rows[0] as { nl: string; wm: string };
    return [row.nl, row.wm];
  };
  const after = await withTransaction(db, async (client) => {
    await client.query("SET LOCAL work_mem = '1MB'");
    const exec: SqlExecutor = {
      query: async (text, params) => {
        if (text === st.plan.refreshSql(null)) during = await show(client);
        return client.query(text, params);
      },
    };
    const result = await runRefresh(st.plan, exec, { action: 'DIFFERENTIAL', frontier: st.frontier });
    expect(result.action).toBe('DIFFERENTIAL');
    st.frontier = result.frontier;
    return show(client);
  });
  await st.check();
  return { during, after };
}

describe('isLargeWindow', () => {
  it('needs both the share of all the sources and the minimum count', () => {
    expect(isLargeWindow(LARGE_WINDOW_MIN_CHANGES - 1, [100])).toBe(false);
    expect(isLargeWindow(LARGE_WINDOW_MIN_CHANGES, [100])).toBe(true);
    expect(isLargeWindow(150_000, [1_000_000, 100_000])).toBe(true);
    expect(isLargeWindow(15_000, [1_000_000, 100_000])).toBe(false);
    // A small source joined to a much larger one: the share is of both together.
    expect(isLargeWindow(20_000, [30_000, 100_000_000])).toBe(false);
    // A source of unknown size (reltuples -1: never analysed, or a partitioned parent): not large.
    expect(isLargeWindow(1_000_000, [-1])).toBe(false);
    expect(isLargeWindow(1_000_000, [100, -1])).toBe(false);
    expect(isLargeWindow(LARGE_WINDOW_MIN_CHANGES, [0])).toBe(true);
    expect(isLargeWindow(LARGE_WINDOW_SHARE * 1_000_000 - 1, [1_000_000])).toBe(false);
  });
});

describe('the planner settings of a large window', () => {
  it('a window over the share: nested loops off and 32MB during the statement, the transaction’s settings after', async () => {
    await db.query('UPDATE lw_big SET v = v + 1, g = (g + 1) % 500 WHERE id <= 8000');
    const seen = await refreshSeeing(agg);
    expect(seen.during).toEqual(['off', '32MB']);
    expect(seen.after).toEqual(['on', '1MB']);
    // The join reads the same window (and the dimension): large as well.
    const joined = await refreshSeeing(join);
    expect(joined.during).toEqual(['off', '32MB']);
    expect(joined.after).toEqual(['on', '1MB']);
  });

  it('a window under the share keeps the transaction’s settings', async () => {
    await db.query('UPDATE lw_big SET v = v + 1 WHERE id <= 1500');
    const seen = await refreshSeeing(agg);
    expect(seen.during).toEqual(['on', '1MB']);
    const joined = await refreshSeeing(join);
    expect(joined.during).toEqual(['on', '1MB']);
  });
});
