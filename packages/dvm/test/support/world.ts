/**
 * Test support for the property test: a small "world" of source tables per schema — `a` and `b`
 * keyed (primary key `id`), `c` keyless (duplicates are separate rows) — fast-check arbitraries
 * of their rows and of DML on them (NULLs, duplicates, key-changing updates, upserts, rows
 * inserted and deleted before a refresh, bulk statements, statements writing two tables, statements
 * grouped in one transaction),
 * and the SQL each change runs.
 */
import type { TestDatabase } from '@pgtrickle/testkit';
import fc from 'fast-check';
import { inTransaction } from './maintained.js';

/** A source table of the world. */
export type WorldTable = 'a' | 'b' | 'c';

/** A row of `a`: `(id int PRIMARY KEY, k int, v int, s text, arr int[])`. */
export interface RowA {
  readonly id: number;
  readonly k: number | null;
  readonly v: number | null;
  readonly s: string | null;
  readonly arr: readonly (number | null)[] | null;
}

/** A row of `b`: `(id int PRIMARY KEY, k int, w int)` (also the edges k → w of the recursive queries). */
export interface RowB {
  readonly id: number;
  readonly k: number | null;
  readonly w: number | null;
}

/** A row of `c`: `(k int, v int, t text, n numeric)`, no key; `n` as written (`1.0` and `1.00` are equal). */
export interface RowC {
  readonly k: number | null;
  readonly v: number | null;
  readonly t: string | null;
  readonly n: string | null;
}

/** One change to the world (rendered to SQL by {@link changeSql}). */
export type Change =
  | { readonly kind: 'upsertA'; readonly row: RowA }
  | { readonly kind: 'setA'; readonly id: number; readonly v: number | null; readonly s: string | null }
  | { readonly kind: 'moveA'; readonly id: number; readonly k: number | null }
  | { readonly kind: 'arrA'; readonly id: number; readonly arr: readonly (number | null)[] | null }
  | { readonly kind: 'rekeyA'; readonly id: number; readonly to: number }
  | { readonly kind: 'deleteA'; readonly id: number }
  | { readonly kind: 'flashA'; readonly row: RowA }
  | { readonly kind: 'bulkA'; readonly k: number | null; readonly dv: number }
  | { readonly kind: 'bulkDeleteA'; readonly v: number | null }
  | { readonly kind: 'bulkInsertA'; readonly n: number; readonly k: number | null }
  | { readonly kind: 'upsertB'; readonly row: RowB }
  | { readonly kind: 'setB'; readonly id: number; readonly k: number | null; readonly w: number | null }
  | { readonly kind: 'rekeyB'; readonly id: number; readonly to: number }
  | { readonly kind: 'deleteB'; readonly id: number }
  | { readonly kind: 'flashB'; readonly row: RowB }
  | { readonly kind: 'bulkB'; readonly w: number | null; readonly dk: number }
  | { readonly kind: 'insertC'; readonly row: RowC; readonly copies: number }
  | { readonly kind: 'deleteOneC'; readonly k: number | null }
  | { readonly kind: 'deleteAllC'; readonly k: number | null; readonly v: number | null }
  | {
      readonly kind: 'updateC';
      readonly k: number | null;
      readonly v: number | null;
      readonly n: string | null;
      readonly limit: number;
    }
  | { readonly kind: 'flashC'; readonly row: RowC }
  | { readonly kind: 'bulkInsertC'; readonly n: number; readonly v: number | null }
  // one statement writing two sources (writable CTEs), or writing one from another (UPDATE … FROM)
  | { readonly kind: 'shiftAC'; readonly v: number | null }
  | { readonly kind: 'bumpAB'; readonly k: number | null }
  | { readonly kind: 'fromBC'; readonly id: number };

/**
 * How a batch's statements run: one at a time (`statements`), in one transaction
 * (`transaction`), in the refresh's own transaction, before the refresh (`refreshInside`: the
 * refresh sees its own uncommitted writes), or in a transaction that stays open across the
 * refresh and commits after it (`heldOpen`: the refresh must not see it, the next one must).
 */
export type BatchMode = 'statements' | 'transaction' | 'refreshInside' | 'heldOpen';

/** A batch of changes, then a refresh. */
export interface Batch {
  readonly changes: readonly Change[];
  readonly mode: BatchMode;
}

/** A generated history: initial rows, then batches (a refresh and the checks after each). */
export interface History {
  readonly a: readonly RowA[];
  readonly b: readonly RowB[];
  readonly c: readonly RowC[];
  readonly batches: readonly Batch[];
}

const nullable = <T>(arb: fc.Arbitrary<T>, freq = 5): fc.Arbitrary<T | null> =>
  fc.option(arb, { nil: null, freq });
/** Join / group keys: few values, so that rows collide. */
const key = nullable(fc.integer({ min: 0, max: 3 }));
const val = nullable(fc.integer({ min: 0, max: 4 }));
/** Text values, with the empty string (not NULL) and characters the row text form must quote. */
const text = nullable(fc.constantFrom('p', 'q', 'x', '', 'a,b', '("x")', ' '));
const arr = nullable(fc.array(nullable(fc.integer({ min: 0, max: 3 }), 6), { maxLength: 3 }), 4);
/** Ids of ordinary rows; rekeys move to 21..40, flashes use 41..45, bulk inserts 50+. */
const id = fc.integer({ min: 1, max: 20 });

const rowA = (ids: fc.Arbitrary<number>): fc.Arbitrary<RowA> =>
  fc.record({ id: ids, k: key, v: val, s: text, arr });
const rowB = (ids: fc.Arbitrary<number>): fc.Arbitrary<RowB> => fc.record({ id: ids, k: key, w: val });
/** Numerics equal in value with different display scales, and a negative one. */
const num = nullable(fc.constantFrom('1', '1.0', '1.00', '2.5', '-0.25'));
const rowC: fc.Arbitrary<RowC> = fc.record({ k: key, v: val, t: text, n: num });
const flashId = fc.integer({ min: 41, max: 45 });
const rekeyTo = fc.integer({ min: 21, max: 40 });

const changesOf: Record<WorldTable, fc.Arbitrary<Change>[]> = {
  a: [
    fc.record({ kind: fc.constant('upsertA' as const), row: rowA(id) }),
    fc.record({ kind: fc.constant('setA' as const), id, v: val, s: text }),
    fc.record({ kind: fc.constant('moveA' as const), id, k: key }),
    fc.record({ kind: fc.constant('arrA' as const), id, arr }),
    fc.record({ kind: fc.constant('rekeyA' as const), id, to: rekeyTo }),
    fc.record({ kind: fc.constant('deleteA' as const), id }),
    fc.record({ kind: fc.constant('flashA' as const), row: rowA(flashId) }),
    fc.record({ kind: fc.constant('bulkA' as const), k: key, dv: fc.integer({ min: -2, max: 2 }) }),
    fc.record({ kind: fc.constant('bulkDeleteA' as const), v: val }),
    fc.record({ kind: fc.constant('bulkInsertA' as const), n: fc.integer({ min: 1, max: 6 }), k: key }),
  ],
  b: [
    fc.record({ kind: fc.constant('upsertB' as const), row: rowB(id) }),
    fc.record({ kind: fc.constant('setB' as const), id, k: key, w: val }),
    fc.record({ kind: fc.constant('rekeyB' as const), id, to: rekeyTo }),
    fc.record({ kind: fc.constant('deleteB' as const), id }),
    fc.record({ kind: fc.constant('flashB' as const), row: rowB(flashId) }),
    fc.record({ kind: fc.constant('bulkB' as const), w: val, dk: fc.integer({ min: -1, max: 1 }) }),
  ],
  c: [
    fc.record({ kind: fc.constant('insertC' as const), row: rowC, copies: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('deleteOneC' as const), k: key }),
    fc.record({ kind: fc.constant('deleteAllC' as const), k: key, v: val }),
    fc.record({
      kind: fc.constant('updateC' as const),
      k: key,
      v: val,
      n: num,
      limit: fc.integer({ min: 1, max: 4 }),
    }),
    fc.record({ kind: fc.constant('flashC' as const), row: rowC }),
    fc.record({ kind: fc.constant('bulkInsertC' as const), n: fc.integer({ min: 1, max: 6 }), v: val }),
  ],
};

/** Changes of statements that read or write two tables, offered when a query reads both. */
const crossChanges: readonly { tables: readonly [WorldTable, WorldTable]; change: fc.Arbitrary<Change> }[] = [
  { tables: ['a', 'c'], change: fc.record({ kind: fc.constant('shiftAC' as const), v: val }) },
  { tables: ['a', 'b'], change: fc.record({ kind: fc.constant('bumpAB' as const), k: key }) },
  { tables: ['b', 'c'], change: fc.record({ kind: fc.constant('fromBC' as const), id }) },
];

/** Sizes of generated histories. */
export interface HistorySizes {
  /** Most batches (refreshes) per history. */
  readonly maxBatches: number;
  /** Most changes per batch. */
  readonly maxChanges: number;
  /** How many initial rows up to the 12 allowed (fast-check's size; default its base size, mostly few). */
  readonly rows?: fc.SizeForArbitrary;
}

/** Histories over the tables a query reads (changes only to those). */
export function historyArb(tables: readonly WorldTable[], sizes: HistorySizes): fc.Arbitrary<History> {
  const has = (t: WorldTable) => tables.includes(t);
  const cross = crossChanges.filter((x) => x.tables.every(has)).map((x) => x.change);
  const change = fc.oneof(...tables.flatMap((t) => changesOf[t]), ...cross);
  const rows = sizes.rows === undefined ? {} : { size: sizes.rows };
  const uniqueById = <T extends { id: number }>(arb: fc.Arbitrary<T>) =>
    fc.uniqueArray(arb, { selector: (r) => r.id, maxLength: 12, ...rows });
  return fc.record({
    a: has('a') ? uniqueById(rowA(id)) : fc.constant([]),
    b: has('b') ? uniqueById(rowB(id)) : fc.constant([]),
    c: has('c')
      ? fc.array(rowC, { maxLength: 12, ...rows }).map((cs) => [...cs, ...cs.slice(0, 3)])
      : fc.constant([]),
    batches: fc.array(
      fc.record({
        changes: fc.array(change, { minLength: 1, maxLength: sizes.maxChanges }),
        mode: fc.constantFrom<BatchMode>('statements', 'transaction', 'refreshInside', 'heldOpen'),
      }),
      { minLength: 1, maxLength: sizes.maxBatches },
    ),
  });
}

function lit(v: number | string | null): string {
  if (v === null) return 'NULL';
  return typeof v === 'number' ? String(v) : `'${v.replaceAll("'", "''")}'`;
}

function numLit(v: string | null): string {
  return v === null ? 'NULL::numeric' : `${v}::numeric`;
}

function rowCLit(r: RowC, t: string | null = r.t): string {
  return `(${lit(r.k)}, ${lit(r.v)}, ${lit(t)}, ${numLit(r.n)})`;
}

function arrLit(a: readonly (number | null)[] | null): string {
  return a === null ? 'NULL::int[]' : `ARRAY[${a.map(lit).join(', ')}]::int[]`;
}

/** `= x`, NULL-safe. */
function is(v: number | string | null): string {
  return v === null ? 'IS NULL' : `= ${lit(v)}`;
}

/** Schema variants of the world. */
export interface WorldShape {
  /** `b` without a primary key: its rows are identified by content, duplicates count. */
  readonly bKeyless?: boolean;
}

/** The DDL of the world in schema `s`. */
export function worldDdl(s: string, shape: WorldShape = {}): string {
  return `CREATE SCHEMA ${s};
    CREATE TABLE ${s}.a (id int PRIMARY KEY, k int, v int, s text, arr int[]);
    CREATE TABLE ${s}.b (id int${shape.bKeyless === true ? '' : ' PRIMARY KEY'}, k int, w int);
    CREATE TABLE ${s}.c (k int, v int, t text, n numeric);
    CREATE INDEX ON ${s}.a (k);
    CREATE INDEX ON ${s}.b (k);
    CREATE INDEX ON ${s}.c (k);`;
}

/** Statements replacing the world's contents with the history's initial rows. */
export function resetSql(s: string, h: History): string[] {
  const out = [`TRUNCATE ${s}.a, ${s}.b, ${s}.c`];
  const a = h.a.map((r) => `(${r.id}, ${lit(r.k)}, ${lit(r.v)}, ${lit(r.s)}, ${arrLit(r.arr)})`);
  const b = h.b.map((r) => `(${r.id}, ${lit(r.k)}, ${lit(r.w)})`);
  const c = h.c.map((r) => rowCLit(r));
  if (a.length > 0) out.push(`INSERT INTO ${s}.a VALUES ${a.join(', ')}`);
  if (b.length > 0) out.push(`INSERT INTO ${s}.b VALUES ${b.join(', ')}`);
  if (c.length > 0) out.push(`INSERT INTO ${s}.c VALUES ${c.join(', ')}`);
  return out;
}

/** The statements of one change in schema `s`. */
export function changeSql(s: string, c: Change, shape: WorldShape = {}): string[] {
  const a = `${s}.a`;
  const b = `${s}.b`;
  const t = `${s}.c`;
  switch (c.kind) {
    case 'upsertA': {
      const r = c.row;
      return [
        `INSERT INTO ${a} VALUES (${r.id}, ${lit(r.k)}, ${lit(r.v)}, ${lit(r.s)}, ${arrLit(r.arr)}) ON CONFLICT (id) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v, s = EXCLUDED.s, arr = EXCLUDED.arr`,
      ];
    }
    case 'setA':
      return [`UPDATE ${a} SET v = ${lit(c.v)}, s = ${lit(c.s)} WHERE id = ${c.id}`];
    case 'moveA':
      return [`UPDATE ${a} SET k = ${lit(c.k)} WHERE id = ${c.id}`];
    case 'arrA':
      return [`UPDATE ${a} SET arr = ${arrLit(c.arr)} WHERE id = ${c.id}`];
    case 'rekeyA':
      return [
        `UPDATE ${a} SET id = ${c.to} WHERE id = ${c.id} AND NOT EXISTS (SELECT 1 FROM ${a} WHERE id = ${c.to})`,
      ];
    case 'deleteA':
      return [`DELETE FROM ${a} WHERE id = ${c.id}`];
    case 'flashA': {
      const r = c.row;
      return [
        `INSERT INTO ${a} VALUES (${r.id}, ${lit(r.k)}, ${lit(r.v)}, ${lit(r.s)}, ${arrLit(r.arr)}) ON CONFLICT (id) DO NOTHING`,
        `UPDATE ${a} SET v = coalesce(v, 0) + 1 WHERE id = ${r.id}`,
        `DELETE FROM ${a} WHERE id = ${r.id}`,
      ];
    }
    case 'bulkA':
      return [
        `UPDATE ${a} SET v = v + ${c.dv}, k = CASE WHEN v % 2 = 0 THEN k ELSE v % 4 END WHERE k ${is(c.k)}`,
      ];
    case 'bulkDeleteA':
      return [`DELETE FROM ${a} WHERE v ${is(c.v)}`];
    case 'bulkInsertA':
      return [
        `INSERT INTO ${a} SELECT 50 + g, ${lit(c.k)}, g % 5, CASE WHEN g % 3 = 0 THEN NULL ELSE 'p' END, ARRAY[g % 4, g % 3]
           FROM generate_series(1, ${c.n}) AS g ON CONFLICT (id) DO UPDATE SET v = ${a}.v + 1`,
      ];
    case 'upsertB': {
      const r = c.row;
      const row = `(${r.id}, ${lit(r.k)}, ${lit(r.w)})`;
      // Keyless b: a plain insert (an id can then occur twice: a duplicate row).
      if (shape.bKeyless === true) return [`INSERT INTO ${b} VALUES ${row}`];
      return [`INSERT INTO ${b} VALUES ${row} ON CONFLICT (id) DO UPDATE SET k = EXCLUDED.k, w = EXCLUDED.w`];
    }
    case 'setB':
      return [`UPDATE ${b} SET k = ${lit(c.k)}, w = ${lit(c.w)} WHERE id = ${c.id}`];
    case 'rekeyB':
      return [
        `UPDATE ${b} SET id = ${c.to} WHERE id = ${c.id} AND NOT EXISTS (SELECT 1 FROM ${b} WHERE id = ${c.to})`,
      ];
    case 'deleteB':
      return [`DELETE FROM ${b} WHERE id = ${c.id}`];
    case 'flashB': {
      const r = c.row;
      return [
        `INSERT INTO ${b} VALUES (${r.id}, ${lit(r.k)}, ${lit(r.w)})${shape.bKeyless === true ? '' : ' ON CONFLICT (id) DO NOTHING'}`,
        `DELETE FROM ${b} WHERE id = ${r.id}`,
      ];
    }
    case 'bulkB':
      return [`UPDATE ${b} SET k = (k + ${c.dk} + 4) % 4 WHERE w ${is(c.w)}`];
    case 'insertC': {
      const r = rowCLit(c.row);
      return [`INSERT INTO ${t} VALUES ${Array.from({ length: c.copies }, () => r).join(', ')}`];
    }
    case 'deleteOneC':
      return [`DELETE FROM ${t} WHERE ctid = (SELECT min(ctid) FROM ${t} WHERE k ${is(c.k)})`];
    case 'deleteAllC':
      return [`DELETE FROM ${t} WHERE k ${is(c.k)} AND v ${is(c.v)}`];
    case 'updateC':
      return [
        `UPDATE ${t} SET v = ${lit(c.v)}, n = ${numLit(c.n)}, t = CASE WHEN t = 'p' THEN 'q' ELSE t END WHERE ctid IN (SELECT ctid FROM ${t} WHERE k ${is(c.k)} LIMIT ${c.limit})`,
      ];
    case 'flashC': {
      const r = rowCLit(c.row, 'flash');
      return [`INSERT INTO ${t} VALUES ${r}, ${r}`, `DELETE FROM ${t} WHERE t = 'flash'`];
    }
    case 'bulkInsertC':
      return [
        `INSERT INTO ${t} SELECT CASE WHEN g % 4 = 0 THEN NULL ELSE g % 3 END, ${lit(c.v)}, 'q', g / 2.0 FROM generate_series(1, ${c.n}) AS g`,
      ];
    case 'shiftAC':
      return [
        `WITH d AS (DELETE FROM ${a} WHERE v ${is(c.v)} RETURNING k, v, s) INSERT INTO ${t} SELECT d.k, d.v, d.s, 1.5 FROM d`,
      ];
    case 'bumpAB':
      return [
        `WITH u AS (UPDATE ${a} SET v = coalesce(v, 0) + 1 WHERE k ${is(c.k)} RETURNING k) UPDATE ${b} SET w = coalesce(w, 0) + 1 WHERE k IN (SELECT u.k FROM u)`,
      ];
    case 'fromBC':
      return [`UPDATE ${t} SET v = x.w FROM ${b} AS x WHERE x.k = ${t}.k AND x.id = ${c.id}`];
  }
}

/** The statements of a batch in schema `s`. */
export function batchSql(s: string, batch: Batch, shape: WorldShape = {}): string[] {
  return batch.changes.flatMap((c) => changeSql(s, c, shape));
}

/** Applies a `statements` or `transaction` batch. */
export async function applyBatch(
  db: TestDatabase,
  s: string,
  batch: Batch,
  shape: WorldShape = {},
): Promise<void> {
  const statements = batchSql(s, batch, shape);
  if (batch.mode === 'transaction') await inTransaction(db, statements);
  else for (const sql of statements) await db.query(sql);
}
