/**
 * fast-check: random DML sequences (NULLs, key changes, rows inserted and deleted before a
 * refresh, bulk statements) through the public API over a chain of two stream tables — a filtered
 * projection, and an aggregate reading it. After every refresh both equal their queries, no
 * hidden count is negative; at the end, once both are refreshed, every buffer is drained.
 */
import { expectNoNegativeCounts, expectTableEqualsQuery } from '@pgtrickle/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

type Op =
  | { kind: 'insert'; id: number; grp: number; v: number | null }
  | { kind: 'update'; id: number; v: number | null }
  | { kind: 'regroup'; id: number; grp: number }
  | { kind: 'rekey'; id: number; to: number }
  | { kind: 'delete'; id: number }
  | { kind: 'flash'; id: number }
  | { kind: 'bulk'; grp: number; delta: number };

const id = fc.integer({ min: 1, max: 30 });
const grp = fc.integer({ min: 0, max: 4 });
const value = fc.option(fc.integer({ min: -5, max: 20 }), { nil: null, freq: 5 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), id, grp, v: value }),
  fc.record({ kind: fc.constant('update' as const), id, v: value }),
  fc.record({ kind: fc.constant('regroup' as const), id, grp }),
  fc.record({ kind: fc.constant('rekey' as const), id, to: fc.integer({ min: 31, max: 60 }) }),
  fc.record({ kind: fc.constant('delete' as const), id }),
  fc.record({ kind: fc.constant('flash' as const), id: fc.integer({ min: 61, max: 70 }) }),
  fc.record({ kind: fc.constant('bulk' as const), grp, delta: fc.integer({ min: -3, max: 3 }) }),
);

async function apply(schema: string, o: Op): Promise<void> {
  const t = `"${schema}".t`;
  switch (o.kind) {
    case 'insert':
      await db.query(
        `INSERT INTO ${t} VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET grp = EXCLUDED.grp, v = EXCLUDED.v`,
        [o.id, o.grp, o.v],
      );
      break;
    case 'update':
      await db.query(`UPDATE ${t} SET v = $2 WHERE id = $1`, [o.id, o.v]);
      break;
    case 'regroup':
      await db.query(`UPDATE ${t} SET grp = $2 WHERE id = $1`, [o.id, o.grp]);
      break;
    case 'rekey':
      await db.query(
        `UPDATE ${t} SET id = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ${t} WHERE id = $2)`,
        [o.id, o.to],
      );
      break;
    case 'delete':
      await db.query(`DELETE FROM ${t} WHERE id = $1`, [o.id]);
      break;
    case 'flash':
      await db.query(`INSERT INTO ${t} VALUES ($1, 1, 1) ON CONFLICT DO NOTHING`, [o.id]);
      await db.query(`DELETE FROM ${t} WHERE id = $1`, [o.id]);
      break;
    case 'bulk':
      await db.query(`UPDATE ${t} SET v = v + $2 WHERE grp = $1`, [o.grp, o.delta]);
      break;
  }
}

async function bufferRows(): Promise<number> {
  const res =
    await db.query(`SELECT string_agg(format('SELECT count(*) FROM pgtrickle_changes.%I', relname), ' UNION ALL ') AS q
                              FROM pg_class WHERE relnamespace = 'pgtrickle_changes'::regnamespace AND relkind = 'r' AND relname LIKE 'changes_%'`);
  if (res.rows[0]?.q === null) return 0;
  return Number(
    (await db.query(`SELECT COALESCE(sum(count), 0)::int AS n FROM (${res.rows[0]?.q}) x`)).rows[0]?.n,
  );
}

let run = 0;

describe('a chain of two stream tables under random DML', () => {
  it('never drifts, never goes negative, and drains its buffers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
        async (batches) => {
          const schema = `chain_${++run}`;
          await db.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int PRIMARY KEY, grp int, v int);
                        INSERT INTO ${schema}.t SELECT g, g % 5, g % 7 FROM generate_series(1, 20) g`);
          const upQuery = `SELECT id, grp, v * 10 AS v10 FROM ${schema}.t WHERE v IS NULL OR v >= 0`;
          const downQuery = `SELECT grp, count(*) AS n, sum(v10) AS total, min(v10) AS lo FROM ${schema}.up GROUP BY grp`;
          const downOracle = `SELECT grp, count(*) AS n, sum(v10) AS total, min(v10) AS lo FROM (${upQuery}) up GROUP BY grp`;
          await trickle().createStreamTable({
            name: `${schema}.up`,
            query: upQuery,
            refreshMode: 'DIFFERENTIAL',
          });
          await trickle().createStreamTable({
            name: `${schema}.down`,
            query: downQuery,
            refreshMode: 'DIFFERENTIAL',
          });
          for (const batch of batches) {
            for (const o of batch) await apply(schema, o);
            await trickle().refresh(`${schema}.up`);
            await trickle().refresh(`${schema}.down`);
            await expectTableEqualsQuery(db, `${schema}.up`, upQuery);
            await expectTableEqualsQuery(db, `${schema}.down`, downOracle);
            await expectNoNegativeCounts(db, `${schema}.down`);
          }
          expect(await bufferRows()).toBe(0);
          await trickle().dropStreamTable(`${schema}.up`, { cascade: true });
          await db.query(`DROP SCHEMA ${schema} CASCADE`);
        },
      ),
      { numRuns: Number(process.env.FC_RUNS ?? 12), endOnFailure: true },
    );
  }, 600_000);

  it('drains the buffers once every consumer has refreshed', async () => {
    await db.query(
      `CREATE SCHEMA drain; CREATE TABLE drain.t (id int PRIMARY KEY, v int); INSERT INTO drain.t SELECT g, g FROM generate_series(1, 10) g`,
    );
    await trickle().createStreamTable({
      name: 'drain.up',
      query: 'SELECT id, v FROM drain.t',
      refreshMode: 'DIFFERENTIAL',
    });
    await trickle().createStreamTable({
      name: 'drain.down',
      query: 'SELECT v, count(*) AS n FROM drain.up GROUP BY v',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query('UPDATE drain.t SET v = v % 3');
    await trickle().refresh('drain.up');
    expect(await bufferRows()).toBeGreaterThan(0);
    await trickle().refresh('drain.down');
    await trickle().refresh('drain.up');
    expect(await bufferRows()).toBe(0);
    await expectTableEqualsQuery(db, 'drain.down', 'SELECT v, count(*) AS n FROM drain.t GROUP BY v');
  });
});
