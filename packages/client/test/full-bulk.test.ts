/**
 * The bulk FULL refresh (dvm `plan/full-bulk.ts`), on a real PostgreSQL: a large storage is
 * loaded without the indexes that can be re-created exactly and they are built afterwards — same
 * names, same definitions, same table oid, equal contents — while an index that cannot (a
 * comment on it, a constraint behind it) stays in place; a FULL plan's storage has no row-id
 * index (a DIFFERENTIAL one's comes with the mode and goes with it); a small storage, or one an IMMEDIATE
 * stream table reads, keeps every index as it is.
 */
import { BULK_FULL_MIN_ROWS } from '@pgtrickle/dvm';
import { expectTableEqualsQuery } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';
import { useTrickle } from './support/setup.js';

const { db, trickle } = useTrickle();

interface IndexState {
  readonly oid: number;
  readonly def: string;
  readonly valid: boolean;
}

async function indexesOf(table: string): Promise<Map<string, IndexState>> {
  const res = await db.query(
    `SELECT c.relname, c.oid::int8 AS oid, pg_get_indexdef(i.indexrelid) AS def, i.indisvalid AS valid
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass`,
    [table],
  );
  return new Map(
    res.rows.map((r) => [String(r.relname), { oid: Number(r.oid), def: String(r.def), valid: r.valid }]),
  );
}

async function oidOf(table: string): Promise<number> {
  return Number((await db.query(`SELECT $1::regclass::oid::int8 AS o`, [table])).rows[0]?.o);
}

describe('FULL refresh in bulk', () => {
  it('rebuilds the re-creatable indexes of a large storage and keeps everything else', async () => {
    const n = BULK_FULL_MIN_ROWS + 2_000;
    await db.query(`CREATE TABLE fb_src (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO fb_src SELECT g, g % 97 FROM generate_series(1, ${n}) g`);
    const t = trickle();
    await t.createStreamTable({ name: 'fb_st', query: 'SELECT id, v FROM fb_src', refreshMode: 'FULL' });
    // Indexes on the storage table behind the view of the name.
    await db.query(`CREATE INDEX fb_st_v ON fb_st__pgt_storage (v) WHERE v > 3;
      CREATE INDEX fb_st_noted ON fb_st__pgt_storage (v, id); COMMENT ON INDEX fb_st_noted IS 'kept';
      ALTER TABLE fb_st__pgt_storage ADD CONSTRAINT fb_st_pair UNIQUE (id, v)`);
    const tableOid = await oidOf('fb_st__pgt_storage');
    const before = await indexesOf('fb_st__pgt_storage');
    // A FULL plan's storage has no row-id index: the user's three.
    expect(before.size).toBe(3);
    await db.query('UPDATE fb_src SET v = v + 1 WHERE id % 3 = 0; DELETE FROM fb_src WHERE id % 11 = 0');
    const out = await t.refresh('fb_st');
    expect(out.action).toBe('FULL');
    expect(out.rowsDeleted).toBe(n);
    await expectTableEqualsQuery(db, 'fb_st', 'SELECT id, v FROM fb_src');
    expect(await oidOf('fb_st__pgt_storage')).toBe(tableOid);
    const after = await indexesOf('fb_st__pgt_storage');
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, ix] of after) {
      expect(ix.def).toBe(before.get(name)?.def);
      expect(ix.valid).toBe(true);
    }
    // Rebuilt: the partial one. Kept in place: the commented one, the constraint's.
    const rebuilt = [...after].filter(([name, ix]) => before.get(name)?.oid !== ix.oid).map(([name]) => name);
    expect(rebuilt.sort()).toEqual(
      [...before.keys()].filter((k) => k !== 'fb_st_noted' && k !== 'fb_st_pair').sort(),
    );
    expect(rebuilt).toContain('fb_st_v');
    // Again, from the rebuilt indexes.
    await db.query('UPDATE fb_src SET v = v + 2 WHERE id % 5 = 0');
    expect((await t.refresh('fb_st')).action).toBe('FULL');
    await expectTableEqualsQuery(db, 'fb_st', 'SELECT id, v FROM fb_src');
    expect([...(await indexesOf('fb_st__pgt_storage')).values()].every((ix) => ix.valid)).toBe(true);
    // DIFFERENTIAL: the unique row-id index comes (and is rebuilt in bulk); FULL again: it goes.
    await t.alterStreamTable('fb_st', { refreshMode: 'DIFFERENTIAL' });
    await t.refresh('fb_st');
    const rowIdIndex = async () =>
      [...(await indexesOf('fb_st__pgt_storage')).values()].filter((ix) => ix.def.endsWith('(__pgt_row_id)'));
    expect((await rowIdIndex()).map((ix) => ix.def.startsWith('CREATE UNIQUE INDEX'))).toEqual([true]);
    await db.query('UPDATE fb_src SET v = v + 3 WHERE id % 4 = 0');
    expect((await t.refresh('fb_st')).action).toBe('DIFFERENTIAL');
    expect((await t.refresh('fb_st', { action: 'FULL' })).action).toBe('FULL');
    expect((await rowIdIndex()).every((ix) => ix.valid)).toBe(true);
    await expectTableEqualsQuery(db, 'fb_st', 'SELECT id, v FROM fb_src');
    await t.alterStreamTable('fb_st', { refreshMode: 'FULL' });
    await db.query('UPDATE fb_src SET v = v + 1 WHERE id % 9 = 0');
    expect((await t.refresh('fb_st')).action).toBe('FULL');
    expect(await rowIdIndex()).toEqual([]);
    await expectTableEqualsQuery(db, 'fb_st', 'SELECT id, v FROM fb_src');
  });

  it('keeps every index of a small storage, and of one an IMMEDIATE stream table reads', async () => {
    await db.query(`CREATE TABLE fb_small (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO fb_small SELECT g, g FROM generate_series(1, 100) g`);
    const t = trickle();
    await t.createStreamTable({
      name: 'fb_small_st',
      query: 'SELECT id, v FROM fb_small',
      refreshMode: 'FULL',
    });
    const small = await indexesOf('fb_small_st');
    await db.query('UPDATE fb_small SET v = v + 1');
    expect((await t.refresh('fb_small_st')).action).toBe('FULL');
    expect(await indexesOf('fb_small_st')).toEqual(small);

    await db.query(`CREATE TABLE fb_big (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO fb_big SELECT g, g FROM generate_series(1, ${BULK_FULL_MIN_ROWS + 10}) g`);
    await t.createStreamTable({ name: 'fb_big_st', query: 'SELECT id, v FROM fb_big', refreshMode: 'FULL' });
    await t.createStreamTable({
      name: 'fb_imm',
      query: 'SELECT id, v FROM fb_big_st WHERE v % 2 = 0',
      refreshMode: 'IMMEDIATE',
    });
    const big = await indexesOf('fb_big_st');
    await db.query('UPDATE fb_big SET v = v + 1 WHERE id <= 100');
    expect((await t.refresh('fb_big_st')).action).toBe('FULL');
    expect(await indexesOf('fb_big_st')).toEqual(big);
    const stale = await db.query(
      `SELECT i.stale FROM pgtrickle.pgt_immediate i JOIN pgtrickle.pgt_stream_tables s USING (pgt_id) WHERE s.table_name = 'fb_imm'`,
    );
    expect(stale.rows[0]?.stale ?? null).toBeNull();
    await expectTableEqualsQuery(db, 'fb_imm', 'SELECT id, v FROM fb_big_st WHERE v % 2 = 0');
  });
});
