/**
 * Sources that change under a stream table: TRUNCATE, ALTER (added, renamed, dropped columns),
 * DROP; and stream tables reading stream tables (chains, a diamond), with buffers drained.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

async function bufferRows(): Promise<number> {
  const res =
    await db.query(`SELECT string_agg(format('SELECT count(*) FROM pgtrickle_changes.%I', relname), ' UNION ALL ') AS q
                              FROM pg_class WHERE relnamespace = 'pgtrickle_changes'::regnamespace AND relkind = 'r' AND relname LIKE 'changes_%'`);
  if (res.rows[0]?.q === null) return 0;
  const counts = await db.query(`SELECT COALESCE(sum(count), 0)::int AS n FROM (${res.rows[0]?.q}) x`);
  return Number(counts.rows[0]?.n);
}

beforeAll(async () => {
  await db.query(`
    CREATE TABLE products (id int PRIMARY KEY, name text, price numeric, category text);
    INSERT INTO products SELECT g, 'p' || g, g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END FROM generate_series(1, 20) g;
  `);
});

describe('TRUNCATE of a source', () => {
  it('refreshes FULL and records why', async () => {
    await db.query('CREATE TABLE t1 (id int PRIMARY KEY, v int); INSERT INTO t1 VALUES (1, 1), (2, 2)');
    await trickle().createStreamTable({
      name: 'st_t1',
      query: 'SELECT id, v FROM t1',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query('TRUNCATE t1');
    await db.query('INSERT INTO t1 VALUES (3, 3)');
    const r = await trickle().refresh('st_t1');
    expect(r.action).toBe('FULL');
    expect(r.reason).toMatch(/truncated/);
    await expectTableEqualsQuery(db, 'st_t1', 'SELECT id, v FROM t1');
    await db.query('UPDATE t1 SET v = 30 WHERE id = 3');
    expect((await trickle().refresh('st_t1')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'st_t1', 'SELECT id, v FROM t1');
  });
});

describe('source DDL', () => {
  it('rebuilds a SELECT * table when a column is added', async () => {
    await db.query('CREATE TABLE t2 (id int PRIMARY KEY, v int); INSERT INTO t2 VALUES (1, 1)');
    await trickle().createStreamTable({
      name: 'st_t2',
      query: 'SELECT * FROM t2',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query('ALTER TABLE t2 ADD COLUMN note text');
    await db.query(`INSERT INTO t2 VALUES (2, 2, 'new')`);
    const r = await trickle().refresh('st_t2');
    expect(r.action).toBe('REINITIALIZE');
    await expectTableEqualsQuery(db, 'st_t2', 'SELECT * FROM t2');
    await db.query(`UPDATE t2 SET note = 'changed' WHERE id = 1`);
    expect((await trickle().refresh('st_t2')).action).toBe('DIFFERENTIAL');
    await expectTableEqualsQuery(db, 'st_t2', 'SELECT * FROM t2');
  });

  it('keeps working when an unused column is dropped', async () => {
    await db.query(
      'CREATE TABLE t3 (id int PRIMARY KEY, v int, junk text); INSERT INTO t3 VALUES (1, 1, IJ)'.replace(
        'IJ',
        `'x'`,
      ),
    );
    await trickle().createStreamTable({
      name: 'st_t3',
      query: 'SELECT id, v FROM t3',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query('ALTER TABLE t3 DROP COLUMN junk');
    await db.query('INSERT INTO t3 VALUES (2, 2)');
    await trickle().refresh('st_t3');
    await expectTableEqualsQuery(db, 'st_t3', 'SELECT id, v FROM t3');
  });

  it('puts the table in ERROR with what to do when a used column is dropped', async () => {
    await db.query('CREATE TABLE t4 (id int PRIMARY KEY, v int); INSERT INTO t4 VALUES (1, 1)');
    await trickle().createStreamTable({
      name: 'st_t4',
      query: 'SELECT id, v FROM t4',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query('ALTER TABLE t4 DROP COLUMN v');
    await expect(trickle().refresh('st_t4')).rejects.toMatchObject({
      code: 'PGT_SOURCE_CHANGED',
      message: /no longer compiles.*alterStreamTable/,
    });
    const st = (await trickle().status()).find((s) => s.table === 'st_t4');
    expect(st?.status).toBe('ERROR');
    expect(st?.lastError).toMatch(/"v"/);
    await expect(trickle().refresh('st_t4')).rejects.toMatchObject({ code: 'PGT_NOT_ACTIVE' });
    // Fix it by altering the query; the table is rebuilt and active again.
    await trickle().alterStreamTable('st_t4', { query: 'SELECT id FROM t4', status: 'ACTIVE' });
    await expectTableEqualsQuery(db, 'st_t4', 'SELECT id FROM t4');
    expect((await trickle().status()).find((s) => s.table === 'st_t4')?.status).toBe('ACTIVE');
  });

  it('never breaks writes to a source, whatever DDL it goes through', async () => {
    await db.query(
      'CREATE TABLE t6 (id int PRIMARY KEY, a int, b text, c numeric); INSERT INTO t6 VALUES (1, 1, $$x$$, 1)',
    );
    await trickle().createStreamTable({
      name: 'st_t6',
      query: 'SELECT id, a FROM t6',
      refreshMode: 'DIFFERENTIAL',
    });
    for (const ddl of [
      'ALTER TABLE t6 RENAME COLUMN b TO bb',
      'ALTER TABLE t6 ALTER COLUMN c TYPE text',
      'ALTER TABLE t6 DROP COLUMN c',
      'ALTER TABLE t6 ADD COLUMN d jsonb',
    ]) {
      await db.query(ddl);
      await db.query('INSERT INTO t6 (id, a) SELECT max(id) + 1, 7 FROM t6');
      await db.query('UPDATE t6 SET a = a + 1');
      await db.query('DELETE FROM t6 WHERE id = (SELECT min(id) FROM t6)');
    }
    await trickle().refresh('st_t6');
    await expectTableEqualsQuery(db, 'st_t6', 'SELECT id, a FROM t6');
  });

  it('puts the table in ERROR when its source is renamed', async () => {
    await db.query('CREATE TABLE t7 (id int PRIMARY KEY); INSERT INTO t7 VALUES (1)');
    await trickle().createStreamTable({ name: 'st_t7', query: 'SELECT id FROM t7' });
    await db.query('ALTER TABLE t7 RENAME TO t7_renamed');
    await expect(trickle().refresh('st_t7')).rejects.toMatchObject({
      code: 'PGT_SOURCE_CHANGED',
      message: /t7.*no longer compiles.*"t7" does not exist/,
    });
    await trickle().alterStreamTable('st_t7', { query: 'SELECT id FROM t7_renamed', status: 'ACTIVE' });
    await db.query('INSERT INTO t7_renamed VALUES (2)');
    await trickle().refresh('st_t7');
    await expectTableEqualsQuery(db, 'st_t7', 'SELECT id FROM t7_renamed');
  });

  it('puts the table in ERROR when its source is dropped', async () => {
    await db.query('CREATE TABLE t5 (id int PRIMARY KEY); INSERT INTO t5 VALUES (1)');
    await trickle().createStreamTable({ name: 'st_t5', query: 'SELECT id FROM t5' });
    await db.query('DROP TABLE t5');
    await expect(trickle().refresh('st_t5')).rejects.toMatchObject({
      code: 'PGT_SOURCE_CHANGED',
      message: /t5 was dropped/,
    });
    expect((await trickle().status()).find((s) => s.table === 'st_t5')?.status).toBe('ERROR');
    await trickle().dropStreamTable('st_t5');
  });
});

describe('stream tables reading stream tables', () => {
  it('maintains a chain of three and drains every buffer', async () => {
    await trickle().createStreamTable({
      name: 'c1',
      query: `SELECT id, price, category FROM products WHERE price > 3`,
      refreshMode: 'DIFFERENTIAL',
    });
    await trickle().createStreamTable({
      name: 'c2',
      query: `SELECT id, price * 10 AS p10, category FROM c1 WHERE category = 'even'`,
      refreshMode: 'DIFFERENTIAL',
    });
    await trickle().createStreamTable({
      name: 'c3',
      query: `SELECT id, p10 FROM c2 WHERE p10 < 150`,
      refreshMode: 'DIFFERENTIAL',
    });
    const steps = [
      `UPDATE products SET price = price + 1 WHERE id % 3 = 0`,
      `DELETE FROM products WHERE id = 8`,
      `INSERT INTO products VALUES (100, 'n', 12, 'even'), (101, 'o', 1, 'even')`,
      `UPDATE products SET category = 'odd' WHERE id = 10`,
      `UPDATE products SET id = 200 WHERE id = 12`,
    ];
    for (const s of steps) {
      await db.query(s);
      for (const n of ['c1', 'c2', 'c3']) await trickle().refresh(n);
      await expectTableEqualsQuery(db, 'c1', `SELECT id, price, category FROM products WHERE price > 3`);
      await expectTableEqualsQuery(
        db,
        'c2',
        `SELECT id, price * 10 AS p10, category FROM products WHERE price > 3 AND category = 'even'`,
      );
      await expectTableEqualsQuery(
        db,
        'c3',
        `SELECT id, price * 10 AS p10 FROM products WHERE price > 3 AND category = 'even' AND price * 10 < 150`,
      );
    }
    await trickle().dropStreamTable('c1', { cascade: true });
  });

  it('maintains a diamond: two branches over one source joined again', async () => {
    await trickle().createStreamTable({
      name: 'd_left',
      query: `SELECT id, price FROM products WHERE category = 'even'`,
      refreshMode: 'DIFFERENTIAL',
    });
    await trickle().createStreamTable({
      name: 'd_right',
      query: `SELECT id, name FROM products WHERE price < 15`,
      refreshMode: 'DIFFERENTIAL',
    });
    await trickle().createStreamTable({
      name: 'd_apex',
      query: `SELECT l.id, l.price, r.name FROM d_left l JOIN d_right r ON r.id = l.id`,
      refreshMode: 'DIFFERENTIAL',
    });
    const apexQuery = `SELECT l.id, l.price, r.name FROM (SELECT id, price FROM products WHERE category = 'even') l JOIN (SELECT id, name FROM products WHERE price < 15) r ON r.id = l.id`;
    for (const s of [
      `UPDATE products SET price = 3 WHERE id = 18`,
      `UPDATE products SET name = 'renamed' WHERE id = 4`,
      `DELETE FROM products WHERE id = 6`,
      `INSERT INTO products VALUES (300, 'x', 2, 'even')`,
    ]) {
      await db.query(s);
      for (const n of ['d_left', 'd_right', 'd_apex']) await trickle().refresh(n);
      await expectTableEqualsQuery(db, 'd_apex', apexQuery);
    }
    await trickle().dropStreamTable('d_left', { cascade: true });
    await trickle().dropStreamTable('d_right');
  });

  it('leaves no buffer rows behind once every consumer has refreshed', async () => {
    await trickle().createStreamTable({
      name: 'b1',
      query: 'SELECT id, price FROM products',
      refreshMode: 'DIFFERENTIAL',
    });
    await trickle().createStreamTable({
      name: 'b2',
      query: 'SELECT id FROM b1 WHERE price > 5',
      refreshMode: 'DIFFERENTIAL',
    });
    await db.query('UPDATE products SET price = price * 2');
    await trickle().refresh('b1');
    expect(await bufferRows()).toBeGreaterThan(0); // b2 has not consumed b1's changes yet
    await trickle().refresh('b2');
    for (const s of await trickle().status()) if (s.status === 'ACTIVE') await trickle().refresh(s.name);
    expect(await bufferRows()).toBe(0);
  });
});
