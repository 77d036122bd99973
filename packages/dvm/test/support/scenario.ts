/**
 * Test support: the scenario runners every operator test uses — "create the stream tables, apply
 * steps of DML, refresh, check with the oracle, compare with a FULL refresh / a fresh population"
 * and the IMMEDIATE-style transition steps — written once, with each extra check an option, so a
 * test asks for exactly the checks it makes.
 *
 * - {@link verifiedRefresh}: one DIFFERENTIAL refresh and the oracle, plus the {@link StepChecks}
 *   asked for (the action was differential, text-exact rows, storage = population, a FULL refresh
 *   agreeing).
 * - {@link expectFullRefreshAgrees}: a FULL refresh and the oracle, plus the {@link FullAgreement}
 *   asked for (the same stored rows as before it — row ids and hidden columns included — as text
 *   or as JSON, the action FULL, storage = population).
 * - {@link runSteps}: steps over stream tables already maintained, each step followed by a
 *   verified refresh of every table (in order); optionally a check first and FULL refreshes last.
 * - {@link scenario} / {@link scenarios}: creates the stream tables (checking each), optionally a
 *   FULL-mode twin of each, then {@link runSteps}. Presets: {@link MULTISET_SCENARIO} (also as
 *   {@link multisetScenario}), {@link AGGREGATE_SCENARIO}.
 * - {@link applyTransition} / {@link immediateScenarios}: a statement's transition-table delta
 *   applied in the statement's transaction, the way an IMMEDIATE trigger does, then the oracle.
 *
 * A step's failure is rethrown naming the stream table, its query and the step.
 */
import type { RefreshResult } from '@pgtrickle/dvm';
import type { TestDatabase } from '@pgtrickle/testkit';
import { expect } from 'vitest';
import { type Maintained, type MaintainOptions, maintain, withTransaction } from './maintained.js';

/** Fails unless `st`'s storage (every column: row ids, hidden counts) equals its population query as multisets. */
export async function expectStateMatchesPopulation(st: Maintained): Promise<void> {
  const pop = st.plan.populationSelect();
  const res = await withTransaction(st.db, async (client) => {
    return client.query(
      `SELECT (SELECT pg_catalog.json_agg(x) FROM (SELECT * FROM ${st.relation} EXCEPT ALL (${pop})) AS x) AS extra,
              (SELECT pg_catalog.json_agg(x) FROM ((${pop}) EXCEPT ALL SELECT * FROM ${st.relation}) AS x) AS missing`,
    );
  });
  const row = res.rows[0] as { extra: unknown; missing: unknown };
  expect({ table: st.name, extra: row.extra, missing: row.missing }).toEqual({
    table: st.name,
    extra: null,
    missing: null,
  });
}

/**
 * The stricter oracle: the table's rows print exactly like the query's (the text forms of
 * `columns`, default every visible column, as multisets), so e.g. numeric display scales must
 * match too.
 */
export async function expectSameText(
  st: Maintained,
  columns: readonly string[] = st.plan.columns.map((c) => c.name),
): Promise<void> {
  const cols = columns.map((c) => `"${c}"`).join(', ');
  const diff = await st.db.query(
    `SELECT 'table' AS side, (ROW(${cols}))::text AS r FROM ${st.relation} EXCEPT ALL SELECT 'table', (ROW(${cols}))::text FROM (${st.plan.query}) AS q
     UNION ALL
     SELECT 'query', (ROW(${cols}))::text FROM (${st.plan.query}) AS q EXCEPT ALL SELECT 'query', (ROW(${cols}))::text FROM ${st.relation}`,
  );
  expect(diff.rows).toEqual([]);
}

/** How {@link expectFullRefreshAgrees} compares a FULL refresh with the state it replaces (the oracle always). */
export interface FullAgreement {
  /**
   * The stored rows (every column, row ids included) must be the same before and after: as
   * their text forms `(s.*)::text` sorted by PostgreSQL (`'text'`), or as the rows the driver
   * returns, JSON-encoded and sorted (`'json'`). Absent: not compared.
   */
  readonly sameRows?: 'text' | 'json';
  /** The refresh must report the action FULL. */
  readonly expectFullAction?: boolean;
  /** The storage must equal a fresh population afterwards ({@link expectStateMatchesPopulation}). */
  readonly population?: boolean;
}

/** The stored rows of `st` in the form `how` (see {@link FullAgreement.sameRows}). */
async function storedRows(st: Maintained, how: 'text' | 'json'): Promise<string[]> {
  if (how === 'text') {
    const r = await st.db.query<{ t: string }>(`SELECT (s.*)::text AS t FROM ${st.relation} AS s ORDER BY 1`);
    return r.rows.map((x) => x.t);
  }
  return (await st.db.query(`SELECT * FROM ${st.relation}`)).rows.map((r) => JSON.stringify(r)).sort();
}

/** A FULL refresh of `st` and the oracle, with the comparisons of `how`; later refreshes continue from its state. */
export async function expectFullRefreshAgrees(st: Maintained, how: FullAgreement = {}): Promise<void> {
  const before = how.sameRows === undefined ? null : await storedRows(st, how.sameRows);
  const r = await st.refresh('FULL');
  if (how.expectFullAction === true) expect(r.action).toBe('FULL');
  await st.check();
  if (how.population === true) await expectStateMatchesPopulation(st);
  if (before !== null && how.sameRows !== undefined)
    expect(await storedRows(st, how.sameRows)).toEqual(before);
}

/** What {@link verifiedRefresh} checks after a DIFFERENTIAL refresh besides the oracle (nothing unless asked). */
export interface StepChecks {
  /** The refresh was differential: its action is DIFFERENTIAL or NO_DATA (no fallback to FULL). */
  readonly differential?: boolean;
  /** The text-exact oracle ({@link expectSameText}) over these columns, or over every visible column (`true`). */
  readonly exactText?: readonly string[] | boolean;
  /**
   * The storage equals a fresh population ({@link expectStateMatchesPopulation}); in
   * {@link runSteps} and {@link scenario} after every check of the table (first, half-way, last).
   */
  readonly population?: boolean;
  /** Then a FULL refresh agrees with the differential state ({@link expectFullRefreshAgrees}). */
  readonly full?: FullAgreement;
}

/** A DIFFERENTIAL refresh of `st`, the oracle, then the checks of `checks` in the order they are listed. */
export async function verifiedRefresh(st: Maintained, checks: StepChecks = {}): Promise<RefreshResult> {
  const r = await st.refreshAndCheck();
  if (checks.differential === true) expect(['DIFFERENTIAL', 'NO_DATA']).toContain(r.action);
  if (checks.exactText !== undefined && checks.exactText !== false) {
    await expectSameText(st, checks.exactText === true ? undefined : checks.exactText);
  }
  if (checks.population === true) await expectStateMatchesPopulation(st);
  if (checks.full !== undefined) await expectFullRefreshAgrees(st, checks.full);
  return r;
}

/** One step: its statements, each run by itself on the pool (a string holding several statements runs them as one). */
export type Step = string | readonly string[];

/** The statements of a step. */
function statementsOf(step: Step): readonly string[] {
  return typeof step === 'string' ? [step] : step;
}

/** Options of {@link runSteps}: the checks after each step's refresh, and what comes before and after the steps. */
export interface RunOptions extends StepChecks {
  /** Check every table (oracle, and the population if asked for) before the first step. */
  readonly initialCheck?: boolean;
  /**
   * Before the middle step (index ⌊steps/2⌋): a FULL refresh of each table and its checks, so the
   * steps after it start from a population's state.
   */
  readonly fullHalfway?: boolean;
  /**
   * After the last step: a FULL refresh of each table ({@link expectFullRefreshAgrees} with these
   * comparisons, and the population if asked for), then, with `thenDifferential`, one more
   * DIFFERENTIAL refresh and the oracle. Absent: nothing after the last step.
   */
  readonly end?: FullAgreement & { readonly thenDifferential?: boolean };
}

/** A stream table of a run and its FULL-mode twin, if it has one. */
interface Entry {
  readonly st: Maintained;
  readonly twin: Maintained | null;
}

async function run(
  db: TestDatabase,
  entries: readonly Entry[],
  steps: readonly Step[],
  options: RunOptions,
): Promise<void> {
  const population = options.population === true;
  const full = async (agreement: FullAgreement): Promise<void> => {
    for (const { st } of entries) await expectFullRefreshAgrees(st, { ...agreement, population });
  };
  if (options.initialCheck === true) {
    for (const { st } of entries) {
      await st.check();
      if (population) await expectStateMatchesPopulation(st);
    }
  }
  for (const [i, step] of steps.entries()) {
    if (options.fullHalfway === true && i === Math.floor(steps.length / 2)) await full({});
    const statements = statementsOf(step);
    for (const sql of statements) await db.query(sql);
    for (const { st, twin } of entries) {
      try {
        await verifiedRefresh(st, options);
        if (twin !== null) {
          await twin.refresh('FULL');
          await twin.check();
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(
          `${st.name}: ${st.plan.query}\nafter step ${i + 1} «${statements.join('; ')}»: ${message}`,
          { cause: error },
        );
      }
    }
  }
  if (options.end !== undefined) {
    const { thenDifferential, ...agreement } = options.end;
    for (const { st } of entries) {
      await expectFullRefreshAgrees(st, { ...agreement, population });
      if (thenDifferential === true) await st.refreshAndCheck();
    }
  }
}

/** Runs `steps` over the stream tables `sts`: after each step, a {@link verifiedRefresh} of every table, in order. */
export async function runSteps(
  db: TestDatabase,
  sts: readonly Maintained[],
  steps: readonly Step[],
  options: RunOptions = {},
): Promise<void> {
  await run(
    db,
    sts.map((st) => ({ st, twin: null })),
    steps,
    options,
  );
}

/** Options of {@link scenario}: how the stream tables are created, then those of {@link runSteps} (the first check always runs). */
export interface ScenarioOptions extends Omit<RunOptions, 'initialCheck'> {
  /** SQL run before the stream tables are created (e.g. resetting shared tables). */
  readonly setup?: string;
  /** Options of {@link maintain} (mode, float rounding of the oracle). */
  readonly maintain?: MaintainOptions;
  /** Each plan must be DIFFERENTIAL (no fallback to FULL). */
  readonly expectDifferential?: boolean;
  /** Also maintain each query as a FULL-mode table `<name>_full`, refreshed FULL and checked after every step. */
  readonly fullTwin?: boolean;
}

/**
 * Creates a stream table per `[name, query]` (each checked right away: the oracle, and the
 * population if asked for), then runs `steps` over all of them ({@link runSteps}).
 */
export async function scenarios(
  db: TestDatabase,
  tables: readonly (readonly [name: string, query: string])[],
  steps: readonly Step[],
  options: ScenarioOptions = {},
): Promise<Maintained[]> {
  if (options.setup !== undefined) await db.query(options.setup);
  const entries: Entry[] = [];
  for (const [name, query] of tables) {
    const st = await maintain(db, name, query, options.maintain);
    if (options.expectDifferential === true) expect(st.plan.mode).toBe('DIFFERENTIAL');
    const twin =
      options.fullTwin === true ? await maintain(db, `${name}_full`, query, { mode: 'FULL' }) : null;
    await st.check();
    if (options.population === true) await expectStateMatchesPopulation(st);
    entries.push({ st, twin });
  }
  await run(db, entries, steps, options);
  return entries.map((e) => e.st);
}

/** {@link scenarios} of one query. */
export async function scenario(
  db: TestDatabase,
  name: string,
  query: string,
  steps: readonly Step[],
  options: ScenarioOptions = {},
): Promise<Maintained> {
  const [st] = await scenarios(db, [[name, query]], steps, options);
  return st as Maintained;
}

/**
 * The DISTINCT / set-operation scenario: the plan is DIFFERENTIAL, a FULL-mode twin is refreshed
 * and checked after every step, every refresh is really differential, the whole storage equals a
 * fresh population after every check, a FULL refresh half-way and one at the end.
 */
export const MULTISET_SCENARIO: ScenarioOptions = Object.freeze({
  expectDifferential: true,
  fullTwin: true,
  differential: true,
  population: true,
  fullHalfway: true,
  end: {},
});

/** {@link scenario} with {@link MULTISET_SCENARIO}. */
export function multisetScenario(
  db: TestDatabase,
  name: string,
  query: string,
  steps: readonly Step[],
): Promise<Maintained> {
  return scenario(db, name, query, steps, MULTISET_SCENARIO);
}

/**
 * The aggregate scenario: the plan is DIFFERENTIAL, the text-exact oracle after every step (over
 * every column unless narrowed), a FULL refresh at the end and a DIFFERENTIAL refresh after it.
 */
export const AGGREGATE_SCENARIO: ScenarioOptions = Object.freeze({
  expectDifferential: true,
  exactText: true,
  end: { thenDifferential: true },
});

/** After each step's DIFFERENTIAL refresh, a FULL refresh yields the same stored rows (compared as text; row ids and hidden columns included). */
export const FULL_AGREES_EACH_STEP: StepChecks = Object.freeze({ full: { sameRows: 'text' as const } });

/** After the last step, a FULL refresh of each table yields the same stored rows (compared as JSON; row ids included). */
export const FULL_AGREES_AT_END: RunOptions = Object.freeze({ end: { sameRows: 'json' as const } });

/** `[<prefix>_<i>, query]` for each query: the tables of {@link scenarios}. */
export function numbered(prefix: string, queries: readonly string[]): (readonly [string, string])[] {
  return queries.map((q, i) => [`${prefix}_${i}`, q] as const);
}

/** One statement on one table: an INSERT of `values`, a DELETE or an UPDATE of the rows `where`. */
export type TransitionStep =
  | { readonly insert: string; readonly values: string }
  | { readonly delete: string; readonly where: string }
  | { readonly update: string; readonly set: string; readonly where: string };

/** Options of {@link applyTransition}. */
export interface TransitionOptions {
  /** After the oracle, each table's storage must equal a fresh population too. */
  readonly population?: boolean;
  /**
   * Stream tables that do not read the statement's table get its (empty) delta applied too, as a
   * trigger on every table would; without this such a table is a mistake of the test (an error).
   */
  readonly includeNonReaders?: boolean;
}

/**
 * Runs `step` once and applies its transition-table delta (stand-ins for the statement's OLD /
 * NEW transition tables, every other source statically unchanged) to each of `sts`, consolidated
 * and applied in the same transaction; then the oracle on each. (The change buffers see these
 * writes too, so a table maintained this way is not refreshed DIFFERENTIAL afterwards.)
 */
export async function applyTransition(
  db: TestDatabase,
  sts: readonly Maintained[],
  step: TransitionStep,
  options: TransitionOptions = {},
): Promise<void> {
  const table = 'insert' in step ? step.insert : 'delete' in step ? step.delete : step.update;
  const oid = await db.query<{ oid: string }>('SELECT $1::regclass::oid::text AS oid', [table]);
  const key = oid.rows[0]?.oid as string;
  for (const st of sts) {
    if (options.includeNonReaders !== true && !st.plan.sources.some((s) => s.key === key)) {
      throw new Error(`${table} is not a source of ${st.name}`);
    }
  }
  await withTransaction(db, async (client) => {
    await client.query(`CREATE TEMP TABLE pgt_tt_old (LIKE ${table}) ON COMMIT DROP`);
    await client.query(`CREATE TEMP TABLE pgt_tt_new (LIKE ${table}) ON COMMIT DROP`);
    let oldTable: string | null = null;
    let newTable: string | null = null;
    if ('insert' in step) {
      await client.query(
        `WITH x AS (INSERT INTO ${table} VALUES ${step.values} RETURNING *) INSERT INTO pgt_tt_new SELECT * FROM x`,
      );
      newTable = 'pgt_tt_new';
    } else {
      await client.query(`INSERT INTO pgt_tt_old SELECT * FROM ${table} WHERE ${step.where}`);
      oldTable = 'pgt_tt_old';
      if ('delete' in step) {
        await client.query(`DELETE FROM ${table} WHERE ${step.where}`);
      } else {
        await client.query(
          `WITH x AS (UPDATE ${table} SET ${step.set} WHERE ${step.where} RETURNING *) INSERT INTO pgt_tt_new SELECT * FROM x`,
        );
        newTable = 'pgt_tt_new';
      }
    }
    for (const st of sts) {
      const apply = st.plan.immediateSql({ kind: 'transitionTable', source: key, oldTable, newTable });
      if (apply === null) throw new Error('no delta statement');
      await client.query(apply);
    }
  });
  for (const st of sts) {
    await st.check();
    if (options.population === true) await expectStateMatchesPopulation(st);
  }
}

/** Options of {@link immediateScenarios}. */
export interface ImmediateScenarioOptions extends TransitionOptions {
  /** SQL run before the stream tables are created (e.g. resetting shared tables). */
  readonly setup?: string;
  /** Check every table (the oracle) once all are created, before the first step. */
  readonly initialCheck?: boolean;
}

/**
 * Maintains each `[name, query]` (DIFFERENTIAL plans) and applies each step to all of them the
 * IMMEDIATE way ({@link applyTransition}: the oracle after each, and what `options` asks for).
 */
export async function immediateScenarios(
  db: TestDatabase,
  tables: readonly (readonly [name: string, query: string])[],
  steps: readonly TransitionStep[],
  options: ImmediateScenarioOptions = {},
): Promise<Maintained[]> {
  if (options.setup !== undefined) await db.query(options.setup);
  const sts: Maintained[] = [];
  for (const [name, query] of tables) sts.push(await maintain(db, name, query));
  if (options.initialCheck === true) for (const st of sts) await st.check();
  for (const step of steps) await applyTransition(db, sts, step, options);
  return sts;
}

/** {@link immediateScenarios} of one query, with the population check after each step. */
export async function immediateScenario(
  db: TestDatabase,
  name: string,
  query: string,
  steps: readonly TransitionStep[],
): Promise<Maintained> {
  const [st] = await immediateScenarios(db, [[name, query]], steps, { population: true });
  return st as Maintained;
}
