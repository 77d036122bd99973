/**
 * The SQL printer: a tagged template `sql` that builds SQL text, in the manner of Kysely's
 * `sql` (our own, much smaller: we only print text, never bind values). What an interpolated
 * value becomes follows from its kind:
 * - a `string` is SQL text we generated (a sub-SELECT, a CTE name, a rendered expression) and is
 *   inserted as is — names and values must be wrapped;
 * - `sql.id(name)` / `sql.id(schema, name)` is an identifier, always double-quoted;
 * - `sql.lit(value)` is a literal: text quoted as a string literal, numbers and bigints as
 *   numerals, booleans as `true` / `false`, null as `NULL`;
 * - `sql.join(parts, separator)` is a list (default separator `, `);
 * - `sql.raw(text)` is trusted SQL text (e.g. a bare hidden-column name such as `__pgt_row_id`);
 * - a number or bigint is a numeral (non-finite numbers are refused).
 * The result is a plain string, so printed fragments compose with every other SQL builder.
 */
import { InternalError } from '../errors.js';
import { quoteIdent, quoteLiteral, quoteQualified } from './quote.js';

/** A piece of SQL whose text is already final (an identifier, a literal, a list). */
export class SqlFragment {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

/** What can be interpolated into {@link sql}. */
export type SqlValue = string | number | bigint | SqlFragment;

/** What {@link sql.lit} accepts. */
export type SqlLiteralValue = string | number | bigint | boolean | null;

function numeral(value: number | bigint): string {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new InternalError(`the number ${value} has no SQL numeral`);
  }
  return String(value);
}

function print(value: SqlValue): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return numeral(value);
  return value.text;
}

function template(strings: TemplateStringsArray, ...values: readonly SqlValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += print(v) + (strings[i + 1] ?? '');
  });
  return out;
}

/** Builds SQL text from a template (see the module comment for what each value becomes). */
export const sql = Object.assign(template, {
  /** An identifier, double-quoted; with two arguments a qualified `schema.name` (null schema: just the name). */
  id(first: string, second?: string): SqlFragment {
    return new SqlFragment(second === undefined ? quoteIdent(first) : quoteQualified(first, second));
  },
  /** A literal value. */
  lit(value: SqlLiteralValue): SqlFragment {
    if (value === null) return new SqlFragment('NULL');
    if (typeof value === 'boolean') return new SqlFragment(value ? 'true' : 'false');
    if (typeof value === 'string') return new SqlFragment(quoteLiteral(value));
    return new SqlFragment(numeral(value));
  },
  /** Parts printed one after another with `separator` between them (default `, `). */
  join(parts: readonly SqlValue[], separator = ', '): SqlFragment {
    return new SqlFragment(parts.map(print).join(separator));
  },
  /** Trusted SQL text, inserted as is. */
  raw(text: string): SqlFragment {
    return new SqlFragment(text);
  },
});
