/**
 * Stream table names as users write them: `name`, `schema.name`, with SQL identifier rules —
 * unquoted parts fold to lower case as PostgreSQL folds them (only ASCII A–Z: `Ventes_ÉTÉ` is
 * `ventes_ÉtÉ`), `"Quoted Parts"` keep their case and may contain dots,
 * spaces and `""` for a quote. Parsed by hand (never spliced into SQL); the result is always
 * quoted when it reaches SQL.
 */
import { quoteQualified } from '@pgtrickle/dvm';
import { InvalidArgumentError } from './errors.js';

/** A parsed, possibly schema-qualified name (schema null: the current schema). */
export interface ParsedName {
  readonly schema: string | null;
  readonly name: string;
}

/** Parses `text` as `[schema.]name`. Throws InvalidArgumentError with what is wrong. */
export function parseName(text: string): ParsedName {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new InvalidArgumentError('A stream table name is required, e.g. "analytics.order_totals".');
  }
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    let part = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length)
          throw new InvalidArgumentError(`Unterminated quoted identifier in name ${JSON.stringify(text)}.`);
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += s[i];
        i++;
      }
      if (part === '')
        throw new InvalidArgumentError(`Empty quoted identifier in name ${JSON.stringify(text)}.`);
    } else {
      const m = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(s.slice(i));
      if (m === null) {
        throw new InvalidArgumentError(
          `Invalid name ${JSON.stringify(text)}: an unquoted identifier starts with a letter or underscore; quote it ("…") otherwise.`,
        );
      }
      part = foldIdentifier(m[0]);
      i += m[0].length;
    }
    if (Buffer.byteLength(part, 'utf8') > 63) {
      throw new InvalidArgumentError(
        `Identifier "${part}" in ${JSON.stringify(text)} is longer than PostgreSQL's 63-byte limit.`,
      );
    }
    parts.push(part);
    if (i < s.length) {
      if (s[i] !== '.')
        throw new InvalidArgumentError(
          `Invalid name ${JSON.stringify(text)}: expected "." at position ${i + 1}.`,
        );
      i++;
      if (i >= s.length)
        throw new InvalidArgumentError(`Invalid name ${JSON.stringify(text)}: it ends with ".".`);
    }
  }
  if (parts.length > 2)
    throw new InvalidArgumentError(`Invalid name ${JSON.stringify(text)}: use [schema.]name.`);
  return parts.length === 2
    ? { schema: parts[0] as string, name: parts[1] as string }
    : { schema: null, name: parts[0] as string };
}

/** PostgreSQL's folding of an unquoted identifier (in a multi-byte encoding): ASCII A–Z only. */
export function foldIdentifier(text: string): string {
  return text.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** The quoted SQL form of a resolved name. */
export function sqlName(schema: string, name: string): string {
  return quoteQualified(schema, name);
}

/** The display form (`schema.name`, quoting only where needed). */
export function displayName(schema: string, name: string): string {
  const show = (p: string) => (/^[a-z_][a-z0-9_$]*$/.test(p) ? p : `"${p.replaceAll('"', '""')}"`);
  return `${show(schema)}.${show(name)}`;
}
