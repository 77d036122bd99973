/**
 * Which statements of a refresh an executor may keep prepared (SqlExecutor.queryPrepared): the
 * window inspection and, for a window of at most PREPARED_WINDOW_MAX_CHANGES pending changes, the
 * DIFFERENTIAL statement; a larger window's statement is planned for its own size (plain query).
 * The results are the same either way (the table equals its query).
 */
import { PREPARED_WINDOW_MAX_CHANGES, runRefresh, type SqlExecutor } from '@pgtrickle/dvm';
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Maintained, maintain, withTransaction } from './support/maintained.js';

const db = useTestDatabase();
let st: Maintained;

beforeAll(async () => {
  await db.query('CREATE TABLE pr_src (id int PRIMARY KEY, g int NOT NULL, v int NOT NULL)');
  await db.query('INSERT INTO pr_src SELECT i, i % 7, i FROM generate_series(1, 100) AS i');
  st = await maintain(db, 'pr_st', 'SELECT g, sum(v) AS s, count(*) AS n FROM pr_src GROUP BY g');
});

/** A DIFFERENTIAL refresh through an executor offering queryPrepared; which statements used it. */
async function refreshCounting(): Promise<{ prepared: string[]; plain: string[] }> {
  const prepared: string[] = [];
  const plain: string[] = [];
  const result = await withTransaction(db, (client) => {
    const exec: SqlExecutor = {
      query: (sql, params) => {
        plain.push(sql);
        return client.query(sql, params);
      },
      queryPrepared: (sql, params) => {
        prepared.push(sql);
        return client.query(sql, params);
      },
    };
    return runRefresh(st.plan, exec, { action: 'DIFFERENTIAL', frontier: st.frontier });
  });
  expect(result.action).toBe('DIFFERENTIAL');
  st.frontier = result.frontier;
  await st.check();
  return { prepared, plain };
}

describe('prepared statements of a refresh', () => {
  it('a small window: the inspection and the DIFFERENTIAL statement both go through queryPrepared', async () => {
    await db.query('UPDATE pr_src SET v = v + 1 WHERE id <= 10');
    const { prepared, plain } = await refreshCounting();
    expect(prepared).toEqual([st.plan.inspectSql(), st.plan.refreshSql(null)]);
    expect(plain).toEqual([]);
  });

  it('a window over the limit: the DIFFERENTIAL statement is a plain query', async () => {
    const n = PREPARED_WINDOW_MAX_CHANGES + 1;
    await db.query(`INSERT INTO pr_src SELECT 1000 + i, i % 7, i FROM generate_series(1, ${n}) AS i`);
    const { prepared, plain } = await refreshCounting();
    expect(prepared).toEqual([st.plan.inspectSql()]);
    expect(plain).toEqual([st.plan.refreshSql(null)]);
  });
});
