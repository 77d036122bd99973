/**
 * Checking the demo's stream tables against their defining queries. Rules:
 * - a stream table is compared only once it has caught up: no source change it has not applied
 *   (the catalog's pending-sources check reports nothing for it) while the writer is paused — otherwise
 *   "different" would only mean "not refreshed yet";
 * - the comparison is of multisets (`EXCEPT ALL` both ways) over the table's visible columns,
 *   every table in one REPEATABLE READ snapshot.
 */
import { progressOf } from '@pgtrickle/client';
import { quoteIdent as ident } from '@pgtrickle/dvm';
import type pg from 'pg';
import { DEMO_SCHEMA, type DemoTable } from './shop.js';

/** The result of comparing one table. */
export interface TableCheck {
  readonly name: string;
  /** Rows the query produces that the table lacks. */
  readonly missing: number;
  /** Rows the table has that the query does not produce. */
  readonly extra: number;
  readonly equal: boolean;
}

/** Compares every table of `tables` with its query in one snapshot. */
export async function compareTables(pool: pg.Pool, tables: readonly DemoTable[]): Promise<TableCheck[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const out: TableCheck[] = [];
    for (const t of tables) {
      const cols = await client.query<{ attname: string }>(
        `SELECT a.attname FROM pg_catalog.pg_attribute a
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attname NOT LIKE '\\_\\_pgt\\_%'
          ORDER BY a.attnum`,
        [`${ident(DEMO_SCHEMA)}.${ident(t.name)}`],
      );
      const list = cols.rows.map((c) => ident(c.attname)).join(', ');
      const table = `${ident(DEMO_SCHEMA)}.${ident(t.name)}`;
      const res = await client.query<{ missing: string; extra: string }>(
        `SELECT (SELECT count(*) FROM (SELECT ${list} FROM (${t.query}) q EXCEPT ALL SELECT ${list} FROM ${table}) m) AS missing,
                (SELECT count(*) FROM (SELECT ${list} FROM ${table} EXCEPT ALL SELECT ${list} FROM (${t.query}) q) e) AS extra`,
      );
      const missing = Number(res.rows[0]?.missing ?? 0);
      const extra = Number(res.rows[0]?.extra ?? 0);
      out.push({ name: t.name, missing, extra, equal: missing === 0 && extra === 0 && cols.rows.length > 0 });
    }
    await client.query('COMMIT');
    return out;
  } finally {
    client.release();
  }
}

/** Names of the demo's stream tables that still have source changes to apply (or are not ACTIVE). */
export async function behind(pool: pg.Pool): Promise<string[]> {
  const tables = await progressOf(pool, DEMO_SCHEMA);
  return tables
    .filter((t) => t.status !== 'ACTIVE' || t.pending)
    .map((t) => t.name)
    .sort();
}

/** Waits until no demo table is behind; resolves with how long it took, or null on timeout. */
export async function waitCaughtUp(pool: pg.Pool, timeoutMs: number, pollMs = 50): Promise<number | null> {
  const started = performance.now();
  for (;;) {
    if ((await behind(pool)).length === 0) return performance.now() - started;
    if (performance.now() - started > timeoutMs) return null;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
