/**
 * IMMEDIATE mode through the public API and the SQL API: the stream table is maintained inside
 * each writer's transaction by compiled statement triggers — read-your-writes, rollback and
 * savepoints, TRUNCATE, cascades, diamonds, a scheduled table upstream, refusals (nothing left
 * behind), mode switches in one transaction, source DDL making the compiled bodies fail loudly
 * until a refresh recompiles them (docs/immediate.md).
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { processRequests } from '../src/index.js';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

/** Everything IMMEDIATE leaves in the database for stream table `pgtId` (or for any, when null). */
async function leftovers(
  pgtId: number | null,
): Promise<{ triggers: number; functions: number; rows: number }> {
  const pattern = pgtId === null ? '%' : `${pgtId}\\_%`;
  const t = await db.query(
    `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname LIKE 'pgtrickle\\_ivm\\_' || $1`,
    [pattern],
  );
  const f = await db.query(
    `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'pgtrickle_changes'::regnamespace AND proname LIKE 'ivm\\_' || $1`,
    [pattern],
  );
  const r = await db.query(
    `SELECT count(*)::int AS n FROM pgtrickle.pgt_immediate WHERE $1::bigint IS NULL OR pgt_id = $1`,
    [pgtId],
  );
  return { triggers: Number(t.rows[0]?.n), functions: Number(f.rows[0]?.n), rows: Number(r.rows[0]?.n) };
}

async function pgtIdOf(name: string): Promise<number> {
  const [schema, table] = name.split('.');
  const r = await db.query(
    'SELECT pgt_id FROM pgtrickle.pgt_stream_tables WHERE schema_name = $1 AND table_name = $2',
    [schema, table],
  );
  return Number(r.rows[0]?.pgt_id);
}

describe('IMMEDIATE: inside the writer transaction', () => {
  it('reflects a join + aggregate in-transaction; a rollback, also to a savepoint, leaves it untouched', async () => {
    await db.query(`CREATE SCHEMA b1;
      CREATE TABLE b1.c (id int PRIMARY KEY, name text);
      CREATE TABLE b1.o (id int PRIMARY KEY, cid int, amount int);
      INSERT INTO b1.c VALUES (1, 'a'), (2, 'b');
      INSERT INTO b1.o VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7);`);
    const query =
      'SELECT c.name, count(*) AS n, sum(o.amount) AS total FROM b1.o o JOIN b1.c c ON c.id = o.cid GROUP BY c.name';
    const st = await trickle().createStreamTable({
      name: 'b1.st',
      query,
      refreshMode: 'IMMEDIATE',
      schedule: '5s',
    });
    expect(st.effectiveMode).toBe('IMMEDIATE');
    expect(st.schedule).toBe('calculated'); // stored NULL: never scheduled
    await expectTableEqualsQuery(db, 'b1.st', query);
    const c = await db.client();
    const total = async () =>
      Number((await c.query(`SELECT total FROM b1.st WHERE name = 'b'`)).rows[0]?.total ?? Number.NaN);
    await c.query('BEGIN');
    await c.query('INSERT INTO b1.o VALUES (4, 2, 100)');
    expect(await total()).toBe(107);
    await c.query('SAVEPOINT s1');
    await c.query('UPDATE b1.o SET amount = 0');
    expect(await total()).toBe(0);
    await c.query('ROLLBACK TO SAVEPOINT s1');
    expect(await total()).toBe(107);
    await c.query('DELETE FROM b1.o WHERE id = 3');
    expect(await total()).toBe(100);
    await c.query('ROLLBACK');
    expect(await total()).toBe(7);
    await expectTableEqualsQuery(db, 'b1.st', query);
    await c.query('BEGIN');
    await c.query(`UPDATE b1.c SET name = 'z' WHERE id = 1`);
    await c.query('INSERT INTO b1.o VALUES (5, 1, 1)');
    await c.query('COMMIT');
    await expectTableEqualsQuery(db, 'b1.st', query);
    // TRUNCATE recomputes in the same transaction.
    await c.query('BEGIN');
    await c.query('TRUNCATE b1.o');
    expect((await c.query('SELECT count(*)::int AS n FROM b1.st')).rows[0]?.n).toBe(0);
    await c.query('ROLLBACK');
    await expectTableEqualsQuery(db, 'b1.st', query);
    await db.query('TRUNCATE b1.o');
    await expectTableEqualsQuery(db, 'b1.st', query);
    await c.end();
  });

  it('a refresh of an IMMEDIATE table is FULL and changes nothing when it is in step', async () => {
    await db.query(
      `CREATE SCHEMA b2; CREATE TABLE b2.t (id int PRIMARY KEY, v int); INSERT INTO b2.t VALUES (1, 1), (2, 2)`,
    );
    const query = 'SELECT id, v FROM b2.t WHERE v > 1';
    await trickle().createStreamTable({ name: 'b2.st', query, refreshMode: 'IMMEDIATE' });
    await db.query('INSERT INTO b2.t VALUES (3, 3)');
    const r = await trickle().refresh('b2.st', { action: 'DIFFERENTIAL' });
    expect(r.action).toBe('FULL');
    await expectTableEqualsQuery(db, 'b2.st', query);
    await db.query('UPDATE b2.t SET v = 0 WHERE id = 3');
    await expectTableEqualsQuery(db, 'b2.st', query);
  });

  it('maintains writes of a session with session_replication_role = replica, COPY and upserts', async () => {
    await db.query(
      `CREATE SCHEMA b5; CREATE TABLE b5.t (id int PRIMARY KEY, v int); INSERT INTO b5.t VALUES (1, 1)`,
    );
    const query = 'SELECT v, count(*) AS n FROM b5.t GROUP BY v';
    await trickle().createStreamTable({ name: 'b5.st', query, refreshMode: 'IMMEDIATE' });
    const c = await db.client();
    await c.query('SET session_replication_role = replica');
    await c.query('INSERT INTO b5.t VALUES (2, 1), (3, 2)');
    await c.query('UPDATE b5.t SET v = 5 WHERE id = 1');
    await c.query('RESET session_replication_role');
    await expectTableEqualsQuery(db, 'b5.st', query);
    await c.query('INSERT INTO b5.t VALUES (3, 9), (4, 9) ON CONFLICT (id) DO UPDATE SET v = excluded.v + 1');
    await c.query(`COPY b5.t FROM PROGRAM 'printf "10\\t1\\n11\\t1\\n"'`);
    await expectTableEqualsQuery(db, 'b5.st', query);
    await c.end();
  });

  it('is never stale: its writers keep it fresh', async () => {
    await db.query(`CREATE SCHEMA b4; CREATE TABLE b4.t (id int PRIMARY KEY)`);
    await trickle().createStreamTable({
      name: 'b4.st',
      query: 'SELECT id FROM b4.t',
      refreshMode: 'IMMEDIATE',
    });
    await db.query(`UPDATE pgtrickle.pgt_stream_tables SET last_refresh_at = now() - interval '1 day',
      data_timestamp = now() - interval '1 day' WHERE schema_name = 'b4'`);
    const r = await db.query(
      `SELECT schedule_period, stale, staleness < interval '1 minute' AS fresh, data_age FROM pgtrickle.pgt_stream_table_stats WHERE schema_name = 'b4'`,
    );
    expect(r.rows[0]).toMatchObject({ schedule_period: null, stale: null, fresh: true });
    const health = await db.query('SELECT * FROM pgtrickle.health()');
    expect(JSON.stringify(health.rows)).not.toContain('b4.st');
    const status = await db.query(
      `SELECT staleness = interval '0' AS zero FROM pgtrickle.pgt_status WHERE schema_name = 'b4'`,
    );
    expect(status.rows[0]?.zero).toBe(true);
  });

  it('installs no change capture, and its functions belong to the owner', async () => {
    await db.query(`CREATE SCHEMA b3; CREATE TABLE b3.t (id int PRIMARY KEY, v int)`);
    await trickle().createStreamTable({
      name: 'b3.st',
      query: 'SELECT id, v FROM b3.t',
      refreshMode: 'IMMEDIATE',
    });
    const tracked = await db.query(
      `SELECT count(*)::int AS n FROM pgtrickle.pgt_change_tracking WHERE source_oid = 'b3.t'::regclass`,
    );
    expect(tracked.rows[0]?.n).toBe(0);
    // Every function is the owner's; all but the BEFORE one (which reads no table) run with its rights.
    const owners = await db.query(
      `SELECT DISTINCT pg_get_userbyid(proowner) AS owner, prosecdef, proname LIKE '%\\_before' AS before FROM pg_proc
        WHERE pronamespace = 'pgtrickle_changes'::regnamespace AND proname LIKE 'ivm\\_' || $1 || '\\_%'
        ORDER BY 3`,
      [await pgtIdOf('b3.st')],
    );
    const me = (await db.query('SELECT current_user AS u')).rows[0]?.u;
    expect(owners.rows).toEqual([
      { owner: me, prosecdef: true, before: false },
      { owner: me, prosecdef: false, before: true },
    ]);
    // The guard's WHEN stays small: PostgreSQL parses its stored text again for every statement
    // writing the storage, so its length is part of every IMMEDIATE write's cost. It is one call
    // of the table's own guard function, without arguments.
    const storageOid = Number(
      (await db.query(`SELECT 'b3.st__pgt_storage'::regclass::oid::int8 AS o`)).rows[0]?.o,
    );
    const when = await db.query(
      `SELECT length(tgqual::text) AS n, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE tgname = 'pgtrickle_guard' AND tgrelid = 'b3.st__pgt_storage'::regclass`,
    );
    expect(Number(when.rows[0]?.n)).toBeGreaterThan(0);
    expect(Number(when.rows[0]?.n)).toBeLessThan(300);
    expect(String(when.rows[0]?.def)).toContain(`pgtrickle_changes.guard_closed_${storageOid}()`);
    // The storage guard still refuses direct writes, even from the owner.
    await expect(db.query('INSERT INTO b3.st (id, v) VALUES (1, 1)')).rejects.toMatchObject({
      code: '42501',
    });
    const id = await pgtIdOf('b3.st');
    await trickle().dropStreamTable('b3.st');
    expect(await leftovers(id)).toEqual({ triggers: 0, functions: 0, rows: 0 });
    const guardFn = await db.query(
      `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'pgtrickle_changes'::regnamespace AND proname = $1`,
      [`guard_closed_${storageOid}`],
    );
    expect(guardFn.rows[0]?.n).toBe(0);
  });
});

describe('IMMEDIATE: cascades, diamonds, a scheduled table upstream', () => {
  it('keeps a cascade and a diamond consistent after every statement', async () => {
    await db.query(`CREATE SCHEMA c1;
      CREATE TABLE c1.base (id int PRIMARY KEY, g int, v int);
      INSERT INTO c1.base SELECT i, i % 3, i FROM generate_series(1, 12) i`);
    const qa = 'SELECT g, sum(v) AS s, count(*) AS n FROM c1.base GROUP BY g';
    const qb = 'SELECT id, g, v FROM c1.base WHERE v % 2 = 0';
    await trickle().createStreamTable({ name: 'c1.a', query: qa, refreshMode: 'IMMEDIATE' });
    await trickle().createStreamTable({ name: 'c1.b', query: qb, refreshMode: 'IMMEDIATE' });
    const qc = 'SELECT g, s * 2 AS s2 FROM c1.a WHERE n > 1';
    await trickle().createStreamTable({ name: 'c1.c', query: qc, refreshMode: 'IMMEDIATE' });
    // diamond: base → a, base → b, (a, b) → d
    const qd =
      'SELECT a.g, a.s, count(b.id) AS evens FROM c1.a AS a LEFT JOIN c1.b AS b ON b.g = a.g GROUP BY a.g, a.s';
    await trickle().createStreamTable({ name: 'c1.d', query: qd, refreshMode: 'IMMEDIATE' });
    const check = async () => {
      await expectTableEqualsQuery(db, 'c1.a', qa);
      await expectTableEqualsQuery(db, 'c1.b', qb);
      await expectTableEqualsQuery(db, 'c1.c', qc);
      await expectTableEqualsQuery(db, 'c1.d', qd);
      // d over the sources' own query: consistent with base, not only with a and b
      await expectTableEqualsQuery(
        db,
        'c1.d',
        `SELECT x.g, x.s, (SELECT count(*) FROM c1.base AS y WHERE y.g = x.g AND y.v % 2 = 0) AS evens
           FROM (SELECT g, sum(v) AS s FROM c1.base GROUP BY g) AS x`,
      );
    };
    await check();
    const c = await db.client();
    await c.query('BEGIN');
    await c.query('INSERT INTO c1.base VALUES (100, 1, 100)');
    const inTx = await c.query('SELECT s2 FROM c1.c WHERE g = 1');
    const expected = await c.query('SELECT sum(v) * 2 AS s2 FROM c1.base WHERE g = 1');
    expect(String(inTx.rows[0]?.s2)).toBe(String(expected.rows[0]?.s2));
    await c.query('COMMIT');
    await c.end();
    // altering an upstream IMMEDIATE table keeps its IMMEDIATE readers maintained
    const qa2 = 'SELECT g, sum(v) AS s, count(*) AS n FROM c1.base WHERE v > 0 GROUP BY g';
    await trickle().alterStreamTable('c1.a', { query: qa2 });
    await expectTableEqualsQuery(db, 'c1.c', qc);
    await db.query('UPDATE c1.base SET v = -v WHERE id = 3');
    await expectTableEqualsQuery(db, 'c1.a', qa2);
    await expectTableEqualsQuery(db, 'c1.c', qc);
    await trickle().alterStreamTable('c1.a', { query: qa });
    for (const statement of [
      'UPDATE c1.base SET v = v + 1 WHERE id % 4 = 0',
      'DELETE FROM c1.base WHERE g = 2',
      'UPDATE c1.base SET g = 2 WHERE id < 5',
      'TRUNCATE c1.base',
      'INSERT INTO c1.base SELECT i, i % 2, i FROM generate_series(1, 6) i',
    ]) {
      await db.query(statement);
      await check();
    }
  });

  it('maintains an IMMEDIATE table over a scheduled one when a refresh writes the upstream', async () => {
    await db.query(`CREATE SCHEMA c2;
      CREATE TABLE c2.t (id int PRIMARY KEY, g int, v int);
      INSERT INTO c2.t SELECT i, i % 4, i FROM generate_series(1, 20) i`);
    const qu = 'SELECT g, sum(v) AS s FROM c2.t GROUP BY g';
    await trickle().createStreamTable({
      name: 'c2.up',
      query: qu,
      refreshMode: 'DIFFERENTIAL',
      schedule: '1h',
    });
    const qd = 'SELECT g, s FROM c2.up WHERE s > 40';
    const down = await trickle().createStreamTable({ name: 'c2.down', query: qd, refreshMode: 'IMMEDIATE' });
    expect(down.effectiveMode).toBe('IMMEDIATE');
    await expectTableEqualsQuery(db, 'c2.down', qd);
    await db.query('UPDATE c2.t SET v = v * 3 WHERE g = 1');
    await trickle().refresh('c2.up'); // DIFFERENTIAL: a MERGE into the upstream's storage
    await expectTableEqualsQuery(db, 'c2.down', qd);
    await expectTableEqualsQuery(db, 'c2.down', `SELECT g, s FROM (${qu}) AS x WHERE s > 40`);
    await db.query('DELETE FROM c2.t WHERE g = 3');
    await trickle().refresh('c2.up', { action: 'FULL' }); // TRUNCATE + INSERT
    await expectTableEqualsQuery(db, 'c2.down', `SELECT g, s FROM (${qu}) AS x WHERE s > 40`);
  });
});

describe('IMMEDIATE over partition and inheritance trees', () => {
  it('maintains writes addressed to the parent or to any partition; a new partition makes it stale until a refresh', async () => {
    await db.query(`CREATE SCHEMA t1;
      CREATE TABLE t1.p (id int, g int, v int, PRIMARY KEY (id, g)) PARTITION BY LIST (g);
      CREATE TABLE t1.p0 PARTITION OF t1.p FOR VALUES IN (0);
      CREATE TABLE t1.p1 PARTITION OF t1.p FOR VALUES IN (1, 2) PARTITION BY LIST (g);
      CREATE TABLE t1.p1a PARTITION OF t1.p1 FOR VALUES IN (1);
      CREATE TABLE t1.p1b PARTITION OF t1.p1 FOR VALUES IN (2);
      INSERT INTO t1.p SELECT i, i % 3, i FROM generate_series(1, 30) i;
      CREATE TABLE t1.par (id int PRIMARY KEY, v int);
      CREATE TABLE t1.kid (extra text) INHERITS (t1.par);
      INSERT INTO t1.par VALUES (1, 1); INSERT INTO t1.kid VALUES (2, 2, 'x')`);
    const q = 'SELECT g, count(*) AS n, sum(v) AS s FROM t1.p GROUP BY g';
    const qi = 'SELECT id, v FROM t1.par WHERE v > 0';
    await trickle().createStreamTable({ name: 't1.st', query: q, refreshMode: 'IMMEDIATE' });
    await trickle().createStreamTable({ name: 't1.sti', query: qi, refreshMode: 'IMMEDIATE' });
    for (const statement of [
      'INSERT INTO t1.p VALUES (100, 0, 1), (101, 1, 1), (102, 2, 1)',
      'INSERT INTO t1.p0 VALUES (200, 0, 5)',
      'INSERT INTO t1.p1b VALUES (201, 2, 5)',
      'UPDATE t1.p SET g = 0 WHERE id BETWEEN 1 AND 5',
      'UPDATE t1.p1a SET v = v * 10',
      'DELETE FROM t1.p1 WHERE v > 100',
      'TRUNCATE t1.p1b',
      'TRUNCATE t1.p',
      'INSERT INTO t1.p SELECT i, i % 3, i FROM generate_series(1, 9) i',
      'INSERT INTO t1.kid VALUES (3, 3, NULL)',
      'UPDATE t1.par SET v = -v WHERE id = 2',
      'DELETE FROM t1.kid WHERE id = 3',
      'UPDATE t1.kid SET v = 7',
    ]) {
      await db.query(statement);
      await expectTableEqualsQuery(db, 't1.st', q);
      await expectTableEqualsQuery(db, 't1.sti', qi);
    }
    await db.query('CREATE TABLE t1.p3 PARTITION OF t1.p FOR VALUES IN (3)');
    await expect(db.query('INSERT INTO t1.p VALUES (300, 3, 3)')).rejects.toMatchObject({ code: '55000' });
    await trickle().refresh('t1.st');
    await db.query('INSERT INTO t1.p3 VALUES (300, 3, 3)');
    await expectTableEqualsQuery(db, 't1.st', q);
  });
});

describe('IMMEDIATE: writes applied by logical replication', () => {
  it("maintains rows applied by a subscription's apply worker (which fires row triggers only), in the apply transaction", async () => {
    // A publisher database on the same server, subscribed to by this one (slot created first, as
    // PostgreSQL requires when both are in one cluster).
    const pub = `pgt_ipub_${process.pid}`;
    await db.query(`CREATE DATABASE ${pub}`);
    const url = new URL(db.url);
    url.pathname = `/${pub}`;
    const publisher = new pg.Client({ connectionString: url.toString() });
    await publisher.connect();
    const schema = `CREATE TABLE irep (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL);
      CREATE TABLE idim (id int PRIMARY KEY, name text NOT NULL)`;
    try {
      await publisher.query(`${schema};
        INSERT INTO idim VALUES (1, 'one'), (2, 'two'), (3, 'three');
        INSERT INTO irep SELECT i, 1 + i % 3, i FROM generate_series(1, 30) i;
        CREATE PUBLICATION irep_pub FOR TABLE irep, idim`);
      await publisher.query(`SELECT pg_create_logical_replication_slot('${pub}', 'pgoutput')`);
      await db.query(schema);
      const query =
        'SELECT d.name, count(*) AS n, sum(r.v) AS s FROM irep AS r JOIN idim AS d ON d.id = r.k GROUP BY d.name';
      const rowQuery = 'SELECT r.id, r.v, d.name FROM irep AS r JOIN idim AS d ON d.id = r.k';
      await trickle().createStreamTable({ name: 'irep_agg', query, refreshMode: 'IMMEDIATE' });
      await trickle().createStreamTable({ name: 'irep_rows', query: rowQuery, refreshMode: 'IMMEDIATE' });
      const conninfo = `host=${url.hostname} port=${url.port} dbname=${pub} user=${decodeURIComponent(url.username)} password=${decodeURIComponent(url.password)}`;
      await db.query(
        `CREATE SUBSCRIPTION irep_sub CONNECTION '${conninfo}' PUBLICATION irep_pub WITH (create_slot = false, slot_name = '${pub}')`,
      );
      // Applied when the subscriber's tables hold the publisher's rows (compared by content).
      const applied = async () => {
        const want = (
          await publisher.query(
            'SELECT (SELECT coalesce(sum(hashtext(t::text)), 0) FROM irep t) + (SELECT coalesce(sum(hashtext(t::text)), 0) FROM idim t) AS h',
          )
        ).rows[0]?.h;
        for (let i = 0; i < 300; i++) {
          const got = (
            await db.query(
              'SELECT (SELECT coalesce(sum(hashtext(t::text)), 0) FROM irep t) + (SELECT coalesce(sum(hashtext(t::text)), 0) FROM idim t) AS h',
            )
          ).rows[0]?.h;
          if (got === want) return;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw new Error('logical replication did not apply the publisher rows');
      };
      const steps = [
        '', // the initial copy (COPY into the subscriber's tables: statement triggers)
        'INSERT INTO irep VALUES (100, 1, 5), (101, 2, 6)',
        'UPDATE irep SET v = v * 10 WHERE id <= 10',
        'UPDATE irep SET k = 3 WHERE id BETWEEN 11 AND 15',
        'DELETE FROM irep WHERE id > 25',
        "UPDATE idim SET name = 'uno' WHERE id = 1",
        'DELETE FROM irep WHERE k = 2; DELETE FROM idim WHERE id = 2',
        "BEGIN; INSERT INTO idim VALUES (4, 'four'); INSERT INTO irep VALUES (200, 4, 1), (201, 4, 2); COMMIT",
        'TRUNCATE irep',
        'INSERT INTO irep SELECT i, 1 + i % 4, i FROM generate_series(1, 12) i WHERE 1 + i % 4 <> 2',
      ];
      for (const step of steps) {
        if (step !== '') await publisher.query(step);
        await applied();
        await expectTableEqualsQuery(db, 'irep_agg', query);
        await expectTableEqualsQuery(db, 'irep_rows', rowQuery);
      }
      // A local writer meanwhile, as an ordinary session and as a replica-role one: no row is applied twice.
      const c = await db.client();
      await c.query('SET session_replication_role = replica');
      await c.query("INSERT INTO idim VALUES (9, 'nine'); INSERT INTO irep VALUES (900, 9, 9), (901, 9, 1)");
      await c.query('UPDATE irep SET v = v + 1 WHERE k = 9');
      await c.end();
      await expectTableEqualsQuery(db, 'irep_agg', query);
      await expectTableEqualsQuery(db, 'irep_rows', rowQuery);
    } finally {
      await db.query('ALTER SUBSCRIPTION irep_sub DISABLE').catch(() => undefined);
      await db.query('ALTER SUBSCRIPTION irep_sub SET (slot_name = NONE)').catch(() => undefined);
      await db.query('DROP SUBSCRIPTION IF EXISTS irep_sub').catch(() => undefined);
      await publisher.query(`SELECT pg_drop_replication_slot('${pub}')`).catch(() => undefined);
      await publisher.end();
      await db.query(`DROP DATABASE IF EXISTS ${pub} WITH (FORCE)`).catch(() => undefined);
    }
  }, 90_000);
});

describe('IMMEDIATE: refusals leave nothing behind', () => {
  it('refuses what it cannot maintain exactly or boundedly, with PGT_UNSUPPORTED', async () => {
    await db.query(`CREATE SCHEMA r1;
      CREATE TABLE r1.t (id int PRIMARY KEY, v int);
      CREATE TABLE r1.p (id int, v int) PARTITION BY RANGE (id);
      CREATE TABLE r1.p1 PARTITION OF r1.p FOR VALUES FROM (0) TO (100);
      CREATE TABLE r1.par (id int PRIMARY KEY, v int);
      CREATE TABLE r1.kid () INHERITS (r1.par);
      CREATE TABLE r1.d (id int PRIMARY KEY DEFERRABLE, v int);
      CREATE MATERIALIZED VIEW r1.mv AS SELECT id, v FROM r1.t;`);
    const before = await leftovers(null);
    const refused = [
      'SELECT id, random() AS r FROM r1.t',
      'SELECT id, v FROM r1.p1',
      'SELECT id, v FROM r1.kid',
      'SELECT id, v FROM r1.d',
      'SELECT id, v FROM r1.t ORDER BY v LIMIT 5000',
      'SELECT id, v FROM r1.t ORDER BY v LIMIT 900 OFFSET 200',
      'SELECT id, v FROM r1.mv',
    ];
    for (const query of refused) {
      await expect(
        trickle().createStreamTable({ name: 'r1.st', query, refreshMode: 'IMMEDIATE' }),
        query,
      ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED' });
      const exists = await db.query(`SELECT to_regclass('r1.st') IS NOT NULL AS e`);
      expect(exists.rows[0]?.e, query).toBe(false);
    }
    expect(await leftovers(null)).toEqual(before);
    // A TopK within the bound is maintained.
    const ok = await trickle().createStreamTable({
      name: 'r1.top',
      query: 'SELECT id, v FROM r1.t ORDER BY v DESC, id LIMIT 10',
      refreshMode: 'IMMEDIATE',
    });
    expect(ok.effectiveMode).toBe('IMMEDIATE');
  });

  it('refuses a DIFFERENTIAL reader of an IMMEDIATE table, and making a table with one IMMEDIATE', async () => {
    await db.query(
      `CREATE SCHEMA r2; CREATE TABLE r2.t (id int PRIMARY KEY, v int); INSERT INTO r2.t VALUES (1, 1)`,
    );
    await trickle().createStreamTable({
      name: 'r2.imm',
      query: 'SELECT id, v FROM r2.t',
      refreshMode: 'IMMEDIATE',
    });
    await expect(
      trickle().createStreamTable({
        name: 'r2.diff',
        query: 'SELECT id FROM r2.imm',
        refreshMode: 'DIFFERENTIAL',
      }),
    ).rejects.toMatchObject({ code: 'PGT_UNSUPPORTED' });
    const full = await trickle().createStreamTable({
      name: 'r2.full',
      query: 'SELECT id FROM r2.imm',
      refreshMode: 'FULL',
    });
    expect(full.effectiveMode).toBe('FULL');
    await trickle().createStreamTable({
      name: 'r2.src',
      query: 'SELECT id, v FROM r2.t',
      refreshMode: 'DIFFERENTIAL',
    });
    await trickle().createStreamTable({
      name: 'r2.reader',
      query: 'SELECT id FROM r2.src',
      refreshMode: 'DIFFERENTIAL',
    });
    await expect(trickle().alterStreamTable('r2.src', { refreshMode: 'IMMEDIATE' })).rejects.toMatchObject({
      code: 'PGT_UNSUPPORTED',
    });
    const src = (await trickle().status()).find((s) => s.name === 'r2.src');
    expect(src?.effectiveMode).toBe('DIFFERENTIAL');
  });
});

describe('IMMEDIATE: mode switches', () => {
  it('switches DIFFERENTIAL → IMMEDIATE → FULL → IMMEDIATE → DIFFERENTIAL, capture swapped in one transaction, contents resynchronised', async () => {
    await db.query(`CREATE SCHEMA m1;
      CREATE TABLE m1.a (id int PRIMARY KEY, k int, v int);
      CREATE TABLE m1.b (k int PRIMARY KEY, label text);
      INSERT INTO m1.a SELECT i, i % 5, i FROM generate_series(1, 50) i;
      INSERT INTO m1.b SELECT i, 'k' || i FROM generate_series(0, 4) i`);
    const query =
      'SELECT b.label, count(*) AS n, sum(a.v) AS s FROM m1.a AS a JOIN m1.b AS b ON b.k = a.k GROUP BY b.label';
    // another reader of m1.a keeps its capture whatever m1.st does
    await trickle().createStreamTable({
      name: 'm1.other',
      query: 'SELECT id FROM m1.a',
      refreshMode: 'DIFFERENTIAL',
    });
    await trickle().createStreamTable({ name: 'm1.st', query, refreshMode: 'DIFFERENTIAL', schedule: '10s' });
    const captured = async (table: string) =>
      Number(
        (
          await db.query(
            `SELECT count(*)::int AS n FROM pgtrickle.pgt_change_tracking WHERE source_oid = $1::regclass`,
            [table],
          )
        ).rows[0]?.n,
      );
    const id = await pgtIdOf('m1.st');
    await db.query('INSERT INTO m1.a VALUES (51, 1, 1000)'); // pending, never refreshed: the switch resynchronises
    let s = await trickle().alterStreamTable('m1.st', { refreshMode: 'IMMEDIATE' });
    expect([s.effectiveMode, s.schedule]).toEqual(['IMMEDIATE', 'calculated']);
    await expectTableEqualsQuery(db, 'm1.st', query);
    expect(await captured('m1.b')).toBe(0); // only m1.st read it
    expect(await captured('m1.a')).toBe(1); // m1.other still reads it
    expect((await leftovers(id)).triggers).toBe(16); // per source: 5 statement triggers and 3 row triggers
    await db.query('UPDATE m1.a SET v = v + 1 WHERE k = 2');
    await expectTableEqualsQuery(db, 'm1.st', query);
    const guardFns = async () =>
      Number(
        (
          await db.query(
            `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'pgtrickle_changes'::regnamespace
              AND proname = 'guard_closed_' || 'm1.st__pgt_storage'::regclass::oid`,
          )
        ).rows[0]?.n,
      );
    expect(await guardFns()).toBe(1);
    // the maintainers' marker sequences (a join: the table is locked), the owner's
    const markers = async () =>
      (
        await db.query(
          `SELECT c.relname, pg_get_userbyid(c.relowner) = current_user AS mine, (SELECT count(*)::int FROM aclexplode(c.relacl) AS a WHERE a.grantee = 0) AS public_rights
             FROM pg_class AS c WHERE c.relnamespace = 'pgtrickle_changes'::regnamespace AND c.relkind = 'S'
              AND c.relname LIKE 'ivm_' || $1 || '_%' ORDER BY 1`,
          [id],
        )
      ).rows;
    expect(await markers()).toEqual([
      { relname: `ivm_${id}_last`, mine: true, public_rights: 0 },
      { relname: `ivm_${id}_prev`, mine: true, public_rights: 0 },
    ]);
    s = await trickle().alterStreamTable('m1.st', { refreshMode: 'FULL' });
    expect([s.effectiveMode, s.schedule]).toEqual(['FULL', '1m']);
    expect(await leftovers(id)).toEqual({ triggers: 0, functions: 0, rows: 0 });
    expect(await guardFns()).toBe(0); // the plain guard again, without the IMMEDIATE one's WHEN
    expect(await markers()).toEqual([]);
    await db.query('DELETE FROM m1.a WHERE id < 5');
    s = await trickle().alterStreamTable('m1.st', { refreshMode: 'IMMEDIATE' });
    await expectTableEqualsQuery(db, 'm1.st', query);
    s = await trickle().alterStreamTable('m1.st', { refreshMode: 'DIFFERENTIAL', schedule: '30s' });
    expect([s.effectiveMode, s.schedule]).toEqual(['DIFFERENTIAL', '30s']);
    expect(await captured('m1.b')).toBe(1);
    expect(await leftovers(id)).toEqual({ triggers: 0, functions: 0, rows: 0 });
    await db.query(`UPDATE m1.b SET label = 'x' WHERE k = 3`);
    await trickle().refresh('m1.st');
    await expectTableEqualsQuery(db, 'm1.st', query);
  });

  it('switches to IMMEDIATE while another session writes: the switch waits for it, and no write is lost', async () => {
    await db.query(
      `CREATE SCHEMA m2; CREATE TABLE m2.t (id int PRIMARY KEY, g int); INSERT INTO m2.t SELECT i, i % 3 FROM generate_series(1, 30) i`,
    );
    const query = 'SELECT g, count(*) AS n FROM m2.t GROUP BY g';
    await trickle().createStreamTable({ name: 'm2.st', query, refreshMode: 'DIFFERENTIAL' });
    const writer = await db.client();
    await writer.query('BEGIN');
    await writer.query('INSERT INTO m2.t SELECT i, 1 FROM generate_series(100, 110) i');
    const switching = trickle().alterStreamTable('m2.st', { refreshMode: 'IMMEDIATE' });
    // The switch waits for the writer's lock on m2.t (CREATE TRIGGER conflicts with it).
    for (;;) {
      const waiting = await db.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'm2.t'::regclass AND NOT granted`,
      );
      if (Number(waiting.rows[0]?.n) > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await writer.query('COMMIT');
    await switching;
    await expectTableEqualsQuery(db, 'm2.st', query);
    await writer.query('INSERT INTO m2.t VALUES (200, 2)');
    await expectTableEqualsQuery(db, 'm2.st', query);
    // and back, under a writer again
    await writer.query('BEGIN');
    await writer.query('DELETE FROM m2.t WHERE g = 0');
    const back = trickle().alterStreamTable('m2.st', { refreshMode: 'DIFFERENTIAL' });
    await writer.query('COMMIT');
    await back;
    await db.query('INSERT INTO m2.t VALUES (300, 0)');
    await trickle().refresh('m2.st');
    await expectTableEqualsQuery(db, 'm2.st', query);
    await writer.end();
  });
});

describe('IMMEDIATE: source DDL', () => {
  it('makes the compiled bodies fail the writer loudly, with a hint, until a refresh recompiles them', async () => {
    await db.query(`CREATE SCHEMA d1;
      CREATE TABLE d1.a (id int PRIMARY KEY, v int); CREATE TABLE d1.b (id int PRIMARY KEY, w int);
      INSERT INTO d1.a VALUES (1, 1), (2, 2); INSERT INTO d1.b VALUES (1, 10), (2, 20)`);
    const query = 'SELECT a.id, a.v + b.w AS s FROM d1.a AS a JOIN d1.b AS b ON b.id = a.id';
    await trickle().createStreamTable({ name: 'd1.st', query, refreshMode: 'IMMEDIATE' });
    // A change that leaves the shape alone (an index) keeps maintenance running.
    await db.query('CREATE INDEX ON d1.b (w)');
    await db.query('INSERT INTO d1.a VALUES (3, 3); INSERT INTO d1.b VALUES (3, 30)');
    await expectTableEqualsQuery(db, 'd1.st', query);
    await db.query('ALTER TABLE d1.b ALTER COLUMN w TYPE bigint');
    const err = await db.query('INSERT INTO d1.a VALUES (4, 4)').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '55000' });
    expect(String((err as { message: string }).message)).toMatch(/d1\.st.*stale/);
    expect(String((err as { hint: string }).hint)).toContain(`pgtrickle.refresh_stream_table('d1.st')`);
    // in the DDL's own transaction too
    const c = await db.client();
    await c.query('BEGIN');
    await c.query('ALTER TABLE d1.a RENAME TO a2');
    await expect(c.query('INSERT INTO d1.b VALUES (9, 9)')).rejects.toMatchObject({ code: '55000' });
    await c.query('ROLLBACK');
    await c.end();
    const summary = await trickle().refresh('d1.st');
    expect(summary.action).toBe('REINITIALIZE');
    await db.query('INSERT INTO d1.a VALUES (4, 4); INSERT INTO d1.b VALUES (4, 40)');
    await expectTableEqualsQuery(db, 'd1.st', query);
    // a dropped source: writes to the other fail loudly; drop cleans up
    await db.query('DROP TABLE d1.b');
    await expect(db.query('INSERT INTO d1.a VALUES (5, 5)')).rejects.toMatchObject({ code: '55000' });
    const id = await pgtIdOf('d1.st');
    await trickle().dropStreamTable('d1.st');
    expect(await leftovers(id)).toEqual({ triggers: 0, functions: 0, rows: 0 });
    await db.query('INSERT INTO d1.a VALUES (5, 5)');
  });

  it('marks the table stale when the source owner disables its triggers', async () => {
    await db.query(`CREATE SCHEMA d2; CREATE TABLE d2.t (id int PRIMARY KEY, v int)`);
    await trickle().createStreamTable({
      name: 'd2.st',
      query: 'SELECT id, v FROM d2.t',
      refreshMode: 'IMMEDIATE',
    });
    await db.query(
      'ALTER TABLE d2.t DISABLE TRIGGER ALL; INSERT INTO d2.t VALUES (1, 1); ALTER TABLE d2.t ENABLE TRIGGER ALL',
    );
    const row = await db.query(
      `SELECT s.needs_reinit, i.stale FROM pgtrickle.pgt_stream_tables AS s JOIN pgtrickle.pgt_immediate AS i USING (pgt_id)
        WHERE s.schema_name = 'd2'`,
    );
    expect(row.rows[0]?.needs_reinit).toBe(true);
    expect(String(row.rows[0]?.stale)).toContain('d2.t');
    await expect(db.query('INSERT INTO d2.t VALUES (2, 2)')).rejects.toMatchObject({ code: '55000' });
    await trickle().refresh('d2.st');
    await db.query('INSERT INTO d2.t VALUES (2, 2)');
    await expectTableEqualsQuery(db, 'd2.st', 'SELECT id, v FROM d2.t');
  });
});

describe('IMMEDIATE through the SQL API', () => {
  it('creates, alters and drops with refresh_mode => IMMEDIATE', async () => {
    await db.query(
      `CREATE SCHEMA q1; CREATE TABLE q1.t (id int PRIMARY KEY, v int); INSERT INTO q1.t VALUES (1, 1)`,
    );
    await db.query(
      `SELECT pgtrickle.create_stream_table('q1.st', 'SELECT id, v FROM q1.t', refresh_mode => 'IMMEDIATE')`,
    );
    expect(await processRequests(trickle())).toEqual({ done: 1, failed: 0 });
    await db.query('INSERT INTO q1.t VALUES (2, 2)');
    await expectTableEqualsQuery(db, 'q1.st', 'SELECT id, v FROM q1.t');
    const status = await db.query(
      `SELECT refresh_mode, effective_mode, schedule FROM pgtrickle.pgt_status WHERE name = 'q1.st'`,
    );
    expect(status.rows[0]).toMatchObject({
      refresh_mode: 'IMMEDIATE',
      effective_mode: 'IMMEDIATE',
      schedule: 'calculated',
    });
    await db.query(`SELECT pgtrickle.alter_stream_table('q1.st', refresh_mode => 'DIFFERENTIAL')`);
    expect(await processRequests(trickle())).toEqual({ done: 1, failed: 0 });
    const after = await db.query(
      `SELECT effective_mode, schedule FROM pgtrickle.pgt_status WHERE name = 'q1.st'`,
    );
    expect(after.rows[0]).toMatchObject({ effective_mode: 'DIFFERENTIAL', schedule: '1m' });
    await db.query(`SELECT pgtrickle.alter_stream_table('q1.st', refresh_mode => 'IMMEDIATE')`);
    expect(await processRequests(trickle())).toEqual({ done: 1, failed: 0 });
    const id = await pgtIdOf('q1.st');
    expect((await leftovers(id)).triggers).toBe(8); // 5 statement triggers and 3 row triggers
    await db.query(`SELECT pgtrickle.drop_stream_table('q1.st')`);
    expect(await processRequests(trickle())).toEqual({ done: 1, failed: 0 });
    expect(await leftovers(id)).toEqual({ triggers: 0, functions: 0, rows: 0 });
  });
});
