/**
 * A FULL plan's row ids are one constant (dvm `FULL_ROW_ID_SQL`): they identify nothing, so a
 * switch to an incremental plan cannot index them — `evolveStorage` leaves the row-id index to
 * the FULL refresh that follows, which creates it from the new ids (dvm `replaceContents`). The
 * switch back and forth keeps the contents, the history's counts, the owner's index and a
 * downstream stream table reading the table exact, for a large storage (the bulk path) and a
 * small one.
 */
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

async function rowIdIndexes(storage: string): Promise<{ unique: boolean; valid: boolean }[]> {
  const r = await db.query(
    `SELECT x.indisunique AS unique, x.indisvalid AS valid
       FROM pg_index AS x JOIN pg_attribute AS a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
      WHERE x.indrelid = $1::regclass AND x.indnatts = 1 AND a.attname = '__pgt_row_id'`,
    [storage],
  );
  return r.rows as { unique: boolean; valid: boolean }[];
}

async function ids(storage: string): Promise<{ n: number; distinct: number; zero: number }> {
  const r = await db.query(
    `SELECT count(*)::int AS n, count(DISTINCT __pgt_row_id)::int AS distinct,
            count(*) FILTER (WHERE __pgt_row_id = 0)::int AS zero FROM ${storage}`,
  );
  return r.rows[0] as { n: number; distinct: number; zero: number };
}

async function lastHistory(name: string): Promise<{ action: string; ins: number; del: number }> {
  const r = await db.query(
    `SELECT h.action, h.rows_inserted::int AS ins, h.rows_deleted::int AS del
       FROM pgtrickle.pgt_refresh_history AS h JOIN pgtrickle.pgt_stream_tables AS s USING (pgt_id)
      WHERE s.table_name = $1 ORDER BY h.refresh_id DESC LIMIT 1`,
    [name],
  );
  return r.rows[0] as { action: string; ins: number; del: number };
}

describe('the row ids of a FULL plan', () => {
  for (const rows of [20_000, 50]) {
    it(`are one constant, and a switch to DIFFERENTIAL and back stays exact (${rows} rows)`, async () => {
      const src = `fr_src_${rows}`;
      const st = `fr_st_${rows}`;
      const down = `fr_down_${rows}`;
      const storage = `${st}__pgt_storage`;
      const query = `SELECT id, g, v FROM ${src} WHERE v % 3 <> 0`;
      const downQuery = `SELECT g, count(*) AS n, sum(v) AS s FROM ${st} GROUP BY g`;
      await db.query(`CREATE TABLE ${src} (id int PRIMARY KEY, g int NOT NULL, v int NOT NULL);
        INSERT INTO ${src} SELECT i, i % 17, i FROM generate_series(1, ${rows}) i`);
      const t = trickle();
      await t.createStreamTable({ name: st, query, refreshMode: 'FULL' });
      await t.createStreamTable({ name: down, query: downQuery, refreshMode: 'DIFFERENTIAL' });
      await db.query(`CREATE INDEX ${st}_g ON ${storage} (g)`);
      const n0 = Number((await db.query(`SELECT count(*) AS n FROM (${query}) q`)).rows[0]?.n);
      expect(await ids(storage)).toEqual({ n: n0, distinct: 1, zero: n0 });
      expect(await rowIdIndexes(storage)).toEqual([]);

      // FULL → DIFFERENTIAL: the unique row-id index comes with the new ids.
      await db.query(`UPDATE ${src} SET v = v + 1 WHERE id % 5 = 0`);
      await t.alterStreamTable(st, { refreshMode: 'DIFFERENTIAL' });
      await expectTableEqualsQuery(db, st, query);
      const n1 = Number((await db.query(`SELECT count(*) AS n FROM (${query}) q`)).rows[0]?.n);
      expect(await ids(storage)).toEqual({ n: n1, distinct: n1, zero: 0 });
      expect(await rowIdIndexes(storage)).toEqual([{ unique: true, valid: true }]);
      expect(await lastHistory(st)).toEqual({ action: 'FULL', ins: n1, del: n0 });
      expect((await t.refresh(down)).action).toBe('DIFFERENTIAL');
      await expectTableEqualsQuery(db, down, downQuery);

      await db.query(`UPDATE ${src} SET v = v + 1 WHERE id % 7 = 0; DELETE FROM ${src} WHERE id % 11 = 0`);
      expect((await t.refresh(st)).action).toBe('DIFFERENTIAL');
      await expectTableEqualsQuery(db, st, query);
      expect((await t.refresh(st, { action: 'FULL' })).action).toBe('FULL');
      expect(await rowIdIndexes(storage)).toEqual([{ unique: true, valid: true }]);
      await expectTableEqualsQuery(db, st, query);

      // DIFFERENTIAL → FULL: the index goes, the ids are the constant again.
      await db.query(`UPDATE ${src} SET g = g + 1 WHERE id % 13 = 0`);
      await t.alterStreamTable(st, { refreshMode: 'FULL' });
      const n2 = Number((await db.query(`SELECT count(*) AS n FROM (${query}) q`)).rows[0]?.n);
      expect(await ids(storage)).toEqual({ n: n2, distinct: 1, zero: n2 });
      expect(await rowIdIndexes(storage)).toEqual([]);
      await db.query(
        `INSERT INTO ${src} SELECT i, i % 17, i FROM generate_series(${rows} + 1, ${rows} + 40) i`,
      );
      const out = await t.refresh(st);
      expect(out.action).toBe('FULL');
      const n3 = Number((await db.query(`SELECT count(*) AS n FROM (${query}) q`)).rows[0]?.n);
      expect([out.rowsInserted, out.rowsDeleted]).toEqual([n3, n2]);
      await expectTableEqualsQuery(db, st, query);
      expect((await t.refresh(down)).action).toBe('DIFFERENTIAL');
      await expectTableEqualsQuery(db, down, downQuery);
      // The owner's index survived every switch.
      const owned = await db.query(
        `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = $1::regclass`,
        [`${st}_g`],
      );
      expect(owned.rows).toEqual([{ valid: true }]);
    });
  }
});
