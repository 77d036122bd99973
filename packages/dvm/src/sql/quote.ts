/**
 * Quoting of names and values we generate. User expressions never pass through here: they are
 * re-emitted from the parse tree by the deparser.
 */
import { InternalError } from '../errors.js';

/** Quotes an identifier for SQL, always with double quotes (`a"b` → `"a""b"`). */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new InternalError('an empty identifier cannot be quoted');
  if (name.includes('\u0000')) throw new InternalError('an identifier cannot contain a NUL character');
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes `schema.name` (each part quoted); a null or empty schema gives just the name. */
export function quoteQualified(schema: string | null | undefined, name: string): string {
  return schema === null || schema === undefined || schema === ''
    ? quoteIdent(name)
    : `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Quotes a string literal. Uses the standard form (`'it''s'`), or the escape-string form
 * `E'…'` when the text contains a backslash, so the result is correct whatever
 * `standard_conforming_strings` is set to.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new InternalError('a string literal cannot contain a NUL character');
  const body = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}

/** Picks a dollar-quote tag that does not occur in `body` and quotes it (`$pgt$…$pgt$`). */
export function dollarQuote(body: string, base = 'pgt'): string {
  let tag = `$${base}$`;
  for (let i = 1; body.includes(tag); i++) tag = `$${base}${i}$`;
  return `${tag}${body}${tag}`;
}
