/**
 * The preflight's plan (refresh-preflight.ts): a DIFFERENTIAL refresh runs its preflight with a
 * generic plan, kept across refreshes, whatever the caller's `plan_cache_mode`, and the statements
 * after it (the delta statement, the record) are planned under the caller's own setting. The
 * caller here forces custom plans for its session, so a preflight planned by the caller's setting
 * would show custom plans, and a setting not set back would give the delta statement generic ones.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Trickle } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const QUERY = 'SELECT k, count(*) AS n, sum(v) AS s FROM pc_src GROUP BY k';
let custom: Trickle;

beforeAll(async () => {
  await db.query('CREATE TABLE pc_src (id int PRIMARY KEY, k int NOT NULL, v numeric(10,2) NOT NULL)');
  await db.query('INSERT INTO pc_src SELECT g, g % 7, g * 1.5 FROM generate_series(1, 200) g');
  await trickle().createStreamTable({ name: 'pc_st', query: QUERY, refreshMode: 'DIFFERENTIAL' });
  // One connection: every refresh and the look at its prepared statements share the session.
  custom = await connect({
    poolConfig: { connectionString: db.url, max: 1, options: '-c plan_cache_mode=force_custom_plan' },
  });
});

afterAll(async () => {
  await custom?.close();
});

describe("the preflight's plan", () => {
  it('is generic and kept; the delta statement and the record keep the caller’s plan_cache_mode', async () => {
    for (let i = 0; i < 4; i++) {
      await db.query('UPDATE pc_src SET v = v + 1, k = (k + $1) % 7 WHERE id % 13 = $1', [i]);
      const out = await custom.refresh('pc_st');
      expect(out.action).toBe('DIFFERENTIAL');
      await expectTableEqualsQuery(db, 'pc_st', QUERY);
    }
    const plans = await custom.db.query(
      `SELECT statement, generic_plans::int AS generic, custom_plans::int AS custom
         FROM pg_catalog.pg_prepared_statements
        WHERE name LIKE 'pgt_p_%' AND NOT from_sql AND pg_catalog.cardinality(parameter_types) > 0`,
    );
    const rows = plans.rows as { statement: string; generic: number; custom: number }[];
    const preflight = rows.filter((r) => /^SELECT s\.self, s\.path,/.test(r.statement.trim()));
    // Its text without the window (the first refresh, no plan cached yet) and with it.
    expect(preflight.length).toBeGreaterThan(0);
    for (const r of preflight) expect(r.custom).toBe(0);
    expect(preflight.reduce((n, r) => n + r.generic, 0)).toBe(4);
    const delta = rows.filter((r) => r.statement.includes('pc_st__pgt_storage'));
    const record = rows.filter((r) => /^WITH updated AS \(UPDATE /.test(r.statement.trim()));
    expect(delta.length).toBeGreaterThan(0);
    expect(record.length).toBeGreaterThan(0);
    for (const r of [...delta, ...record]) {
      expect(r.generic).toBe(0);
      expect(r.custom).toBeGreaterThan(0);
    }
    // The session's own setting is untouched.
    const setting = await custom.db.query(`SELECT pg_catalog.current_setting('plan_cache_mode') AS m`);
    expect(setting.rows[0]).toEqual({ m: 'force_custom_plan' });
  });
});
