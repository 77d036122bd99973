/**
 * Oracle scenarios about change capture: writes capture must see (partitions, inheritance
 * children, replica mode, disabled triggers) and values it must bring back exactly (jsonb null,
 * array bounds, json text, floats written under a low extra_float_digits, virtual generated
 * columns, collations, DEFERRABLE keys, a rename around an update). Each runs in FULL,
 * DIFFERENTIAL and AUTO, once per capture format (the two test files that use this module).
 */
import { expectNoNegativeCounts, expectTableEqualsQuery, type TestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import type { Trickle } from '../../src/index.js';

/** One scenario: setup SQL, the query, steps of DML (`{s}` is the scenario's schema). */
export interface CaptureScenario {
  readonly name: string;
  readonly setup: string;
  readonly query: string;
  readonly steps: readonly string[];
}

export const CAPTURE_SCENARIOS: readonly CaptureScenario[] = [
  {
    name: 'writes addressed to partitions, new and attached partitions, a detached one',
    setup: `CREATE TABLE {s}.m (id int, grp text, v int, PRIMARY KEY (id, grp)) PARTITION BY LIST (grp);
      CREATE TABLE {s}.m_a PARTITION OF {s}.m FOR VALUES IN ('a');
      CREATE TABLE {s}.m_b PARTITION OF {s}.m FOR VALUES IN ('b') PARTITION BY RANGE (id);
      CREATE TABLE {s}.m_b1 PARTITION OF {s}.m_b FOR VALUES FROM (0) TO (100);
      INSERT INTO {s}.m VALUES (1, 'a', 10), (2, 'b', 20)`,
    query: 'SELECT grp, count(*) AS n, sum(v) AS total FROM {s}.m GROUP BY grp',
    steps: [
      `INSERT INTO {s}.m_a VALUES (3, 'a', 30); INSERT INTO {s}.m_b1 VALUES (4, 'b', 40)`,
      `UPDATE {s}.m_a SET v = v + 1; DELETE FROM {s}.m_b1 WHERE id = 2`,
      `CREATE TABLE {s}.m_c PARTITION OF {s}.m FOR VALUES IN ('c'); INSERT INTO {s}.m_c VALUES (5, 'c', 50)`,
      `INSERT INTO {s}.m_c VALUES (6, 'c', 60); UPDATE {s}.m_c SET v = 0 WHERE id = 5`,
      `CREATE TABLE {s}.m_d (id int NOT NULL, grp text NOT NULL, v int); INSERT INTO {s}.m_d VALUES (7, 'd', 70);
       ALTER TABLE {s}.m ATTACH PARTITION {s}.m_d FOR VALUES IN ('d')`,
      `INSERT INTO {s}.m_d VALUES (8, 'd', 80)`,
      `ALTER TABLE {s}.m DETACH PARTITION {s}.m_a; INSERT INTO {s}.m_a VALUES (9, 'a', 90)`,
      `DELETE FROM {s}.m_d WHERE id = 7; INSERT INTO {s}.m VALUES (10, 'b', 1)`,
    ],
  },
  {
    name: 'writes addressed to inheritance children',
    setup: `CREATE TABLE {s}.par (id int, v int); CREATE TABLE {s}.ch () INHERITS ({s}.par);
      INSERT INTO {s}.par VALUES (1, 1); INSERT INTO {s}.ch VALUES (2, 2)`,
    query: 'SELECT id, v FROM {s}.par',
    steps: [
      `INSERT INTO {s}.ch VALUES (3, 3); UPDATE {s}.ch SET v = 20 WHERE id = 2`,
      `UPDATE {s}.par SET v = v + 100; DELETE FROM {s}.ch WHERE id = 3`,
      `CREATE TABLE {s}.ch2 () INHERITS ({s}.par); INSERT INTO {s}.ch2 VALUES (4, 4)`,
      `INSERT INTO {s}.ch2 VALUES (5, 5); DELETE FROM {s}.par WHERE id = 1`,
    ],
  },
  {
    name: 'writes under session_replication_role = replica and while triggers are disabled',
    setup: `CREATE TABLE {s}.t (id int PRIMARY KEY, v int); INSERT INTO {s}.t VALUES (1, 1), (2, 2)`,
    query: 'SELECT id, v FROM {s}.t WHERE v > 0',
    steps: [
      `SET session_replication_role = replica; INSERT INTO {s}.t VALUES (3, 3); UPDATE {s}.t SET v = 10 WHERE id = 1;
       RESET session_replication_role`,
      `ALTER TABLE {s}.t DISABLE TRIGGER ALL; INSERT INTO {s}.t VALUES (4, 4); DELETE FROM {s}.t WHERE id = 2;
       ALTER TABLE {s}.t ENABLE TRIGGER ALL`,
      `INSERT INTO {s}.t VALUES (5, 5); UPDATE {s}.t SET v = -1 WHERE id = 3`,
      `ALTER TABLE {s}.t DISABLE TRIGGER ALL; INSERT INTO {s}.t VALUES (6, 6)`,
      `INSERT INTO {s}.t VALUES (7, 7); ALTER TABLE {s}.t ENABLE TRIGGER ALL`,
    ],
  },
  {
    name: 'values back exactly: jsonb null, array bounds, json text, full-precision floats, numeric scale',
    setup: `CREATE TABLE {s}.v (id int PRIMARY KEY, jb jsonb, arr int[], js json, f float8, n numeric);
      INSERT INTO {s}.v VALUES (1, '{"a": 1}', '{1,2}', '{"x":  1}', 1.5, 1.50)`,
    query: `SELECT id, jb IS NULL AS jb_sql_null, jb::text AS jb, arr::text AS arr, array_lower(arr, 1) AS lo,
              js::text AS js, f, f = 0.1::float8 + 0.2::float8 AS f_exact, n::text AS n
            FROM {s}.v WHERE jb IS DISTINCT FROM '"skip"'`,
    steps: [
      `INSERT INTO {s}.v VALUES (2, 'null', '[-1:0]={8,9}', '{ "spaced" :  [1,  2] }', 0.1::float8 + 0.2::float8, 2.000)`,
      `SET extra_float_digits = 0; INSERT INTO {s}.v VALUES (3, '[null]', '[5:5]={7}', '"s"', 0.1::float8 + 0.2::float8, 0.10);
       UPDATE {s}.v SET f = 1::float8 / 3 WHERE id = 1; RESET extra_float_digits`,
      `UPDATE {s}.v SET jb = 'null', js = '{"k" :1}' WHERE id = 1; UPDATE {s}.v SET arr = '[0:2]={1,2,3}' WHERE id = 2`,
      `DELETE FROM {s}.v WHERE id = 3`,
    ],
  },
  {
    name: 'keyless rows with json values deleted',
    setup: `CREATE TABLE {s}.k (js json, f float8); INSERT INTO {s}.k VALUES ('{"a" :  1}', 0.1), ('[1,  2]', 1e-300)`,
    query: 'SELECT js::text AS js, f FROM {s}.k',
    steps: [
      `SET extra_float_digits = 0; INSERT INTO {s}.k VALUES ('{ "b":2 }', 0.1::float8 + 0.2::float8); RESET extra_float_digits`,
      `DELETE FROM {s}.k WHERE js::text = '{"a" :  1}'`,
      `DELETE FROM {s}.k WHERE f > 0.3`,
      `UPDATE {s}.k SET f = f * 2`,
    ],
  },
  {
    name: 'virtual generated columns',
    setup: `CREATE TABLE {s}.g (id int PRIMARY KEY, price numeric, qty int, total numeric GENERATED ALWAYS AS (price * qty) VIRTUAL);
      INSERT INTO {s}.g (id, price, qty) VALUES (1, 2.5, 2), (2, 1, 1)`,
    query: 'SELECT id, total FROM {s}.g WHERE total > 1',
    steps: [
      `INSERT INTO {s}.g (id, price, qty) VALUES (3, 10, 3), (4, 0.5, 1)`,
      `UPDATE {s}.g SET qty = qty + 1 WHERE id IN (2, 4)`,
      `DELETE FROM {s}.g WHERE total > 20`,
    ],
  },
  {
    name: 'a filter and a range join over an ICU-collated column',
    setup: `CREATE TABLE {s}.w (id int PRIMARY KEY, w text COLLATE "und-x-icu");
      CREATE TABLE {s}.r (lo text COLLATE "und-x-icu", hi text COLLATE "und-x-icu", label text);
      INSERT INTO {s}.w VALUES (1, 'apple'), (2, 'Banana'), (3, 'cherry');
      INSERT INTO {s}.r VALUES ('a', 'C', 'first'), ('C', 'zz', 'second')`,
    query: `SELECT w.id, w.w, r.label FROM {s}.w AS w JOIN {s}.r AS r ON w.w >= r.lo AND w.w < r.hi WHERE w.w > 'apple'`,
    steps: [
      `INSERT INTO {s}.w VALUES (4, 'Zebra'), (5, 'avocado'), (6, 'Apple')`,
      `UPDATE {s}.w SET w = 'Cherry' WHERE id = 3; INSERT INTO {s}.r VALUES ('B', 'b', 'third')`,
      `DELETE FROM {s}.w WHERE w > 'x'`,
    ],
  },
  {
    name: 'a DEFERRABLE primary key: a key re-inserted before its old row is deleted',
    setup: `CREATE TABLE {s}.d (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v text);
      INSERT INTO {s}.d VALUES (1, 'one'), (2, 'old')`,
    query: 'SELECT id, v FROM {s}.d',
    steps: [
      `BEGIN; INSERT INTO {s}.d VALUES (2, 'new'); DELETE FROM {s}.d WHERE id = 2 AND v = 'old'; COMMIT`,
      `BEGIN; UPDATE {s}.d SET id = 3 - id; COMMIT`,
      `BEGIN; INSERT INTO {s}.d VALUES (1, 'again'); DELETE FROM {s}.d WHERE id = 1 AND v <> 'again'; UPDATE {s}.d SET v = 'x' WHERE id = 2; COMMIT`,
    ],
  },
  {
    name: 'a column renamed around an update in one transaction',
    setup: `CREATE TABLE {s}.rn (id int PRIMARY KEY, v text); INSERT INTO {s}.rn VALUES (1, 'a'), (2, 'b')`,
    query: 'SELECT id, v FROM {s}.rn',
    steps: [
      `BEGIN; ALTER TABLE {s}.rn RENAME COLUMN v TO v2; UPDATE {s}.rn SET v2 = v2 || 'x' WHERE id = 1;
       ALTER TABLE {s}.rn RENAME COLUMN v2 TO v; COMMIT`,
      `INSERT INTO {s}.rn VALUES (3, 'c')`,
    ],
  },
];

const MODES = ['FULL', 'DIFFERENTIAL', 'AUTO'] as const;

/** Declares the scenarios as oracle tests in every mode (schema names prefixed with `prefix`). */
export function describeCaptureScenarios(
  prefix: string,
  env: { readonly db: TestDatabase; readonly trickle: () => Trickle },
  scenarios: readonly CaptureScenario[] = CAPTURE_SCENARIOS,
): void {
  const { db, trickle } = env;
  scenarios.forEach((scenario, index) => {
    describe(scenario.name, () => {
      for (const mode of MODES) {
        it(`stays equal to its query in ${mode}`, async () => {
          const schema = `${prefix}${index}_${mode.toLowerCase()}`;
          const sub = (sql: string) => sql.replaceAll('{s}', `"${schema}"`);
          await db.query(`CREATE SCHEMA "${schema}"`);
          await db.query(sub(scenario.setup));
          const query = sub(scenario.query);
          const st = `"${schema}".st`;
          const created = await trickle().createStreamTable({ name: st, query, refreshMode: mode });
          if (mode !== 'AUTO') expect(created.effectiveMode).toBe(mode);
          await expectTableEqualsQuery(db, st, query);
          for (const step of scenario.steps) {
            await db.query(sub(step));
            await trickle().refresh(st);
            await expectTableEqualsQuery(db, st, query);
            await expectNoNegativeCounts(db, st);
          }
          const full = await trickle().refresh(st, { action: 'FULL' });
          expect(full.action).toBe('FULL');
          await expectTableEqualsQuery(db, st, query);
          await trickle().dropStreamTable(st);
        }, 120_000);
      }
    });
  });
}
