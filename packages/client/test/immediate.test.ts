/**
 * IMMEDIATE mode through the public API: the stream table is maintained inside each writer's
 * transaction by compiled statement triggers — read-your-writes, rollback and savepoints,
 * statements touching several sources, TRUNCATE, cascades, diamonds, refusals, mode switches,
 * source DDL, and concurrent writers (docs/immediate.md).
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

describe('IMMEDIATE basics', () => {
  it('maintains a join + aggregate inside the writer transaction, and a rollback leaves it untouched', async () => {
    await db.query(`CREATE SCHEMA b1;
      CREATE TABLE b1.c (id int PRIMARY KEY, name text);
      CREATE TABLE b1.o (id int PRIMARY KEY, cid int, amount int);
      INSERT INTO b1.c VALUES (1, 'a'), (2, 'b');
      INSERT INTO b1.o VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7);`);
    const query =
      'SELECT c.name, count(*) AS n, sum(o.amount) AS total FROM b1.o o JOIN b1.c c ON c.id = o.cid GROUP BY c.name';
    const st = await trickle().createStreamTable({ name: 'b1.st', query, refreshMode: 'IMMEDIATE' });
    expect(st.effectiveMode).toBe('IMMEDIATE');
    await expectTableEqualsQuery(db, 'b1.st', query);
    const c = await db.client();
    await c.query('BEGIN');
    await c.query('INSERT INTO b1.o VALUES (4, 2, 100)');
    const inside = await c.query(`SELECT total FROM b1.st WHERE name = 'b'`);
    expect(Number(inside.rows[0]?.total)).toBe(107);
    await c.query('ROLLBACK');
    await expectTableEqualsQuery(db, 'b1.st', query);
    await db.query(`UPDATE b1.c SET name = 'z' WHERE id = 1`);
    await expectTableEqualsQuery(db, 'b1.st', query);
    await db.query('DELETE FROM b1.o WHERE id = 3');
    await expectTableEqualsQuery(db, 'b1.st', query);
    await db.query('TRUNCATE b1.o');
    await expectTableEqualsQuery(db, 'b1.st', query);
    c.release?.();
    await c.end();
  });
});
