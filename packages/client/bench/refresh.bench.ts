/**
 * A manual `refresh()` through the client (`Trickle.refresh`), as a user calls it: with nothing
 * to apply (the quiet path: read-only checks, no lock, no history row), and with one changed row
 * (the full differential path: lock, owner sandbox, delta, MERGE, frontier, history). On an
 * embedded PostgreSQL 18 started in the set-up; a 100,000-row source, an aggregate over 1,000
 * groups and a filter, DIFFERENTIAL.
 */

import { type BenchCase, defineSuite } from '../../../bench/harness.js';
// The launcher of @pgtrickle/embedded by relative path (client does not depend on it; benches are not published).
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../embedded/src/index.js';
import { connect, type Trickle } from '../src/index.js';

let server: EmbeddedPostgres | undefined;
let trickle: Trickle | undefined;
let next = 1_000_000;

const TABLES = [
  { name: 'agg', query: 'SELECT g, count(*) AS n, sum(v) AS s FROM src GROUP BY g' },
  { name: 'filter', query: 'SELECT id, g, v FROM src WHERE v > 50' },
];

export default defineSuite({
  name: 'client refresh',
  timeMs: 1000,
  iterations: 20,
  async setup() {
    server = await startEmbeddedPostgres({});
    trickle = await connect({ connectionString: server.url });
    await trickle.install();
    await trickle.db.query(
      `CREATE TABLE src (id int PRIMARY KEY, g int NOT NULL, v int);
       INSERT INTO src SELECT i, i % 1000, i % 97 FROM generate_series(1, 100000) AS i; ANALYZE src;`,
    );
    for (const t of TABLES)
      await trickle.createStreamTable({ name: t.name, query: t.query, refreshMode: 'DIFFERENTIAL' });
  },
  async teardown() {
    await trickle?.close();
    await server?.stop();
  },
  cases(): BenchCase[] {
    const t = () => trickle as Trickle;
    return TABLES.flatMap((table) => [
      {
        name: `${table.name}: refresh() with nothing to apply`,
        unit: 'refreshes',
        async fn() {
          // Rows the other cases inserted are applied first, untimed.
          if ((await t().refresh(table.name)).action !== 'NO_DATA') await t().refresh(table.name);
          const started = performance.now();
          const r = await t().refresh(table.name);
          if (r.action !== 'NO_DATA') throw new Error(`expected NO_DATA, got ${r.action}`);
          return { overriddenDuration: performance.now() - started };
        },
      },
      {
        name: `${table.name}: refresh() of one inserted row`,
        unit: 'refreshes',
        async fn() {
          await t().db.query('INSERT INTO src VALUES ($1, $1 % 1000, 60)', [next++]);
          const started = performance.now();
          await t().refresh(table.name);
          return { overriddenDuration: performance.now() - started };
        },
      },
    ]);
  },
});
