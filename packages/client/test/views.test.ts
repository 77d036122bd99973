/**
 * Views as sources: a view the stream table's owner may read inline (owned by that role, or
 * `security_invoker`) is read as a subquery of its definition — views over views too — so its
 * tables are captured and DIFFERENTIAL works; a change of its definition makes readers rebuild. A
 * view that reads its tables with another role's rights is refused in DIFFERENTIAL (AUTO uses FULL).
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { type OracleScenario, oracleScenarios } from './support/oracle-scenarios.js';
import { useTrickle } from './support/setup.js';

const env = useTrickle();
const { db, trickle } = env;

const SHOP = `CREATE TABLE {s}.customers (id int PRIMARY KEY, name text, tier text);
  CREATE TABLE {s}.orders (id int PRIMARY KEY, customer_id int, amount numeric);
  INSERT INTO {s}.customers VALUES (1, 'ann', 'gold'), (2, 'bob', NULL), (3, 'cy', 'gold');
  INSERT INTO {s}.orders VALUES (10, 1, 5), (11, 1, 7), (12, 2, 1), (13, 3, NULL);
  CREATE VIEW {s}.gold AS SELECT id, name FROM {s}.customers WHERE tier = 'gold';
  CREATE VIEW {s}.gold_orders AS SELECT o.id, g.name, o.amount FROM {s}.orders o JOIN {s}.gold g ON g.id = o.customer_id;`;

const STEPS = [
  `INSERT INTO {s}.orders VALUES (14, 3, 2), (15, 2, 9); UPDATE {s}.customers SET tier = 'gold' WHERE id = 2`,
  `DELETE FROM {s}.orders WHERE id = 10; UPDATE {s}.customers SET name = 'ANN' WHERE id = 1`,
  `UPDATE {s}.customers SET tier = NULL WHERE id = 3; INSERT INTO {s}.customers VALUES (4, 'dee', 'gold')`,
];

const VIEW_SCENARIOS: OracleScenario[] = [
  { name: 'a view with a filter', setup: SHOP, query: 'SELECT id, name FROM {s}.gold', steps: STEPS },
  {
    name: 'a view over a view, joined and aggregated',
    setup: SHOP,
    query: 'SELECT name, count(*) AS n, sum(amount) AS total FROM {s}.gold_orders GROUP BY name',
    steps: STEPS,
  },
  {
    name: 'a view joined with a table, under an alias with column names',
    setup: SHOP,
    query:
      'SELECT g.gid, g.gname, o.amount FROM {s}.gold AS g (gid, gname) LEFT JOIN {s}.orders o ON o.customer_id = g.gid',
    steps: STEPS,
  },
];

oracleScenarios('vw', VIEW_SCENARIOS, env.db, env.trickle);

describe('views as sources', () => {
  it('captures the tables under a view and rebuilds when the view is replaced', async () => {
    await db.query(`CREATE SCHEMA vr; ${SHOP.replaceAll('{s}', 'vr')}`);
    const query = 'SELECT id, name FROM vr.gold';
    const st = await trickle().createStreamTable({ name: 'vr.st', query, refreshMode: 'DIFFERENTIAL' });
    expect(st.effectiveMode).toBe('DIFFERENTIAL');
    const deps = await db.query(
      `SELECT d.source_name, d.source_kind FROM pgtrickle.pgt_dependencies d JOIN pgtrickle.pgt_stream_tables s USING (pgt_id)
        WHERE s.schema_name = 'vr' AND s.table_name = 'st' ORDER BY d.source_kind, d.source_name`,
    );
    expect(deps.rows).toEqual([
      { source_name: 'customers', source_kind: 'table' },
      { source_name: 'gold', source_kind: 'view' },
    ]);
    await db.query(`CREATE OR REPLACE VIEW vr.gold AS SELECT id, name FROM vr.customers WHERE tier IS NULL`);
    const r = await trickle().refresh('vr.st');
    expect(r.action).toBe('REINITIALIZE');
    await expectTableEqualsQuery(db, 'vr.st', query);
    await db.query(`INSERT INTO vr.customers VALUES (9, 'zed', NULL)`);
    expect((await trickle().refresh('vr.st')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'vr.st', query);
  });

  it('refuses in DIFFERENTIAL, and reads in FULL under AUTO, a view that reads with another role rights', async () => {
    await db.query(`CREATE SCHEMA vo; CREATE TABLE vo.t (id int PRIMARY KEY, v int); INSERT INTO vo.t VALUES (1, 1);
      DO $$ BEGIN CREATE ROLE pgt_view_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
      GRANT USAGE ON SCHEMA vo TO pgt_view_owner; GRANT SELECT ON vo.t TO pgt_view_owner;
      CREATE VIEW vo.other AS SELECT id, v FROM vo.t; ALTER VIEW vo.other OWNER TO pgt_view_owner`);
    await expect(
      trickle().createStreamTable({
        name: 'vo.st',
        query: 'SELECT id FROM vo.other',
        refreshMode: 'DIFFERENTIAL',
      }),
    ).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
      message: expect.stringMatching(/owned by pgt_view_owner/),
    });
    const auto = await trickle().createStreamTable({
      name: 'vo.st',
      query: 'SELECT id FROM vo.other',
      refreshMode: 'AUTO',
    });
    expect(auto.effectiveMode).toBe('FULL');
    await db.query(`ALTER VIEW vo.other SET (security_invoker = true)`);
    await trickle().dropStreamTable('vo.st');
    const inv = await trickle().createStreamTable({
      name: 'vo.st',
      query: 'SELECT id FROM vo.other',
      refreshMode: 'DIFFERENTIAL',
    });
    expect(inv.effectiveMode).toBe('DIFFERENTIAL');
  });
});
oracleScenarios('vwi', VIEW_SCENARIOS, env.db, env.trickle, { modes: ['IMMEDIATE'] });
