/**
 * Row identity (docs/dvm-design.md §2): one formula everywhere —
 * `hashtextextended(ROW(<id parts>)::text, 0)` — under pinned session settings.
 */
import { sql } from '../sql/sql.js';

/**
 * Session settings every statement that computes row ids runs with (`SET LOCAL` in a refresh
 * transaction; function `SET` clauses in IMMEDIATE triggers). They fix the text form of values.
 */
export const ROW_ID_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  TimeZone: 'UTC',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
  bytea_output: 'hex',
});

/** `SET LOCAL` statements for {@link ROW_ID_SETTINGS}, in a fixed order. */
export function rowIdSettingsSql(): string[] {
  return Object.entries(ROW_ID_SETTINGS).map(
    ([name, value]) => sql`SET LOCAL ${sql.raw(name)} = ${sql.lit(value)}`,
  );
}

/**
 * The row id of a row whose id parts are the given SQL expressions. Zero parts (an aggregate
 * without GROUP BY) give the constant id of `ROW()`.
 */
export function rowIdExpr(parts: readonly string[]): string {
  return sql`pg_catalog.hashtextextended((ROW(${sql.join(parts)}))::text, 0)`;
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
 * The text form of a row of `columns` over alias `alias` (`(ROW(a."c1", …))::text`): NULL-safe,
 * for any column type; two rows with the same text hold the same values.
 */
export function rowText(alias: string, columns: readonly string[]): string {
  if (columns.length === 0) return `''`;
  return sql`(ROW(${sql.join(columns.map((c) => sql`${alias}.${sql.id(c)}`))}))::text`;
}
