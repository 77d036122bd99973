/**
 * Upgrading across a change of an aggregate's hidden state layout: a storage table created by an
 * earlier compiler keeps state columns the current plan no longer has (non-NULL, ±Infinity
 * counters, scale histograms, AVG's own copies) or lacks one it needs. The first refresh with a
 * freshly compiled plan (a new process) brings the storage to the plan's columns in place and
 * recomputes it (FULL, in the refresh's transaction); later refreshes are differential and exact.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { afterAll, expect, it } from 'vitest';
import { connect, type Trickle } from '../src/index.js';
import { RELAYOUT_REASON } from '../src/refresh-layout.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();
const others: Trickle[] = [];
afterAll(async () => {
  for (const t of others) await t.close();
});

/** A client with its own plan cache, as a new process has. */
async function freshClient(): Promise<Trickle> {
  const t = await connect({ connectionString: db.url });
  others.push(t);
  return t;
}

/** The storage columns of `rel` whose names start with `__pgt_`, sorted. */
async function hiddenColumns(rel: string): Promise<string[]> {
  const res = await db.query<{ name: string }>(
    `SELECT attname::text AS name FROM pg_catalog.pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname LIKE '\\_\\_pgt\\_%' ORDER BY 1`,
    [rel],
  );
  return res.rows.map((r) => r.name);
}

const QUERY = 'SELECT g, count(*) AS n, sum(m) AS total, avg(m) AS mean FROM ag.o GROUP BY g';

it('re-lays out a storage table with the state columns of an earlier compiler, recomputes it, then refreshes differentially', async () => {
  await db.query(`CREATE SCHEMA ag;
    CREATE TABLE ag.o (id int PRIMARY KEY, g int NOT NULL, m numeric(12,2) NOT NULL);
    INSERT INTO ag.o SELECT i, i % 4, (i * 1.25)::numeric(12,2) FROM generate_series(1, 40) i`);
  await trickle().createStreamTable({ name: 'ag.st', query: QUERY, refreshMode: 'DIFFERENTIAL' });
  const current = await hiddenColumns('ag.st__pgt_storage');
  expect(current).not.toContain('__pgt_nn_2');

  // As the earlier compiler left it: hidden copies of the key and the results, every SUM / AVG
  // state column, filled as it kept them, and (to show the contents are recomputed, not carried
  // over) one group's stored values off.
  await db.query(`BEGIN; SET LOCAL session_replication_role = replica;
    ALTER TABLE ag.st__pgt_storage ADD COLUMN __pgt_grp_1 int, ADD COLUMN __pgt_agg_1 bigint,
      ADD COLUMN __pgt_agg_2 numeric, ADD COLUMN __pgt_agg_3 numeric,
      ADD COLUMN __pgt_nn_2 bigint, ADD COLUMN __pgt_pinf_2 bigint,
      ADD COLUMN __pgt_ninf_2 bigint, ADD COLUMN __pgt_scale_2 numeric, ADD COLUMN __pgt_sum_3 numeric,
      ADD COLUMN __pgt_nn_3 bigint, ADD COLUMN __pgt_nan_3 bigint, ADD COLUMN __pgt_pinf_3 bigint,
      ADD COLUMN __pgt_ninf_3 bigint, ADD COLUMN __pgt_scale_3 numeric;
    UPDATE ag.st__pgt_storage SET __pgt_grp_1 = g, __pgt_agg_1 = n, __pgt_agg_2 = total, __pgt_agg_3 = mean,
      __pgt_nn_2 = __pgt_count, __pgt_pinf_2 = 0, __pgt_ninf_2 = 0;
    UPDATE ag.st__pgt_storage SET total = total + 1, __pgt_sum_2 = __pgt_sum_2 + 1, __pgt_agg_2 = __pgt_agg_2 + 1 WHERE g = 0;
    COMMIT`);
  expect(await hiddenColumns('ag.st__pgt_storage')).toContain('__pgt_pinf_3');

  await db.query(`UPDATE ag.o SET m = m + 1 WHERE id IN (1, 2); DELETE FROM ag.o WHERE id = 3;
    INSERT INTO ag.o VALUES (41, 1, 'NaN'), (42, 5, 0.5)`);
  const next = await freshClient();
  const first = await next.refresh('ag.st');
  expect(first.action).toBe('FULL');
  expect(first.reason).toBe(RELAYOUT_REASON);
  expect(await hiddenColumns('ag.st__pgt_storage')).toEqual(current);
  await expectTableEqualsQuery(db, 'ag.st', QUERY);

  await db.query(`DELETE FROM ag.o WHERE id = 41; UPDATE ag.o SET g = 6 WHERE g = 2;
    INSERT INTO ag.o VALUES (43, 0, 9.99)`);
  const again = await next.refresh('ag.st');
  expect(again.action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'ag.st', QUERY);
});

it('adds a state column the storage lacks, recomputes it, then refreshes differentially', async () => {
  await db.query(`CREATE SCHEMA ah;
    CREATE TABLE ah.o (id int PRIMARY KEY, g int NOT NULL, m numeric(12,2) NOT NULL);
    INSERT INTO ah.o SELECT i, i % 3, i FROM generate_series(1, 30) i`);
  const query = QUERY.replace('ag.o', 'ah.o');
  await trickle().createStreamTable({ name: 'ah.st', query, refreshMode: 'DIFFERENTIAL' });
  const current = await hiddenColumns('ah.st__pgt_storage');
  expect(current).toContain('__pgt_nan_2');
  await db.query(`BEGIN; SET LOCAL session_replication_role = replica;
    ALTER TABLE ah.st__pgt_storage DROP COLUMN __pgt_nan_2; COMMIT`);

  await db.query(`INSERT INTO ah.o VALUES (31, 1, 'NaN'), (32, 4, 2)`);
  const next = await freshClient();
  const first = await next.refresh('ah.st');
  expect(first.action).toBe('FULL');
  expect(await hiddenColumns('ah.st__pgt_storage')).toEqual(current);
  await expectTableEqualsQuery(db, 'ah.st', query);

  await db.query(`DELETE FROM ah.o WHERE id = 31; INSERT INTO ah.o VALUES (33, 1, 'NaN')`);
  expect((await next.refresh('ah.st')).action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'ah.st', query);
});

it('keeps a cached plan and a fitting storage as they are (no relayout)', async () => {
  await db.query(`CREATE SCHEMA ai; CREATE TABLE ai.o (id int PRIMARY KEY, g int NOT NULL, m numeric(12,2) NOT NULL);
    INSERT INTO ai.o VALUES (1, 1, 1), (2, 2, 2)`);
  const query = QUERY.replace('ag.o', 'ai.o');
  await trickle().createStreamTable({ name: 'ai.st', query, refreshMode: 'DIFFERENTIAL' });
  await db.query(`INSERT INTO ai.o VALUES (3, 1, 3)`);
  const next = await freshClient();
  const r = await next.refresh('ai.st');
  expect(r.action).toBe('DIFFERENTIAL');
  await expectTableEqualsQuery(db, 'ai.st', query);
});
