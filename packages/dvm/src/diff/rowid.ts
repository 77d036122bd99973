/**
 * Row identity (docs/dvm-design.md §2): one formula everywhere —
 * `pg_catalog.hashtextextended((ROW(<part values>))::text, 7919)` — and one row image,
 * `pg_catalog.record_send(ROW(<columns>))`; a FULL plan's non-unique ids are one constant
 * instead ({@link FULL_ROW_ID_SQL}).
 *
 * Rule: a typed id part enters the id as values that are equal exactly when the type's equality
 * (under the part's collation) calls the parts equal: its own extended hash
 * (`hash_record_extended(ROW(part), 7919)`), so numeric 2 = 2.0, bpchar trailing spaces, jsonb
 * numbers, arrays / ranges / composites of such, case-insensitive nondeterministic collations,
 * interval '1 day' = '24 hours' and float −0 = 0 hash equally; integers as themselves and
 * timestamps as their exact epoch (their hash folds 64 bits to 32). Where a type's hash drops
 * what its equality keeps, the part adds it: numeric's hash ignores the sign (−1 and 1, or
 * NaN and ±Infinity, hash alike), so a numeric part adds its `sign` (an array of numerics, or
 * jsonb, the signs of its numbers: the text with digits and points removed). A part whose type has no
 * extended hash function is hashed through a session-independent stand-in ({@link hashablePart}):
 * `json` as `jsonb` (jsonb equality), the other such built-in types by their binary form; a
 * composite, domain or range over such a type has no hash function either: the parts hashed by
 * their type's own function are recorded while a plan is printed at create
 * ({@link recordIdPartTypes}), so the compiler refuses such a type there instead of failing at a
 * refresh (where any function of the exact value will do, {@link binaryIdPart} stands in). Those
 * recorded types are then looked up (their shapes: domain, array, range, composite) and the plan
 * prints again with them ({@link printWithTypeShapes}), so a numeric inside a domain, range or
 * composite adds its sign there too. The
 * values are `bigint`s, integers and `numeric` epochs and signs, whose text no session setting changes;
 * hashing that text gives a well-mixed 64-bit id. The row image (the exact representation of a
 * row, used where rows with equal values but different representations must stay apart) is the
 * binary send form, which no session setting changes either. Nothing here needs pinned settings,
 * so user expressions are evaluated under the user's own settings.
 */
import type { TypeShape } from '../catalog/port.js';
import { UnsupportedQueryError } from '../errors.js';
import { sql } from '../sql/sql.js';

/**
 * The seed of every row-id hash. Not 0 or 1: `hash_record_extended` gives 0 for a NULL part, and
 * some hash functions return the seed itself, or the seed − 1, for a value (float zero, numeric
 * zero), so seeds 0 and 1 would give NULL and zero one id.
 */
const ROW_ID_SEED = 7919;

/** One part of a row id: an SQL expression and, when known, its type (as `format_type` prints it). */
export interface IdPart {
  readonly expr: string;
  readonly type?: string | undefined;
}

/**
 * Built-in types without an extended hash function (element types of arrays included; `record`:
 * anonymous rows, e.g. the path column of CYCLE, have none either).
 */
const UNHASHABLE = new Set([
  'record',
  'xml',
  'point',
  'lseg',
  'line',
  'box',
  'path',
  'polygon',
  'circle',
  'money',
  'bit',
  'bit varying',
  'tsvector',
  'tsquery',
  'jsonpath',
  'pg_snapshot',
  'txid_snapshot',
  'pg_node_tree',
  'pg_ndistinct',
  'pg_dependencies',
  'pg_mcv_list',
  'gtsvector',
]);

/** A type name without modifiers, array brackets and `pg_catalog.` (lower case). */
function bareType(type: string): { name: string; array: boolean } {
  const t = type.trim().toLowerCase();
  const array = t.endsWith(']');
  const name = t
    .replace(/\[\d*\]/g, '')
    .replace(/\([^)]*\)/g, '')
    .replace(/^pg_catalog\./, '')
    .replace(/\s+/g, ' ')
    .trim();
  return { name, array };
}

/** Integer types: a part of one of these enters the id as its own (exact, setting-free) text. */
const INTEGERS = new Set(['smallint', 'integer', 'bigint', 'oid']);

/**
 * Types whose hash function folds a 64-bit value to 32 bits first (`hashint8extended`): a part of
 * one of these enters the id as its exact epoch (`numeric`, independent of TimeZone), so distinct
 * instants never share a hash by the fold.
 */
const EPOCH_TYPES = new Set([
  'timestamp with time zone',
  'timestamp without time zone',
  'time without time zone',
]);

/**
 * The SQL values that stand for part `expr` of type `type` in a row id (see the module header),
 * each a `bigint` hash or an exact value whose text no session setting changes:
 * - integers as they are; timestamps and times as their exact epoch;
 * - `numeric`: its hash and its `sign` (the hash ignores the sign; NaN and ±Infinity share one);
 *   `numeric[]`: its hash, the hash of its bounds and the hash of its text without digits and
 *   points (the elements' signs, NaN / Infinity and NULLs, in order);
 * - arrays: their hash and the hash of their bounds (`array_dims`: the element hash ignores the
 *   shape, equality does not);
 * - `jsonb`: its hash and the hash of its structure (its text without number tokens: jsonb's
 *   hash covers only the scalars, equality the nesting too; the signs of numbers stay, numeric's
 *   hash ignores them); `json` as `jsonb` (json has no
 *   equality of its own);
 * - another built-in type without an extended hash function: the hash of its binary send form;
 * - any other type (or an unknown one): its hash (its type's extended hash function, through its
 *   collation).
 */
export function hashablePart(expr: string, type: string | undefined): string[] {
  if (type === undefined) return [valueHash(expr)];
  const parts = shapedParts(expr, type) ?? standInParts(expr, type);
  if (parts !== null) return parts;
  recording?.push({ expr, type });
  const { array } = bareType(type);
  if (array) return [valueHash(expr), valueHash(sql`pg_catalog.array_dims(${expr})`)];
  return [valueHash(expr)];
}

/** The parts of a value whose type {@link hashablePart} handles by stand-ins or additions, else null. */
function standInParts(expr: string, type: string): string[] | null {
  const { name, array } = bareType(type);
  if (!array && INTEGERS.has(name)) return [expr];
  if (!array && EPOCH_TYPES.has(name)) return [sql`pg_catalog.extract('epoch', ${expr})`];
  if (name === 'numeric') {
    if (!array) return [valueHash(expr), sql`pg_catalog.sign(${expr})`];
    return [valueHash(expr), valueHash(sql`pg_catalog.array_dims(${expr})`), valueHash(withoutDigits(expr))];
  }
  if (name === 'json' || name === 'jsonb') {
    const value = name === 'json' ? sql`(${expr})::jsonb${array ? '[]' : ''}` : expr;
    if (array) return [valueHash(value), valueHash(sql`pg_catalog.array_dims(${value})`)];
    return [
      valueHash(value),
      valueHash(sql`pg_catalog.regexp_replace((${value})::text, '[+.0-9eE]+', '', 'g')`),
    ];
  }
  if (UNHASHABLE.has(name)) return [valueHash(sql`pg_catalog.record_send(ROW(${expr}))`)];
  return null;
}

/** The shapes of user-defined and structured types in effect while a plan prints. */
let shapes: ReadonlyMap<string, TypeShape> | null = null;

/**
 * Runs `print` (which prints SQL synchronously) with the type shapes the compiler looked up for
 * the plan's id parts, so that {@link hashablePart} sees through domains, ranges, arrays and
 * composites to the numerics and jsonb inside them.
 */
export function printWithTypeShapes<T>(typeShapes: ReadonlyMap<string, TypeShape>, print: () => T): T {
  const outer = shapes;
  shapes = typeShapes;
  try {
    return print();
  } finally {
    shapes = outer;
  }
}

/**
 * The parts of a value of a structured type whose hash drops what its equality keeps, else null
 * (the type's own hash will do):
 * - a domain: its value as its base type (so a domain over numeric adds the sign, one over json
 *   hashes as jsonb, one over timestamptz enters as its epoch);
 * - a range or multirange over numeric: its hash and that of its text with digits and points
 *   removed (the bounds' signs, NaN / Infinity, brackets: range text of numerics is exact and
 *   independent of session settings);
 * - an array of such a domain: the array cast to the base's array; of such ranges: as a range,
 *   plus its bounds; of composites holding numerics: refused (`PGT_UNSUPPORTED`);
 * - a composite: its hash, whether it is NULL (`num_nulls`: a NULL composite and a row of NULLs
 *   are different values that hash alike), and the parts of each field holding numerics or jsonb
 *   (at any depth).
 */
function shapedParts(expr: string, type: string): string[] | null {
  const shape = shapes?.get(type);
  if (shape === undefined) return null;
  switch (shape.kind) {
    case 'plain':
      return null;
    case 'domain':
      return hashablePart(sql`(${expr})::${shape.base}`, shape.base);
    case 'range':
      return signBlind(shape.subtype) ? [valueHash(expr), valueHash(withoutDigits(expr))] : null;
    case 'array': {
      const element = shapes?.get(shape.element);
      if (element?.kind === 'domain') {
        return hashablePart(sql`(${expr})::${element.base}[]`, `${element.base}[]`);
      }
      if (element?.kind === 'range' && signBlind(element.subtype)) {
        return [
          valueHash(expr),
          valueHash(sql`pg_catalog.array_dims(${expr})`),
          valueHash(withoutDigits(expr)),
        ];
      }
      if (element !== undefined && hidesSigns(shape.element)) {
        throw new UnsupportedQueryError(
          `a row identity over an array of ${shape.element}, whose numeric members hash without their sign`,
          "PostgreSQL's hash of such an array calls -1 and 1 alike. Leave the column out of keys, DISTINCT and GROUP BY, or use refreshMode 'FULL'.",
        );
      }
      return null;
    }
    case 'composite': {
      recording?.push({ expr, type });
      return [
        valueHash(expr),
        sql`pg_catalog.num_nulls(${expr})`,
        ...shape.fields
          .filter((f) => hidesSigns(f.type))
          .flatMap((f) => hashablePart(sql`(${expr}).${sql.id(f.name)}`, f.type)),
      ];
    }
  }
}

/** Whether `type` is numeric or a domain over numeric (its hash ignores the sign). */
function signBlind(type: string): boolean {
  const { name, array } = bareType(type);
  if (!array && name === 'numeric') return true;
  const shape = shapes?.get(type);
  return shape?.kind === 'domain' && signBlind(shape.base);
}

/** Whether a value of `type` hashes alike for some values its equality tells apart (numeric signs, jsonb nesting). */
function hidesSigns(type: string): boolean {
  const { name } = bareType(type);
  if (name === 'numeric' || name === 'jsonb') return true;
  const shape = shapes?.get(type);
  switch (shape?.kind) {
    case 'domain':
      return hidesSigns(shape.base);
    case 'range':
      return signBlind(shape.subtype);
    case 'array':
      return hidesSigns(shape.element);
    case 'composite':
      return shape.fields.some((f) => hidesSigns(f.type));
    default:
      return false;
  }
}

/** The value's text without digits and points (setting-independent for numerics and their ranges). */
function withoutDigits(expr: string): string {
  return sql`pg_catalog.regexp_replace((${expr})::text, '[.0-9]+', '', 'g')`;
}

/**
 * The part of a value of type `type` hashed by its binary send form (as a `bytea`), for a type
 * without an extended hash function where any function of the exact value will do (a FULL
 * table's row ids: copies of equal rows need not share one).
 */
export function binaryIdPart(expr: string): IdPart {
  return { expr: sql`pg_catalog.record_send(ROW(${expr}))`, type: 'bytea' };
}

/**
 * The row id of every row of a FULL plan (docs/dvm-design.md §2, "FULL plans"): the constant 0.
 * A FULL plan's ids are not unique and nothing reads them — its storage has no row-id index, a
 * consumer reads such a table by its columns, and a FULL refresh with consumers nets old → new
 * per (id, image), i.e. per image — so they need only be the same for the same row, which a
 * constant is, without a hash of every row at every FULL refresh (measured at 1,000,000 orders:
 * the join's `hash_record_extended` of each of its ≈225,000 rows was ≈0.1 of REFRESH MATERIALIZED
 * VIEW's time).
 */
export const FULL_ROW_ID_SQL = '0::bigint';

/** Typed id parts hashed by their type's own hash function while {@link recordIdPartTypes} runs. */
let recording: IdPart[] | null = null;

/**
 * Runs `print` (which prints SQL synchronously) and returns the typed id parts it hashed with
 * their type's own extended hash function (type given): the compiler asks PostgreSQL whether
 * each such type has one, and refuses the plan at create when not (it would fail at refresh).
 */
export function recordIdPartTypes(print: () => void): IdPart[] {
  const outer = recording;
  const parts: IdPart[] = [];
  recording = parts;
  try {
    print();
  } finally {
    recording = outer;
  }
  return parts;
}

/** The hash of one value (its type's extended hash function through its collation; NULL → 0). */
function valueHash(expr: string): string {
  return sql`pg_catalog.hash_record_extended(ROW(${expr}), ${ROW_ID_SEED})`;
}

/**
 * The row id of a row whose id parts are the given SQL expressions: plain strings are `bigint`
 * row ids or ordinals, taken as they are; typed parts ({@link IdPart}) stand as
 * {@link hashablePart} says. The id hashes the text of the row of those (`bigint`s, exact
 * integers and epochs, whose text no session setting changes) with `hashtextextended`, 64 bits
 * throughout. Zero parts (an aggregate without GROUP BY) give the constant id of `ROW()`.
 */
export function rowIdExpr(parts: readonly (string | IdPart)[]): string {
  const forms = parts.flatMap((p) => (typeof p === 'string' ? [p] : hashablePart(p.expr, p.type)));
  return sql`pg_catalog.hashtextextended((ROW(${sql.join(forms)}))::text, ${ROW_ID_SEED})`;
}

/**
 * The row id of a source row by its key parts (docs/dvm-design.md §2, "Integer keys"): a key of
 * one integer column (`smallint`, `integer`, `bigint`, `oid`, as `format_type` prints them — a
 * domain over one keeps the formula) is its own id, as a `bigint`; any other key, and a keyless
 * source's columns, take {@link rowIdExpr}. Such a key is unique and NOT NULL, so its values are
 * unique ids without a hash: a scan of it computes none per row (a join over such scans hashes
 * only the pair of its sides' ids). Ids need only be unique among the rows of one operator's
 * output, and every operator that combines ids hashes them with others ({@link rowIdExpr}).
 */
export function keyRowIdExpr(parts: readonly IdPart[], keyed: boolean): string {
  const only = parts.length === 1 ? parts[0] : undefined;
  if (keyed && only?.type !== undefined) {
    const { name, array } = bareType(only.type);
    if (!array && INTEGERS.has(name) && only.type.trim().toLowerCase() === name)
      return sql`(${only.expr})::bigint`;
  }
  return rowIdExpr(parts);
}

/** Every row-id expression in generated SQL, in order of appearance (for tests and tooling). */
export function findRowIdExprs(sql: string): string[] {
  const head = 'pg_catalog.hashtextextended(';
  const found: string[] = [];
  for (let start = sql.indexOf(head); start >= 0; start = sql.indexOf(head, start + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = start + head.length - 1; i < sql.length; i++) {
      const ch = sql[i];
      if (inString) {
        if (ch === "'") inString = false;
        continue;
      }
      if (ch === "'") inString = true;
      else if (ch === '(') depth++;
      else if (ch === ')' && --depth === 0) {
        found.push(sql.slice(start, i + 1));
        break;
      }
    }
  }
  return found;
}

/**
 * The image of a row of `columns` over alias `alias` (`record_send(ROW(a."c1", …))`, a `bytea`):
 * NULL-safe, for any column type with a binary send function; two rows with the same image hold
 * the same values in the same representation (1.0 and 1.00 differ, as 'Red' and 'red' do), and
 * the image does not depend on session settings. Both sides of a comparison must have the same
 * column types (the image records them).
 */
export function rowText(alias: string, columns: readonly string[]): string {
  if (columns.length === 0) return `'\\x'::bytea`;
  return sql`pg_catalog.record_send(ROW(${sql.join(columns.map((c) => sql`${alias}.${sql.id(c)}`))}))`;
}

/**
 * The image of a row whose `json` columns are read as `jsonb` (see {@link rowText}): rows that a
 * change buffer returns with re-printed json (key order, whitespace) keep the image of the row
 * they came from; every other value keeps its exact representation.
 */
export function jsonNormalImage(
  alias: string,
  columns: readonly { readonly name: string; readonly type: string }[],
): string {
  if (columns.length === 0) return `'\\x'::bytea`;
  const parts = columns.map((c) => {
    const col = sql`${alias}.${sql.id(c.name)}`;
    const { name, array } = bareType(c.type);
    return name === 'json' ? sql`(${col})::jsonb${array ? '[]' : ''}` : col;
  });
  return sql`pg_catalog.record_send(ROW(${sql.join(parts)}))`;
}
