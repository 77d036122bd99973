/**
 * The plans of a DIFFERENTIAL refresh's statements (refresh-preflight.ts): the preflight always
 * runs with a generic plan, kept across refreshes, whatever the caller's `plan_cache_mode`; the
 * delta statement and the record keep the generic plan when the window is small and the buffers
 * have no window index, and run under the caller's setting otherwise (a large window, a large
 * buffer); the session's own setting is never changed. The caller here forces custom plans for its
 * session, so a statement planned by the caller's setting shows custom plans and one planned
 * generic shows generic ones (`pg_prepared_statements`, one pooled connection for every refresh).
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Trickle } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const QUERY = 'SELECT k, count(*) AS n, sum(v) AS s FROM pc_src GROUP BY k';
let custom: Trickle;

interface Plans {
  generic: number;
  custom: number;
}

/** Generic and custom plan counts of the session's prepared statements of one kind. */
async function plans(kind: 'preflight' | 'delta' | 'record'): Promise<Plans> {
  const res = await custom.db.query(
    `SELECT statement, generic_plans::int AS generic, custom_plans::int AS custom
       FROM pg_catalog.pg_prepared_statements WHERE name LIKE 'pgt_p_%' AND NOT from_sql`,
  );
  const match = {
    preflight: (s: string) => /^SELECT s\.self, s\.path,/.test(s.trim()),
    delta: (s: string) => s.includes('pc_st__pgt_storage') && !/^WITH updated AS/.test(s.trim()),
    record: (s: string) => /^WITH updated AS \(UPDATE /.test(s.trim()),
  }[kind];
  const rows = (res.rows as { statement: string; generic: number; custom: number }[]).filter((r) =>
    match(r.statement),
  );
  return {
    generic: rows.reduce((n, r) => n + r.generic, 0),
    custom: rows.reduce((n, r) => n + r.custom, 0),
  };
}

/** Refreshes pc_st with the custom-plan client; returns how many plans of each kind each statement got. */
async function refreshCounting(): Promise<Record<'preflight' | 'delta' | 'record', Plans>> {
  const before = {
    preflight: await plans('preflight'),
    delta: await plans('delta'),
    record: await plans('record'),
  };
  const out = await custom.refresh('pc_st');
  expect(out.action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'pc_st', QUERY);
  const diff = async (k: 'preflight' | 'delta' | 'record') => {
    const now = await plans(k);
    return { generic: now.generic - before[k].generic, custom: now.custom - before[k].custom };
  };
  return { preflight: await diff('preflight'), delta: await diff('delta'), record: await diff('record') };
}

beforeAll(async () => {
  await db.query('CREATE TABLE pc_src (id int PRIMARY KEY, k int NOT NULL, v numeric(10,2) NOT NULL)');
  await db.query('INSERT INTO pc_src SELECT g, g % 7, g * 1.5 FROM generate_series(1, 2000) g');
  await trickle().createStreamTable({ name: 'pc_st', query: QUERY, refreshMode: 'DIFFERENTIAL' });
  // One connection: every refresh and the look at its prepared statements share the session.
  custom = await connect({
    poolConfig: { connectionString: db.url, max: 1, options: '-c plan_cache_mode=force_custom_plan' },
  });
  // A first refresh caches the plan (its preflight does not read the window yet).
  await db.query('UPDATE pc_src SET v = v + 1 WHERE id <= 3');
  await refreshCounting();
});

afterAll(async () => {
  await custom?.close();
});

describe('the plans of a DIFFERENTIAL refresh', () => {
  it('a small window over a small buffer: preflight, delta statement and record generic, planned once', async () => {
    const runs = [];
    for (let i = 0; i < 3; i++) {
      await db.query('UPDATE pc_src SET v = v + 1, k = (k + $1) % 7 WHERE id % 97 = $1', [i]);
      runs.push(await refreshCounting());
    }
    for (const r of runs) {
      expect(r.preflight).toEqual({ generic: 1, custom: 0 });
      expect(r.delta).toEqual({ generic: 1, custom: 0 });
      expect(r.record).toEqual({ generic: 1, custom: 0 });
    }
    const setting = await custom.db.query(`SELECT pg_catalog.current_setting('plan_cache_mode') AS m`);
    expect(setting.rows[0]).toEqual({ m: 'force_custom_plan' });
  });

  it("a large window: the statements after the preflight run under the caller's setting", async () => {
    // 600 updates, 1,200 changes: more than a prepared delta statement is run for.
    await db.query('UPDATE pc_src SET v = v + 2 WHERE id <= 600');
    const r = await refreshCounting();
    expect(r.preflight).toEqual({ generic: 1, custom: 0 });
    expect(r.record).toEqual({ generic: 0, custom: 1 });
  });

  it("a buffer with its window index: the delta statement and the record run under the caller's setting", async () => {
    // A second reader that does not refresh keeps the buffer's rows: past BUFFER_INDEX_ROWS, the
    // cleanup after pc_st's refresh creates the window index.
    await trickle().createStreamTable({ name: 'pc_lag', query: QUERY, refreshMode: 'DIFFERENTIAL' });
    await db.query('INSERT INTO pc_src SELECT g, g % 7, g FROM generate_series(10001, 35000) g');
    await refreshCounting();
    const indexed = await db.query(
      `SELECT count(*)::int AS n FROM pg_catalog.pg_index AS i JOIN pg_catalog.pg_class AS c ON c.oid = i.indrelid
        WHERE c.relname = 'changes_' || 'pc_src'::regclass::oid`,
    );
    expect(indexed.rows[0]).toEqual({ n: 1 });
    await db.query('UPDATE pc_src SET v = v + 1 WHERE id <= 5');
    const r = await refreshCounting();
    // Opened in one round trip on the lock's last answer (no index), which the lock contradicts:
    // rolled back and opened again (refresh-open.ts), so the preflight ran twice, generic both times.
    expect(r.preflight).toEqual({ generic: 2, custom: 0 });
    expect(r.delta).toEqual({ generic: 0, custom: 1 });
    expect(r.record).toEqual({ generic: 0, custom: 1 });
  });
});
