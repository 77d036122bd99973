/**
 * IMMEDIATE maintenance: the compiled PL/pgSQL statement triggers that keep a stream table equal
 * to its query inside each writer's transaction (docs/immediate.md). Per (stream table, source):
 * - one BEFORE statement trigger for INSERT/UPDATE/DELETE/TRUNCATE: counts the statement as in
 *   flight and, unless each output row derives from one source row (`plan.rowLocal`), takes the
 *   table's lock (a transaction-level advisory lock, held to the end of the transaction: writers
 *   wait for the one maintaining the table, before they change a row);
 * - AFTER INSERT / UPDATE / DELETE triggers with transition tables: once per transaction holding
 *   the lock, the REPEATABLE READ / SERIALIZABLE check (a writer whose snapshot predates the last
 *   maintainer's commit fails with 40001) and the marker naming this transaction as the last
 *   maintainer (two sequences, see `markOnce`); then the delta of this statement's rows applied
 *   to the storage in one statement (nothing at all when both tables are empty; a one-row UPDATE
 *   that left the columns deciding its ids unchanged, checked by the statement counting the
 *   rows, in place: `CompiledPlan.immediateInPlace`);
 * - AFTER TRUNCATE: the storage brought to the query's result;
 * - AFTER INSERT / UPDATE / DELETE row triggers, `ENABLE REPLICA`, for writes that fire row
 *   triggers only (logical replication's apply worker): the delta of the one row (`old` / `new`)
 *   applied at once, after the table's lock. A replica-role session running ordinary statements
 *   fires them too, but its statement triggers (`ENABLE ALWAYS`) have counted the statement as in
 *   flight, so the row triggers leave the rows to them.
 * Rule for statements that change several sources at once (writable CTEs, cascaded foreign keys,
 * triggers writing another source): a delta is exact only when no other statement on a source
 * of this table is in flight (its rows would be visible but not yet applied). So an AFTER
 * trigger that finds another in flight marks the table dirty and applies nothing; the last one
 * to finish recomputes the difference. The in-flight marks and the dirty mark share one session
 * setting per table (transactional, so a rollback to a savepoint restores it).
 * The AFTER and row functions are SECURITY DEFINER, owned by the stream table's owner (the
 * caller alters the owner), with the owner's search_path pinned (`SET search_path FROM CURRENT`:
 * the caller sets it first) and `pgtrickle.immediate_storage` set to the storage oid, which lets
 * the storage guard pass this owner's writes of this one table. The BEFORE function reads no
 * table, writes only the writer's own session settings and takes the advisory lock (any role may
 * take one), so it runs as the writer (SECURITY INVOKER, no settings to switch): a writer
 * reaching it with a search_path of its own only affects its own session, which it could set
 * directly. The marker sequences belong to the owner; only the AFTER and row functions write them.
 * Each body is written for few evaluations: PL/pgSQL evaluates every assignment and condition
 * as an expression, so settings are read and written in as few of them as the rule allows.
 */

import { InternalError } from '../errors.js';
import { TRANSITION_NEW, TRANSITION_OLD } from '../names.js';
import { dollarQuote } from '../sql/quote.js';
import { type SqlFragment, sql } from '../sql/sql.js';
import type { CompiledPlan } from './compile.js';

/** Schema of the IMMEDIATE trigger functions. */
const SCHEMA = 'pgtrickle_changes';

/** The AFTER events of one source: statement-level, then row-level (`r…`, replica writes). */
export type ImmediateEvent = 'ins' | 'upd' | 'del' | 'trunc' | 'rins' | 'rupd' | 'rdel';

const EVENTS = ['ins', 'upd', 'del', 'trunc'] as const;
const ROW_EVENTS = ['rins', 'rupd', 'rdel'] as const;

/** Name of the trigger function of stream table `pgtId` for `event` on source `sourceOid` (`before`: shared). */
export function immediateFunctionName(
  pgtId: number,
  sourceOid: number | null,
  event: ImmediateEvent | 'before',
): string {
  return sourceOid === null ? `ivm_${pgtId}_${event}` : `ivm_${pgtId}_${sourceOid}_${event}`;
}

/** Name of the trigger of stream table `pgtId` for `event` on each of its sources. */
export function immediateTriggerName(pgtId: number, event: ImmediateEvent | 'before'): string {
  return `pgtrickle_ivm_${pgtId}_${event}`;
}

/** What the installer needs to know of one stream table. */
export interface ImmediateTarget {
  readonly pgtId: number;
  /** The storage table's oid (the guard lets this table's maintenance through). */
  readonly storageOid: number;
  /** The owner role (functions are altered to it). */
  readonly owner: string;
  /**
   * Per source oid, the other relations of its tree (partitions and inheritance children at any
   * depth): a write addressed to one fires only that relation's statement triggers, so each gets
   * the same triggers (its transition tables hold rows under the source's column names).
   */
  readonly descendants?: ReadonlyMap<
    number,
    readonly { readonly schema: string; readonly name: string; readonly partitioned?: boolean }[]
  >;
  /** Sources that are partitioned tables (they hold no rows, so they get no row triggers). */
  readonly partitionedSources?: ReadonlySet<number>;
  /** The stream table's name as shown in messages (`schema.name`). */
  readonly display?: string;
}

/**
 * The session setting holding stream table `pgtId`'s statements in flight and its dirty mark, as
 * text: `d` when dirty, then one `x` per statement in flight (`''` or unset: neither). Text, not
 * a number, so each trigger reads and writes it with few function calls: PL/pgSQL sets up every
 * expression of a body again in each transaction, each function call with its catalog lookups.
 */
function state(pgtId: number): string {
  return sql.lit(`pgtrickle.ivm_s_${pgtId}`).text;
}

/** The state setting's value as a text expression (`''` when unset). */
function stateValue(pgtId: number): string {
  return `COALESCE(pg_catalog.current_setting(${state(pgtId)}, true), '')`;
}

/** Head of the BEFORE function: runs as the writer, switches no setting (see the module comment). */
function beforeHead(name: string): string {
  return sql`CREATE OR REPLACE FUNCTION ${sql.id(SCHEMA, name)}() RETURNS trigger LANGUAGE plpgsql SECURITY INVOKER
  AS `;
}

function functionHead(name: string, target: ImmediateTarget): string {
  return sql`CREATE OR REPLACE FUNCTION ${sql.id(SCHEMA, name)}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path FROM CURRENT
  SET pgtrickle.immediate_storage = ${sql.lit(String(target.storageOid))}
  AS `;
}

/**
 * First key of the IMMEDIATE tables' advisory locks (`pg_advisory_xact_lock(class, pgt_id)`):
 * a constant of pgtrickle's own, so the two-key lock space it names is not an application's.
 */
export const IMMEDIATE_LOCK_CLASS = 1885828201;

/** The second key of stream table `pgtId`'s advisory lock (its id, as a 32-bit signed int). */
function lockKey(pgtId: number): number {
  return Number(BigInt.asIntN(32, BigInt(pgtId)));
}

/** The two markers of stream table `pgtId`'s maintainers (sequences, see {@link markOnce}). */
export type ImmediateMarker = 'last' | 'prev';

/** Name of marker sequence `which` of stream table `pgtId` (in `pgtrickle_changes`). */
export function immediateMarkerName(pgtId: number, which: ImmediateMarker): string {
  return `ivm_${pgtId}_${which}`;
}

function lockFlag(pgtId: number): string {
  return sql.lit(`pgtrickle.ivm_locked_${pgtId}`).text;
}

/**
 * The table's lock: a transaction-level advisory lock, taken by every statement's BEFORE trigger
 * (a lock this transaction already holds is granted again at once, with no wait), held until the
 * transaction ends; a rollback to a savepoint taken before its first grant releases it. READ
 * COMMITTED writers wait here for the one maintaining the table, then go on with fresh snapshots.
 * Taking it every time costs less than reading a flag that says whether it is held.
 */
function lockCall(pgtId: number): string {
  return `pg_catalog.pg_advisory_xact_lock(${IMMEDIATE_LOCK_CLASS}, ${lockKey(pgtId)})`;
}

/**
 * Once per transaction holding the lock, before its first maintenance (the transaction-local flag
 * `marked` says it is done; a rollback to a savepoint takes it back with the maintenance): the
 * marker, then the REPEATABLE READ / SERIALIZABLE check. Rule: maintainers hold the lock until
 * they end, so they follow each other; a writer whose snapshot predates the commit of the last maintainer before it
 * must not maintain from that snapshot (it would join with stale rows), so it fails with 40001.
 * Two sequences (non-transactional: a rollback does not take their values back) name that
 * maintainer: `last`, the transaction id of the last transaction that marked, and `prev`, the
 * last one known committed before it. The last committed maintainer is `last` if it committed,
 * else (it aborted, or rolled its maintenance back to a savepoint, which released the lock)
 * `prev`. The marking transaction sets `prev` to that one and `last` to itself; one that then
 * fails the check aborts, so the next one reads `prev`, just set. A READ COMMITTED writer only
 * marks: its statements take fresh snapshots after the lock. Ids are the 64-bit `txid_*` forms
 * (bigint, as a sequence holds them: no casts; the `xid8` functions — `pg_current_xact_id`,
 * `pg_xact_status`, `pg_visible_in_snapshot` — give the same 64-bit values but reach a bigint
 * only through text casts, measured at about 7k more instructions per marking statement, so the
 * `txid_*` forms, still in PostgreSQL 14 to 18, stay); `txid_visible_in_snapshot` of an id from before
 * the snapshot's horizon is true, and a marker never set is NULL (nothing to fail for). The
 * sequences belong to the owner, like this function: no other role can set them.
 */
function markOnce(pgtId: number, display: string): string {
  const held = lockFlag(pgtId);
  const seq = (which: ImmediateMarker) =>
    sql`${sql.lit(sql.id(SCHEMA, immediateMarkerName(pgtId, which)).text)}::pg_catalog.regclass`;
  const value = (which: ImmediateMarker) => `pg_catalog.pg_sequence_last_value(${seq(which)})`;
  const committed = `CASE WHEN pg_catalog.txid_status(${value('last')}) = 'committed' THEN ${value('last')} ELSE ${value('prev')} END`;
  const message = sql.lit(
    `could not serialize access: IMMEDIATE stream table ${display} was maintained by a concurrent transaction that committed after this transaction's snapshot`,
  ).text;
  const hint = sql.lit(
    'Retry the transaction; a REPEATABLE READ or SERIALIZABLE writer of an IMMEDIATE stream table must retry when another writer maintained it first (READ COMMITTED writers wait instead).',
  ).text;
  return `  IF pg_catalog.current_setting(${held}, true) IS DISTINCT FROM 'marked' THEN
    __pgt_p := pg_catalog.setval(${seq('prev')}, ${committed});
    __pgt_r := ROW(pg_catalog.setval(${seq('last')}, pg_catalog.txid_current()), pg_catalog.set_config(${held}, 'marked', true));
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
      IF NOT pg_catalog.txid_visible_in_snapshot(__pgt_p, pg_catalog.txid_current_snapshot()) THEN
        RAISE EXCEPTION USING ERRCODE = '40001', MESSAGE = ${message}, HINT = ${hint};
      END IF;
    END IF;
  END IF;
`;
}

/** Statements creating the marker sequences of stream table `pgtId` (see {@link markOnce}), given to `owner`. */
function markerDdl(pgtId: number, owner: string): string[] {
  return (['last', 'prev'] as const).flatMap((which) => {
    const name = sql.id(SCHEMA, immediateMarkerName(pgtId, which));
    return [
      sql`CREATE SEQUENCE ${name} AS bigint MINVALUE 0`,
      sql`REVOKE ALL ON SEQUENCE ${name} FROM PUBLIC`,
      sql`ALTER SEQUENCE ${name} OWNER TO ${sql.id(owner)}`,
    ];
  });
}

// The in-flight mark and the lock are one expression (a row, which needs no cast of the lock's
// void result).
function beforeBody(pgtId: number, lock: boolean): string {
  const count = `pg_catalog.set_config(${state(pgtId)}, ${stateValue(pgtId)} || 'x', false)`;
  return `
DECLARE
  __pgt_r record;
BEGIN
  __pgt_r := ROW(${count}${lock ? `, ${lockCall(pgtId)}` : ''});
  RETURN NULL;
END
`;
}

/**
 * Rows above which a statement's delta runs as the "large" copy of the apply statement.
 * PL/pgSQL plans a statement of a trigger body once per session, for the transition tables of
 * its first run, and keeps the plan; the apply statement is written twice, one copy planned
 * for the first small statement and one for the first large one, so a session whose first
 * write was large does not probe each later single row by hashing a whole source, and one
 * whose first write was small does not drive a large one through its small plan.
 */
export const IMMEDIATE_SMALL_ROWS = 100;

/** An UPDATE's in-place apply (see `CompiledPlan.immediateInPlace`). */
interface InPlace {
  /** Whether the OLD row `o` kept its key columns' images in the NEW row `x` (a boolean expression). */
  readonly same: string;
  readonly sql: string;
}

/**
 * The body of an AFTER trigger: the in-flight rule, then `apply` (or the recompute). With
 * `rows` (a transition table holding the statement's rows), nothing is done for an empty
 * statement and the apply runs in its small or large copy.
 */
function afterBody(
  pgtId: number,
  apply: { readonly small: string; readonly large: string; readonly inPlace?: InPlace },
  recompute: string,
  rows: SqlFragment | null,
  mark: string,
): string {
  const st = state(pgtId);
  // Whether the statement has more rows than the small size: a row past it exists.
  const large = `EXISTS (SELECT FROM ${rows} OFFSET ${IMMEDIATE_SMALL_ROWS})`;
  const inPlace = apply.inPlace;
  const bySize = (isLarge: string) => `${isLarge} THEN
    ${apply.large};
  ELSE
    ${apply.small};
  END IF;
`;
  let run: string;
  if (rows === null) {
    run = `  ${apply.small};\n`;
  } else if (inPlace === undefined) {
    // The first row, with whether one lies past the small size: nothing for none (an empty
    // statement), else the small or the large statement. No aggregate counts the rows: its plan
    // node costs more to start than two scans that stop early.
    run = `  SELECT ${large} INTO __pgt_large FROM ${rows} LIMIT 1;
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF ${bySize('__pgt_large')}`;
  } else {
    // An UPDATE: the first pair of its OLD and NEW rows, with whether it is the only one and kept
    // its key columns (no pair: an empty statement, nothing to do); then the in-place path, else
    // the small or the large statement.
    const news = sql.id(TRANSITION_NEW);
    run = `  SELECT NOT EXISTS (SELECT FROM ${news} OFFSET 1) AND ${inPlace.same}
    INTO __pgt_same FROM ${sql.id(TRANSITION_OLD)} AS o, ${news} AS x LIMIT 1;
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF __pgt_same THEN
    ${inPlace.sql};
  ELSIF ${bySize(large)}`;
  }
  return `
DECLARE
${inPlace === undefined ? '  __pgt_large boolean;\n' : '  __pgt_same boolean;\n'}  __pgt_p bigint;
  __pgt_r record;
  __pgt_s text;
BEGIN
  __pgt_s := pg_catalog.set_config(${st}, pg_catalog.left(${stateValue(pgtId)}, -1), false);
  IF __pgt_s LIKE '%x' THEN
    __pgt_s := pg_catalog.set_config(${st}, 'd' || pg_catalog.ltrim(__pgt_s, 'd'), false);
    RETURN NULL;
  END IF;
${mark}  IF __pgt_s = 'd' THEN
    __pgt_s := pg_catalog.set_config(${st}, '', false);
    ${recompute};
    RETURN NULL;
  END IF;
${run}  RETURN NULL;
END
`;
}

/**
 * The body of a row trigger (`ENABLE REPLICA`): nothing while a statement of this session is in
 * flight (its statement triggers apply the row), else the table's lock and the row's delta.
 */
function rowBody(pgtId: number, apply: string, lock: boolean, mark: string): string {
  return `
DECLARE
  __pgt_p bigint;
  __pgt_r record;
BEGIN
  IF ${stateValue(pgtId)} LIKE '%x' THEN RETURN NULL; END IF;
${lock ? `  __pgt_r := ROW(${lockCall(pgtId)});\n${mark}` : ''}  ${apply};
  RETURN NULL;
END
`;
}

/**
 * Statements installing IMMEDIATE maintenance of `plan` (an incremental plan) for `target`:
 * functions (created in the caller's role, then altered to the owner; no user code runs at
 * creation), and the triggers on every source. The caller sets `search_path` to the owner's first.
 */
export function immediateInstallDdl(plan: CompiledPlan, target: ImmediateTarget): string[] {
  const recompute = plan.recomputeSql();
  if (recompute === null) throw new InternalError('IMMEDIATE maintenance needs an incremental plan');
  const out: string[] = [];
  const fns: string[] = [];
  const before = immediateFunctionName(target.pgtId, null, 'before');
  const locked = !plan.rowLocal;
  const mark = locked ? markOnce(target.pgtId, target.display ?? `#${target.pgtId}`) : '';
  if (locked) out.push(...markerDdl(target.pgtId, target.owner));
  out.push(beforeHead(before) + dollarQuote(beforeBody(target.pgtId, locked)));
  fns.push(before);
  for (const source of plan.sources) {
    const relations = [
      sql.id(source.schema, source.name),
      ...(target.descendants?.get(source.oid) ?? []).map((d) => sql.id(d.schema, d.name)),
    ];
    for (const event of EVENTS) {
      const name = immediateFunctionName(target.pgtId, source.oid, event);
      let body: string;
      if (event === 'trunc') {
        body = afterBody(target.pgtId, { small: recompute, large: recompute }, recompute, null, mark);
      } else {
        const oldTable = event === 'ins' ? null : TRANSITION_OLD;
        const newTable = event === 'del' ? null : TRANSITION_NEW;
        const tables = { kind: 'transitionTable', source: source.key, oldTable, newTable } as const;
        const small = plan.immediateSql(tables);
        const large = plan.immediateSql(tables, true);
        if (small === null || large === null) {
          throw new InternalError('IMMEDIATE maintenance needs an incremental plan');
        }
        // A source with partitions or children: a row moving between them is a DELETE and an
        // INSERT of their own, so the in-place path is kept to plain tables.
        const inPlace =
          event === 'upd' && (target.descendants?.get(source.oid) ?? []).length === 0
            ? plan.immediateInPlace(tables)
            : null;
        const rows = sql.id(newTable ?? (oldTable as string));
        body = afterBody(
          target.pgtId,
          { small, large, ...(inPlace === null ? {} : { inPlace }) },
          recompute,
          rows,
          mark,
        );
      }
      out.push(functionHead(name, target) + dollarQuote(body));
      fns.push(name);
    }
    for (const event of ROW_EVENTS) {
      const name = immediateFunctionName(target.pgtId, source.oid, event);
      const apply = plan.immediateSql({
        kind: 'transitionTable',
        source: source.key,
        oldTable: event === 'rins' ? null : 'old',
        newTable: event === 'rdel' ? null : 'new',
        rowVariables: true,
      });
      if (apply === null) throw new InternalError('IMMEDIATE maintenance needs an incremental plan');
      out.push(functionHead(name, target) + dollarQuote(rowBody(target.pgtId, apply, locked, mark)));
      fns.push(name);
    }
    const fire = (
      rel: SqlFragment,
      event: ImmediateEvent | 'before',
      timing: string,
      what: string,
      referencing: string,
    ) => {
      const fn = immediateFunctionName(target.pgtId, event === 'before' ? null : source.oid, event);
      const trigger = sql.id(immediateTriggerName(target.pgtId, event));
      return [
        sql`CREATE TRIGGER ${trigger} ${timing} ${what} ON ${rel}${referencing}
  FOR EACH STATEMENT EXECUTE FUNCTION ${sql.id(SCHEMA, fn)}()`,
        sql`ALTER TABLE ${rel} ENABLE ALWAYS TRIGGER ${trigger}`,
      ];
    };
    const rowTrigger = (rel: SqlFragment, event: (typeof ROW_EVENTS)[number], what: string) => {
      const fn = immediateFunctionName(target.pgtId, source.oid, event);
      const trigger = sql.id(immediateTriggerName(target.pgtId, event));
      return [
        sql`CREATE TRIGGER ${trigger} AFTER ${what} ON ${rel}
  FOR EACH ROW EXECUTE FUNCTION ${sql.id(SCHEMA, fn)}()`,
        sql`ALTER TABLE ${rel} ENABLE REPLICA TRIGGER ${trigger}`,
      ];
    };
    // Row triggers on every relation holding rows (a partitioned table holds none, and its row
    // triggers would be cloned onto its partitions, which get their own here).
    const rowRelations = [
      ...(target.partitionedSources?.has(source.oid) === true ? [] : [sql.id(source.schema, source.name)]),
      ...(target.descendants?.get(source.oid) ?? [])
        .filter((d) => d.partitioned !== true)
        .map((d) => sql.id(d.schema, d.name)),
    ];
    for (const rel of rowRelations) {
      out.push(
        ...rowTrigger(rel, 'rins', 'INSERT'),
        ...rowTrigger(rel, 'rupd', 'UPDATE'),
        ...rowTrigger(rel, 'rdel', 'DELETE'),
      );
    }
    for (const rel of relations) {
      out.push(
        ...fire(rel, 'before', 'BEFORE', 'INSERT OR UPDATE OR DELETE OR TRUNCATE', ''),
        ...fire(rel, 'ins', 'AFTER', 'INSERT', sql` REFERENCING NEW TABLE AS ${sql.id(TRANSITION_NEW)}`),
        ...fire(
          rel,
          'upd',
          'AFTER',
          'UPDATE',
          sql` REFERENCING OLD TABLE AS ${sql.id(TRANSITION_OLD)} NEW TABLE AS ${sql.id(TRANSITION_NEW)}`,
        ),
        ...fire(rel, 'del', 'AFTER', 'DELETE', sql` REFERENCING OLD TABLE AS ${sql.id(TRANSITION_OLD)}`),
        ...fire(rel, 'trunc', 'AFTER', 'TRUNCATE', ''),
      );
    }
  }
  for (const fn of fns) {
    out.push(
      sql`REVOKE ALL ON FUNCTION ${sql.id(SCHEMA, fn)}() FROM PUBLIC`,
      sql`ALTER FUNCTION ${sql.id(SCHEMA, fn)}() OWNER TO ${sql.id(target.owner)}`,
    );
  }
  return out;
}

/**
 * Statements dropping every IMMEDIATE trigger, function (`pgtrickle.immediate_drop`) and marker
 * sequence of stream table `pgtId` (nothing when it has none).
 */
export function immediateDropDdl(pgtId: number): string[] {
  return [
    sql`SELECT pgtrickle.immediate_drop(${pgtId}::bigint)`,
    sql`DROP SEQUENCE IF EXISTS ${sql.join((['last', 'prev'] as const).map((w) => sql.id(SCHEMA, immediateMarkerName(pgtId, w))))}`,
  ];
}
