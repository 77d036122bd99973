/**
 * Change capture write cost: the same statements against a table without capture, with typed
 * capture, and with text capture (the format used where the DDL event trigger cannot be created).
 * Cases: a 20,000-row INSERT, UPDATE and DELETE statement, and a one-row INSERT in its own
 * transaction (commit included). The capture overhead of a format is its time ÷ the time without
 * capture for the same case. Only the statement is timed; resetting the table and emptying the
 * buffer between calls is not.
 */
import { type BenchCase, defineSuite } from '../../../bench/harness.js';
import { captureSyncCall, captureSyncDdl, changesSchemaDdl, sourceDdlEventTriggerDdl } from '../src/index.js';
import { type BenchDatabase, startBenchDatabase } from './support.js';

const ROWS = 20_000;
const VARIANTS = ['none', 'typed', 'text'] as const;
type Variant = (typeof VARIANTS)[number];

let db: BenchDatabase | null = null;
const buffers = new Map<Variant, string>();

function pool() {
  if (db === null) throw new Error('the suite setup did not run');
  return db.pool;
}

const table = (v: Variant) => `cap_${v}`;

/** Refills the table with ROWS rows and empties its buffer (not timed). */
async function reset(v: Variant, filled: boolean): Promise<void> {
  await pool().query(`TRUNCATE ${table(v)}`);
  if (filled) {
    await pool().query(
      `INSERT INTO ${table(v)} SELECT g, g % 100, (g * 1.5)::numeric(12,2), 'row ' || g, now() FROM generate_series(1, ${ROWS}) g`,
    );
  }
  const buffer = buffers.get(v);
  if (buffer !== undefined) await pool().query(`TRUNCATE ${buffer}`);
}

async function timed(statement: string): Promise<{ overriddenDuration: number }> {
  const start = performance.now();
  await pool().query(statement);
  return { overriddenDuration: performance.now() - start };
}

export default defineSuite({
  name: 'capture',
  timeMs: 1000,
  iterations: 5,
  async setup() {
    db = await startBenchDatabase();
    for (const sql of [...changesSchemaDdl(), ...captureSyncDdl(), ...sourceDdlEventTriggerDdl()])
      await pool().query(sql);
    for (const v of VARIANTS) {
      await pool().query(
        `CREATE TABLE ${table(v)} (id int PRIMARY KEY, g int NOT NULL, amount numeric(12,2), note text, at timestamptz)`,
      );
      if (v === 'none') continue;
      const oid = Number((await pool().query(`SELECT '${table(v)}'::regclass::oid::int AS o`)).rows[0]?.o);
      await pool().query(captureSyncCall(oid, v));
      buffers.set(v, `pgtrickle_changes.changes_${oid}`);
    }
  },
  async teardown() {
    await db?.stop();
    db = null;
  },
  cases: () =>
    VARIANTS.flatMap((v): BenchCase[] => [
      {
        name: `INSERT ${ROWS} rows, capture ${v}`,
        unit: 'rows',
        opsPerCall: ROWS,
        fn: async () => {
          await reset(v, false);
          return timed(
            `INSERT INTO ${table(v)} SELECT g, g % 100, (g * 1.5)::numeric(12,2), 'row ' || g, now() FROM generate_series(1, ${ROWS}) g`,
          );
        },
      },
      {
        name: `UPDATE ${ROWS} rows, capture ${v}`,
        unit: 'rows',
        opsPerCall: ROWS,
        fn: async () => {
          await reset(v, true);
          return timed(`UPDATE ${table(v)} SET amount = amount + 1`);
        },
      },
      {
        name: `DELETE ${ROWS} rows, capture ${v}`,
        unit: 'rows',
        opsPerCall: ROWS,
        fn: async () => {
          await reset(v, true);
          return timed(`DELETE FROM ${table(v)}`);
        },
      },
      {
        name: `one-row INSERT + commit, capture ${v}`,
        unit: 'commits',
        fn: async () => {
          const id = Math.floor(Math.random() * 1e9);
          return timed(`INSERT INTO ${table(v)} VALUES (${id}, 1, 1.5, 'one', now())`);
        },
      },
    ]),
});
