/**
 * Generated names within PostgreSQL's 63-byte identifier limit (pure, no database): the
 * shortener keeps distinct names distinct, cuts only whole characters, and leaves names that fit
 * alone; the CTE names of one statement stay distinct after truncation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StatementBuilder } from '../src/diff/statement.js';
import { MAX_IDENT_BYTES, truncateIdent } from '../src/names.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Well-formed strings (no lone surrogates: identifiers are text) of any code points. */
const name = (maxLength: number) =>
  fc.string({ unit: 'binary', maxLength }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s);

describe('truncateIdent', () => {
  it('gives any two distinct names distinct physical names of at most 63 bytes', () => {
    fc.assert(
      fc.property(name(80), name(30), name(30), (prefix, x, y) => {
        fc.pre(x !== y);
        const a = truncateIdent(prefix + x);
        const b = truncateIdent(prefix + y);
        expect(bytes(a)).toBeLessThanOrEqual(MAX_IDENT_BYTES);
        expect(bytes(b)).toBeLessThanOrEqual(MAX_IDENT_BYTES);
        expect(a).not.toBe(b);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a name that fits, and cuts a long one at a character boundary', () => {
    fc.assert(
      fc.property(name(120), (n) => {
        const p = truncateIdent(n);
        if (bytes(n) <= MAX_IDENT_BYTES) expect(p).toBe(n);
        else {
          expect(Buffer.from(p, 'utf8').toString('utf8')).toBe(p);
          expect(p).toMatch(/_[0-9a-f]{16}$/);
          expect(n.startsWith(p.slice(0, -17))).toBe(true);
        }
      }),
    );
  });

  it('separates the two 58-character source names of the testers (and multi-byte ones)', () => {
    const base = 'orders_with_a_deliberately_long_name_for_truncation_aaaa_';
    expect(truncateIdent(`__pgt_win_${base}1`)).not.toBe(truncateIdent(`__pgt_win_${base}2`));
    const wide = 'é'.repeat(40);
    const [a, b] = [truncateIdent(`${wide}1`), truncateIdent(`${wide}2`)];
    expect(a).not.toBe(b);
    expect(bytes(a)).toBeLessThanOrEqual(63);
  });
});

describe('CTE names of a statement', () => {
  it('stay distinct as PostgreSQL sees them (63 bytes) for bases sharing a long prefix', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 90 }), { minLength: 1, maxLength: 12 }), (bases) => {
        const stmt = new StatementBuilder();
        const names = bases.map((b) => stmt.add(`win_${b}`, 'SELECT 1'));
        const physical = names.map((n) => Buffer.from(n, 'utf8').subarray(0, 63).toString('utf8'));
        expect(new Set(physical).size).toBe(names.length);
        for (const n of names) expect(bytes(n)).toBeLessThanOrEqual(63);
      }),
    );
  });
});
