import { describe, expect, it } from 'vitest';
import { sql } from '../src/sql/sql.js';

describe('the sql printer', () => {
  it('inserts generated SQL text as is and quotes by the value kind', () => {
    const from = 'SELECT 1 AS x';
    expect(sql`SELECT ${sql.id('a"b')}, ${sql.lit("it's")}, ${sql.lit(3)} FROM (${from}) AS s`).toBe(
      `SELECT "a""b", 'it''s', 3 FROM (SELECT 1 AS x) AS s`,
    );
    expect(sql`${sql.id('public', 't')} ${sql.lit(null)} ${sql.lit(true)} ${sql.lit(10n)}`).toBe(
      '"public"."t" NULL true 10',
    );
    expect(sql`${sql.lit('a\\b')}`).toBe(`E'a\\\\b'`);
  });

  it('joins lists and keeps raw fragments', () => {
    const cols = ['a', 'b'].map((c) => sql`s.${sql.id(c)}`);
    expect(sql`SELECT ${sql.raw('__pgt_row_id')}, ${sql.join(cols)}`).toBe(
      'SELECT __pgt_row_id, s."a", s."b"',
    );
    expect(sql`${sql.join(['x', 'y'], '\nUNION ALL\n')}`).toBe('x\nUNION ALL\ny');
    expect(sql`LIMIT ${5}`).toBe('LIMIT 5');
  });

  it('refuses numbers without a numeral', () => {
    expect(() => sql`${Number.NaN}`).toThrow(/no SQL numeral/);
  });
});
